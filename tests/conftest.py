"""Fixtures: a fresh app and database per test (SQLite file, or PostgreSQL when configured).

Set CAMPAIGN_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres to run the
suite on PostgreSQL: a database of its own is created for the run and dropped at the end.
"""

import os
import re
import secrets
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

import pyotp
import pytest
from sqlalchemy import create_engine, text

from campaign import create_app
from campaign.extensions import db
from config import TestingConfig

PG_URL = os.environ.get("CAMPAIGN_TEST_DATABASE_URL", "")
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
DEFAULT_PASSWORD = "correct horse battery staple"
#: the TOTP secret of every account `make_user` enrols (the default): `login` makes its codes
TOTP_SECRET = pyotp.random_base32(length=32)


def _admin_engine(url):
    return create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def database_server():
    """None for SQLite; else the URL of a PostgreSQL database created for this run."""
    if not PG_URL:
        yield None
        return
    name = f"campaign_test_{secrets.token_hex(4)}"
    admin = _admin_engine(PG_URL)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_URL.rpartition("/")
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def database_url(database_server, tmp_path):
    return database_server or f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture
def make_config(database_url):
    def make(**overrides):
        config = TestingConfig(database_url=database_url)
        for key, value in overrides.items():
            setattr(config, key, value)
        return config

    return make


@contextmanager
def app_with_schema(config):
    """An app on `config` whose database has the schema and the default consent texts, all
    dropped afterwards."""
    from campaign.services import consent

    app = create_app(config)
    with app.app_context():
        db.create_all()
        consent.seed_defaults()
        db.session.commit()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


def add_open_petition():
    """In an app context: the active campaign "acme" and its open petition "end-it" (public
    count refreshed at every view), committed."""
    from campaign.services import campaigns, petitions

    campaign = campaigns.create_campaign("acme", actor=None, title_en="Acme", employer="Acme",
                                         status="active")
    petitions.create_petition(campaign, "end-it", actor=None, title_en="Stop it", status="open",
                              refresh_minutes=0)
    db.session.commit()


def app_with_open_petition(config):
    """An app on `config` with the schema, the consent texts and `add_open_petition` (the caller
    drops the tables)."""
    from campaign.services import consent

    app = create_app(config)
    with app.app_context():
        db.create_all()
        consent.seed_defaults()
        add_open_petition()
    return app


def sign_open_petition(app, email):
    """Sign the petition of `add_open_petition` as a new visitor (its page for the CSRF token,
    then the form, every consent given), and close the response, which runs the work queued for
    after it; returns the response."""
    client = app.test_client()
    page = client.get("/c/acme/p/end-it")
    response = client.post("/c/acme/p/end-it/sign", data={
        "csrf_token": csrf_token(page.text), "name": "Alice Canary", "email": email,
        "version_public_name": "1", "version_share_with_reps": "1", "version_contact": "1"})
    response.close()
    return response


def drop_tables(app):
    with app.app_context():
        db.session.remove()
        db.drop_all()


@pytest.fixture
def app(make_config):
    with app_with_schema(make_config()) as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def ctx(app):
    """An application context for calling services directly."""
    with app.app_context():
        yield
        db.session.rollback()


def csrf_token(html):
    match = CSRF_RE.search(html if isinstance(html, str) else html.decode())
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def make_user(app):
    """Factory: make_user(email, password=..., is_admin=False, roles=[(campaign_slug, role)]).

    The account is enrolled in the second factor with TOTP_SECRET (no audit event, as if done
    long ago), unless enrolled=False: then its first sign-in goes through enrolment.
    """
    from campaign.models.base import utcnow
    from campaign.services import accounts
    from campaign.services.campaigns import get_by_slug

    def make(email="staff@example.org", password=DEFAULT_PASSWORD, is_admin=False, roles=(),
             active=True, locale=None, name=None, enrolled=True):
        with app.app_context():
            user = accounts.create_user(email, name or email.split("@")[0], password=password,
                                        is_admin=is_admin, locale=locale)
            for slug, role in roles:
                accounts.grant(user, get_by_slug(slug), role, actor=None)
            user.is_active = active
            if enrolled:
                accounts.set_totp_secret(user, TOTP_SECRET)
                user.totp_enrolled_at = utcnow()
            db.session.commit()
            return user.public_id

    return make


@pytest.fixture
def make_campaign(app):
    """Factory: make_campaign(slug, status='active', units=True, **fields)."""
    from campaign.services import campaigns

    def make(slug="test-campaign", status="active", units=True, **fields):
        values = {
            "title_fr": f"Campagne {slug}",
            "title_en": f"Campaign {slug}",
            "summary_fr": "Résumé en français.",
            "summary_en": "Summary in English.",
            "employer": "Example Corp",
            "employer_domains": "example-corp.example",
            "status": status,
        }
        values.update(fields)
        with app.app_context():
            campaign = campaigns.create_campaign(slug, actor=None, **values)
            if units:
                for code, fr, en in (("paris", "Paris", "Paris"), ("lyon", "Lyon", "Lyon")):
                    campaigns.add_unit(campaign, "site", code, actor=None, name_fr=fr, name_en=en)
                for code, fr, en in (("dev", "Développement", "Development"),
                                     ("ops", "Exploitation", "Operations")):
                    campaigns.add_unit(campaign, "department", code, actor=None, name_fr=fr,
                                       name_en=en)
            db.session.commit()
            return campaign.slug

    return make


@pytest.fixture
def campaign(app, make_campaign, make_user):
    """Campaign "acme" with a rep, an organizer, an admin, and "other" with a rep of its own."""
    make_campaign("acme")
    make_campaign("other")
    make_user("rep@example.org", roles=[("acme", "rep")])
    make_user("org@example.org", roles=[("acme", "organizer")])
    make_user("admin@example.org", is_admin=True)
    make_user("otherrep@example.org", roles=[("other", "rep")])
    return "acme"


def staff(app, email):
    """A client of `app` signed in (both steps) as `email`."""
    client = app.test_client()
    login(client, email)
    return client


def login(client, email, password=DEFAULT_PASSWORD, follow=False, secret=TOTP_SECRET):
    """Sign in through both steps: the password, then (when the password step asks for it) a
    fresh TOTP code made from `secret`. Returns the last response: a 302 after a full sign-in,
    the sign-in page again (200) after a wrong password, a 302 to the enrolment page for an
    account that is not enrolled, the code page (200) when the code is refused."""
    page = client.get("/login")
    token = csrf_token(page.text)
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": token})
    if response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login/code":
        response = submit_code(client, totp_code(client.application, email, secret))
    if follow and response.status_code == 302:
        response = client.get(response.headers["Location"], follow_redirects=True)
    return response


def submit_code(client, code):
    """POST a second-factor code (TOTP or recovery) on the code page."""
    page = client.get("/login/code")
    return client.post("/login/code", data={"code": code, "csrf_token": csrf_token(page.text)})


def totp_code(app, email, secret=TOTP_SECRET):
    """A TOTP code the server will accept for this account now: of the current time step, or
    of the next one when the current one was used already (the server accepts one step of
    drift); waits for the clock when both were used (a third sign-in within 30 seconds)."""
    from sqlalchemy import select

    from campaign.models import User
    from campaign.services.accounts import TOTP_INTERVAL

    with app.app_context():
        last = db.session.execute(
            select(User.totp_last_step).where(User.email == email.strip().lower())
        ).scalar()
    while True:
        now = int(time.time() // TOTP_INTERVAL)
        step = max(now, (last or 0) + 1)
        if step <= now + 1:
            return pyotp.TOTP(secret).generate_otp(step)
        time.sleep(TOTP_INTERVAL - time.time() % TOTP_INTERVAL + 0.05)


def post_form(client, url, data=None, page_url=None, follow=False):
    """GET the page holding the form (for its CSRF token), then POST to url."""
    page = client.get(page_url or url)
    payload = dict(data or {})
    payload["csrf_token"] = csrf_token(page.text)
    return client.post(url, data=payload, follow_redirects=follow)


class _Collector:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@contextmanager
def loopback_smtp(handler=None, **options):
    """A real SMTP server on loopback (aiosmtpd) with `handler` (by default one whose
    `.messages` holds (recipients, message)); the handler is given `.port` and `.controller`
    (a test may replace the controller: the one there at the end is stopped). `options` go to
    aiosmtpd's server."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = handler or _Collector()
    handler.port = port
    handler.controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    handler.controller.start()
    try:
        yield handler
    finally:
        handler.controller.stop()


@contextmanager
def hung_server():
    """A server that takes connections and never answers (a hung mail relay, a hung Redis):
    `.port`, and `.connections`, how many it took."""
    import socket
    import threading
    from types import SimpleNamespace

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.05)
    server = SimpleNamespace(port=listener.getsockname()[1], connections=0)
    held, stop = [], threading.Event()

    def take():
        while not stop.is_set():
            try:
                connection, _address = listener.accept()
            except TimeoutError:
                continue
            held.append(connection)
            server.connections += 1

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        listener.close()


@pytest.fixture
def smtp_server():
    with loopback_smtp() as collector:
        yield collector


@pytest.fixture
def mail_app(make_config, smtp_server):
    """An app whose mail goes to the loopback SMTP server."""
    with app_with_schema(make_config(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port,
                                     MAIL_STARTTLS=False, MAIL_USERNAME=None)) as app:
        yield app
