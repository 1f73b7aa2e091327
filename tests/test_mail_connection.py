"""The connection to the mail server is kept for the next message, against a real SMTP server on
loopback (aiosmtpd): one connection for a burst, a new one when it is stale or was closed by the
server, and never a message sent twice or lost on the way."""

import time
from contextlib import contextmanager
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select, update

from campaign import create_app, mail
from campaign.crypto import aad_for, keyring, new_public_id
from campaign.extensions import db
from campaign.models import OutboxMessage
from campaign.models.base import utcnow
from tests.conftest import app_with_schema, hung_server, loopback_smtp


class _Server:
    """Counts connections (one EHLO each) and keeps what it accepted; `refuse` holds addresses
    to refuse (550), `busy` answers 450 to every recipient, `closing_once` makes the next MAIL
    answer 421 and close."""

    def __init__(self):
        self.connections = 0
        self.messages = []
        self.refuse = set()
        self.busy = False
        self.closing_once = False

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
        if self.closing_once:
            self.closing_once = False
            return "421 closing the channel"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if address in self.refuse:
            return "550 no such mailbox"
        if self.busy:
            return "450 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def server():
    with loopback_smtp(_Server()) as handler:
        yield handler


@pytest.fixture
def sending(make_config, server):
    """`send(to, **config)` hands one message to the loopback server, as a request's delivery
    would; the held connection is closed before and after."""
    mail.close_connection()

    def send(to, **overrides):
        app = create_app(make_config(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port,
                                     MAIL_STARTTLS=False, MAIL_USERNAME=None, **overrides))
        with app.app_context():
            mail.send_raw(bytes(mail.build_message(to, "Subject", "Body")))

    yield send
    mail.close_connection()


def _wait(server, count, timeout=5):
    deadline = time.monotonic() + timeout
    while len(server.messages) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)  # a duplicate would arrive by now
    return server.messages


def test_a_burst_of_messages_goes_over_one_connection(server, sending):
    for number in range(5):
        sending(f"reader{number}@personal.example")
    assert _wait(server, 5) == [[f"reader{n}@personal.example"] for n in range(5)]
    assert server.connections == 1


def test_keep_zero_opens_a_connection_per_message(server, sending):
    for number in range(3):
        sending(f"reader{number}@personal.example", MAIL_KEEP_SECONDS=0)
    assert len(_wait(server, 3)) == 3
    assert server.connections == 3


def test_a_connection_unused_for_longer_than_the_keep_time_is_replaced(server, sending):
    sending("first@personal.example", MAIL_KEEP_SECONDS=0.2)
    time.sleep(0.3)
    sending("second@personal.example", MAIL_KEEP_SECONDS=0.2)
    assert len(_wait(server, 2)) == 2
    assert server.connections == 2


def test_a_connection_carries_a_bounded_number_of_messages(server, sending, monkeypatch):
    monkeypatch.setattr(mail, "MESSAGES_PER_CONNECTION", 2)
    for number in range(5):
        sending(f"reader{number}@personal.example")
    assert len(_wait(server, 5)) == 5
    assert server.connections == 3


def test_a_restarted_server_costs_a_new_connection_and_the_message_goes_once(
        make_config, sending, server):
    sending("before@personal.example")
    assert _wait(server, 1) == [["before@personal.example"]]
    from aiosmtpd.controller import Controller

    server.controller.stop()  # the held connection dies with it
    server.controller = Controller(server, hostname="127.0.0.1", port=server.port)
    server.controller.start()
    sending("after@personal.example")
    assert _wait(server, 2) == [["before@personal.example"], ["after@personal.example"]]
    assert server.connections == 2


def test_a_server_closing_with_421_gets_the_message_over_a_new_connection(server, sending):
    sending("before@personal.example")
    server.closing_once = True
    sending("after@personal.example")
    assert _wait(server, 2) == [["before@personal.example"], ["after@personal.example"]]
    assert server.connections == 2


def test_a_refused_message_is_not_sent_again_and_the_next_one_goes(server, sending):
    sending("before@personal.example")
    server.refuse.add("nobody@personal.example")
    with pytest.raises(mail.MailError):
        sending("nobody@personal.example")
    sending("after@personal.example")
    assert _wait(server, 2) == [["before@personal.example"], ["after@personal.example"]]
    assert server.connections == 2  # the refused message's connection was closed


def test_another_server_gets_a_connection_of_its_own(server, sending, make_config):
    sending("first@personal.example")
    with loopback_smtp(_Server()) as other:
        app = create_app(make_config(MAIL_SERVER="127.0.0.1", MAIL_PORT=other.port,
                                     MAIL_STARTTLS=False, MAIL_USERNAME=None))
        with app.app_context():
            mail.send_raw(bytes(mail.build_message("other@personal.example", "S", "B")))
        assert _wait(other, 1) == [["other@personal.example"]]
        assert other.connections == 1
    assert server.messages == [["first@personal.example"]]


@contextmanager
def _keeping(make_config, **server_options):
    """A server that keeps each envelope, and `send(to, subject, body)` -> the bytes built."""
    envelopes = []

    class Keep(_Server):
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            envelopes.append(envelope)
            return await super().handle_DATA(server, session, envelope)

    with loopback_smtp(Keep(), **server_options) as handler:
        mail.close_connection()
        app = create_app(make_config(MAIL_SERVER="127.0.0.1", MAIL_PORT=handler.port,
                                     MAIL_STARTTLS=False, MAIL_USERNAME=None,
                                     MAIL_SENDER="Notifications <no-reply@campaign.example>"))

        def send(to, subject, body):
            with app.app_context():
                raw = bytes(mail.build_message(to, subject, body))
                mail.send_raw(raw)
            return raw

        try:
            yield send, envelopes, handler
        finally:
            mail.close_connection()


def test_a_message_reaches_the_server_as_built(make_config):
    """An ASCII message goes over as its own bytes (lines ending CRLF), its envelope read from
    its headers; a line starting with a dot survives the SMTP dot-stuffing."""
    with _keeping(make_config) as (send, envelopes, handler):
        raws = [send(f"r{number}@personal.example", "Votre lien privé",
                     f"Corps é {number}\n.\n..point\n") for number in range(2)]
        _wait(handler, 2)
    assert [e.mail_from for e in envelopes] == ["no-reply@campaign.example"] * 2
    assert [e.rcpt_tos for e in envelopes] == [["r0@personal.example"], ["r1@personal.example"]]
    assert all(b"\n" not in e.content.replace(b"\r\n", b"") for e in envelopes)  # CRLF only
    received_bytes = [e.content.replace(b"\r\n", b"\n") for e in envelopes]
    assert received_bytes == raws
    received = [message_from_bytes(data, policy=policy.default) for data in received_bytes]
    assert [m.get_content() for m in received] == [f"Corps é {n}\n.\n..point\n" for n in range(2)]
    assert received[1]["Subject"] == "Votre lien privé"
    assert handler.connections == 1


def test_a_non_ascii_address_is_sent_with_smtputf8(make_config):
    with _keeping(make_config, enable_SMTPUTF8=True) as (send, envelopes, handler):
        send("rené@exemple.fr", "Votre lien privé", "Corps é")
        send("plain@personal.example", "Votre lien privé", "Corps é")
        _wait(handler, 2)
    assert [e.rcpt_tos for e in envelopes] == [["rené@exemple.fr"], ["plain@personal.example"]]
    assert envelopes[0].smtp_utf8 is True
    assert envelopes[1].smtp_utf8 is False
    first = message_from_bytes(envelopes[0].content, policy=policy.default)
    assert first["To"] == "rené@exemple.fr"
    assert first.get_content().strip() == "Corps é"


# --- a server that does not answer ----------------------------------------------------------------

def _hung_app(make_config, hung, **overrides):
    return create_app(make_config(MAIL_SERVER="127.0.0.1", MAIL_PORT=hung.port,
                                  MAIL_STARTTLS=False, MAIL_USERNAME=None,
                                  MAIL_TIMEOUT_SECONDS=0.3, **overrides))


def _send_one(app, to="reader@personal.example"):
    with app.app_context():
        mail.send_raw(bytes(mail.build_message(to, "Subject", "Body")))


def test_a_hung_server_costs_one_timeout_then_mail_waits_for_the_cron(make_config):
    """Without the pause, every signature's worker waited for the whole timeout (10 s by
    default) after its response: a hung relay in a rush stalled the site."""
    mail.close_connection()
    with hung_server() as hung:
        app = _hung_app(make_config, hung, MAIL_PAUSE_SECONDS=60)
        for _number in range(3):
            with pytest.raises(mail.MailError):
                _send_one(app)
        with app.app_context():
            assert mail.server_paused()
        assert hung.connections == 1


def test_the_server_is_tried_again_once_the_pause_is_over(make_config):
    mail.close_connection()
    with hung_server() as hung:
        app = _hung_app(make_config, hung, MAIL_PAUSE_SECONDS=0.2)
        with pytest.raises(mail.MailError):
            _send_one(app)
        time.sleep(0.3)
        with app.app_context():
            assert not mail.server_paused()
        with pytest.raises(mail.MailError):
            _send_one(app)
        assert hung.connections == 2


def test_the_pause_doubles_while_the_server_stays_unreachable_and_ends_when_it_answers(
        make_config, server):
    mail.close_connection()
    with hung_server() as hung:
        app = _hung_app(make_config, hung, MAIL_PAUSE_SECONDS=0.2)
        pauses = []
        for _round in range(3):
            with pytest.raises(mail.MailError):
                _send_one(app)
            pauses.append(mail._held.paused_until - time.monotonic())
            time.sleep(pauses[-1] + 0.05)
        assert hung.connections == 3
    assert 0.1 < pauses[0] < 0.25 and 0.3 < pauses[1] < 0.45 and 0.7 < pauses[2] < 0.85
    # the same address answers again (another server took the port's place): the pause resets
    app = create_app(make_config(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port,
                                 MAIL_STARTTLS=False, MAIL_USERNAME=None))
    _send_one(app)
    assert mail._held.unreachable_runs == 0


def test_another_server_is_tried_while_an_unreachable_one_is_left_alone(make_config, server,
                                                                        sending):
    with hung_server() as hung:
        with pytest.raises(mail.MailError):
            _send_one(_hung_app(make_config, hung, MAIL_PAUSE_SECONDS=60))
        sending("reader@personal.example")  # the loopback server: another key
    assert _wait(server, 1) == [["reader@personal.example"]]


def test_a_refused_message_does_not_pause_the_server(make_config, server, sending):
    server.refuse.add("gone@personal.example")
    with pytest.raises(mail.MailError):
        sending("gone@personal.example")
    app = create_app(make_config(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port,
                                 MAIL_STARTTLS=False, MAIL_USERNAME=None))
    with app.app_context():
        assert not mail.server_paused()


def test_a_refused_connection_pauses_the_server(make_config):
    mail.close_connection()
    with hung_server() as hung:
        port = hung.port  # closed when the block ends: nothing listens there any more
    app = create_app(make_config(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_STARTTLS=False,
                                 MAIL_USERNAME=None, MAIL_PAUSE_SECONDS=60))
    with pytest.raises(mail.MailError, match="ConnectionRefused"):
        _send_one(app)
    with pytest.raises(mail.MailError, match="MailServerPaused"):
        _send_one(app)


def test_a_server_without_starttls_is_left_alone_too(make_config, server):
    """STARTTLS asked for and not offered: a failure while connecting, however it is raised."""
    mail.close_connection()
    app = create_app(make_config(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port,
                                 MAIL_STARTTLS=True, MAIL_USERNAME=None, MAIL_PAUSE_SECONDS=60))
    with pytest.raises(mail.MailError, match="SMTPNotSupportedError"):
        _send_one(app)
    with pytest.raises(mail.MailError, match="MailServerPaused"):
        _send_one(app)
    assert server.connections == 1


# --- giving up ------------------------------------------------------------------------------------

@pytest.fixture
def outbox_app(make_config, server):
    mail.close_connection()
    config = make_config(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_STARTTLS=False,
                         MAIL_USERNAME=None)
    with app_with_schema(config) as app:
        yield app
    mail.close_connection()


def _queue(app, to, age=timedelta(0)):
    """Queue a message for `to` (due now), as if queued `age` ago; returns its public id."""
    with app.app_context():
        public_id, raw = new_public_id(), bytes(mail.build_message(to, "Subject", "Body"))
        sealed = mail.SealedMail(
            public_id=public_id, raw=raw,
            message_ct=keyring().encrypt(raw, aad_for("outbox", "message", public_id)))
        mail.queue(sealed)
        queued_at = utcnow() - age
        db.session.execute(update(OutboxMessage).where(
            OutboxMessage.public_id == sealed.public_id).values(
            created_at=queued_at, next_attempt_at=queued_at))
        db.session.commit()
        return sealed.public_id


def _queued(app):
    with app.app_context():
        return {row.public_id: row for row in db.session.execute(
            select(OutboxMessage)).scalars()}


def test_a_message_refused_for_good_is_given_up_at_once(outbox_app, server, caplog):
    server.refuse.add("gone@personal.example")
    refused = _queue(outbox_app, "gone@personal.example")
    kept = _queue(outbox_app, "here@personal.example")
    with outbox_app.app_context():
        assert mail.deliver_pending() == (1, 1)
    assert refused not in _queued(outbox_app) and kept not in _queued(outbox_app)
    assert _wait(server, 1) == [["here@personal.example"]]
    assert "gone@personal.example" not in caplog.text
    assert "given up" in caplog.text


def test_a_temporary_refusal_is_retried_later(outbox_app, server):
    server.busy = True  # 450 to every recipient
    public_id = _queue(outbox_app, "busy@personal.example")
    with outbox_app.app_context():
        assert mail.deliver_pending() == (0, 1)
    row = _queued(outbox_app)[public_id]
    assert row.attempts == 1 and row.next_attempt_at > utcnow()


def test_a_message_still_failing_after_the_maximum_age_is_given_up(outbox_app, server):
    server.busy = True
    old = _queue(outbox_app, "old@personal.example", age=timedelta(hours=121))
    young = _queue(outbox_app, "young@personal.example", age=timedelta(hours=119))
    with outbox_app.app_context():
        assert mail.deliver_pending() == (0, 2)
    assert set(_queued(outbox_app)) == {young}
    assert old not in _queued(outbox_app)


def test_the_cron_gives_up_messages_past_the_maximum_age_even_unsent(outbox_app):
    """A server unreachable for days never refused them: the age alone decides."""
    old = _queue(outbox_app, "old@personal.example", age=timedelta(hours=121))
    young = _queue(outbox_app, "young@personal.example", age=timedelta(hours=1))
    outbox_app.config["MAIL_MAX_AGE_HOURS"] = 120
    with outbox_app.app_context():
        assert mail.drop_expired() == 1
    assert set(_queued(outbox_app)) == {young}
    assert old not in _queued(outbox_app)


@pytest.mark.parametrize(("lang", "says"), [
    ("en", "Mail given up, still not sent after 120 hours: 1."),
    ("fr", "E-mails abandonnés, toujours pas envoyés après 120 heures : 1."),
])
def test_the_mail_cron_says_what_it_gave_up_and_fails(outbox_app, server, lang, says):
    _queue(outbox_app, "old@personal.example", age=timedelta(hours=121))
    _queue(outbox_app, "young@personal.example")
    result = outbox_app.test_cli_runner().invoke(args=["mail", "deliver", "--lang", lang])
    assert says in result.output
    assert result.exit_code == 1  # the cron's mail tells the admin
    assert _wait(server, 1) == [["young@personal.example"]]
    assert "old@personal.example" not in result.output
