"""The mail a response queued is sent by a thread of the worker process (MAIL_BACKGROUND), so that
the worker serves the next request while the mail server takes its time; against a real SMTP
server on loopback (aiosmtpd) that answers only when the test lets it."""

import asyncio
import threading
import time

import pytest
from sqlalchemy import func, select

from campaign import mail
from campaign.extensions import db
from campaign.models import OutboxMessage
from tests.conftest import app_with_open_petition, drop_tables, loopback_smtp, sign_open_petition


class _HeldRelay:
    """Answers DATA only once `release` is set; keeps the recipients it accepted."""

    def __init__(self):
        self.release = threading.Event()
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 10)
        self.messages.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def relay():
    handler = _HeldRelay()
    with loopback_smtp(handler) as started:
        yield started
        handler.release.set()


def _app(make_config, port, **overrides):
    mail.close_connection()
    return app_with_open_petition(make_config(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_STARTTLS=False, MAIL_USERNAME=None,
        **overrides))


def _sign_in_thread(app, number):
    """POST a signature and close the response (which runs the after-response work) in a
    thread; returns the thread and a dict that gets the status once done."""
    done = {}

    def sign():
        done["status"] = sign_open_petition(app, f"signer{number}@personal.example").status_code

    thread = threading.Thread(target=sign, daemon=True)
    thread.start()
    return thread, done


def _queued(app):
    with app.app_context():
        return db.session.execute(select(func.count(OutboxMessage.id))).scalar()


@pytest.mark.parametrize("background", [True, False])
def test_the_worker_is_free_while_the_relay_takes_its_time(make_config, relay, background):
    app = _app(make_config, relay.port, MAIL_BACKGROUND=background)
    try:
        thread, done = _sign_in_thread(app, 1)
        thread.join(3)
        # with the sender thread the request is over though the relay has not answered; without
        # it, the worker is still waiting for the relay
        assert (done.get("status") == 200) is background
        assert relay.messages == []
        relay.release.set()
        thread.join(10)
        assert done["status"] == 200
        assert mail.sent_after_responses(10)
        assert relay.messages == [["signer1@personal.example"]]
        assert _queued(app) == 0  # sent, and its row deleted
    finally:
        drop_tables(app)


def test_a_full_queue_makes_the_worker_send_itself(make_config, relay, monkeypatch):
    monkeypatch.setattr(mail._Sender, "QUEUE_SIZE", 1)
    sender = mail._Sender()
    app = _app(make_config, relay.port, MAIL_BACKGROUND=True)
    try:
        with app.app_context():
            raw = {name: bytes(mail.build_message(f"{name}@personal.example", "Subject", "Body"))
                   for name in ("first", "second", "third")}
        assert sender.submit(app, {"first": raw["first"]}) == {}
        deadline = time.monotonic() + 5
        while sender.queue.qsize() and time.monotonic() < deadline:
            time.sleep(0.01)  # until the thread has taken it (and waits for the relay)
        assert sender.submit(app, {"second": raw["second"]}) == {}  # the one place left
        assert sender.submit(app, {"third": raw["third"]}) == {"third": raw["third"]}
        relay.release.set()
        assert sender.drain(10)
        assert relay.messages == [["first@personal.example"], ["second@personal.example"]]
    finally:
        drop_tables(app)


def test_a_dead_server_seen_from_the_thread_is_recorded_as_before(make_config):
    app = _app(make_config, 1, MAIL_BACKGROUND=True, MAIL_PAUSE_SECONDS=60)  # nothing on port 1
    try:
        thread, done = _sign_in_thread(app, 2)
        thread.join(10)
        assert done["status"] == 200
        assert mail.sent_after_responses(10)
        with app.app_context():
            row = db.session.execute(select(OutboxMessage)).scalar_one()
            assert row.attempts == 1 and row.last_error
            assert mail.server_paused()
    finally:
        drop_tables(app)


def test_an_exiting_process_sends_what_is_queued_and_deletes_the_rows(make_config, relay):
    """`drain` (atexit) waits for the thread, then deletes the sent rows at once, though the
    batch that deletes them would come only ten minutes later."""
    app = _app(make_config, relay.port, MAIL_BACKGROUND=True, MAIL_SENT_FLUSH_SECONDS=600)
    try:
        thread, done = _sign_in_thread(app, 3)
        thread.join(3)
        assert done.get("status") == 200 and _queued(app) == 1
        relay.release.set()
        assert mail.sent_after_responses(10)
        assert relay.messages == [["signer3@personal.example"]]
        assert _queued(app) == 0
    finally:
        drop_tables(app)


def test_a_response_whose_mail_finds_the_queue_full_sends_it_itself(make_config, relay,
                                                                     monkeypatch):
    """The hand-over at the response's close: what the thread's queue has no room for is sent
    by the worker, before the request is over."""
    monkeypatch.setattr(mail._Sender, "QUEUE_SIZE", 1)
    monkeypatch.setattr(mail, "_sender", mail._Sender())
    app = _app(make_config, relay.port, MAIL_BACKGROUND=True)
    try:
        first, first_done = _sign_in_thread(app, 4)
        first.join(5)
        deadline = time.monotonic() + 5
        while mail._sender.queue.qsize() and time.monotonic() < deadline:
            time.sleep(0.01)  # the thread took the first mail and waits for the relay
        second, second_done = _sign_in_thread(app, 5)  # the one place in the queue
        second.join(5)
        third, third_done = _sign_in_thread(app, 6)  # no room: this worker sends it
        third.join(2)
        assert first_done.get("status") == 200 and second_done.get("status") == 200
        assert third.is_alive() and "status" not in third_done  # waiting for the relay
        relay.release.set()
        third.join(10)
        assert third_done["status"] == 200
        assert mail._sender.drain(10)
        assert sorted(relay.messages) == [[f"signer{n}@personal.example"] for n in (4, 5, 6)]
        assert _queued(app) == 0
    finally:
        drop_tables(app)


def test_the_thread_sends_a_batch_in_one_context_and_a_refusal_spares_the_rest(
        make_config, monkeypatch, tmp_path):
    """Messages waiting together go in one batch; one that cannot be sent stays queued for the
    cron, and the others of its batch still go."""
    sender = mail._Sender()
    monkeypatch.setattr(mail, "_sender", sender)
    app = app_with_open_petition(make_config(MAIL_BACKGROUND=True, MAIL_SERVER=None,
                                             MAIL_FILE_DIR=str(tmp_path / "mail"),
                                             MAIL_SENT_FLUSH_SECONDS=0))
    real_send = mail.send_raw

    def send_raw(raw):
        if b"refused@" in raw:
            raise mail.MailError("Refused")
        real_send(raw)

    monkeypatch.setattr(mail, "send_raw", send_raw)
    contexts = []
    real_context = app.app_context
    monkeypatch.setattr(app, "app_context", lambda: contexts.append(1) or real_context())
    try:
        with real_context():
            sealed = {name: mail.seal_template(f"{name}@personal.example", "private_link",
                                               locale="en", private_link="http://x/s/t")
                      for name in ("one", "refused", "two")}
            for item in sealed.values():
                mail.queue(item)
            db.session.commit()
        with sender.lock:  # the thread starts only once all three wait in its queue
            sender.queue = mail.Queue(sender.QUEUE_SIZE)
            for name, item in sealed.items():
                sender.queue.put_nowait((app, item.public_id, item.raw))
            sender.thread = threading.Thread(target=sender._run, daemon=True)
            sender.apps.add(app)
            sender.thread.start()
        assert sender.drain(10)
        assert len(contexts) == 1  # one context for the batch (its sent rows deleted in it)
        files = sorted((tmp_path / "mail").iterdir())
        assert len(files) == 2
        sent = b"".join(path.read_bytes() for path in files)
        assert b"one@personal.example" in sent and b"two@personal.example" in sent
        with real_context():
            left = db.session.execute(select(OutboxMessage)).scalars().all()
            assert [row.public_id for row in left] == [sealed["refused"].public_id]
            assert left[0].attempts == 1
    finally:
        drop_tables(app)
