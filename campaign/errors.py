"""Bilingual error pages that never show a trace, and a 503 when the database is unavailable."""

from flask import current_app, g, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from .extensions import db

MESSAGES = {
    400: (_l("Bad request"),
          _l("The request could not be understood. Please go back and try again.")),
    403: (_l("Not allowed"), _l("You do not have permission to open this page.")),
    404: (_l("Page not found"), _l("This page does not exist or is not available to you.")),
    405: (_l("Not allowed"), _l("This action is not possible on this page.")),
    413: (_l("Too large"), _l("What you sent is larger than this site accepts.")),
    429: (_l("Too many attempts"),
          _l("Too many attempts in a short time. Please wait a minute and try again.")),
    500: (_l("Something went wrong"),
          _l("An error occurred on our side. Nothing you sent was shown to anyone. "
             "Please try again later.")),
    503: (_l("Temporarily unavailable"),
          _l("The service is temporarily unavailable. Please try again in a few minutes.")),
}
FORM_EXPIRED = (_l("The form expired"), _l("The form expired, please submit it again."))
#: seconds a client should wait before retrying when the database is unavailable
RETRY_AFTER = "30"


def init_app(app):
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(DBAPIError, handle_database_error)
    app.register_error_handler(PoolTimeoutError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)


def render_error(code, title=None, message=None):
    fallback = MESSAGES[500] if code >= 500 else MESSAGES[400]
    default_title, default_message = MESSAGES.get(code, fallback)
    return render_template("errors/error.html", code=code, title=title or default_title,
                           message=message or default_message), code


def handle_csrf_error(error):
    # Missing, expired or foreign token, or (over HTTPS) a missing or foreign Referer.
    current_app.logger.info("form refused: %s", error.description)
    return render_error(400, *FORM_EXPIRED)


def handle_http_error(error):
    if error.code is None or error.code < 400:
        return error
    response = render_error(error.code)
    if error.code == 405 and getattr(error, "valid_methods", None):
        return (*response, {"Allow": ", ".join(error.valid_methods)})
    return response


def _rollback():
    try:
        db.session.rollback()
    except Exception as error:  # noqa: BLE001 - the page must still be answered
        current_app.logger.error("rollback failed: %s", type(error).__name__)


def handle_database_error(error):
    """503 when the database cannot be reached or is locked; 400 for a value the database
    refuses (a form should have refused it first); any other database error is a 500."""
    if isinstance(error, DataError):
        _rollback()
        current_app.logger.warning("value refused by the database: %s", type(error).__name__)
        return render_error(400)
    unavailable = isinstance(error, (OperationalError, PoolTimeoutError)) or getattr(
        error, "connection_invalidated", False)
    if not unavailable:
        return handle_unexpected(error)
    _rollback()
    current_app.logger.error("database unavailable: %s", type(error).__name__)
    # The rollback expired every loaded object: render as a visitor, so the page asks nothing
    # more of the database (Flask-Login keeps the request's user in g._login_user).
    g._login_user = current_app.login_manager.anonymous_user()
    body, code = render_error(ServiceUnavailable.code)
    return body, code, {"Retry-After": RETRY_AFTER}


def handle_unexpected(error):
    _rollback()
    if current_app.testing and current_app.config.get("PROPAGATE_TEST_ERRORS", False):
        raise error
    current_app.logger.error("unhandled %s", type(error).__name__)
    return render_error(InternalServerError.code)
