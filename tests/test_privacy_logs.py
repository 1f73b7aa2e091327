"""Privacy regression: after a whole scenario, no log line names anyone.

The scenario runs with every log record captured at DEBUG (the root logger, the app's logger and
werkzeug's; libraries keep their own defaults, e.g. SQLAlchemy stays at WARNING) and mail going to a real SMTP server on loopback: a signer with
a canary name and address, from a canary IP address and user agent, signs, confirms by mail,
opens the private link, downloads their data, changes a consent; a rep views the signers who share
their name; an organizer takes and exports a tally release (when the tallies feature is there); an
author submits a canary statement, opens their link and changes their choices; the rep publishes
it; then the signer withdraws and erases, the author withdraws and erases, a stale link and a
form without its token are tried, and the private links are replayed through the real development
server (werkzeug) so that its access log runs too. No IP address, user agent, e-mail address, name,
statement text or private-link token may appear in any record.
"""

import http.client
import logging
import re
import threading
import time

import pytest
from werkzeug.serving import make_server

from campaign.extensions import db
from campaign.services import petitions as petition_service
from campaign.services.campaigns import get_by_slug
from tests.conftest import csrf_token, login

CANARY_IP = "203.0.113.99"
CANARY_AGENT = "CanaryAgent/9.9 (canary-handset; build canary7)"
SIGNER_NAME = "Zéphyrin Canarybird"
SIGNER_EMAIL = "zephyrin.canarybird@personal.example"
AUTHOR_NAME = "Ottilie Larkspur-Canary"
AUTHOR_EMAIL = "ottilie.larkspur@personal.example"
STATEMENT = ("Canary testimony: the Zanzibar logistics contract moved my whole team, "
             "the night shift of hangar nineteen, onto drone targeting.")
LINK = re.compile(r"https?://localhost(/(?:s|confirm)/([A-Za-z0-9_-]{43}))")
PAGE = "/c/acme/p/end-it"
STAFF = "/staff/campaigns/acme"


def _headers(lang="fr"):
    return {"Accept-Language": lang, "User-Agent": CANARY_AGENT,
            "X-Forwarded-For": f"{CANARY_IP}, 198.51.100.7", "X-Real-IP": CANARY_IP,
            "Referer": f"https://campaign.example/c/acme?email={SIGNER_EMAIL}"}


def _client(app):
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=CANARY_IP, HTTP_USER_AGENT=CANARY_AGENT)
    return client


def _closed(response):
    response.close()  # the server closes the response: mail queued by it goes out
    return response


def _wait_for_mail(smtp_server, count, timeout=10):
    deadline = time.time() + timeout
    while len(smtp_server.messages) < count and time.time() < deadline:
        time.sleep(0.05)
    assert len(smtp_server.messages) >= count, "the mail did not arrive"
    return smtp_server.messages


def _links(text):
    return {path: token for path, token in LINK.findall(text)}


@pytest.fixture
def scenario_app(mail_app):
    with mail_app.app_context():
        from campaign.services import campaigns

        campaign = campaigns.create_campaign(
            "acme", actor=None, title_fr="Acmé", title_en="Acme", employer="Acme",
            employer_domains="acme.example", status="active")
        for kind, code in (("site", "paris"), ("department", "dev")):
            campaigns.add_unit(campaign, kind, code, actor=None, name_fr=code, name_en=code)
        petition_service.create_petition(get_by_slug("acme"), "end-it", actor=None,
                                         title_fr="Arrêtez", title_en="Stop it", status="open",
                                         verification="email", refresh_minutes=0)
        db.session.commit()
    return mail_app


@pytest.fixture
def staff(scenario_app):
    from campaign.models.base import utcnow
    from campaign.services import accounts
    from tests.conftest import TOTP_SECRET

    with scenario_app.app_context():
        campaign = get_by_slug("acme")
        for email, role in (("rep@example.org", "rep"), ("org@example.org", "organizer")):
            user = accounts.create_user(email, role, password="correct horse battery staple")
            accounts.grant(user, campaign, role, actor=None)
            accounts.set_totp_secret(user, TOTP_SECRET)
            user.totp_enrolled_at = utcnow()
        db.session.commit()
    clients = {}
    for role, email in (("rep", "rep@example.org"), ("organizer", "org@example.org")):
        clients[role] = _client(scenario_app)
        assert login(clients[role], email).status_code == 302
    return clients


def _serve(app):
    """The development server (werkzeug) on loopback, in a thread: its access log runs."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def _get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=_headers())
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_a_whole_scenario_logs_no_ip_agent_address_name_statement_or_token(
        scenario_app, staff, smtp_server, caplog):
    app = scenario_app
    for name in (None, app.logger.name, "werkzeug"):  # the root logger, the app's, werkzeug's
        caplog.set_level(logging.DEBUG, logger=name)
    tried = []

    # The signer signs, sharing their name with the reps and the public.
    signer = _client(app)
    page = signer.get(PAGE, headers=_headers())
    signed = _closed(signer.post(PAGE + "/sign", headers=_headers(), data={
        "csrf_token": csrf_token(page.text), "name": SIGNER_NAME, "email": SIGNER_EMAIL,
        "site": "", "department": "", "consent_public_name": "y",
        "consent_share_with_reps": "y", "version_public_name": "1",
        "version_share_with_reps": "1", "version_contact": "1"}))
    assert signed.status_code == 200
    private = next(t for p, t in _links(signed.text).items() if p.startswith("/s/"))
    [(recipients, message)] = _wait_for_mail(smtp_server, 1)
    assert recipients == [SIGNER_EMAIL]
    confirm = next(t for p, t in _links(message.get_content()).items()
                   if p.startswith("/confirm/"))
    tried.append("sign")

    # Confirms by mail (GET shows the button, POST confirms), opens the private link.
    shown = signer.get(f"/confirm/{confirm}", headers=_headers())
    assert signer.post(f"/confirm/{confirm}", headers=_headers(), data={
        "csrf_token": csrf_token(shown.text)}).status_code == 200
    assert signer.get(f"/s/{private}", headers=_headers()).status_code == 302
    me = signer.get("/me", headers=_headers())
    assert SIGNER_NAME in me.text
    assert signer.get("/me/data.json", headers=_headers()).status_code == 200
    assert signer.post("/me/consent", headers=_headers(), data={
        "csrf_token": csrf_token(me.text), "purpose": "contact", "granted": "1"}
    ).status_code == 302
    assert signer.post("/me/consent", headers=_headers(), data={
        "csrf_token": csrf_token(me.text), "purpose": "public_name", "granted": "0"}
    ).status_code == 302
    tried.append("confirm, private link, download, consent changes")

    # A rep looks at the signers who share their name (audited).
    rep = staff["rep"]
    listing = rep.get(f"{STAFF}/petitions/end-it/signers", headers=_headers())
    assert listing.status_code == 200 and SIGNER_NAME in listing.text
    tried.append("rep views signers")

    # An organizer takes a tally release and exports it, when the tallies feature is there.
    if "tallies.export" in app.view_functions:
        organizer = staff["organizer"]
        base = f"{STAFF}/petitions/end-it/tallies"
        dashboard = organizer.get(base + "/", headers=_headers())
        assert dashboard.status_code == 200
        taken = organizer.post(base + "/releases", headers=_headers(),
                               data={"csrf_token": csrf_token(dashboard.text)})
        assert taken.status_code < 500
        dashboard = organizer.get(base + "/", headers=_headers())
        release = re.search(r'name="release"[^>]*value="([^"]*)"', dashboard.text)
        breakdown = re.search(r'<select[^>]*name="by"[^>]*>\s*<option[^>]*value="([^"]*)"',
                              dashboard.text)
        exported = organizer.post(base + "/export", headers=_headers(), data={
            "csrf_token": csrf_token(dashboard.text), "period": "week", "format": "csv",
            "language": "fr", "release": release.group(1) if release else "",
            "by": breakdown.group(1) if breakdown else ""})
        assert exported.status_code < 500
        tried.append(f"tallies: release {taken.status_code}, export {exported.status_code}")

    # An author submits a statement with their name, opens their link, changes their choices.
    author = _client(app)
    form = author.get("/c/acme/statements/new", headers=_headers())
    submitted = _closed(author.post("/c/acme/statements/new", headers=_headers(), data={
        "csrf_token": csrf_token(form.text), "text": STATEMENT, "language": "fr",
        "name": AUTHOR_NAME, "email": AUTHOR_EMAIL, "publication": "public_anonymous",
        "consent_share_with_reps": "y", "site": "", "department": "",
        "version_publish": "1", "version_publish_named": "1", "version_share_with_reps": "1"}))
    assert submitted.status_code == 200
    statement_token = next(t for p, t in _links(submitted.text).items() if p.startswith("/s/"))
    _wait_for_mail(smtp_server, 2)
    assert author.get(f"/s/{statement_token}", headers=_headers()).status_code == 302
    mine = author.get("/my-statement", headers=_headers())
    assert STATEMENT in mine.text
    assert author.post("/my-statement/choices", headers=_headers(), data={
        "csrf_token": csrf_token(mine.text), "publication": "public_anonymous",
        "consent_share_with_reps": "y", "version_publish": "1", "version_publish_named": "1",
        "version_share_with_reps": "1"}).status_code == 302
    assert author.get("/my-statement/data.json", headers=_headers()).status_code == 200
    tried.append("statement, its link, choices, download")

    # The rep reads and publishes it (redacted).
    statements = rep.get(f"{STAFF}/statements", headers=_headers())
    public_id = re.search(rf"{STAFF}/statements/([A-Za-z0-9_-]+)", statements.text).group(1)
    detail = rep.get(f"{STAFF}/statements/{public_id}", headers=_headers())
    assert AUTHOR_NAME in detail.text
    assert rep.post(f"{STAFF}/statements/{public_id}/publish", headers=_headers(), data={
        "csrf_token": csrf_token(detail.text), "redacted_text": STATEMENT}
    ).status_code == 302
    tried.append("rep publishes the statement")

    # Withdraw and erase, both; then a stale link and a form without its token.
    me = signer.get("/me", headers=_headers())
    assert signer.post("/me/withdraw", headers=_headers(),
                       data={"csrf_token": csrf_token(me.text)}).status_code == 302
    me = signer.get("/me", headers=_headers())
    assert signer.post("/me/erase", headers=_headers(),
                       data={"csrf_token": csrf_token(me.text)}).status_code == 200
    mine = author.get("/my-statement", headers=_headers())
    assert author.post("/my-statement/withdraw", headers=_headers(),
                       data={"csrf_token": csrf_token(mine.text)}).status_code == 302
    mine = author.get("/my-statement", headers=_headers())
    assert author.post("/my-statement/erase", headers=_headers(),
                       data={"csrf_token": csrf_token(mine.text)}).status_code == 200
    assert signer.get(f"/s/{private}", headers=_headers()).status_code == 404
    assert signer.post("/me/consent", headers=_headers(), data={
        "purpose": "contact", "granted": "1", "email": SIGNER_EMAIL}).status_code == 400
    lost = signer.get(f"/lost-link?email={SIGNER_EMAIL}&token={private}", headers=_headers())
    assert lost.status_code == 200
    tried.append("withdraw and erase both; stale link; form without token")

    # The same links through the real development server, whose access log names the client.
    server = _serve(app)
    try:
        port = server.server_port
        statuses = [_get(port, path) for path in (
            f"/s/{private}", f"/s/{statement_token}", f"/confirm/{confirm}",
            f"/lost-link?email={SIGNER_EMAIL}&token={private}", "/no-such-page")]
    finally:
        server.shutdown()
        server.server_close()
    assert statuses == [404, 404, 404, 200, 404]
    tried.append("development server replay")

    records = caplog.records
    texts = [caplog.text]
    for record in records:
        texts += [record.getMessage(), str(record.args or ""), record.exc_text or "",
                  record.pathname]
    logged = "\n".join(texts)
    # The check is not vacuous: the scenario did log, through the app and through werkzeug.
    assert len(records) >= 20, tried
    assert any(r.name == "werkzeug" and "/s/" in r.getMessage() for r in records)
    assert any("audit" in r.getMessage() for r in records)
    assert any("form refused" in r.getMessage() for r in records)
    canaries = {
        "IP address": CANARY_IP, "user agent": "CanaryAgent", "device": "canary-handset",
        "signer e-mail": SIGNER_EMAIL, "signer e-mail user": "zephyrin.canarybird",
        "signer name": SIGNER_NAME, "signer first name": "Zéphyrin",
        "signer last name": "Canarybird", "author e-mail": AUTHOR_EMAIL,
        "author e-mail user": "ottilie.larkspur", "author name": AUTHOR_NAME,
        "author last name": "Larkspur", "statement": STATEMENT,
        "statement words": "hangar nineteen", "statement opening": "Canary testimony",
        "signer's private link": private, "statement's private link": statement_token,
        "confirmation link": confirm,
    }
    leaked = {what: value for what, value in canaries.items() if value in logged}
    assert leaked == {}, f"in the logs after {tried}: {sorted(leaked)}"
