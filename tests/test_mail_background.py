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
