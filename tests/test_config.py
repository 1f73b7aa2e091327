"""Configuration: production refuses to start unsafe, development makes its own secrets, SQLite is
tuned for concurrent writers, production cookies are locked down, and the README documents every
environment variable config.py reads."""

import ast
import re
import stat
from pathlib import Path

import pytest

import config as config_module
from campaign import create_app
from campaign.extensions import db
from config import DevelopmentConfig, ProductionConfig, new_data_key_spec

ROOT = Path(config_module.__file__).resolve().parent
REQUIRED = ("SECRET_KEY", "CAMPAIGN_HASH_KEY", "CAMPAIGN_DATA_KEYS", "DATABASE_URL")
ENV_READ = re.compile(r"""_env(?:_int|_bool|_float)?\(\s*["']([A-Z][A-Z0-9_]*)["']""")


@pytest.fixture
def production_env(monkeypatch, database_url):
    """A complete, valid production environment; each test removes or spoils one piece."""
    monkeypatch.setenv("CAMPAIGN_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 64)
    monkeypatch.setenv("CAMPAIGN_HASH_KEY", "h" * 64)
    monkeypatch.setenv("CAMPAIGN_DATA_KEYS", new_data_key_spec("prod1"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("CAMPAIGN_REDIS_URL", raising=False)
    return monkeypatch


def _dispose(app):
    with app.app_context():
        db.engine.dispose()


# --- production refuses to start unsafe ----------------------------------------------------------

def test_production_starts_with_every_secret(production_env):
    app = create_app(ProductionConfig())
    assert app.config["ENV_NAME"] == "production"
    assert not app.debug
    _dispose(app)


@pytest.mark.parametrize("name", REQUIRED)
def test_production_refuses_to_start_without(production_env, name):
    production_env.delenv(name)
    with pytest.raises(RuntimeError, match=name):
        create_app(ProductionConfig())


@pytest.mark.parametrize("name", ["SECRET_KEY", "CAMPAIGN_HASH_KEY"])
def test_production_refuses_a_short_secret(production_env, name):
    production_env.setenv(name, "x" * 31)
    with pytest.raises(RuntimeError, match=name):
        create_app(ProductionConfig())


def test_production_refuses_a_malformed_data_key(production_env):
    production_env.setenv("CAMPAIGN_DATA_KEYS", "prod1:dG9vLXNob3J0")  # 9 bytes, not 32
    with pytest.raises(ValueError, match="32 bytes"):
        ProductionConfig()


def test_production_refuses_debug(production_env):
    production_env.setenv("FLASK_DEBUG", "1")
    with pytest.raises(RuntimeError, match="debug"):
        create_app(ProductionConfig())


def test_the_wsgi_entry_point_reads_the_environment(production_env):
    """`gunicorn 'campaign:create_app()'` takes CAMPAIGN_ENV=production from the environment."""
    app = create_app()
    assert app.config["ENV_NAME"] == "production"
    _dispose(app)
    production_env.delenv("SECRET_KEY")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_production_cookie_is_secure_host_only_and_lax(production_env):
    app = create_app(ProductionConfig())
    with app.app_context():
        db.create_all()
    try:
        response = app.test_client().get("/login", base_url="https://campaign.example")
        assert response.status_code == 200
        cookies = response.headers.getlist("Set-Cookie")
        session_cookie = [c for c in cookies if c.startswith("__Host-campaign_session=")]
        assert session_cookie, f"no __Host- session cookie in {cookies}"
        parts = [part.strip() for part in session_cookie[0].split(";")[1:]]
        attributes = {key.lower(): value for key, _, value in (p.partition("=") for p in parts)}
        assert "secure" in attributes
        assert "httponly" in attributes
        assert attributes.get("samesite") == "Lax"
        assert attributes.get("path") == "/"
        assert "domain" not in attributes  # the __Host- prefix forbids it
    finally:
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


def test_development_cookie_is_not_marked_secure(tmp_path, monkeypatch):
    """The local server speaks plain HTTP: a Secure cookie would never come back."""
    for name in REQUIRED:
        monkeypatch.delenv(name, raising=False)
    config = DevelopmentConfig(instance_path=tmp_path)
    assert config.SESSION_COOKIE_SECURE is False
    assert not config.SESSION_COOKIE_NAME.startswith("__Host-")
    assert config.SESSION_COOKIE_HTTPONLY is True
    assert config.SESSION_COOKIE_SAMESITE == "Lax"


# --- development makes its own secrets -----------------------------------------------------------

def test_development_creates_private_secrets_once(tmp_path, monkeypatch):
    for name in REQUIRED:
        monkeypatch.delenv(name, raising=False)
    instance = tmp_path / "instance"

    first = DevelopmentConfig(instance_path=instance)

    secrets_file = instance / "secrets.json"
    assert secrets_file.is_file()
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700  # database and mail live here too
    assert len(first.SECRET_KEY) >= 32 and len(first.HASH_KEY) >= 32
    assert len(first.DATA_KEYS) == 1 and len(first.DATA_KEYS[0][1]) == 32
    assert first.SQLALCHEMY_DATABASE_URI == f"sqlite:///{instance / 'campaign.sqlite3'}"
    assert first.problems() == []

    second = DevelopmentConfig(instance_path=instance)  # a restart keeps the same keys
    assert (second.SECRET_KEY, second.HASH_KEY, second.DATA_KEYS) == (
        first.SECRET_KEY, first.HASH_KEY, first.DATA_KEYS)


def test_development_environment_overrides_stored_secrets(tmp_path, monkeypatch):
    for name in REQUIRED:
        monkeypatch.delenv(name, raising=False)
    DevelopmentConfig(instance_path=tmp_path)
    monkeypatch.setenv("SECRET_KEY", "e" * 64)
    assert DevelopmentConfig(instance_path=tmp_path).SECRET_KEY == "e" * 64


# --- SQLite tuning -------------------------------------------------------------------------------

def test_sqlite_connections_are_tuned_for_concurrent_writers(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite pragmas; the suite runs on PostgreSQL")
        assert db.engine.url.database not in (None, "", ":memory:")
        with db.engine.connect() as conn:
            pragma = conn.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            # the configured wait, never below the 5 s that lost no signer in a 2,000-signer burst
            assert pragma("PRAGMA busy_timeout").scalar() == app.config["SQLITE_BUSY_TIMEOUT_MS"]
            assert app.config["SQLITE_BUSY_TIMEOUT_MS"] >= 5000
            assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL


# --- documentation -------------------------------------------------------------------------------

def _readme_configuration_rows():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|([^|]*)\|", section, flags=re.MULTILINE)
    return {name: default.strip() for name, default in rows}


def _literal_defaults():
    """(name, default) for every `_env*("NAME", literal)` call in config.py."""
    tree = ast.parse((ROOT / "config.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in {"_env", "_env_int", "_env_bool"} and len(node.args) == 2
                and isinstance(node.args[0], ast.Constant)):
            try:
                yield node.args[0].value, ast.literal_eval(node.args[1])
            except ValueError:
                continue  # a computed default (2 * 1024 * 1024): documented by hand


def test_readme_states_the_defaults_config_uses():
    rows = _readme_configuration_rows()
    checked = 0
    for name, default in _literal_defaults():
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        assert f"`{shown}`" in rows[name], f"README gives {rows[name]!r} as default of {name}"
        checked += 1
    assert checked >= 10


def test_readme_documents_every_environment_variable():
    source = (ROOT / "config.py").read_text(encoding="utf-8")
    names = set(ENV_READ.findall(source))
    assert {"DATABASE_URL", "SECRET_KEY", "CAMPAIGN_REDIS_URL"} <= names, "pattern out of date"
    documented = set(_readme_configuration_rows())
    assert names - documented == set(), "add these to the README's environment table"
    assert documented - names == set(), "the README documents variables config.py never reads"


def test_an_idle_server_connection_is_checked_before_use_and_a_busy_one_is_not(
        make_config, database_url, monkeypatch):
    """A pooled PostgreSQL connection unused for a while is pinged before it is handed out, and
    replaced if the server dropped it: the request never sees it. One given back moments ago is
    handed out without a round trip; if it died meanwhile, its statement fails, SQLAlchemy drops
    the pool, and the next use connects anew."""
    import time

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from campaign import database

    if database_url.startswith("sqlite"):
        pytest.skip("a SQLite file has no server connection to lose (nothing is pinged)")
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")

    def drop(pid):
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            for _ in range(100):
                if not connection.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"),
                                          {"pid": pid}).first():
                    return
                time.sleep(0.02)

    def backend():
        with engine.connect() as connection:
            return connection.execute(text("SELECT pg_backend_pid()")).scalar()

    app = create_app(make_config())
    try:
        with app.app_context():
            engine = db.engine
            assert not engine.pool._pre_ping  # no round trip at every checkout
            first = backend()
            drop(first)
            monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 3600)  # "just used"
            with pytest.raises(OperationalError), engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            second = backend()  # the failure dropped the pool: a new connection
            assert second != first
            drop(second)
            monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0)  # idle long enough
            third = backend()  # pinged, found dead, replaced before use: no error
            assert third not in (first, second)
            db.engine.dispose()
    finally:
        admin.dispose()


def test_a_gunicorn_worker_hands_what_it_loaded_to_the_permanent_generation():
    import gc
    import runpy

    settings = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        settings["post_worker_init"](None)
        assert gc.get_freeze_count() > 1000  # the modules and objects this process holds
    finally:
        gc.unfreeze()


def test_gunicorn_starts_two_workers_per_core_unless_told(monkeypatch):
    """Past two busy workers per core, signatures per second fall (docs/benchmarks.md, session
    12); WEB_CONCURRENCY still decides when set."""
    import multiprocessing
    import runpy

    path = str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py")
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.setattr(multiprocessing, "cpu_count", lambda: 3)
    assert runpy.run_path(path)["workers"] == 6
    monkeypatch.setenv("WEB_CONCURRENCY", "7")
    assert runpy.run_path(path)["workers"] == 7
