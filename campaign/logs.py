"""Logging that cannot leak who took part: addresses, e-mails and tokens are redacted."""

import logging
import re

_PATTERNS = [
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), "[ip]"),
    (re.compile(r"\b(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}\b"), "[ip]"),
    (re.compile(r"[A-Za-z0-9_-]{40,}"), "[token]"),
    (re.compile(r"\?[^\s\"]*"), "?[query]"),
]


def redact(text):
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites every record's message; attached to the handlers of the app and the server."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not break logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            # Tracebacks can carry values (an e-mail in a failing INSERT): keep the type only.
            exc_type = record.exc_info[0]
            record.exc_info = None
            record.exc_text = None
            record.msg = f"{record.msg} [{exc_type.__name__ if exc_type else 'error'}]"
        return True


def install(app):
    redacting = RedactingFilter()
    loggers = [app.logger, logging.getLogger("werkzeug"), logging.getLogger("gunicorn.error"),
               logging.getLogger("gunicorn.access"), logging.getLogger()]
    for logger in loggers:
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(redacting)
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(redacting)
    # The development server's access log names the client; keep it quiet.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
