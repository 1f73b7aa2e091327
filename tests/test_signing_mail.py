"""Mail to signers through a real SMTP server on loopback: confirmation, private and lost links."""

import re
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import OutboxMessage, Signature
from campaign.services import campaigns as campaign_service
from campaign.services import petitions as petition_service
from tests.conftest import (
    add_open_petition,
    app_with_open_petition,
    app_with_schema,
    csrf_token,
    drop_tables,
    hung_server,
)

URL = re.compile(r"http://localhost/(?:s|confirm)/[A-Za-z0-9_-]{43}")


@pytest.fixture
def petition(mail_app):
    with mail_app.app_context():
        campaign = campaign_service.create_campaign(
            "acme", actor=None, title_en="Acme", employer="Acme", status="active",
            employer_domains="acme.example")
        petition_service.create_petition(campaign, "end-it", actor=None, title_en="Stop it",
                                         title_fr="Arrêtez", status="open",
                                         verification="email", refresh_minutes=0)
        db.session.commit()
    return mail_app


def _sign(client, email="alice@personal.example", lang="fr", extra=None):
    page = client.get("/c/acme/p/end-it", headers={"Accept-Language": lang})
    data = {"csrf_token": csrf_token(page.text), "name": "Alice Canary", "email": email,
            "version_public_name": "1", "version_share_with_reps": "1", "version_contact": "1"}
    data.update(extra or {})
    response = client.post("/c/acme/p/end-it/sign", data=data, headers={"Accept-Language": lang})
    response.close()  # the server closes the response: queued mail goes out after it
    return response


def _wait(smtp_server, n, timeout=5):
    deadline = time.time() + timeout
    while len(smtp_server.messages) < n and time.time() < deadline:
        time.sleep(0.05)
    return smtp_server.messages


def _count(app):
    with app.app_context():
        return db.session.execute(
            select(func.count(Signature.id)).where(Signature.confirmed_on.is_not(None),
                                                   Signature.is_shadow.is_(False))).scalar()


def test_confirmation_by_post_only_in_the_signers_language(petition, smtp_server):
    client = petition.test_client()
    _sign(client, lang="en")
    [(recipients, message)] = _wait(smtp_server, 1)
    assert recipients == ["alice@personal.example"]
    subject = message["Subject"]
    assert "Acme" not in subject and "Stop" not in subject  # neutral subject
    body = message.get_content()
    confirm_url = next(u for u in URL.findall(body) if "/confirm/" in u)
    assert _count(petition) == 0
    page = client.get(confirm_url.replace("http://localhost", ""))
    assert page.status_code == 200
    assert _count(petition) == 0, "a GET (a mail scanner) must not confirm"
    client.post(confirm_url.replace("http://localhost", ""),
                data={"csrf_token": csrf_token(page.text)})
    assert _count(petition) == 1


def test_second_signing_mails_the_owner_and_keeps_one_signature(petition, smtp_server):
    _sign(petition.test_client())
    _sign(petition.test_client())
    messages = _wait(smtp_server, 2)
    assert len(messages) == 2
    second = messages[1][1].get_content()
    assert "/confirm/" not in second and "/s/" not in second
    with petition.app_context():
        assert db.session.execute(select(func.count(Signature.id)).where(
            Signature.is_shadow.is_(False))).scalar() == 1


def test_lost_link_answers_the_same_and_mails_only_a_signer(petition, smtp_server):
    _sign(petition.test_client())
    _wait(smtp_server, 1)
    with petition.app_context():
        petition_id = db.session.execute(select(Signature.petition_id)).scalar()
        from campaign.models import Petition

        public_id = db.session.get(Petition, petition_id).public_id
    answers = []
    for email in ("alice@personal.example", "nobody@personal.example"):
        client = petition.test_client()
        page = client.get(f"/lost-link?petition={public_id}")
        response = client.post("/lost-link", data={
            "csrf_token": csrf_token(page.text), "petition": public_id, "email": email})
        response.close()
        answers.append((response.status_code, response.text))
    assert answers[0] == answers[1]
    messages = _wait(smtp_server, 2)
    assert len(messages) == 2
    assert messages[1][0] == ["alice@personal.example"]
    assert "/s/" in messages[1][1].get_content()


def test_a_dead_mail_server_loses_no_signature_and_the_mail_waits(make_config, smtp_server):
    from campaign import mail

    app = app_with_open_petition(make_config(MAIL_SERVER="127.0.0.1", MAIL_PORT=1,
                                             MAIL_STARTTLS=False))
    response = _sign(app.test_client())
    assert response.status_code == 200
    with app.app_context():
        assert db.session.execute(select(func.count(Signature.id))).scalar() == 1
        row = db.session.execute(select(OutboxMessage)).scalar_one()
        assert row.attempts == 1 and row.last_error
        # the server comes back: the retry delivers it
        app.config["MAIL_PORT"] = smtp_server.port
        row.next_attempt_at = row.created_at
        db.session.commit()
        assert mail.deliver_pending() == (1, 0)
        assert mail.pending_count() == 0
        db.session.remove()
        db.drop_all()
    assert len(_wait(smtp_server, 1)) == 1


def test_a_hung_mail_server_holds_a_worker_once_and_the_cron_sends_the_mail_later(
        make_config, smtp_server):
    """A relay that takes the connection and never answers: the first signature's worker waits
    for the timeout after its response, the next ones do not try; the cron leaves the server
    alone too while it is unreachable, and sends everything once it answers."""
    from campaign import mail

    mail.close_connection()
    with hung_server() as hung:
        app = app_with_open_petition(make_config(
            MAIL_SERVER="127.0.0.1", MAIL_PORT=hung.port, MAIL_STARTTLS=False,
            MAIL_USERNAME=None, MAIL_TIMEOUT_SECONDS=0.3, MAIL_PAUSE_SECONDS=60))
        client = app.test_client()
        for number in range(3):
            assert _sign(client, email=f"signer{number}@personal.example").status_code == 200
        assert hung.connections == 1
        with app.app_context():
            assert db.session.execute(select(func.count(Signature.id))).scalar() == 3
            rows = db.session.execute(select(OutboxMessage)).scalars().all()
            assert len(rows) == 3 and all(row.attempts == 1 for row in rows)
            for row in rows:
                row.next_attempt_at = row.created_at  # their retry is due
            db.session.commit()
            assert mail.deliver_pending() == (0, 0)  # paused: nothing claimed, nothing tried
            assert hung.connections == 1
            assert mail.pending_count() == 3
    try:
        app.config["MAIL_PORT"] = smtp_server.port  # the relay is replaced: it answers
        with app.app_context():
            assert mail.deliver_pending() == (3, 0)
            assert mail.pending_count() == 0
        assert sorted(to for (to,), _message in _wait(smtp_server, 3)) == [
            f"signer{number}@personal.example" for number in range(3)]
    finally:
        drop_tables(app)


def test_work_address_gets_a_warning_before_anything_is_stored(petition, smtp_server):
    client = petition.test_client()
    response = _sign(client, email="alice@acme.example", lang="en")
    assert response.status_code == 200
    assert "work address" in response.text
    with petition.app_context():
        assert db.session.execute(select(func.count(Signature.id))).scalar() == 0
    _sign(client, email="alice@acme.example", lang="en", extra={"use_work_address": "y"})
    with petition.app_context():
        assert db.session.execute(select(func.count(Signature.id))).scalar() == 1


def test_concurrent_deliveries_send_each_queued_message_exactly_once(mail_app, smtp_server):
    """Four deliveries (the cron and requests finishing together) race over the same twelve
    queued messages: each message reaches the server once, and the outbox ends empty."""
    import threading

    from campaign import mail

    with mail_app.app_context():  # queued outside a request: due at once, for the cron
        for number in range(12):
            mail.queue_template(f"reader{number}@personal.example", "private_link",
                                locale="en", petition=None,
                                private_link=f"http://localhost/s/{number:043d}")
        db.session.commit()
    start = threading.Barrier(4)
    results, errors = [], []

    def deliver():
        try:
            with mail_app.app_context():
                start.wait(timeout=10)
                results.append(mail.deliver_pending())
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(sent for sent, _failed in results) == 12
    received = _wait(smtp_server, 12)
    time.sleep(0.5)  # a duplicate would arrive by now
    recipients = sorted(r for rcpts, _message in smtp_server.messages for r in rcpts)
    assert recipients == sorted(f"reader{n}@personal.example" for n in range(12)), received
    with mail_app.app_context():
        assert mail.pending_count() == 0


def test_mail_of_a_request_that_died_before_delivering_is_sent_by_the_cron_later(
        mail_app, smtp_server):
    """A request's mail is born claimed by that request; if the worker dies before its
    after-response delivery, the cron leaves it alone for CLAIM_MINUTES, then sends it."""
    from datetime import timedelta

    from campaign import mail
    from campaign.models.base import utcnow

    with mail_app.test_request_context():  # a request that never gets to send its response
        mail.queue_template("late@personal.example", "private_link", locale="fr",
                            petition=None, private_link="http://localhost/s/" + "b" * 43)
        db.session.commit()
    with mail_app.app_context():
        row = db.session.execute(select(OutboxMessage)).scalar_one()
        assert row.next_attempt_at > utcnow() + timedelta(minutes=mail.CLAIM_MINUTES - 1)
        assert mail.deliver_pending() == (0, 0)  # still the request's
        row.next_attempt_at = utcnow() - timedelta(seconds=1)  # CLAIM_MINUTES later
        db.session.commit()
        assert mail.deliver_pending() == (1, 0)
        assert mail.pending_count() == 0
    assert [r for rcpts, _m in _wait(smtp_server, 1) for r in rcpts] == ["late@personal.example"]


def _queueing_views(app):
    """Views that queue a private-link mail, then end their transaction in different ways
    (test views: exempt from CSRF)."""
    from campaign import access, mail
    from campaign.extensions import csrf

    def queue(address):
        mail.queue_template(address, "private_link", locale="en", petition=None,
                            private_link="http://localhost/s/" + "c" * 43)

    @app.post("/_test/committed")
    @csrf.exempt
    @access.public
    def committed():
        queue("kept@personal.example")
        db.session.commit()
        return "ok"

    @app.post("/_test/rolled-back")
    @csrf.exempt
    @access.public
    def rolled_back():
        queue("dropped@personal.example")
        db.session.rollback()
        db.session.commit()  # a later, empty commit must not send what was rolled back
        return "ok"

    @app.post("/_test/savepoint-rolled-back")
    @csrf.exempt
    @access.public
    def savepoint_rolled_back():
        queue("later@personal.example")
        savepoint = db.session.begin_nested()
        savepoint.rollback()
        db.session.commit()
        return "ok"


def test_a_request_sends_only_the_mail_its_committed_transaction_queued(mail_app, smtp_server):
    """Delivery after the response knows from the session which queued rows were committed:
    a rolled-back message is neither sent nor left behind; one queued before a savepoint that
    rolled back stays in the outbox, still committed, for the cron."""
    from campaign import mail

    _queueing_views(mail_app)
    client = mail_app.test_client()
    for path in ("/_test/rolled-back", "/_test/savepoint-rolled-back", "/_test/committed"):
        response = client.post(path)
        assert response.status_code == 200
        response.close()
    received = _wait(smtp_server, 1)
    time.sleep(0.5)  # anything else sent would arrive by now
    assert [r for rcpts, _m in received for r in rcpts] == ["kept@personal.example"]
    with mail_app.app_context():
        assert mail.pending_count() == 1  # the savepoint's: committed, waiting for the cron


def _outbox_deletes(app):
    """Count the DELETE statements sent to the outbox table (a listener on the engine)."""
    from sqlalchemy import event

    seen = []
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("DELETE FROM OUTBOX"):
            seen.append(statement)

    return seen


@contextmanager
def _flushing_app(make_config, smtp_server, *, seconds):
    """An app mailing the loopback server, deleting sent rows `seconds` after sending, with an
    open petition."""
    config = make_config(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port,
                         MAIL_STARTTLS=False, MAIL_USERNAME=None, MAIL_SENT_FLUSH_SECONDS=seconds)
    with app_with_schema(config) as app:
        with app.app_context():
            add_open_petition()
        yield app


def test_rows_of_mail_sent_after_responses_go_together_and_the_cron_never_resends_them(
        make_config, smtp_server):
    """With MAIL_SENT_FLUSH_SECONDS set, three signatures' mail goes out at once, but their
    rows stay, claimed, until one DELETE removes all three; meanwhile the cron sends nothing."""
    from campaign import mail

    with _flushing_app(make_config, smtp_server, seconds=600) as app:
        deletes = _outbox_deletes(app)
        for number in range(3):
            assert _sign(app.test_client(), email=f"s{number}@personal.example").status_code == 200
        assert len(_wait(smtp_server, 3)) == 3
        with app.app_context():
            assert mail.pending_count() == 3  # sent, rows not deleted yet...
            assert mail.deliver_pending() == (0, 0)  # ...but claimed: the cron leaves them
            db.session.remove()
        assert deletes == []
        assert mail.SentRows.of(app).flush() == 3
        assert len(deletes) == 1  # one statement for the three rows
        with app.app_context():
            assert mail.pending_count() == 0
            db.session.remove()
        time.sleep(0.3)
        assert len(smtp_server.messages) == 3  # nothing sent twice


def test_rows_of_sent_mail_go_by_themselves_a_moment_later(make_config, smtp_server):
    from campaign import mail

    with _flushing_app(make_config, smtp_server, seconds=0.2) as app:
        _sign(app.test_client())
        assert len(_wait(smtp_server, 1)) == 1
        deadline, left = time.time() + 10, None
        while time.time() < deadline:
            with app.app_context():
                left = mail.pending_count()
                db.session.remove()
            if left == 0:
                break
            time.sleep(0.05)
        assert left == 0


def test_rows_of_sent_mail_go_when_the_process_exits(tmp_path):
    """A worker that stops (gunicorn recycles them) deletes what it noted before it exits."""
    import subprocess
    import sys
    from pathlib import Path

    url = f"sqlite:///{tmp_path / 'exit.sqlite3'}"
    script = f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from config import TestingConfig
from campaign import create_app, mail
from campaign.extensions import db
from campaign.services import campaigns, consent, petitions
config = TestingConfig(database_url={url!r})
config.MAIL_SENT_FLUSH_SECONDS = 600
app = create_app(config)
with app.app_context():
    db.create_all()
    consent.seed_defaults()
    campaign = campaigns.create_campaign("acme", actor=None, title_en="Acme", employer="Acme",
                                         status="active")
    petitions.create_petition(campaign, "end-it", actor=None, title_en="Stop it",
                              status="open", refresh_minutes=0)
    db.session.commit()
client = app.test_client()
page = client.get("/c/acme/p/end-it")
token = page.text.split('name="csrf_token"')[1].split('value="')[1].split('"')[0]
response = client.post("/c/acme/p/end-it/sign", data={{"csrf_token": token, "name": "Alice",
    "email": "alice@personal.example", "version_public_name": "1",
    "version_share_with_reps": "1", "version_contact": "1"}})
response.close()
with app.app_context():
    print(len(app.extensions["campaign_outbox"]), mail.pending_count())
"""
    result = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", script], capture_output=True, text=True,
        timeout=120, check=True)
    assert result.stdout.split() == ["1", "1"]  # sent; its row waits for the exit
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM outbox")).scalar() == 0
    engine.dispose()
