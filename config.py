"""Configuration classes: every value comes from the environment; production refuses to start without secrets."""

import base64
import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _env_int(name, default):
    return int(_env(name, default))


def _env_float(name, default):
    return float(_env(name, default))


def _env_bool(name, default=False):
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def parse_data_keys(value):
    """Parse ``kid:base64key,kid:base64key`` into an ordered list of (kid, 32-byte key).

    The first key encrypts; every key decrypts (rotation keeps old keys until `flask keys rotate`).
    """
    keys = []
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        kid, _, b64 = item.partition(":")
        key = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        if not kid or len(key) != 32:
            raise ValueError("each data key must be 'id:base64' of 32 bytes")
        keys.append((kid, key))
    return keys


def new_data_key_spec(kid):
    return f"{kid}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip('=')}"


class Config:
    """Defaults shared by every environment. Secrets have no default here."""

    ENV_NAME = "base"
    DEBUG = False
    TESTING = False

    ROOT_PATH = str(ROOT)
    TEMPLATE_FOLDER = str(ROOT / "templates")
    TRANSLATIONS_FOLDER = str(ROOT / "translations")
    MIGRATIONS_FOLDER = str(ROOT / "migrations")

    def __init__(self):
        # Read at instantiation, never at import time.
        self.SECRET_KEY = _env("SECRET_KEY")
        self.DATA_KEYS = parse_data_keys(_env("CAMPAIGN_DATA_KEYS"))
        self.HASH_KEY = _env("CAMPAIGN_HASH_KEY")
        self.SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL")
        # No pool_pre_ping: database.configure_engine checks connections that sat idle.
        self.SQLALCHEMY_ENGINE_OPTIONS = {}
        self.SQLITE_BUSY_TIMEOUT_MS = _env_int("CAMPAIGN_SQLITE_BUSY_TIMEOUT_MS", 15000)
        # PostgreSQL: how long connecting may take before the request gets the 503 page
        self.DATABASE_CONNECT_TIMEOUT = _env_int("CAMPAIGN_DATABASE_CONNECT_TIMEOUT", 5)

        self.BABEL_DEFAULT_LOCALE = _env("CAMPAIGN_DEFAULT_LOCALE", "fr")
        self.BABEL_DEFAULT_TIMEZONE = _env("CAMPAIGN_TIMEZONE", "Europe/Paris")
        self.BABEL_TRANSLATION_DIRECTORIES = self.TRANSLATIONS_FOLDER
        self.LANGUAGES = ["fr", "en"]

        self.MAX_CONTENT_LENGTH = _env_int("CAMPAIGN_MAX_CONTENT_LENGTH", 2 * 1024 * 1024)
        self.MAX_FORM_MEMORY_SIZE = self.MAX_CONTENT_LENGTH

        # Staff sessions: the cookie holds only a random session id, checked server-side.
        self.SESSION_IDLE_MINUTES = _env_int("CAMPAIGN_SESSION_IDLE_MINUTES", 30)
        self.SESSION_MAX_HOURS = _env_int("CAMPAIGN_SESSION_MAX_HOURS", 12)
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=self.SESSION_MAX_HOURS)
        self.SESSION_COOKIE_NAME = "campaign_session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = False
        self.WTF_CSRF_TIME_LIMIT = None  # bound to the session instead
        self.WTF_CSRF_SSL_STRICT = True

        # Reuse a visitor's rendered petition page while nothing it shows has changed
        # (campaign/petitions/page_cache.py); off under the debugger, where templates reload.
        self.PETITION_PAGE_CACHE = _env_bool("CAMPAIGN_PETITION_PAGE_CACHE", True)

        self.RATELIMIT_STORAGE_URI = _env("CAMPAIGN_REDIS_URL", "campaign-memory://")
        # Redis down or hung: each worker counts in its own memory meanwhile (the same limits,
        # per worker) and tries Redis again now and then, instead of answering every signature,
        # sign-in and private link with an error. A hung Redis costs a request one second at
        # most, not gunicorn's whole worker timeout.
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        if self.RATELIMIT_STORAGE_URI.startswith(("redis://", "rediss://", "redis+unix://")):
            self.RATELIMIT_STORAGE_OPTIONS = {"socket_timeout": 1.0,
                                              "socket_connect_timeout": 1.0}
        self.RATELIMIT_ENABLED = _env_bool("CAMPAIGN_RATELIMIT_ENABLED", True)
        self.RATELIMIT_HEADERS_ENABLED = False
        self.LOGIN_RATE_LIMIT = _env("CAMPAIGN_LOGIN_RATE_LIMIT", "5 per minute")

        self.MAIL_SERVER = _env("CAMPAIGN_MAIL_SERVER")
        self.MAIL_PORT = _env_int("CAMPAIGN_MAIL_PORT", 587)
        self.MAIL_USERNAME = _env("CAMPAIGN_MAIL_USERNAME")
        self.MAIL_PASSWORD = _env("CAMPAIGN_MAIL_PASSWORD")
        self.MAIL_STARTTLS = _env_bool("CAMPAIGN_MAIL_STARTTLS", True)
        # Neutral sender: names neither the employer nor the cause (DESIGN 2a).
        self.MAIL_SENDER = _env("CAMPAIGN_MAIL_SENDER", "Notifications <no-reply@localhost>")
        self.MAIL_FILE_DIR = _env("CAMPAIGN_MAIL_FILE_DIR")
        # A worker keeps its SMTP connection open this long after a message, for the next one;
        # 0 opens one per message.
        self.MAIL_KEEP_SECONDS = _env_float("CAMPAIGN_MAIL_KEEP_SECONDS", 5.0)
        # How long one step with the mail server (connecting, each reply) may take; a server
        # that does not answer in time counts as unreachable.
        self.MAIL_TIMEOUT_SECONDS = _env_float("CAMPAIGN_MAIL_TIMEOUT_SECONDS", 10.0)
        # A process that found the mail server unreachable leaves its mail queued this long
        # without trying again (the cron sends it later): one worker in a rush of signatures
        # then waits for the timeout once, not after every signature.
        self.MAIL_PAUSE_SECONDS = _env_float("CAMPAIGN_MAIL_PAUSE_SECONDS", 60.0)
        # A thread of each worker sends what the responses queued (to the SMTP server, or the
        # mail folder), so that the worker never waits for the server's replies
        # (campaign/mail.py, _Sender).
        self.MAIL_BACKGROUND = _env_bool("CAMPAIGN_MAIL_BACKGROUND", True)
        # A queued mail still not sent this long after it was queued is given up, as a mail
        # server gives up (Postfix's default is 5 days); one refused for good goes at once.
        self.MAIL_MAX_AGE_HOURS = _env_float("CAMPAIGN_MAIL_MAX_AGE_HOURS", 120.0)
        # A sent message's outbox row is deleted this long after, with the others sent meanwhile
        # (one write transaction instead of one per message); 0 deletes each at once.
        self.MAIL_SENT_FLUSH_SECONDS = _env_float("CAMPAIGN_MAIL_SENT_FLUSH_SECONDS", 1.0)

        self.PUBLIC_URL = _env("CAMPAIGN_PUBLIC_URL", "http://127.0.0.1:5000")
        self.INVITATION_HOURS = _env_int("CAMPAIGN_INVITATION_HOURS", 72)
        self.DEMO_ALLOWED = True

    def problems(self):
        """What would make this configuration unsafe to serve; empty when fine."""
        return []


class DevelopmentConfig(Config):
    ENV_NAME = "development"

    def __init__(self, instance_path=None):
        super().__init__()
        instance = Path(instance_path or ROOT / "instance")
        if not self.SQLALCHEMY_DATABASE_URI:
            self.SQLALCHEMY_DATABASE_URI = f"sqlite:///{instance / 'campaign.sqlite3'}"
        if not self.MAIL_SERVER and not self.MAIL_FILE_DIR:
            self.MAIL_FILE_DIR = str(instance / "mail")
        secrets_file = ensure_dev_secrets(instance)
        stored = json.loads(secrets_file.read_text())
        self.SECRET_KEY = self.SECRET_KEY or stored["SECRET_KEY"]
        self.HASH_KEY = self.HASH_KEY or stored["CAMPAIGN_HASH_KEY"]
        self.DATA_KEYS = self.DATA_KEYS or parse_data_keys(stored["CAMPAIGN_DATA_KEYS"])


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True

    def __init__(self, database_url=None):
        super().__init__()
        self.SECRET_KEY = secrets.token_hex(32)
        self.HASH_KEY = secrets.token_hex(32)
        self.DATA_KEYS = parse_data_keys(new_data_key_spec("test1"))
        self.SQLALCHEMY_DATABASE_URI = database_url or "sqlite://"
        # Tests read English unless they ask for French (Accept-Language, switcher).
        self.BABEL_DEFAULT_LOCALE = "en"
        self.RATELIMIT_STORAGE_URI = "campaign-memory://"
        self.ARGON2_FAST = True
        self.MAIL_SERVER = None
        self.MAIL_FILE_DIR = None
        self.MAIL_SENT_FLUSH_SECONDS = 0  # tests see a sent message's row go at once
        self.MAIL_BACKGROUND = False  # ... and its mail sent once the response is closed


class ProductionConfig(Config):
    ENV_NAME = "production"

    def __init__(self):
        super().__init__()
        self.SESSION_COOKIE_SECURE = True
        # Host-only cookie: the __Host- prefix forbids Domain and requires Secure and Path=/.
        self.SESSION_COOKIE_NAME = "__Host-campaign_session"
        self.PREFERRED_URL_SCHEME = "https"
        self.DEMO_ALLOWED = False
        self.DEBUG = _env_bool("FLASK_DEBUG", False)

    def problems(self):
        found = []
        if not self.SECRET_KEY or len(self.SECRET_KEY) < 32:
            found.append("SECRET_KEY is missing or shorter than 32 characters")
        if not self.HASH_KEY or len(self.HASH_KEY) < 32:
            found.append("CAMPAIGN_HASH_KEY is missing or shorter than 32 characters")
        if not self.DATA_KEYS:
            found.append("CAMPAIGN_DATA_KEYS is missing")
        if not self.SQLALCHEMY_DATABASE_URI:
            found.append("DATABASE_URL is missing")
        if self.DEBUG:
            found.append("debug mode is on")
        return found


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_environment():
    name = _env("CAMPAIGN_ENV", "development")
    if name not in CONFIGS:
        raise RuntimeError(f"CAMPAIGN_ENV must be one of {sorted(CONFIGS)}")
    return CONFIGS[name]()


def ensure_dev_secrets(instance):
    """Create development secrets under instance/ (mode 0600) once; never used in production."""
    instance = Path(instance)
    # The folder also holds the development database and mail: only its owner may enter it.
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = instance / "secrets.json"
    if not path.exists():
        values = {
            "SECRET_KEY": secrets.token_hex(32),
            "CAMPAIGN_HASH_KEY": secrets.token_hex(32),
            "CAMPAIGN_DATA_KEYS": new_data_key_spec("dev1"),
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle, indent=2)
    return path
