"""The security baseline of SECURITY.md: headers, CSRF, cookies, redirects, origins and logs."""

import logging
import secrets
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from campaign import create_app
from campaign.extensions import db
from campaign.models import AuditEvent, Campaign
from config import ProductionConfig, new_data_key_spec
from tests import test_access_matrix as matrix
from tests.conftest import csrf_token, login
from tests.test_access_matrix import (
    MATRIX,
    NEW_CAMPAIGN,
    VIEWERS,
    build_world,
    send,
    sign_in,
    unmatrixed_endpoints,
)

# The matrix's world, built once for this module and copied for each test that uses it.
world_template = matrix.world_template
fresh_world = matrix.fresh_world

#: SECURITY.md, "Requests and pages", word for word
EXPECTED_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HSTS = "max-age=63072000; includeSubDomains"


def assert_security_headers(response, *, production=False):
    headers = response.headers
    csp = headers.get("Content-Security-Policy")
    assert csp == EXPECTED_CSP
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "http" not in csp and "*" not in csp and "data:" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") == "same-origin"
    assert headers.get("X-Frame-Options") == "DENY"
    if production:
        assert headers.get("Strict-Transport-Security") == HSTS
    else:
        assert "Strict-Transport-Security" not in headers
    cache = headers.get("Cache-Control", "")
    if response.request.path.startswith("/static/") and response.status_code == 200:
        assert "no-store" not in cache
    else:
        assert cache == "no-store", f"{response.request.path}: Cache-Control {cache!r}"
        assert {"cookie", "accept-language"} <= {v.lower() for v in response.vary}


def _close(response):
    response.get_data()
    response.close()
    return response


# --- headers on every route --------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", sorted(MATRIX))
def test_security_headers_on_every_route_for_every_viewer(fresh_world, endpoint):
    """Every request of the matrix, as each viewer: pages, redirects, 403, 404 and 400 alike."""
    app, world = fresh_world
    clients = {}
    for viewer in VIEWERS:  # every session opens before any request can change the world
        clients[viewer] = app.test_client()
        sign_in(app, clients[viewer], viewer, world)
    for viewer, client in clients.items():
        for case in MATRIX[endpoint]:
            assert_security_headers(send(client, case, world, viewer))


def test_the_header_test_covers_every_route(app):
    assert unmatrixed_endpoints(app) == []


def _big_body(app):
    return {"email": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)}


ERROR_REQUESTS = {
    "404": lambda app, client: client.get("/no-such-page"),
    "404-static": lambda app, client: client.get("/static/css/no-such-file.css"),
    "405": lambda app, client: client.get("/logout"),
    "400-csrf": lambda app, client: client.post("/login", data={"email": "a@example.org"}),
    "413": lambda app, client: client.post("/login", data=_big_body(app)),
    "options": lambda app, client: client.options("/"),
    "head": lambda app, client: client.head("/login"),
}


@pytest.mark.parametrize("kind", sorted(ERROR_REQUESTS))
def test_security_headers_on_error_and_bare_responses(app, client, kind):
    response = _close(ERROR_REQUESTS[kind](app, client))
    assert response.status_code in {200, 400, 404, 405, 413}
    assert_security_headers(response)


def test_unclassified_route_refusal_has_the_headers(app, client):
    app.add_url_rule("/forgotten", "forgotten", lambda: "secret page")
    response = client.get("/forgotten")
    assert response.status_code == 403
    assert_security_headers(response)


def test_logout_clears_site_data(app, client):
    sign_in(app, client, "rep_a", build_world(app))
    page = client.get("/staff/")
    response = client.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert "cookies" in response.headers.get("Clear-Site-Data", "")


# --- production configuration ------------------------------------------------------------------

@pytest.fixture
def production_app(monkeypatch, database_url):
    """An app built from ProductionConfig and environment variables, as in production."""
    monkeypatch.setenv("SECRET_KEY", secrets.token_hex(32))
    monkeypatch.setenv("CAMPAIGN_HASH_KEY", secrets.token_hex(32))
    monkeypatch.setenv("CAMPAIGN_DATA_KEYS", new_data_key_spec("prod1"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in ("FLASK_DEBUG", "CAMPAIGN_REDIS_URL", "CAMPAIGN_MAIL_SERVER"):
        monkeypatch.delenv(name, raising=False)
    app = create_app(ProductionConfig)
    assert app.config["ENV_NAME"] == "production" and not app.testing and not app.debug
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def test_production_sends_hsts_on_pages_and_errors(production_app):
    client = production_app.test_client()
    for path, status in (("/", 200), ("/login", 200), ("/no-such-page", 404), ("/staff/", 302)):
        response = client.get(path, base_url="https://localhost")
        assert response.status_code == status
        assert_security_headers(response, production=True)


def test_development_and_tests_send_no_hsts(app, client):
    assert "Strict-Transport-Security" not in client.get("/").headers


def _set_cookies(response):
    """{name: (value, {attribute lower-cased: value})} for each Set-Cookie header."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        parsed = {}
        for attribute in attributes:
            key, _, val = attribute.partition("=")
            parsed[key.lower()] = val
        cookies[name] = (value, parsed)
    return cookies


def test_session_cookie_is_httponly_and_samesite_lax(client):
    cookies = _set_cookies(client.get("/login"))
    assert set(cookies) == {"campaign_session"}
    _value, attributes = cookies["campaign_session"]
    assert "httponly" in attributes
    assert attributes.get("samesite") == "Lax"
    assert "domain" not in attributes


def test_production_cookie_is_secure_host_only_with_host_prefix(production_app):
    client = production_app.test_client()
    cookies = _set_cookies(client.get("/login", base_url="https://localhost"))
    assert set(cookies) == {"__Host-campaign_session"}
    _value, attributes = cookies["__Host-campaign_session"]
    assert "secure" in attributes
    assert "httponly" in attributes
    assert attributes.get("samesite") == "Lax"
    assert attributes.get("path") == "/"
    assert "domain" not in attributes  # the __Host- prefix forbids it


@pytest.mark.parametrize("path", ["/", "/c/camp-a", "/healthz", "/static/css/app.css"])
def test_reading_public_pages_sets_no_cookie(app, path):
    build_world(app)
    client = app.test_client()
    for language in ("fr", "en"):
        response = _close(client.get(path, headers={"Accept-Language": language}))
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
    assert client.get_cookie("campaign_session") is None


# --- CSRF -------------------------------------------------------------------------------------

def _count(app, model):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_post_without_csrf_token_is_refused_and_stores_nothing(app, client):
    sign_in(app, client, "admin", build_world(app))
    campaigns_before = _count(app, Campaign)
    events_before = _count(app, AuditEvent)
    refused = client.post("/staff/campaigns/new", data=NEW_CAMPAIGN,
                          headers={"Accept-Language": "en"})
    assert refused.status_code == 400
    assert "The form expired, please submit it again." in refused.text
    assert _count(app, Campaign) == campaigns_before
    assert _count(app, AuditEvent) == events_before
    # The same request with the token goes through: the refusal was the missing token.
    page = client.get("/staff/campaigns/new")
    accepted = client.post("/staff/campaigns/new",
                           data={**NEW_CAMPAIGN, "csrf_token": csrf_token(page.text)})
    assert accepted.status_code == 302
    assert _count(app, Campaign) == campaigns_before + 1


def test_login_without_csrf_token_records_no_attempt(app, client, make_user):
    make_user("rep@example.org")
    events_before = _count(app, AuditEvent)
    client.get("/login")
    response = client.post("/login", data={"email": "rep@example.org",
                                           "password": "correct horse battery staple"})
    assert response.status_code == 400
    assert client.get("/staff/").status_code == 302
    assert _count(app, AuditEvent) == events_before


def _https_login_post(client, referer):
    page = client.get("/login", base_url="https://localhost")
    headers = {"Referer": referer} if referer else {}
    return client.post("/login", base_url="https://localhost", headers=headers,
                       data={"email": "nobody@example.org", "password": "wrong password 1234",
                             "csrf_token": csrf_token(page.text)})


def test_https_post_with_same_origin_referer_passes_csrf(client):
    response = _https_login_post(client, "https://localhost/login")
    assert response.status_code == 200  # the form answered: the e-mail or password is wrong
    assert 'name="password"' in response.text


@pytest.mark.parametrize("referer", [None, "https://evil.example/login", "http://localhost/login"])
def test_https_post_without_same_origin_referer_is_refused(client, referer):
    assert _https_login_post(client, referer).status_code == 400


# --- language switcher and redirects -----------------------------------------------------------

def test_language_switcher_remembers_the_choice_and_returns_to_the_page(app, client):
    build_world(app)
    response = client.get("/language/fr?next=/c/camp-a")
    assert response.status_code == 302
    assert response.headers["Location"] == "/c/camp-a"
    assert "campaign_session" in _set_cookies(response)
    page = client.get("/c/camp-a", headers={"Accept-Language": "en"})
    assert '<html lang="fr">' in page.text  # the explicit choice beats the browser's language
    client.get("/language/en?next=/c/camp-a")
    assert '<html lang="en">' in client.get("/c/camp-a", headers={"Accept-Language": "fr"}).text


OPEN_REDIRECTS = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "//evil.example/c/camp-a",
    "https:evil.example",
    "javascript:alert(1)",
    "evil.example",
    "/\t/evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "/\n/evil.example",
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_language_switcher_never_redirects_off_site(client, target):
    response = client.get("/language/en", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_never_redirects_off_site(client, make_user):
    make_user("rep@example.org")
    page = client.get("/login")
    response = client.post("/login", query_string={"next": "//evil.example/x"},
                           data={"email": "rep@example.org",
                                 "password": "correct horse battery staple",
                                 "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).netloc == ""
    assert not response.headers["Location"].startswith("//")


# --- request size -------------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["en", "fr"])
def test_oversized_body_gets_413_page_in_the_request_language(app, client, language):
    response = client.post("/login", data=_big_body(app), headers={"Accept-Language": language})
    assert response.status_code == 413
    assert f'<html lang="{language}">' in response.text
    assert "413" in response.text
    if language == "en":
        assert "Too large" in response.text


# --- nothing from another origin; nothing inline that the CSP would block -----------------------

URL_ATTRIBUTES = {"src", "href", "action", "formaction", "srcset", "poster", "data", "cite",
                  "manifest", "background", "ping", "xlink:href"}


class PageAudit(HTMLParser):
    """Collects every URL-bearing attribute and everything inline a strict CSP would block."""

    def __init__(self):
        super().__init__()
        self.urls = []
        self.inline = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in URL_ATTRIBUTES:
                urls = [part.strip().split(" ")[0] for part in (value or "").split(",")] \
                    if name == "srcset" else [value or ""]
                self.urls.extend((tag, name, url) for url in urls)
            if name == "style" or name.startswith("on"):
                self.inline.append(f"<{tag} {name}=...>")
        if tag == "meta" and dict(attrs).get("http-equiv", "").lower() == "refresh":
            self.inline.append("<meta http-equiv=refresh>")
        if tag == "style":
            self.inline.append("<style>")
        if tag == "script" and not dict(attrs).get("src"):
            self.inline.append("<script> without src")
        self._in = tag

    def handle_data(self, data):
        if self._in == "script" and data.strip():
            self.inline.append("<script> with content")


def off_origin(url):
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return not (parts.scheme in ("http", "https", "") and parts.netloc == "localhost")
    return url.startswith("//") or url.startswith("\\")


def audit_page(response):
    parser = PageAudit()
    parser.feed(response.text)
    foreign = [(tag, name, url) for tag, name, url in parser.urls if off_origin(url)]
    return parser, foreign


@pytest.mark.parametrize("viewer", VIEWERS)
def test_no_page_loads_or_links_anything_from_another_origin(fresh_world, viewer):
    """Crawl every page of the matrix this viewer may open, and the error pages they meet."""
    app, world = fresh_world
    client = app.test_client()
    sign_in(app, client, viewer, world)
    crawled = 0
    for endpoint, cases in MATRIX.items():
        for case in cases:
            if case.method != "GET" or endpoint == "static":
                continue
            response = send(client, case, world, viewer)
            if not response.mimetype == "text/html":
                continue
            parser, foreign = audit_page(response)
            assert foreign == [], f"{case.build_url(world)} as {viewer}"
            assert parser.inline == [], f"{case.build_url(world)} as {viewer}"
            assert parser.urls, "the crawler found no link at all"
            crawled += 1
    assert crawled >= 10


def test_the_origin_check_catches_foreign_urls():
    """The crawler above would notice a CDN, a protocol-relative URL and a data: URL."""
    for url in ("https://cdn.example/app.css", "//cdn.example/x.js", "data:image/png;base64,AA",
                "javascript:alert(1)", "http://localhost.evil.example/"):
        assert off_origin(url), url
    for url in ("/static/css/app.css", "#main", "?page=2", "/c/camp-a", "http://localhost/x", ""):
        assert not off_origin(url), url


# --- logs -------------------------------------------------------------------------------------

CANARY_EMAIL = "canary.person+x@example-mail.example"
CANARY_IPV4 = "203.0.113.77"
CANARY_IPV6 = "2001:db8::77"


def _all_log_text(caplog):
    texts = []
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(str(record.args or ""))
        texts.append(record.exc_text or "")
    texts.append(caplog.text)
    return "\n".join(texts)


def test_logs_hold_no_email_address_or_token(app, caplog):
    """A scenario with a canary e-mail, address and token: none of them reaches a log record."""
    from werkzeug._internal import _log as werkzeug_log

    from campaign import access
    from campaign.services import accounts

    token = secrets.token_urlsafe(32)

    def careless():
        # What a careless view might log: the request's address, full URL and a submitted e-mail.
        from flask import current_app, request

        current_app.logger.warning("visitor %s from %s opened %s", CANARY_EMAIL,
                                   request.remote_addr, request.full_path)
        try:
            raise ValueError(f"duplicate key {CANARY_EMAIL} token {token}")
        except ValueError:
            current_app.logger.exception("insert failed")
        return "ok"

    app.add_url_rule("/careless", "careless", access.public(careless))
    with app.app_context():
        accounts.create_user(CANARY_EMAIL, "Canary", password="correct horse battery staple")
        _user, invitation = accounts.invite("invited." + CANARY_EMAIL, "Invited", actor=None)
        db.session.commit()

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="werkzeug")
    for address in (CANARY_IPV4, CANARY_IPV6):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        login(client, CANARY_EMAIL, "a wrong password 12345")
        login(client, CANARY_EMAIL)
        client.get(f"/invitation/{invitation}?token={token}")
        client.get(f"/careless?token={token}&email={CANARY_EMAIL}")
        client.get(f"/no-such-page?token={token}")
        # The development server's access line, as werkzeug writes it.
        werkzeug_log("info", '%s - - [29/Nov/2026 10:02:33] "%s" %s -', address,
                     f"GET /invitation/{invitation}?token={token} HTTP/1.1", 200)

    assert len(caplog.records) >= 6  # the scenario did log: the check below is not vacuous
    assert any(r.name == "werkzeug" for r in caplog.records)
    assert any("insert failed" in r.getMessage() for r in caplog.records)
    text = _all_log_text(caplog)
    for canary in (CANARY_EMAIL, "canary.person", CANARY_IPV4, CANARY_IPV6, token, invitation):
        assert canary not in text, canary
    assert "[email]" in text and "[ip]" in text and "[token]" in text
    # The traceback keeps its frames (source lines are the program's text) but not the message.
    assert "builtins.ValueError (message withheld)" in text
    assert "in careless" in text


class Collector(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())  # as this handler sees it, when it sees it


def test_any_logger_and_a_handler_added_later_get_redacted_records(app):
    """Redaction does not depend on which handlers existed when the app was made."""
    logger = logging.getLogger("some.library")
    collector = Collector()
    logger.addHandler(collector)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        logger.info("connecting to %s for %s", CANARY_IPV4, CANARY_EMAIL)
    finally:
        logger.removeHandler(collector)
        logger.setLevel(previous)
    assert collector.messages == ["connecting to [ip] for [email]"]


REDACTIONS = {
    f"login from {CANARY_IPV4}.": "login from [ip].",
    "from ::1 and [2001:db8::1]:443": "from [ip] and [[ip]]:443",
    "mapped ::ffff:203.0.113.77 here": "mapped [ip] here",
    f"mail to {CANARY_EMAIL} failed": "mail to [email] failed",
    f"GET /invitation/{'A' * 43}?next=/c/x HTTP/1.1": "GET /invitation/[token]?[query] HTTP/1.1",
    "session " + "0123456789abcdef" * 4: "session [token]",
}
UNCHANGED = [
    "started at 2026-11-29 10:02:33,123 in 3.5 s",
    "refused unclassified endpoint campaigns.edit_unit",
    "Are you sure? The petition closes at 18:00.",
    "version 3.12.1 of Python, ratio 12:34, a:b:c",
    "unhandled OperationalError",
    "tallies refreshed for 12 petitions in 0.52 s",
    "the function test_sixth_rapid_attempt_gets_429_in_the_request_language",
    "public id Ab3_dE9-fGh1iJ2k",
]


@pytest.mark.parametrize(("raw", "redacted"), sorted(REDACTIONS.items()))
def test_redaction_removes_what_identifies(raw, redacted):
    from campaign.logs import redact

    assert redact(raw) == redacted


@pytest.mark.parametrize("message", UNCHANGED)
def test_redaction_leaves_ordinary_messages_alone(message):
    from campaign.logs import redact

    assert redact(message) == message
