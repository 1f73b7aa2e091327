"""Unbound Flask extensions, initialised by the application factory."""

import time

from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from limits.storage import MemoryStorage
from sqlalchemy import MetaData

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


def _rate_limit_key():
    # Imported lazily: the key is a short-lived keyed hash, never a stored address.
    from .crypto import rate_limit_key

    return rate_limit_key()


class SweptMemoryStorage(MemoryStorage):
    """limits' in-memory storage (URI ``campaign-memory://``), without a thread per hit.

    limits' own storage sweeps expired counters on a new Timer thread started 10 ms after
    nearly every hit: on the signing path, starting that thread cost more than checking the
    limit. Here the same sweep runs inline, at most once a second. Nothing else changes: every
    counter is checked against its expiry when it is read, as before.
    """

    STORAGE_SCHEME = ["campaign-memory"]
    SWEEP_SECONDS = 1.0

    def __init__(self, uri=None, wrap_exceptions=False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_sweep = 0.0

    # limits (pinned) calls this private method after each hit; it would start the thread.
    def _MemoryStorage__schedule_expiry(self):
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            self._MemoryStorage__expire_events()


limiter = Limiter(key_func=_rate_limit_key)


def init_limiter(app):
    """`limiter.init_app`, with its before-request check skipped while it has nothing to check.

    Route limits (`@limiter.limit`, `shared_limit`) are checked by their decorators when the view
    runs. The before-request hook only applies application, default, meta and blueprint limits and
    limits of its own for the in-memory fallback; this app configures none, so on every request
    it resolved an empty list of limits (about a tenth of a plain request's time). It still runs,
    unchanged, as soon as any of those exists. The fallback itself (route limits counted in
    memory while the storage is down, and the storage tried again now and then) happens in the
    decorators' checks.
    """
    limiter.init_app(app)
    # The limiter is module-level: a storage an earlier app found unreachable is not this one
    # (tests/test_rate_limit_storage.py checks that Flask-Limiter still names its flag so).
    limiter._storage_dead = False
    hooks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in hooks:
        hooks[hooks.index(limiter._check_request_limit)] = _check_app_wide_limits


def _has_app_wide_limits():
    try:
        manager = limiter.limit_manager
        return bool(manager._application_limits or manager._default_limits
                    or manager._blueprint_limits or limiter._meta_limits
                    or limiter._in_memory_fallback)
    except AttributeError:  # another Flask-Limiter version: always check, as it would
        return True


def _check_app_wide_limits():
    if _has_app_wide_limits():
        limiter._check_request_limit()
