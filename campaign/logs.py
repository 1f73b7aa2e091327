"""Logging that cannot leak who took part: addresses, e-mails, tokens, query strings redacted.

Redaction happens where every log record is born (a record factory), so it holds for any logger
(the app's, werkzeug's, gunicorn's, a library's) whatever handlers are configured later. Handlers
configured elsewhere (gunicorn's `logconfig_dict`) can also use `RedactingFilter`.
"""

import ipaddress
import logging
import re
import traceback

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*")
#: candidates only: each one is checked with `ipaddress` so times (10:02:33) and versions survive
IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?"
    r"(?:%[\w.-]+)?(?!\w|:|\.\d)"
)
#: 32 or more token characters: private-link tokens, session ids, hashes
TOKEN = re.compile(r"(?<![\w-])[A-Za-z0-9_-]{32,}(?![\w-])")
#: a long snake_case name (a function or setting) is not a secret
IDENTIFIER = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
#: a query string right after a path or host; a lone question mark in a sentence stays
QUERY = re.compile(r"(?<=[\w/%.=-])\?[^\s\"'<>]+")

REDACTED_EMAIL = "[email]"
REDACTED_IP = "[ip]"
# The placeholder that replaces a token, not a secret.
REDACTED_TOKEN = "[token]"  # noqa: S105  # nosec B105
REDACTED_QUERY = "?[query]"


def _ip_or_keep(match):
    text = match.group(0)
    address = text.split("%", 1)[0]
    if ":" in address and "::" not in address and address.count(":") < 6:
        # Not an IPv6 address: without "::" one has 8 groups (7 colons), or 6 colons and an
        # IPv4 tail. Saves `ipaddress` raising twice on every time of day (10:02:33).
        return text
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return text
    return REDACTED_IP


def _token_or_keep(match):
    text = match.group(0)
    return text if IDENTIFIER.fullmatch(text) else REDACTED_TOKEN


def redact(text):
    """The text without e-mail addresses, IP addresses, long tokens or query strings."""
    text = str(text)
    # Each pattern runs only where it could match (an e-mail has an @, a query a ?, an IPv6
    # candidate two colons, an IPv4 one three dots): same result, a fraction of the time, on
    # every log record (one gunicorn access line per request).
    if "@" in text:
        text = EMAIL.sub(REDACTED_EMAIL, text)
    if "?" in text:
        text = QUERY.sub(REDACTED_QUERY, text)
    if text.count(":") >= 2:
        text = IPV6.sub(_ip_or_keep, text)
    if text.count(".") >= 3:
        text = IPV4.sub(_ip_or_keep, text)
    if len(text) >= 32:
        text = TOKEN.sub(_token_or_keep, text)
    return text


def safe_traceback(exc_info):
    """Frames (file, line, function, source line) and exception type names; never a message.

    Exception messages carry values (an e-mail in a failing INSERT's parameters); source lines are
    the program's own text.
    """
    _type, error, _tb = exc_info
    lines = []
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        frames = traceback.extract_tb(error.__traceback__)
        chunk = ["Traceback (most recent call last):"]
        chunk += [f'  File "{f.filename}", line {f.lineno}, in {f.name}\n    {f.line or ""}'
                  .rstrip() for f in frames]
        chunk.append(f"{type(error).__module__}.{type(error).__qualname__} (message withheld)")
        lines = chunk + (["", "The above exception was the direct cause of, or happened while "
                          "handling, the following one:", ""] if lines else []) + lines
        error = error.__cause__ or error.__context__
    return redact("\n".join(lines))


def redact_record(record):
    """Rewrite a log record in place so that nothing in it identifies anyone."""
    if getattr(record, "campaign_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string must not break logging
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None
    if record.exc_info:
        if record.exc_info[1] is not None:
            record.exc_text = safe_traceback(record.exc_info)
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    record.campaign_redacted = True
    return record


class RedactingFilter(logging.Filter):
    """A filter for handlers configured outside the app; the record factory already redacts."""

    def filter(self, record):
        redact_record(record)
        return True


def _redacting_factory(base):
    def factory(*args, **kwargs):
        return redact_record(base(*args, **kwargs))

    factory.campaign_redacting = True
    return factory


def install(app):
    """Redact every log record of the process, once; keep the development access log quiet."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "campaign_redacting", False):
        logging.setLogRecordFactory(_redacting_factory(current))
    redacting = RedactingFilter()
    for logger in (app.logger, logging.getLogger("werkzeug"), logging.getLogger("gunicorn.error"),
                   logging.getLogger("gunicorn.access"), logging.getLogger()):
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(redacting)
    # The development server's access log names the client; keep it quiet.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
