"""Error pages: one template, in the request's language, no trace; a 503 without the database."""

import sqlite3
import time
from contextlib import contextmanager

import pytest
from flask import template_rendered
from sqlalchemy.engine import make_url

from campaign import access, create_app
from campaign.extensions import db
from tests.conftest import app_with_schema, csrf_token
from tests.test_access_matrix import NEW_CAMPAIGN, build_world, sign_in

UNREACHABLE_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"
SECRET_MESSAGE = "canary-exception-message jean.dupont@example.org"


@contextmanager
def rendered_templates():
    names = []

    def record(_sender, template, context, **_extra):
        names.append(template.name)

    with template_rendered.connected_to(record):
        yield names


def _login_post(client, **headers):
    page = client.get("/login", headers=headers)
    return client.post("/login", headers=headers,
                       data={"email": "nobody@example.org", "password": "wrong password 1234",
                             "csrf_token": csrf_token(page.text)})


def _raise_500(app, client, headers):
    def broken():
        raise RuntimeError(SECRET_MESSAGE)

    app.add_url_rule("/broken", "broken", access.public(broken))
    return client.get("/broken", headers=headers)


def _forbidden(app, client, headers):
    sign_in(app, client, "rep_a", build_world(app))
    return client.get("/staff/campaigns/camp-a/edit", headers=headers)


def _too_many(app, client, headers):
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"
    assert _login_post(client, **headers).status_code == 200
    # A fixed window may end between two requests: the third one is then the refused one.
    response = _login_post(client, **headers)
    return response if response.status_code != 200 else _login_post(client, **headers)


def _unavailable(make_config, headers):
    broken = create_app(make_config(SQLALCHEMY_DATABASE_URI=UNREACHABLE_DATABASE))
    try:
        return broken.test_client().get("/healthz", headers=headers)
    finally:
        with broken.app_context():
            db.engine.dispose()


TRIGGERS = {
    400: lambda app, client, headers, _mk: client.post("/login", headers=headers,
                                                       data={"email": "a@example.org"}),
    403: lambda app, client, headers, _mk: _forbidden(app, client, headers),
    404: lambda app, client, headers, _mk: client.get("/no-such-page", headers=headers),
    405: lambda app, client, headers, _mk: client.get("/logout", headers=headers),
    413: lambda app, client, headers, _mk: client.post(
        "/login", headers=headers, data={"email": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)}),
    429: lambda app, client, headers, _mk: _too_many(app, client, headers),
    500: lambda app, client, headers, _mk: _raise_500(app, client, headers),
    503: lambda app, client, headers, make_config: _unavailable(make_config, headers),
}


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_error_page_is_the_shared_template_in_the_request_language(app, client, make_config,
                                                                   code, language):
    headers = {"Accept-Language": language}
    with rendered_templates() as names:
        response = TRIGGERS[code](app, client, headers, make_config)
    assert response.status_code == code
    assert names[-1] == "errors/error.html"
    assert response.mimetype == "text/html"
    assert f'<html lang="{language}">' in response.text
    assert str(code) in response.text
    assert "Traceback" not in response.text
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_english_error_pages_say_what_happened(client):
    english = {"Accept-Language": "en"}
    assert "Page not found" in client.get("/no-such-page", headers=english).text
    assert "This action is not possible on this page." in client.get("/logout",
                                                                    headers=english).text


def test_405_page_names_the_allowed_methods(client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_missing_csrf_token_says_the_form_expired(client):
    response = client.post("/login", data={"email": "a@example.org"},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "The form expired, please submit it again." in response.text


def test_unexpected_exception_shows_no_trace_and_no_message(app, client, caplog):
    response = _raise_500(app, client, {"Accept-Language": "en"})
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    for leak in ("Traceback", "RuntimeError", SECRET_MESSAGE, "jean.dupont", "broken()"):
        assert leak not in response.text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "unhandled RuntimeError" in logged
    assert "jean.dupont" not in logged and "canary-exception-message" not in logged


def test_unreachable_database_gives_503(make_config):
    started = time.monotonic()
    response = _unavailable(make_config, {"Accept-Language": "en"})
    assert response.status_code == 503
    assert "Temporarily unavailable" in response.text
    assert response.headers.get("Retry-After")
    assert "127.0.0.1" not in response.text and "psycopg" not in response.text
    assert time.monotonic() - started < 10


@pytest.fixture
def sqlite_app(make_config, database_url):
    """A file SQLite app that waits at most 100 ms for the write lock."""
    if make_url(database_url).get_backend_name() != "sqlite":
        pytest.skip("SQLite locking")
    with app_with_schema(make_config(SQLITE_BUSY_TIMEOUT_MS=100)) as app:
        yield app


@contextmanager
def exclusive_lock(database_url):
    """Another connection holds SQLite's write lock, like a long transaction elsewhere."""
    holder = sqlite3.connect(make_url(database_url).database, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_locked_sqlite_gives_503_quickly(sqlite_app, database_url):
    client = sqlite_app.test_client()
    page = client.get("/login")
    with exclusive_lock(database_url):
        started = time.monotonic()
        response = client.post("/login", headers={"Accept-Language": "en"},
                               data={"email": "nobody@example.org",
                                     "password": "wrong password 1234",
                                     "csrf_token": csrf_token(page.text)})
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "Temporarily unavailable" in response.text
    assert elapsed < 3
    # Once the lock is released the same request goes through: the 503 was the lock.
    assert _login_post(client).status_code == 200


def test_locked_sqlite_gives_503_to_a_signed_in_staff_member_too(sqlite_app, database_url):
    """The error page itself must not need the database (the rollback expired the user)."""
    world = build_world(sqlite_app)
    client = sqlite_app.test_client()
    sign_in(sqlite_app, client, "admin", world)
    page = client.get("/staff/campaigns/new")
    assert page.status_code == 200
    with exclusive_lock(database_url):
        response = client.post("/staff/campaigns/new", headers={"Accept-Language": "en"},
                               data={**NEW_CAMPAIGN, "csrf_token": csrf_token(page.text)})
    assert response.status_code == 503
    assert "Temporarily unavailable" in response.text
    assert client.get("/staff/").status_code == 200  # still signed in afterwards
