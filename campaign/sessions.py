"""Staff sessions: the signed cookie carries a random session id checked against the database.

Logging out, deactivation and role removal delete the server-side records, so an old cookie
replayed afterwards is anonymous. Sessions end after an idle period and an absolute lifetime.

A sign-in has two steps. A right password only leaves a *pending login* in the cookie (the
account's public id and the time, signed like the rest of the cookie): it opens nothing but the
second-factor and enrolment pages, for PENDING_MINUTES. `begin` (a staff session) is called only
once the second factor is checked.
"""

import hashlib
import hmac
import time

from flask import current_app, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from .extensions import login_manager
from .services import accounts

SESSION_KEY = "sid"
SEEN_KEY = "seen"
PENDING_KEY = "pending_login"
PENDING_MINUTES = 5


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, minus work repeated on every request: the signing
    serializer is built once per key set (Flask builds a new one to open each session, cookie or
    not), and a session that is empty and unmodified is not saved through the cookie settings."""

    def __init__(self):
        self._serializer = (None, None)

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached_keys, serializer = self._serializer
        if cached_keys != keys:
            serializer = super().get_signing_serializer(app)
            self._serializer = (keys, serializer)
        return serializer

    def save_session(self, app, session, response):
        if not session and not session.modified:
            # What Flask's save_session does for this case: no cookie to set or delete.
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def init_app(app):
    app.session_interface = CookieSessionInterface()
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to open this page.")
    login_manager.login_message_category = "info"
    # Our own server-side session replaces Flask-Login's cookie bookkeeping.
    login_manager.session_protection = None
    login_manager.request_loader(_load_from_session)
    login_manager.user_loader(lambda _user_id: None)


def signed_in():
    """Whether a staff member is signed in. Only a staff session can hold one: without it
    (every signer, every visitor) Flask-Login is not asked to work out that nobody is."""
    return bool(session.get(SESSION_KEY)) and current_user.is_authenticated


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


def begin_pending(user, next_url=None):
    """The password was right: remember who is signing in, and nothing more, until the second
    factor. No staff session exists yet."""
    session.pop(SESSION_KEY, None)
    session.pop(SEEN_KEY, None)
    session[PENDING_KEY] = {"user": user.public_id, "at": int(time.time()),
                            "next": next_url or None}


def pending_user():
    """The active account of a pending login that has not expired, else None (and the stale
    marker is dropped)."""
    from .models import User

    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    age = int(time.time()) - int(pending.get("at", 0))
    if not 0 <= age <= PENDING_MINUTES * 60:
        session.pop(PENDING_KEY, None)
        return None
    from .extensions import db

    user = db.session.execute(
        select(User).where(User.public_id == str(pending.get("user")))
    ).scalar_one_or_none()
    if user is None or not user.is_active or not user.password_hash:
        session.pop(PENDING_KEY, None)
        return None
    return user


def has_pending():
    return PENDING_KEY in session


def pending_next():
    pending = session.get(PENDING_KEY)
    return pending.get("next") if isinstance(pending, dict) else None


def clear_pending():
    session.pop(PENDING_KEY, None)


def pending_rate_key():
    """Rate-limit key for second-factor checks: one bucket per account being signed in (so
    changing address does not buy more guesses), a keyed hash that changes every hour."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        from .crypto import rate_limit_key

        return rate_limit_key()  # nothing pending: the view only redirects; per address
    who = str(pending.get("user"))
    window = int(time.time() // 3600)
    key = current_app.config["SECRET_KEY"].encode()
    return "2fa:" + hmac.new(key, f"2fa\x00{window}\x00{who}".encode(),
                             hashlib.sha256).hexdigest()[:32]


def begin(user):
    """Start a fresh session for user: any previous session content is dropped (no fixation).

    Call it only after the second factor: the pending login, if any, is dropped with the rest.
    """
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
