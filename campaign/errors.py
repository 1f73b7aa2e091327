"""Bilingual error pages that never show a trace, and a 503 when the database is unavailable."""

from flask import render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from .extensions import db

MESSAGES = {
    400: (_l("Bad request"), _l("The request could not be understood. Please go back and try again.")),
    403: (_l("Not allowed"), _l("You do not have permission to open this page.")),
    404: (_l("Page not found"), _l("This page does not exist or is not available to you.")),
    405: (_l("Not allowed"), _l("This action is not possible on this page.")),
    413: (_l("Too large"), _l("What you sent is larger than this site accepts.")),
    429: (_l("Too many attempts"), _l("Too many attempts in a short time. Please wait a minute and try again.")),
    500: (_l("Something went wrong"), _l("An error occurred on our side. Nothing you sent was shown to anyone. Please try again later.")),
    503: (_l("Temporarily unavailable"), _l("The service is temporarily unavailable. Please try again in a few minutes.")),
}


def init_app(app):
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(OperationalError, handle_database_down)
    app.register_error_handler(DBAPIError, handle_database_down)
    app.register_error_handler(Exception, handle_unexpected)


def render_error(code, description=None):
    title, message = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    return render_template("errors/error.html", code=code, title=title,
                           message=description or message), code


def handle_http_error(error):
    if error.code is None or error.code < 400:
        return error
    response = render_error(error.code)
    if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        return (*response, {"Allow": ", ".join(error.valid_methods)})
    return response


def handle_database_down(error):
    db.session.rollback()
    from flask import current_app

    current_app.logger.error("database unavailable: %s", type(error).__name__)
    return render_error(ServiceUnavailable.code)


def handle_unexpected(error):
    db.session.rollback()
    from flask import current_app

    if current_app.testing and current_app.config.get("PROPAGATE_TEST_ERRORS", False):
        raise error
    current_app.logger.error("unhandled %s", type(error).__name__)
    return render_error(InternalServerError.code)
