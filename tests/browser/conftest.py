"""Browser-test fixtures: the real app served over HTTP on loopback, a loopback SMTP server, and
Debian's chromium driven by Playwright.

Nothing here is mocked: the app is `create_app` with the test configuration and a real database
(an SQLite file, or a PostgreSQL database of its own when CAMPAIGN_TEST_DATABASE_URL is set),
served by werkzeug's threaded server; mail goes over SMTP to aiosmtpd. The browser is the
`chromium` on PATH (Playwright's own browser download is not used). Without chromium the tests
skip, except under CI (CI=true), where a missing browser is a failure.

Every page a test opens goes through a `Browse` object that records each request and console
message, so a test can prove that nothing was loaded from another origin and that the
Content-Security-Policy refused nothing.
"""

import json
import os
import secrets
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import DEFAULT_PASSWORD as PASSWORD
from tests.conftest import PG_URL, TOTP_SECRET, _admin_engine, loopback_smtp, totp_code

ROOT = Path(__file__).resolve().parents[2]
#: screenshots of the key pages, kept by CI as artifacts (the README names this folder)
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
#: the axe reports of the accessibility audit, one JSON file per audited set of pages
AXE_REPORTS = ROOT / "artifacts" / "accessibility"
AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
CAMPAIGN = "acme"
#: petition signed with e-mail confirmation (and carrying synthetic signatures for the tallies)
PETITION_EMAIL = "stop"
#: petition counted at once (no confirmation)
PETITION_DIRECT = "pledge"
#: staff accounts: key -> (e-mail, admin?, role in the campaign or None)
STAFF = {
    "admin": ("admin@staff.example", True, None),
    "organizer": ("organizer@staff.example", False, "organizer"),
    "rep": ("rep@staff.example", False, "rep"),
    # used only by the journeys, so each account signs in once (a TOTP code works once)
    "journey_rep": ("journey-rep@staff.example", False, "rep"),
    "journey_organizer": ("journey-organizer@staff.example", False, "organizer"),
}
#: the name of a paper signature that consented to be seen by the reps
PAPER_SIGNER = "Sacha Papier"
#: a rep account with no second factor yet: its first sign-in goes through enrolment
UNENROLLED = "new-rep@staff.example"
#: a browser that sends the other language, so only the header switcher can give the wanted one
OTHER_LOCALE = {"fr": "en-GB", "en": "fr-FR"}


def _missing(reason):
    """Skip on a developer's machine; fail under CI, where the browser checks are required."""
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        _missing("chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="package")
def browser(chromium_path):
    """Debian's chromium, headless, for this package only (stopped before the other tests)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def axe_source():
    if not AXE_JS.is_file():
        _missing("axe-core is not installed (npm ci --prefix tests/browser)")
    return AXE_JS


# --- the live application -------------------------------------------------------------------

@pytest.fixture(scope="package")
def live_smtp():
    """A real SMTP server on loopback, for the whole browser package."""
    with loopback_smtp() as collector:
        yield collector


@pytest.fixture(scope="package")
def live_database_url(tmp_path_factory):
    """An SQLite file, or a PostgreSQL database of the browser tests' own (the other tests
    create and drop tables in theirs while this server lives)."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('browser') / 'live.sqlite3'}"
        return
    name = f"campaign_browser_{secrets.token_hex(4)}"
    admin = _admin_engine(PG_URL)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_URL.rpartition("/")
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _seed(app):
    """A campaign with its units, two open petitions (one confirmed by e-mail, carrying the
    synthetic signatures of the tally demo and a first published release), the demo statements,
    notes and actions, and the staff accounts, each enrolled in TOTP with TOTP_SECRET."""
    from campaign.demo import DEPARTMENTS, SITES
    from campaign.demo_tallies import seed_tally_demo
    from campaign.demo_voices import seed_voices
    from campaign.extensions import db
    from campaign.models.base import utcnow
    from campaign.models.consent import SIGNATURE_PURPOSES
    from campaign.services import accounts, campaigns, consent, paper, petitions

    consent.seed_defaults()
    users = {}
    for key, (email, is_admin, _role) in STAFF.items():
        user = accounts.create_user(email, key.replace("_", " ").title(), password=PASSWORD,
                                    is_admin=is_admin)
        accounts.set_totp_secret(user, TOTP_SECRET)
        user.totp_enrolled_at = utcnow()
        users[key] = user
    unenrolled = accounts.create_user(UNENROLLED, "New Rep", password=PASSWORD)
    campaign = campaigns.create_campaign(
        CAMPAIGN, actor=None, title_fr="Pas en notre nom", title_en="Not in our name",
        summary_fr="Les salarié·es demandent la fin du contrat.",
        summary_en="Employees ask for the contract to end.", employer="Example Corp",
        employer_domains="example-corp.example", status="active", tally_threshold=10)
    for code, fr, en, headcount in SITES:
        campaigns.add_unit(campaign, "site", code, actor=None, name_fr=fr, name_en=en,
                           headcount=headcount)
    for code, fr, en, headcount in DEPARTMENTS:
        campaigns.add_unit(campaign, "department", code, actor=None, name_fr=fr, name_en=en,
                           headcount=headcount)
    for key, (_email, _admin, role) in STAFF.items():
        if role:
            accounts.grant(users[key], campaign, role, actor=None)
    accounts.grant(unenrolled, campaign, "rep", actor=None)
    stop = petitions.create_petition(
        campaign, PETITION_EMAIL, actor=None, title_fr="Mettez fin au contrat",
        title_en="End the contract", text_fr="Nous demandons la fin du contrat.\n\nMerci.",
        text_en="We ask for the contract to end.\n\nThank you.", addressee="La direction",
        goal=1000, status="open", verification="email", refresh_minutes=15)
    pledge = petitions.create_petition(
        campaign, PETITION_DIRECT, actor=None, title_fr="Engagement public",
        title_en="Public pledge", text_fr="Je refuse de travailler sur ce contrat.",
        text_en="I refuse to work on this contract.", goal=100, status="open",
        verification="none", refresh_minutes=15)
    db.session.flush()
    # A paper signer who lets the reps see their name: the rep's signer list has a row.
    (version,) = {t.version for t in consent.current_texts(SIGNATURE_PURPOSES).values()}
    paper.enter(pledge, [paper.PaperRow(PAPER_SIGNER, None, campaign.sites()[0].id, None,
                                        {"share_with_reps": True})],
                actor=users["rep"], version=version, links=None)
    seed_tally_demo(campaign, stop)
    seed_voices(campaign, users["rep"], users["organizer"])
    db.session.commit()


class _QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler without its access log, which would print client addresses
    and private-link tokens into the test output."""

    def log_request(self, *args, **kwargs):
        pass


class LiveServer:
    """The running app: its origin, the app object (for direct reads) and the mail it sent."""

    def __init__(self, app, origin, smtp):
        self.app = app
        self.origin = origin
        self.smtp = smtp

    def path(self, path):
        return self.origin + path

    def mail_to(self, address, count=1, timeout=20):
        """The messages sent to `address`, waiting until there are at least `count` of them."""
        deadline = time.time() + timeout
        while True:
            found = [m for rcpt, m in self.smtp.messages if address in rcpt]
            if len(found) >= count or time.time() > deadline:
                assert len(found) >= count, f"expected {count} mail(s), got {len(found)}"
                return found
            time.sleep(0.05)

    def totp(self, email):
        return totp_code(self.app, email)

    def gettext(self, locale, msgid, **values):
        """The UI string `msgid` in `locale`, as the app's catalog translates it."""
        from flask_babel import force_locale, gettext

        with self.app.test_request_context(), force_locale(locale):
            return gettext(msgid, **values)


@pytest.fixture(scope="package")
def live_server(live_database_url, live_smtp):
    """The app served by werkzeug's threaded server on a free loopback port, for the whole
    package; seeded once (see `_seed`)."""
    from campaign import create_app
    from campaign.extensions import db
    from config import TestingConfig

    config = TestingConfig(database_url=live_database_url)
    config.MAIL_SERVER = "127.0.0.1"
    config.MAIL_PORT = live_smtp.port
    config.MAIL_STARTTLS = False
    config.MAIL_USERNAME = None
    # The limits stay on, only raised: a whole suite of journeys comes from one address and
    # staff sign-ins follow each other within a minute (the limits are proved elsewhere).
    config.LOGIN_RATE_LIMIT = "1000 per minute"
    config.SIGN_RATE_LIMIT = "1000 per minute"
    config.LINK_RATE_LIMIT = "1000 per minute"
    config.STATEMENT_RATE_LIMIT = "1000 per minute"
    app = create_app(config)
    with app.app_context():
        db.create_all()
        _seed(app)
    server = make_server("127.0.0.1", 0, app, threaded=True,
                         request_handler=_QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(app, f"http://127.0.0.1:{server.server_port}", live_smtp)
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# --- browsing with a record of the network and the console ----------------------------------

#: reports every CSP refusal on the console too, in the words Chromium uses itself
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error('Refused to load ' + e.blockedURI + ': Content Security Policy directive '
                + e.violatedDirective);
});
"""


class Browse:
    """A browser context with its own cookies, recording requests and console messages."""

    def __init__(self, browser, server, locale, axe=None, storage_state=None):
        self.server = server
        self.requests = []
        self.console = []
        self.page_errors = []
        self.server_errors = []
        self.context = browser.new_context(locale=locale, accept_downloads=True,
                                           viewport={"width": 1024, "height": 800},
                                           storage_state=storage_state)
        self.context.add_init_script(script=CSP_LISTENER)
        if axe is not None:
            # An init script is run by the browser itself: the page's CSP stays enforced.
            self.context.add_init_script(path=str(axe))
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.context.on("response", lambda response: response.status >= 500 and
                        self.server_errors.append(f"{response.status} {response.url}"))
        self.context.on("console", lambda message: self.console.append(
            f"{message.type}: {message.text}"))
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.set_default_timeout(10_000)

    def goto(self, path):
        """Open a path of the app; returns the main response."""
        return self.page.goto(self.server.path(path))

    def click(self, target):
        """Click a link or a submit button (a selector or a locator) and wait until the page
        it leads to is loaded. Returns the main response (None for a download)."""
        locator = self.page.locator(target) if isinstance(target, str) else target
        with self.page.expect_navigation() as navigation:
            locator.click()
        return navigation.value

    def switch_language(self, locale):
        """Choose the language with the header's switcher link, as a visitor would."""
        self.click(f"nav.lang-switch a[hreflang='{locale}']")
        assert self.page.locator("html").get_attribute("lang") == locale

    def screenshot(self, name):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def foreign_requests(self):
        return [u for u in self.requests
                if f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" != self.server.origin]

    def csp_messages(self):
        return [m for m in self.console
                if "content security policy" in m.lower() or "refused to" in m.lower()]

    def assert_clean(self):
        """Every request went to the test server's origin; the CSP refused nothing; no page
        script failed; the server answered no request with a 5xx."""
        assert self.requests, "no request was recorded"
        assert self.server_errors == [], "server errors"
        assert self.foreign_requests() == [], "requests to another origin"
        assert self.csp_messages() == [], "Content-Security-Policy violations"
        assert self.page_errors == []

    def close(self):
        self.context.close()


@pytest.fixture
def browse(browser, live_server):
    """browse(locale) -> a new Browse; each is checked for foreign requests and CSP violations
    when the test ends (tests also call `assert_clean()` themselves, to fail at the right step)."""
    opened = []

    def open_context(locale="fr-FR", axe=None, storage_state=None):
        session = Browse(browser, live_server, locale, axe=axe, storage_state=storage_state)
        opened.append(session)
        return session

    yield open_context
    try:
        for session in opened:
            session.assert_clean()
    finally:
        for session in opened:
            session.close()


def _sign_in(server, session, key):
    """The staff account signs in through the two-step form (password, then a TOTP code)."""
    email = STAFF[key][0]
    page = session.page
    session.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    session.click("main form button[type=submit]")
    page.wait_for_url("**/login/code")
    page.fill("#code", server.totp(email))
    session.click("main form button[type=submit]")
    page.wait_for_url("**/staff/")
    return page


@pytest.fixture
def sign_in(live_server):
    """sign_in(session, key): sign in through the pages (once per account per run)."""
    return lambda session, key: _sign_in(live_server, session, key)


@pytest.fixture(scope="package")
def staff_cookies(browser, live_server):
    """staff_cookies(key): the cookies of a signed-in session of that account, made once per
    run through the sign-in pages (a TOTP code works once, so each account signs in once)."""
    states = {}

    def get(key):
        if key not in states:
            session = Browse(browser, live_server, "fr-FR")
            try:
                _sign_in(live_server, session, key)
                session.assert_clean()
                states[key] = session.context.storage_state()
            finally:
                session.close()
        return states[key]

    return get


def write_report(name, data):
    """Keep an audit's findings, page by page, under artifacts/accessibility/."""
    AXE_REPORTS.mkdir(parents=True, exist_ok=True)
    (AXE_REPORTS / f"{name}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))
