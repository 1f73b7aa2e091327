"""Staff sessions: the signed cookie carries a random session id checked against the database.

Logging out, deactivation and role removal delete the server-side records, so an old cookie
replayed afterwards is anonymous. Sessions end after an idle period and an absolute lifetime.
"""

import time

from flask import session
from flask_babel import lazy_gettext as _l

from .extensions import login_manager
from .services import accounts

SESSION_KEY = "sid"
SEEN_KEY = "seen"


def init_app(app):
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to open this page.")
    login_manager.login_message_category = "info"
    # Our own server-side session replaces Flask-Login's cookie bookkeeping.
    login_manager.session_protection = None
    login_manager.request_loader(_load_from_session)
    login_manager.user_loader(lambda _user_id: None)


def _load_from_session(_request):
    raw = session.get(SESSION_KEY)
    if not raw:
        return None
    from flask import current_app

    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    now = int(time.time())
    seen = session.get(SEEN_KEY, 0)
    if now - seen > idle:
        session.clear()
        return None
    user = accounts.load_session_user(raw)
    if user is None:
        session.clear()
        return None
    if now - seen > 30:  # refresh the idle clock without rewriting the cookie on every request
        session[SEEN_KEY] = now
    return user


def begin(user):
    """Start a fresh session for user: any previous session content is dropped (no fixation)."""
    raw = accounts.start_session(user)
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    session[SESSION_KEY] = raw
    session[SEEN_KEY] = int(time.time())
    session.permanent = True


def end():
    accounts.end_session(session.get(SESSION_KEY))
    session.clear()
