"""Outgoing mail in the recipient's language, with neutral subjects and sender.

Mail to signers and authors is queued in the `outbox` table (recipient and message encrypted by
the key ring) in the same transaction as what caused it, then delivered after the response; a
failed delivery stays queued and is retried by `flask mail deliver` (cron), so a failed mail
server loses nothing. Transport: SMTP when CAMPAIGN_MAIL_SERVER is set; otherwise files under
CAMPAIGN_MAIL_FILE_DIR (development); otherwise an in-memory list (tests without a server).
Recipient addresses are never logged.
"""

import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from datetime import timedelta

from flask import after_this_request
from email import message_from_bytes, policy
from sqlalchemy import select

from .crypto import aad_for, keyring, new_public_id
from .extensions import db
from .i18n import LOCALES

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
    pass


def render(template, locale, **context):
    locale = locale if locale in LOCALES else current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        subject = str(SUBJECTS[template])
        body = render_template(f"mail/{template}.txt", **context)
    return subject, body


def build_message(to, subject, body):
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="campaign.invalid")
    message.set_content(body)
    return message


def send_template(to, template, *, locale=None, **context):
    subject, body = render(template, locale, **context)
    send(build_message(to, subject, body))


def send(message):
    config = current_app.config
    if config.get("MAIL_SERVER"):
        _send_smtp(message, config)
    elif config.get("MAIL_FILE_DIR"):
        folder = Path(config["MAIL_FILE_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{new_public_id()}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(message))
    else:
        current_app.extensions.setdefault("campaign_outbox", []).append(message)


def _send_smtp(message, config):
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
            if config.get("MAIL_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context())
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        current_app.logger.warning("mail not sent: %s", type(exc).__name__)
        raise MailError(type(exc).__name__) from exc


# --- the outbox ----------------------------------------------------------------------------------

def queue_template(to, template, *, locale=None, **context):
    """Queue a mail in the current transaction; it is sent after the response (see module doc)."""
    from .models import OutboxMessage
    from .models.base import utcnow

    subject, body = render(template, locale, **context)
    message = build_message(to, subject, body)
    row = OutboxMessage(public_id=new_public_id(), created_at=utcnow(), next_attempt_at=utcnow())
    ring = keyring()
    row.recipient_ct = ring.encrypt(to, aad_for("outbox", "recipient", row.public_id))
    row.message_ct = ring.encrypt(bytes(message), aad_for("outbox", "message", row.public_id))
    db.session.add(row)
    _deliver_after_response()
    return row


def _deliver_after_response():
    after_response()


def after_response(job=None):
    """Run `job` (then deliver the outbox) once the response has been sent.

    What runs here cannot change the response, nor its timing: work that depends on whether
    someone took part (a look-up, a mail) belongs here.
    """
    from flask import g, has_request_context

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
        def _run():
            with app.app_context():
                try:
                    for queued in jobs:
                        queued()
                        db.session.commit()
                    deliver_pending()
                except Exception as exc:  # noqa: BLE001 - the cron retries
                    db.session.rollback()
                    app.logger.warning("after-response work deferred: %s", type(exc).__name__)
                finally:
                    db.session.remove()

        response.call_on_close(_run)
        return response


def deliver_pending(limit=100):
    """Send due messages; delete each once sent; back off on failure. Returns (sent, failed)."""
    from .models import OutboxMessage
    from .models.base import utcnow

    sent = failed = 0
    ring = keyring()
    due = db.session.execute(
        select(OutboxMessage).where(OutboxMessage.next_attempt_at <= utcnow())
        .order_by(OutboxMessage.id).limit(limit)
    ).scalars().all()
    for row in due:
        raw = ring.decrypt(row.message_ct, aad_for("outbox", "message", row.public_id))
        message = message_from_bytes(raw, policy=policy.default)
        try:
            send(message)
        except MailError as exc:
            row.attempts += 1
            row.last_error = str(exc)[:64]
            delay = RETRY_DELAYS_MINUTES[min(row.attempts, len(RETRY_DELAYS_MINUTES)) - 1]
            row.next_attempt_at = utcnow() + timedelta(minutes=delay)
            failed += 1
        else:
            db.session.delete(row)
            sent += 1
        db.session.commit()
    return sent, failed


def pending_count():
    from sqlalchemy import func

    from .models import OutboxMessage

    return db.session.execute(select(func.count(OutboxMessage.id))).scalar_one()
