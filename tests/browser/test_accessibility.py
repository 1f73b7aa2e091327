"""Accessibility audit in a real browser: axe-core on every public page and the main staff pages,
in French and in English, and a petition signed with the keyboard alone.

axe-core comes from the npm registry (tests/browser/package.json) and is given to the test
browser only, as an init script: the app never serves it and its CSP stays enforced. A page
fails on any violation of impact "serious" or "critical"; lesser findings are reported in
artifacts/accessibility/ without failing.
"""

import pytest
from sqlalchemy import select

from campaign.extensions import db

from .conftest import (
    CAMPAIGN,
    PASSWORD,
    PETITION_DIRECT,
    PETITION_EMAIL,
    STAFF,
    UNENROLLED,
    write_report,
)

BLOCKING = ("serious", "critical")
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
  }));
}"""


class Audit:
    """Runs axe on the page a session shows and keeps the findings, page by page."""

    def __init__(self, session):
        self.session = session
        self.pages = {}

    def page(self, name, path=None, status=200):
        if path is not None:
            response = self.session.goto(path)
            assert response.status == status, f"{name}: {path} answered {response.status}"
        page = self.session.page
        assert page.locator("html").get_attribute("lang") in ("fr", "en")
        self.pages[name] = {"url": page.url.replace(self.session.server.origin, ""),
                            "violations": page.evaluate(RUN_AXE)}

    def blocking(self):
        return {name: [v for v in found["violations"] if v["impact"] in BLOCKING]
                for name, found in self.pages.items()
                if any(v["impact"] in BLOCKING for v in found["violations"])}


def _report(name, *audits):
    pages = {}
    for audit in audits:
        pages.update(audit.pages)
    write_report(name, {
        page: {"url": found["url"],
               "serious_or_critical": sum(v["impact"] in BLOCKING for v in found["violations"]),
               "violations": found["violations"]}
        for page, found in pages.items()})
    return pages


def _sign(page, name, email):
    page.fill("#name", name)
    page.fill("#email", email)
    page.locator("form[action$='/sign'] button[type=submit]").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_public_pages_have_no_serious_accessibility_violation(browse, live_server, axe_source,
                                                              lang):
    session = browse(lang, axe=axe_source)
    session.goto("/")
    session.switch_language(lang)
    audit = Audit(session)
    page = session.page
    audit.page("home", "/")
    audit.page("campaign", f"/c/{CAMPAIGN}")
    audit.page("petition", f"/c/{CAMPAIGN}/p/{PETITION_EMAIL}")
    audit.page("published statements", f"/c/{CAMPAIGN}/statements")

    # The petition form with errors: its summary and its fields' messages.
    page.locator("form[action$='/sign'] button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".error-summary").count() >= 1
    audit.page("petition with errors")

    # The work-address warning.
    page.fill("#name", "Alex Audit")
    page.fill("#email", f"alex-{lang}@example-corp.example")
    page.locator("form[action$='/sign'] button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#work-warning").count() == 1
    audit.page("petition with work-address warning")

    email = f"audit-{lang}@personal.example"
    session.goto(f"/c/{CAMPAIGN}/p/{PETITION_EMAIL}")
    _sign(page, "Alex Audit", email)
    audit.page("signed")
    [mail] = live_server.mail_to(email)
    body = mail.get_content()
    confirm = next(word for word in body.split() if "/confirm/" in word)
    private = next(word for word in body.split() if "/s/" in word)
    page.goto(confirm)
    audit.page("confirm")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    audit.page("confirmed")
    page.goto(private)
    page.wait_for_url("**/me")
    audit.page("private page")
    audit.page("lost link", "/lost-link")
    audit.page("invalid link", "/s/" + "A" * 43, status=404)

    audit.page("statement form", f"/c/{CAMPAIGN}/statements/new")
    page.locator("form[action$='/statements/new'] button[type=submit]").click()
    page.wait_for_load_state()
    audit.page("statement form with errors")
    page.fill("#text", f"An audited statement ({lang}).")
    page.locator("form[action$='/statements/new'] button[type=submit]").click()
    page.wait_for_load_state()
    audit.page("statement submitted")
    page.goto(page.locator("main a.break").get_attribute("href"))
    page.wait_for_url("**/my-statement")
    audit.page("statement private page")

    audit.page("login", "/login")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    audit.page("login with errors")
    page.fill("#email", STAFF["admin"][0])
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/login/code")
    audit.page("second factor")

    enrol = browse(lang, axe=axe_source)
    enrol_audit = Audit(enrol)
    enrol.goto("/login")
    enrol.page.fill("#email", UNENROLLED)
    enrol.page.fill("#password", PASSWORD)
    enrol.page.locator("main form button[type=submit]").click()
    enrol.page.wait_for_url("**/login/enrol")
    enrol_audit.page("second factor enrolment")

    audit.page("not found", "/c/no-such-campaign", status=404)

    pages = _report(f"public-{lang}", audit, enrol_audit)
    assert len(pages) == 21
    assert audit.blocking() | enrol_audit.blocking() == {}
    session.assert_clean()
    enrol.assert_clean()


def _ids(live_server):
    from campaign.models import MeetingNote, Statement, User

    with live_server.app.app_context():
        statement = db.session.execute(select(Statement.public_id).order_by(Statement.id)).scalar()
        note = db.session.execute(
            select(MeetingNote.public_id).order_by(MeetingNote.id.desc())).scalar()
        user = db.session.execute(
            select(User.public_id).where(User.email == STAFF["rep"][0])).scalar()
    return statement, note, user


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_staff_pages_have_no_serious_accessibility_violation(browse, live_server, axe_source,
                                                             staff_cookies, lang):
    statement, note, user = _ids(live_server)
    base = f"/staff/campaigns/{CAMPAIGN}"
    petition = f"{base}/petitions/{PETITION_EMAIL}"
    audits = []
    for key, pages in (
        ("rep", [
            ("staff home", "/staff/"),
            ("campaign detail", base),
            ("petitions", f"{base}/petitions/"),
            ("petition", petition),
            ("signers", f"{petition}/signers"),
            ("paper entry", f"{petition}/paper"),
            ("moderation queue", f"{base}/statements"),
            ("statement", f"{base}/statements/{statement}"),
            ("meeting notes", f"{base}/notes"),
            ("meeting note", f"{base}/notes/{note}"),
            ("new meeting note", f"{base}/notes/new"),
            ("note revisions", f"{base}/notes/{note}/revisions"),
            ("note revision diff", f"{base}/notes/{note}/revisions/2/diff"),
            ("actions", f"{base}/actions"),
            ("new action", f"{base}/actions/new"),
            ("tally dashboard (rep)", f"{petition}/tallies/"),
        ]),
        ("organizer", [
            ("tally dashboard (organizer)", f"{petition}/tallies/"),
            ("campaign edit", f"{base}/edit"),
            ("petition edit", f"{petition}/edit"),
            ("new petition", f"{base}/petitions/new"),
            ("new campaign", "/staff/campaigns/new"),
            ("unit edit", f"{base}/units/site/paris"),
            ("campaign audit log", f"/admin/audit?campaign={CAMPAIGN}"),
        ]),
        ("admin", [
            ("admin users", "/admin/users"),
            ("admin user", f"/admin/users/{user}"),
            ("invite", "/admin/users/invite"),
            ("consent texts", "/admin/consent-texts"),
            ("audit log", "/admin/audit"),
            ("my account", "/account"),
        ]),
    ):
        session = browse(lang, axe=axe_source, storage_state=staff_cookies(key))
        session.goto("/staff/")
        session.switch_language(lang)
        audit = Audit(session)
        for name, path in pages:
            audit.page(name, path)
        audits.append(audit)
        session.assert_clean()
    pages = _report(f"staff-{lang}", *audits)
    assert len(pages) == 29
    blocking = {}
    for audit in audits:
        blocking.update(audit.blocking())
    assert blocking == {}


FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  if (e.id) return '#' + e.id;
  if (e.getAttribute('href')) return 'href:' + e.getAttribute('href');
  return e.tagName.toLowerCase() + (e.className ? '.' + e.className : '');
}"""
FOCUS_RING = "() => getComputedStyle(document.activeElement).outlineStyle"
SIGN_BUTTON = "form[action$='/sign'] button[type=submit]"


def _tab_to(page, target, limit=40):
    """Press Tab until `target` (a FOCUSED descriptor, or a test on it) has the focus; every
    stop on the way shows a focus ring and the honeypot is never one of them."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        current = page.evaluate(FOCUSED)
        seen.append(current)
        assert current != "#website", "the honeypot is reached with the keyboard"
        assert page.evaluate(FOCUS_RING) != "none", f"{current} shows no focus ring"
        if (target(page) if callable(target) else current == target):
            return seen
    raise AssertionError(f"{target} not reached with Tab; the focus went to {seen}")


def _press_enter_and_wait(page, path_end):
    """Enter on a submit button or a link, then wait until the page it loads is shown."""
    with page.expect_navigation(url=lambda url: url.split("?")[0].endswith(path_end)):
        page.keyboard.press("Enter")


def _on_sign_button(page):
    return page.evaluate(f"() => document.activeElement.matches(\"{SIGN_BUTTON}\")")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_petition_can_be_signed_with_the_keyboard_alone(browse, live_server, lang):
    t = lambda msgid, **values: live_server.gettext(lang, msgid, **values)  # noqa: E731
    email = f"keyboard-{lang}@personal.example"
    session = browse(lang)
    page = session.page
    session.goto(f"/c/{CAMPAIGN}/p/{PETITION_DIRECT}")
    assert page.locator("html").get_attribute("lang") == lang

    # The first stop is the skip link, which leads into the content.
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "href:#main"
    page.keyboard.press("Enter")
    assert page.evaluate(FOCUSED) == "#main"

    # Submitted without a name: the errors are announced and linked to their fields.
    _tab_to(page, "#name")
    _tab_to(page, "#email")
    page.keyboard.type(email)
    _tab_to(page, _on_sign_button)
    _press_enter_and_wait(page, "/sign")
    summary = page.locator(".error-summary[role=alert]")
    assert summary.count() == 1 and summary.is_visible()
    links = summary.locator("a")
    assert links.count() == 1 and links.first.get_attribute("href") == "#name"
    name = page.locator("#name")
    assert name.get_attribute("aria-invalid") == "true"
    described = [page.locator(f"#{i}").inner_text()
                 for i in name.get_attribute("aria-describedby").split()]
    assert described and any(text and text in links.first.inner_text() for text in described)
    assert page.locator("#email").input_value() == email, "what was typed is kept"

    # The summary's link leads to the field; typing there fills it.
    _tab_to(page, "href:#name")
    page.keyboard.press("Enter")
    assert page.evaluate(FOCUSED) == "#name"
    page.keyboard.type(f"Dominique Clavier {lang.upper()}")
    _tab_to(page, "#consent_contact")
    page.keyboard.press("Space")
    assert page.locator("#consent_contact").is_checked()
    _tab_to(page, _on_sign_button)
    _press_enter_and_wait(page, "/sign")
    assert page.locator("h1").inner_text() == t("Thank you")

    # Follow the private link with the keyboard too.
    _tab_to(page, lambda p: p.evaluate("() => document.activeElement.matches('main a.break')"))
    _press_enter_and_wait(page, "/me")
    granted = {
        purpose: page.locator(f"form[action$='/me/consent']:has(input[value={purpose}]) "
                              "input[name=granted]").get_attribute("value") == "0"
        for purpose in ("public_name", "share_with_reps", "contact")}
    assert granted == {"public_name": False, "share_with_reps": False, "contact": True}
    session.assert_clean()
