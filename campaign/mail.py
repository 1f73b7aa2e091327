"""Outgoing mail in the recipient's language, with neutral subjects and sender.

Transport: SMTP when CAMPAIGN_MAIL_SERVER is set; otherwise files under CAMPAIGN_MAIL_FILE_DIR
(development); otherwise (tests without a server) an in-memory outbox. Recipient addresses are
never logged.
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

from .crypto import new_public_id
from .i18n import LOCALES

# Subjects name neither the employer nor the cause (DESIGN 2a): mail to work addresses is read.
SUBJECTS = {
    "invitation": _l("Your account invitation"),
}


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
