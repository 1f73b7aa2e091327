"""Outgoing mail in the recipient's language, with neutral subjects and sender.

Mail to signers and authors is queued in the `outbox` table (the whole message, recipient
included, encrypted by the key ring) in the same transaction as what caused it, then delivered
after the response; a failed delivery stays queued and is retried by `flask mail deliver`
(cron), so a failed mail server loses nothing. Transport: SMTP when CAMPAIGN_MAIL_SERVER is
set; otherwise files under CAMPAIGN_MAIL_FILE_DIR (development); otherwise an in-memory list
(tests without a server). Recipient addresses are never logged.
"""

import atexit
import functools
import os
import smtplib
import ssl
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import timedelta
from email import charset as email_charset
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path
from queue import Empty, Full, Queue

from flask import (
    after_this_request,
    current_app,
    g,
    has_app_context,
    has_request_context,
    render_template,
)
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, event, insert, select, update

from .crypto import aad_for, keyring, new_public_id
from .extensions import db
from .i18n import LOCALES
from .models import OutboxMessage
from .models.base import utcnow

# Subjects name neither the employer nor the cause (DESIGN 2a): mail to work addresses is read.
SUBJECTS = {
    "invitation": _l("Your account invitation"),
    "private_link": _l("Your private link"),
    "confirm_signature": _l("Please confirm your request"),
    "already_signed": _l("About your recent request"),
    "statement_link": _l("Your private link"),
    "statement_decision": _l("News about your request"),
}
RETRY_DELAYS_MINUTES = (1, 5, 15, 60, 240, 720)


class MailError(Exception):
    """A message was not sent. `permanent`: the server refused it for good (a 5xx reply to its
    recipient or its content); sending it again would not help."""

    def __init__(self, reason, permanent=False):
        super().__init__(reason)
        self.permanent = permanent


#: templates that print their arguments (links) as given and read nothing else of the context:
#: each is rendered once per language with a mark in each argument's place, and a mail of one of
#: them then only fills its marks in (signing sends one per signature)
FILLED_IN = frozenset({"private_link", "confirm_signature", "already_signed"})
_MARK = "\x00"  # never in a template's text, nor in a link


def render(template, locale, **context):
    locale = locale if locale in LOCALES else current_app.config["BABEL_DEFAULT_LOCALE"]
    if template in FILLED_IN and all(isinstance(value, str) for value in context.values()):
        return _filled_in(template, locale, context)
    return _render(template, locale, context)


def _render(template, locale, context):
    with force_locale(locale):
        subject = str(SUBJECTS[template])
        body = render_template(f"mail/{template}.txt", **context)
    return subject, body


def _filled_in(template, locale, context):
    forms = current_app.extensions.setdefault("campaign_mail_forms", {})
    key = (template, locale, tuple(sorted(context)))
    form = forms.get(key)
    if form is None:
        subject, body = _render(template, locale,
                                {name: f"{_MARK}{name}{_MARK}" for name in context})
        # text, argument name, text, argument name, ..., text
        form = forms[key] = (subject, body.split(_MARK))
    subject, parts = form
    return subject, "".join(
        context[part] if index % 2 else part for index, part in enumerate(parts))


# Quoted-printable for headers and body: readable in any client, links survive line lengths.
UTF8 = email_charset.Charset("utf-8")
UTF8.header_encoding = email_charset.QP
UTF8.body_encoding = email_charset.QP


class ShortLineCompat32(policy.Compat32):
    """compat32, whose folding of a header that is one short line of ASCII writes it as it is,
    without building a Header object for it (which gives the same line, at a cost that was most
    of a mail's build on the signing path). Anything else is folded by compat32 itself."""

    def _short_line(self, name, value):
        return (isinstance(value, str) and value.isascii() and value.isprintable()
                and len(name) + 2 + len(value) <= (self.max_line_length or 0))

    def fold(self, name, value):
        if self._short_line(name, value):
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name, value):
        if self._short_line(name, value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


SHORT_LINE_COMPAT32 = ShortLineCompat32()


@functools.lru_cache(maxsize=64)
def _subject_header(subject):
    """The Subject as compat32 writes it (encoded words): a short line is kept as text, which
    the policy above writes as it is; a longer one stays a Header, folded by compat32."""
    header = Header(subject, UTF8)
    encoded = header.encode(linesep="\n", maxlinelen=SHORT_LINE_COMPAT32.max_line_length)
    return header if "\n" in encoded else encoded


#: the headers a compat32 MIMEText(body, "plain", UTF8) starts with, in its order
_PLAIN_TEXT_HEADERS = (("Content-Type", 'text/plain; charset="utf-8"'), ("MIME-Version", "1.0"),
                       ("Content-Transfer-Encoding", "quoted-printable"))


def _plain_text(body):
    """The message MIMEText(body, "plain", UTF8) builds, the same bytes once written, built
    without it: MIMEText writes its Content-Type, then parses it back to add the charset, which
    cost more than encoding the body."""
    message = Message(policy=SHORT_LINE_COMPAT32)
    for name, value in _PLAIN_TEXT_HEADERS:
        message[name] = value
    message.set_payload(UTF8.body_encode(body))
    message._charset = UTF8  # as set_charset leaves it (get_charset())
    return message


def build_message(to, subject, body):
    """A plain-text message. A compat32 message (`_plain_text`) is several times cheaper to
    build than an EmailMessage (it is built on the signing path); addresses that are not ASCII
    take the EmailMessage path, which encodes them properly."""
    sender = current_app.config["MAIL_SENDER"]
    if not (to.isascii() and sender.isascii()):
        message = EmailMessage()
        message["Subject"] = subject
        message.set_content(body)
    else:
        message = _plain_text(body)
        message["Subject"] = _subject_header(subject)
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="campaign.invalid")
    return message


def send_template(to, template, *, locale=None, **context):
    subject, body = render(template, locale, **context)
    send(build_message(to, subject, body))


def send(message):
    send_raw(bytes(message))


def send_raw(raw):
    """Hand a whole message (bytes) to the configured transport."""
    config = current_app.config
    if config.get("MAIL_SERVER"):
        _send_smtp(raw, config)
    elif config.get("MAIL_FILE_DIR"):
        _write_mail_file(str(config["MAIL_FILE_DIR"]), raw)
    else:
        message = message_from_bytes(raw, policy=policy.default)
        current_app.extensions.setdefault("campaign_outbox", []).append(message)


#: mail folders this process made (or found): not made again for each message
_MAIL_FOLDERS = set()


def _write_mail_file(folder, raw):
    """One new file (owner-only) holding the message, in `folder`, made first if needed."""
    if folder not in _MAIL_FOLDERS:
        Path(folder).mkdir(parents=True, exist_ok=True)
        _MAIL_FOLDERS.add(folder)
    try:
        fd = os.open(os.path.join(folder, f"{new_public_id()}.eml"),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileNotFoundError:  # the folder went away meanwhile: made again
        _MAIL_FOLDERS.discard(folder)
        return _write_mail_file(folder, raw)
    with os.fdopen(fd, "wb") as handle:
        handle.write(raw)
    return None


class _HeldConnection:
    """The process's connection to the mail server, kept open for its next message.

    A connection costs the worker a TCP set-up, the greeting, EHLO, and with STARTTLS a TLS
    handshake, more than sending a message over it: a rush of signatures (each with its mail)
    then pays that once per few seconds, not once per message, and so does the cron's batch.
    The connection is used again only while it is fresh (`MAIL_KEEP_SECONDS` since its last
    message, at most `MESSAGES_PER_CONNECTION` messages, the same server and account); a
    server that closed it meanwhile (a restart, its own idle timeout) costs one new connection
    and the message is sent over that. A server found unreachable is left alone for
    `MAIL_PAUSE_SECONDS` (its mail stays queued for the cron), so that a hung server holds the
    sender thread (or the worker) for one timeout, not after every signature. Threads of one
    process take turns on it; a forked child starts without it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.smtp = None
        self.key = None
        self.used_at = 0.0
        self.sent = 0
        #: the server (its key) this process leaves alone until `paused_until` (time.monotonic):
        #: it was unreachable
        self.paused_key = None
        self.paused_until = 0.0
        #: how many times in a row the paused server was found unreachable (the pause doubles)
        self.unreachable_runs = 0

    def close(self):
        smtp, self.smtp, self.key = self.smtp, None, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

    def open(self, config, key):
        self.smtp, self.key, self.sent = _connect(config), key, 0

    def after_fork(self):
        """In a forked child: the parent's connection is the parent's (no QUIT here)."""
        self.lock = threading.Lock()
        self.paused_key, self.paused_until, self.unreachable_runs = None, 0.0, 0
        smtp, self.smtp, self.key = self.smtp, None, None
        if smtp is not None:
            smtp.close()  # this process's copy of the socket only


#: messages sent over one connection before it is closed and a new one opened (relays often
#: limit this per connection)
MESSAGES_PER_CONNECTION = 100

_held = _HeldConnection()
os.register_at_fork(after_in_child=_held.after_fork)


def close_connection():
    """Close the process's connection to the mail server, if it holds one (QUIT, or just the
    socket if the server is gone)."""
    if _held.lock.acquire(timeout=5):
        try:
            _held.close()
        finally:
            _held.lock.release()


atexit.register(close_connection)


def _connect(config):
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"],
                        timeout=float(config.get("MAIL_TIMEOUT_SECONDS", 10.0)))
    try:
        if config.get("MAIL_STARTTLS"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _closed_by_server(exc):
    """The server ended a connection it had kept: gone (a restart, an idle timeout), or
    saying so with 421 before closing it. Nothing of the message was accepted."""
    return isinstance(exc, smtplib.SMTPServerDisconnected) or (
        isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 421)


def _plain_envelope(raw):
    """(sender, recipients) of a message whose bytes are all ASCII and whose headers name
    plain addresses (every message built here for an ASCII address): it goes to the server as
    it is, its headers read in about a tenth of a millisecond. None for anything else, which
    smtplib's send_message prepares as ever (SMTPUTF8 and all): parsing a whole message with
    the modern policy cost the worker nearly two milliseconds per mail."""
    if not raw.isascii():
        return None
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
    if any(name in headers for name in ("Sender", "Bcc", "Resent-From", "Resent-To")):
        return None
    senders = getaddresses(headers.get_all("From", []))
    recipients = [address for _name, address in
                  getaddresses(headers.get_all("To", []) + headers.get_all("Cc", []))]
    addresses = [address for _name, address in senders] + recipients
    if len(senders) != 1 or not recipients or not all(
            "@" in address and "=?" not in address for address in addresses):
        return None
    return senders[0][1], recipients


def _hand_over(smtp, raw):
    envelope = _plain_envelope(raw)
    if envelope is None:
        smtp.send_message(message_from_bytes(raw, policy=policy.default))
    else:  # SMTP wants CRLF line ends (smtplib leaves bytes as they are)
        smtp.sendmail(*envelope, raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


#: the server refused this one message (its sender, a recipient, its content): the next may go
_MESSAGE_REFUSED = (smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused,
                    smtplib.SMTPDataError, smtplib.SMTPNotSupportedError)


def _refused_for_good(exc):
    """A 5xx reply to every recipient, or to the message's content: permanent, as mail servers
    mean it. A refused sender is not: that is this server's setting, and every message would
    be refused alike until it is fixed."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(
            500 <= code < 600 for code, _reply in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPDataError) and 500 <= exc.smtp_code < 600


def _unreachable(exc):
    """The failure was the server's, not the message's: it dropped the connection or did not
    answer in time (any failure while connecting counts too: TCP, the greeting, STARTTLS, the
    login). The next message would fare no better."""
    return _closed_by_server(exc) or not isinstance(exc, _MESSAGE_REFUSED)


def _server_key(config):
    return (config["MAIL_SERVER"], config["MAIL_PORT"], bool(config.get("MAIL_STARTTLS")),
            config.get("MAIL_USERNAME"))


def server_paused(config=None):
    """True while this process leaves the configured mail server alone: it found it unreachable
    less than a pause ago (`_pause`)."""
    config = config or current_app.config
    return bool(config.get("MAIL_SERVER")) and _held.paused_key == _server_key(config) and \
        time.monotonic() < _held.paused_until


def _send_smtp(raw, config):
    with _held.lock:
        if server_paused(config):
            # Found unreachable a moment ago: trying again would hold this worker for the whole
            # timeout after every signature. The mail stays queued for the cron.
            raise MailError("MailServerPaused")
        try:
            _send_held(raw, config)
        except (OSError, smtplib.SMTPException) as exc:
            connecting = _held.smtp is None  # it failed before a connection was ready
            _held.close()
            if connecting or _unreachable(exc):
                _pause(config)
            current_app.logger.warning("mail not sent: %s", type(exc).__name__)
            raise MailError(type(exc).__name__, permanent=_refused_for_good(exc)) from exc
        _held.unreachable_runs = 0


#: the longest pause, however long the server has been unreachable (the cron still tries it)
MAX_PAUSE_SECONDS = 900


def _pause(config):
    """Leave the server alone for MAIL_PAUSE_SECONDS, doubled each time it is found unreachable
    again right after a pause (up to MAX_PAUSE_SECONDS): a relay down for an hour then costs a
    worker a handful of timeouts, not one a minute."""
    key = _server_key(config)
    _held.unreachable_runs = _held.unreachable_runs + 1 if _held.paused_key == key else 1
    base = float(config.get("MAIL_PAUSE_SECONDS", 60.0))
    _held.paused_key = key
    _held.paused_until = time.monotonic() + min(
        base * 2 ** (_held.unreachable_runs - 1), max(base, MAX_PAUSE_SECONDS))


def _send_held(raw, config):
    """Send over the held connection (the lock is held), or a new one when it is not fresh."""
    keep = float(config.get("MAIL_KEEP_SECONDS", 5.0))
    key = _server_key(config)
    if _held.smtp is not None and (
            _held.key != key or _held.sent >= MESSAGES_PER_CONNECTION
            or time.monotonic() - _held.used_at > keep):
        _held.close()
    reused = _held.smtp is not None
    if not reused:
        _held.open(config, key)
    try:
        _hand_over(_held.smtp, raw)
    except (OSError, smtplib.SMTPException) as exc:
        if not (reused and _closed_by_server(exc)):
            raise
        _held.close()  # once more, over a new connection
        _held.open(config, key)
        _hand_over(_held.smtp, raw)
    _held.sent += 1
    _held.used_at = time.monotonic()
    if keep <= 0:
        _held.close()


# --- the outbox ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SealedMail:
    """A rendered mail, encrypted for the outbox, not yet queued (no database work)."""

    public_id: str
    message_ct: bytes
    raw: bytes


def seal_template(to, template, *, locale=None, **context):
    """Render and encrypt a mail; `queue` puts it in the outbox. Done apart so that a caller
    can do this work before taking the database's write lock."""
    subject, body = render(template, locale, **context)
    raw = bytes(build_message(to, subject, body))
    public_id = new_public_id()
    return SealedMail(public_id=public_id,
                      message_ct=keyring().encrypt(raw, aad_for("outbox", "message", public_id)),
                      raw=raw)


#: a message's row (built once: queued on every signature); inline: no RETURNING of an id
#: nobody reads
_INSERT_OUTBOX = insert(OutboxMessage.__table__).inline()


def queue(sealed):
    """Queue a sealed mail in the current transaction; it is sent after the response (see
    module doc)."""
    db.session.connection().execute(_INSERT_OUTBOX, outbox_row(sealed))
    queued(sealed)


#: the columns of a queued message's row (`outbox_row`)
OUTBOX_VALUES = ("public_id", "created_at", "message_ct", "attempts", "next_attempt_at")


def _delivered_here():
    return has_request_context() or g.get("campaign_after_response", False)


def outbox_row(sealed):
    """The outbox row `queue` writes for a sealed mail (a caller may write it in a statement of
    its own, then call `queued`)."""
    now = utcnow()
    # A request delivers what it queued once its response is sent, nothing else: its messages
    # are born claimed, so the cron leaves them alone unless that delivery never happens.
    return {"public_id": sealed.public_id, "created_at": now,
            "message_ct": sealed.message_ct, "attempts": 0,
            "next_attempt_at": (now + timedelta(minutes=CLAIM_MINUTES) if _delivered_here()
                                else now)}


def queued(sealed):
    """The row of `sealed` is written in the current transaction: deliver it after the
    response, once that transaction commits."""
    if _delivered_here():
        # Kept in memory for the delivery after the response, which then need not read the
        # message back and decrypt it. It is sent only once its transaction commits (see
        # `_on_commit`).
        db.session.info.setdefault(UNCOMMITTED, {})[sealed.public_id] = sealed.raw
        after_response()


def queue_template(to, template, *, locale=None, **context):
    """Render, encrypt and queue a mail in the current transaction."""
    return queue(seal_template(to, template, locale=locale, **context))


def after_response(job=None):
    """Run `job`, then deliver the mail this request queued, once the response has been sent.

    What runs here cannot change the response, nor its timing: work that depends on whether
    someone took part (a look-up, a mail) belongs here.
    """
    if not has_request_context():
        return
    jobs = g.setdefault("campaign_after_jobs", [])
    if job is not None and job not in jobs:
        jobs.append(job)
    if g.get("campaign_outbox_hooked"):
        return
    g.campaign_outbox_hooked = True
    app = current_app._get_current_object()

    @after_this_request
    def _hook(response):
        queued = dict(g.get("campaign_queued_mail", {}))
        if not jobs and _sender.takes(app):
            # Only mail, and a sender thread to take it: handed over as the response closes,
            # with no application context of its own (see `_hand_to_sender`).
            if queued:
                response.call_on_close(lambda: _hand_to_sender(app, queued))
            return response

        def _run():
            for queued_job in jobs:
                queued_job()
                db.session.commit()
            # the jobs' own mail is in this context's g
            deliver_own({**queued, **g.get("campaign_queued_mail", {})})

        response.call_on_close(lambda: _after_response_work(app, _run))
        return response


def _after_response_work(app, work):
    """Run `work` after a response, in an application context of its own; a failure is logged
    (its type only) and rolled back: what it left queued, the cron sends."""
    with app.app_context():
        g.campaign_after_response = True
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - the cron retries
            db.session.rollback()
            app.logger.warning("after-response work deferred: %s", type(exc).__name__)
        finally:
            db.session.remove()


def _hand_to_sender(app, queued):
    """Give the sender thread a closed response's committed mail; what its queue has no room
    for is sent here, as `deliver_own` would."""
    try:
        left = _sender.submit(app, queued)
    except Exception as exc:  # noqa: BLE001 - the rows stay claimed: the cron sends them
        app.logger.warning("after-response work deferred: %s", type(exc).__name__)
        return
    if left:
        _after_response_work(app, lambda: deliver_own(left, background=False))


#: how long a claimed message is left to its sender before another delivery may try it
CLAIM_MINUTES = 10


#: a session's queued messages whose transaction has not committed yet (public id -> bytes)
UNCOMMITTED = "campaign_uncommitted_mail"


def _on_commit(session):
    """The transaction that queued messages committed: they are this context's to deliver."""
    if session.in_nested_transaction():
        return  # a savepoint: the rows are not committed yet
    committed = session.info.pop(UNCOMMITTED, None)
    if committed and has_app_context():
        g.setdefault("campaign_queued_mail", {}).update(committed)


def _on_rollback(session, _previous_transaction):
    """Whatever was queued is not for this context to send. (A savepoint's rollback drops
    messages queued before it too; if their rows commit, the cron sends them later.)"""
    session.info.pop(UNCOMMITTED, None)


event.listen(db.session, "after_commit", _on_commit)
event.listen(db.session, "after_soft_rollback", _on_rollback)

#: sent messages' rows going, many at once
_DELETE_SENT_MANY = delete(OutboxMessage.__table__).where(
    OutboxMessage.__table__.c.public_id.in_(bindparam("public_ids", expanding=True)))
_DELETE_CHUNK = 500  # bound parameters per statement, well under SQLite's limit


def _delete_sent(public_ids):
    """Delete the rows of sent messages, in one transaction."""
    db.session.commit()
    connection = db.session.connection()
    for start in range(0, len(public_ids), _DELETE_CHUNK):
        connection.execute(_DELETE_SENT_MANY,
                           {"public_ids": public_ids[start:start + _DELETE_CHUNK]})
    db.session.commit()


class SentRows:
    """Rows of messages sent after a response, deleted together a moment later.

    Deleting each row as its message goes out costs a write transaction per message: on
    PostgreSQL a second commit (and its flush to disk) for each signature, on SQLite a second
    turn of the write lock. Here a process notes what it sent and deletes all of it in one
    transaction, `MAIL_SENT_FLUSH_SECONDS` after the first message it noted (0: at once), from a
    timer thread, and when the process exits. Nothing is lost: until its row goes, a sent
    message is only claimed (see `queue`); if the process died before deleting, the cron would
    send it again once the claim lapses, as it would after a crash between sending and deleting
    one message: delivery is at least once, as before, with a wider window of a second.
    """

    def __init__(self, app):
        self.app = app
        self.delay = float(app.config.get("MAIL_SENT_FLUSH_SECONDS", 1.0))
        self.lock = threading.Lock()
        self.public_ids = []
        self.timer = None
        self.at_exit = False

    _making = threading.Lock()

    @classmethod
    def of(cls, app):
        """The app's one set of sent rows (a request and the sender thread may ask at once)."""
        rows = app.extensions.get("campaign_sent_rows")
        if rows is None:
            with cls._making:
                rows = app.extensions.get("campaign_sent_rows")
                if rows is None:
                    rows = app.extensions["campaign_sent_rows"] = cls(app)
        return rows

    def add(self, public_ids):
        if not public_ids:
            return
        if self.delay <= 0:
            _delete_sent(list(public_ids))
            return
        with self.lock:
            self.public_ids.extend(public_ids)
            self._schedule()
            if not self.at_exit:
                self.at_exit = True
                atexit.register(self.flush)

    def _schedule(self):
        if self.timer is None:  # the lock is held
            self.timer = threading.Timer(self.delay, self._on_timer)
            self.timer.daemon = True
            self.timer.start()

    def _on_timer(self):
        with self.lock:
            self.timer = None
        self.flush()

    def flush(self):
        """Delete every noted row now (one transaction). If the database refuses, they stay
        noted and the next flush tries again."""
        with self.lock:
            public_ids, self.public_ids = self.public_ids, []
        if not public_ids:
            return 0
        try:
            with self.app.app_context():  # its end rolls back what failed
                _delete_sent(public_ids)
        except Exception as exc:  # noqa: BLE001 - retried; the cron covers a lasting failure
            self.app.logger.warning("sent mail rows kept for later: %s", type(exc).__name__)
            with self.lock:
                self.public_ids[:0] = public_ids
                self._schedule()
            return 0
        return len(public_ids)


def _send_row(public_id, raw, *, sent_rows=None):
    """Send one message; delete it once sent (or leave that to `sent_rows`), or schedule its
    retry. Returns True if sent. No transaction is open while the mail server is spoken to (on
    SQLite a write transaction would hold every other writer back meanwhile)."""
    if db.session.registry.has() and db.session().in_transaction():
        db.session.commit()  # (after a response, often no session at all: none is made)
    try:
        send_raw(raw)
    except MailError as exc:
        row = db.session.execute(
            select(OutboxMessage).where(OutboxMessage.public_id == public_id)
        ).scalar_one_or_none()
        if row is not None and (exc.permanent or row.created_at < _oldest_kept()):
            # Refused for good, or still not sent after MAIL_MAX_AGE_HOURS: given up, as a
            # mail server would give up (its address and any private link go with it).
            db.session.delete(row)
            current_app.logger.warning("mail given up after %d attempts: %s",
                                       row.attempts + 1, exc)
        elif row is not None:
            row.attempts += 1
            row.last_error = str(exc)[:64]
            delay = RETRY_DELAYS_MINUTES[min(row.attempts, len(RETRY_DELAYS_MINUTES)) - 1]
            row.next_attempt_at = utcnow() + timedelta(minutes=delay)
        db.session.commit()
        return False
    if sent_rows is not None:
        sent_rows.add([public_id])
    else:
        _delete_sent([public_id])
    return True


def _oldest_kept():
    """When a queued message still not sent is given up (MAIL_MAX_AGE_HOURS after it was
    queued)."""
    return utcnow() - timedelta(hours=float(current_app.config.get("MAIL_MAX_AGE_HOURS", 120)))


def drop_expired():
    """Give up every queued message older than MAIL_MAX_AGE_HOURS, sent or not (a mail server
    that stayed unreachable all that time never had a chance to refuse it); the cron's job.
    Returns how many."""
    db.session.commit()
    dropped = db.session.execute(
        delete(OutboxMessage).where(OutboxMessage.created_at < _oldest_kept())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if dropped:
        current_app.logger.warning("mail given up unsent after %s hours: %d",
                                   current_app.config.get("MAIL_MAX_AGE_HOURS", 120), dropped)
    return dropped


def deliver_own(queued, *, background=True):
    """Deliver the messages this context queued and committed (born claimed: nobody else sends
    them). `queued` maps their public ids to their bytes. Their rows go a moment later, with
    others (`SentRows`). With MAIL_BACKGROUND (and a server or a folder to send to), the
    process's sender thread takes them (`_Sender`), and only what its queue has no room for is
    sent here (`background=False`: all of it)."""
    app = current_app._get_current_object()
    sent_rows = SentRows.of(app)
    if background and _sender.takes(app):
        queued = _sender.submit(app, queued)
    for public_id, raw in queued.items():
        _send_row(public_id, raw, sent_rows=sent_rows)


class _Sender:
    """A thread of the worker process that sends the mail its responses queued.

    Each message costs the mail server's replies to several commands (MAIL, RCPT, DATA, the
    message): a relay across the internet answers each in tens of milliseconds. With a relay
    at 20 ms a command, four workers that waited for it served 57 signatures a second, and 476
    with this thread (bench/slow_mail_relay.py, session 9): the thread waits for the relay
    while the worker serves the next request. Its queue is bounded: when it is full, the
    worker sends itself, as before. The thread takes what waits in one batch, sent in one
    application context, then rests `REST_SECONDS`. A message still in the queue when the
    process dies is claimed for CLAIM_MINUTES, then the cron sends it; at a normal exit the
    queue is emptied first (`drain`). A forked child starts without the thread."""

    QUEUE_SIZE = 1000
    #: how long an exiting process keeps sending what is queued
    DRAIN_SECONDS = 20.0
    #: the thread's rest after each batch, in which what arrives waits for the next one: a
    #: message then costs no wake-up of its own (the worker's hand-over is an append)
    REST_SECONDS = 0.05
    #: messages sent in one application context
    BATCH = 100

    def __init__(self):
        self.lock = threading.Lock()
        self.queue = None
        self.thread = None
        self.apps = weakref.WeakSet()  # whose sent rows an exit deletes

    def submit(self, app, queued):
        """Hand `queued` ({public id: bytes}) to the thread; returns what did not fit."""
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.queue = Queue(self.QUEUE_SIZE)
                self.thread = threading.Thread(target=self._run, name="campaign-mail",
                                               daemon=True)
                self.thread.start()
                if not self.apps:
                    atexit.register(self.drain)
            self.apps.add(app)
        left = {}
        for public_id, raw in queued.items():
            try:
                self.queue.put_nowait((app, public_id, raw))
            except Full:
                left[public_id] = raw
        return left

    @staticmethod
    def takes(app):
        """Whether `app` sends its mail from this thread (MAIL_BACKGROUND, and a server or a
        folder to send to)."""
        config = app.config
        return bool(config.get("MAIL_BACKGROUND")
                    and (config.get("MAIL_SERVER") or config.get("MAIL_FILE_DIR")))

    def _run(self):
        while True:
            batch = [self.queue.get()]
            while len(batch) < self.BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except Empty:
                    break
            try:
                for app, messages in _by_app(batch):
                    self._send_batch(app, messages)
            finally:
                for _message in batch:
                    self.queue.task_done()
            time.sleep(self.REST_SECONDS)

    @staticmethod
    def _send_batch(app, messages):
        """Send `messages` ([(public id, bytes)]) of one app, in one application context."""
        try:
            with app.app_context():
                sent_rows = SentRows.of(app)
                for public_id, raw in messages:
                    try:
                        _send_row(public_id, raw, sent_rows=sent_rows)
                    except Exception as exc:  # noqa: BLE001 - it stays claimed: the cron sends it
                        db.session.rollback()
                        app.logger.warning("mail deferred: %s", type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - (the context itself): as above
            app.logger.warning("mail deferred: %s", type(exc).__name__)

    def drain(self, timeout=None):
        """Wait until what is queued is sent (or `timeout`, DRAIN_SECONDS by default), then
        delete the sent rows now. Returns True if nothing is left."""
        deadline = time.monotonic() + (self.DRAIN_SECONDS if timeout is None else timeout)
        pending = self.queue
        while pending is not None and pending.unfinished_tasks and \
                time.monotonic() < deadline and self.thread is not None and \
                self.thread.is_alive():
            time.sleep(0.01)
        for app in list(self.apps):
            SentRows.of(app).flush()
        return pending is None or not pending.unfinished_tasks

    def after_fork(self):
        self.lock = threading.Lock()
        self.queue, self.thread, self.apps = None, None, weakref.WeakSet()


def _by_app(batch):
    """[(app, [(public id, bytes)])] from the sender's [(app, public id, bytes)], in order."""
    grouped = {}
    for app, public_id, raw in batch:
        grouped.setdefault(id(app), (app, []))[1].append((public_id, raw))
    return list(grouped.values())


_sender = _Sender()
os.register_at_fork(after_in_child=_sender.after_fork)


def sent_after_responses(timeout=10.0):
    """Wait until the sender thread has sent what responses queued (tests, exits)."""
    return _sender.drain(timeout)


def _claim(row_id, now):
    """Take one due message for this process (an atomic UPDATE): True if nobody else has it."""
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.next_attempt_at <= now)
        .values(next_attempt_at=now + timedelta(minutes=CLAIM_MINUTES))
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.commit()
    return claimed


def deliver_pending(limit=100):
    """Send due messages (the cron's job), each claimed first so that two deliveries never
    send the same one; stops at a server found unreachable (the rest stay due for the next
    run). Returns (sent, failed)."""
    sent = failed = 0
    ring = keyring()
    due = db.session.execute(
        select(OutboxMessage.id).where(OutboxMessage.next_attempt_at <= utcnow())
        .order_by(OutboxMessage.id).limit(limit)
    ).scalars().all()
    db.session.commit()
    for row_id in due:
        if server_paused():
            break  # the server is unreachable: the rest stay due for the next run
        if not _claim(row_id, utcnow()):
            continue
        row = db.session.get(OutboxMessage, row_id)
        if row is None:
            continue
        raw = ring.decrypt(row.message_ct, aad_for("outbox", "message", row.public_id))
        if _send_row(row.public_id, raw):
            sent += 1
        else:
            failed += 1
    return sent, failed


def pending_count():
    from sqlalchemy import func

    return db.session.execute(select(func.count(OutboxMessage.id))).scalar_one()
