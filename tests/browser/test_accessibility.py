"""Accessibility audit in a real browser: axe-core on every public page and the main staff pages,
in French and in English, and a petition signed with the keyboard alone.

axe-core comes from the npm registry (tests/browser/package.json) and is given to the test
browser only, as an init script: the app never serves it and its CSP stays enforced. A page
fails on any violation of impact "serious" or "critical"; lesser findings are reported in
artifacts/accessibility/ without failing.
"""

import json
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import select

from campaign.extensions import db

from .conftest import (
    CAMPAIGN,
    OTHER_LOCALE,
    PAPER_SIGNER,
    PASSWORD,
    PETITION_DIRECT,
    PETITION_EMAIL,
    STAFF,
    UNENROLLED,
    write_report,
)

BLOCKING = ("serious", "critical")
AXE_VERSION = json.loads((Path(__file__).parent / "package.json").read_text())[
    "devDependencies"]["axe-core"]
RUN_AXE = """async () => {
  // axe's default rule set: WCAG 2.0, 2.1 and 2.2 at levels A and AA, and best practices.
  const result = await axe.run(document, {resultTypes: ['violations']});
  return {
    version: axe.version,
    passes: result.passes.length,
    incomplete: result.incomplete.map((v) => v.id),
    violations: result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    })),
  };
}"""

#: errors and their fields: every summary link and every aria-describedby names an element of
#: the page, and every field marked invalid is linked from the summary
ERROR_LINKS = """() => {
  const missing = (id) => !document.getElementById(id);
  const linked = [...document.querySelectorAll('.error-summary a[href^="#"]')]
    .map((a) => a.getAttribute('href').slice(1));
  const described = [...document.querySelectorAll('[aria-describedby]')]
    .flatMap((e) => e.getAttribute('aria-describedby').split(/\\s+/)).filter(Boolean);
  const invalid = [...document.querySelectorAll('[aria-invalid=true]')].map((e) => e.id);
  return {
    summary_links_to_nothing: linked.filter(missing),
    described_by_nothing: described.filter(missing),
    invalid_not_in_summary: invalid.filter((id) => !linked.includes(id)),
  };
}"""


class Audit:
    """Runs axe on the page a session shows and keeps the findings, page by page."""

    def __init__(self, session, lang):
        self.session = session
        self.lang = lang
        self.pages = {}

    def page(self, name, path=None, status=200, showing=None):
        page = self.session.page
        if path is not None:
            response = self.session.goto(path)
            assert response.status == status, f"{name}: {path} answered {response.status}"
            assert page.url == self.session.server.path(path), f"{name}: sent to {page.url}"
        assert page.locator("html").get_attribute("lang") == self.lang
        if showing is not None:
            assert showing in page.locator("main").inner_text(), f"{name}: no {showing!r}"
        links = page.evaluate(ERROR_LINKS)
        assert links == {"summary_links_to_nothing": [], "described_by_nothing": [],
                         "invalid_not_in_summary": []}, f"{name}: {links}"
        result = page.evaluate(RUN_AXE)
        assert result["version"] == AXE_VERSION and result["passes"] > 10, "axe did not run"
        self.pages[name] = {"url": page.url.replace(self.session.server.origin, ""), **result}

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
               "violations": found["violations"], "rules_passed": found["passes"],
               "needs_review": found["incomplete"]}
        for page, found in pages.items()})
    return pages


def _sign(session, name, email):
    session.page.fill("#name", name)
    session.page.fill("#email", email)
    session.click("form[action$='/sign'] button[type=submit]")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_public_pages_have_no_serious_accessibility_violation(browse, live_server, axe_source,
                                                              lang):
    session = browse(OTHER_LOCALE[lang], axe=axe_source)
    session.goto("/")
    session.switch_language(lang)
    audit = Audit(session, lang)
    page = session.page
    audit.page("home", "/")
    audit.page("campaign", f"/c/{CAMPAIGN}")
    audit.page("published statements", f"/c/{CAMPAIGN}/statements")
    audit.page("petition", f"/c/{CAMPAIGN}/p/{PETITION_EMAIL}")

    # The petition form with errors: its summary and its fields' messages.
    session.click("form[action$='/sign'] button[type=submit]")
    assert page.locator(".error-summary").count() >= 1
    audit.page("petition with errors")

    # The work-address warning.
    page.fill("#name", "Alex Audit")
    page.fill("#email", f"alex-{lang}@example-corp.example")
    session.click("form[action$='/sign'] button[type=submit]")
    assert page.locator("#work-warning").count() == 1
    audit.page("petition with work-address warning")

    email = f"audit-{lang}@personal.example"
    session.goto(f"/c/{CAMPAIGN}/p/{PETITION_EMAIL}")
    _sign(session, "Alex Audit", email)
    audit.page("signed")
    [mail] = live_server.mail_to(email)
    body = mail.get_content()
    confirm = next(word for word in body.split() if "/confirm/" in word)
    private = next(word for word in body.split() if "/s/" in word)
    page.goto(confirm)
    audit.page("confirm")
    session.click("main form button[type=submit]")
    audit.page("confirmed")
    page.goto(private)
    page.wait_for_url("**/me")
    audit.page("private page")
    audit.page("lost link", "/lost-link")
    audit.page("invalid link", "/s/" + "A" * 43, status=404)

    audit.page("statement form", f"/c/{CAMPAIGN}/statements/new")
    # No text, and a publication choice the form does not offer (as a forged request would
    # send): the summary links the radio group to its first option.
    page.evaluate("() => { document.querySelector('#publication-0').value = 'everywhere'; }")
    session.click("form[action$='/statements/new'] button[type=submit]")
    assert page.locator(".error-summary a[href='#publication-0']").count() == 1
    audit.page("statement form with errors")
    page.fill("#text", f"An audited statement ({lang}).")
    session.click("form[action$='/statements/new'] button[type=submit]")
    audit.page("statement submitted")
    page.goto(page.locator("main a.break").get_attribute("href"))
    page.wait_for_url("**/my-statement")
    audit.page("statement private page")

    audit.page("login", "/login")
    session.click("main form button[type=submit]")
    audit.page("login with errors")
    page.fill("#email", STAFF["admin"][0])
    page.fill("#password", PASSWORD)
    session.click("main form button[type=submit]")
    page.wait_for_url("**/login/code")
    audit.page("second factor")

    enrol = browse(OTHER_LOCALE[lang], axe=axe_source)
    enrol.goto("/")
    enrol.switch_language(lang)
    enrol_audit = Audit(enrol, lang)
    enrol.goto("/login")
    enrol.page.fill("#email", UNENROLLED)
    enrol.page.fill("#password", PASSWORD)
    enrol.click("main form button[type=submit]")
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
            ("signers", f"{base}/petitions/{PETITION_DIRECT}/signers", PAPER_SIGNER),
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
        ]),
        ("organizer", [
            ("tally dashboard", f"{petition}/tallies/"),
            ("campaign edit", f"{base}/edit"),
            ("petition edit", f"{petition}/edit"),
            ("new petition", f"{base}/petitions/new"),
            ("new campaign", "/staff/campaigns/new"),
            ("unit edit", f"{base}/units/site/paris"),
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
        if session.page.locator("html").get_attribute("lang") != lang:
            session.switch_language(lang)  # the language is kept in the staff session
        audit = Audit(session, lang)
        for name, path, *showing in pages:
            audit.page(name, path, showing=showing[0] if showing else None)
        audits.append(audit)
        session.assert_clean()
    pages = _report(f"staff-{lang}", *audits)
    assert len(pages) == 27
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
    t = partial(live_server.gettext, lang)
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


def test_the_audit_fails_a_page_with_an_unlabelled_field_or_faint_text(browse, axe_source):
    """The harness itself: axe runs in the page and reports what must fail the audit."""
    session = browse("en-GB", axe=axe_source)
    session.goto(f"/c/{CAMPAIGN}/p/{PETITION_EMAIL}")
    audit = Audit(session, "en")
    audit.page("petition as served")
    assert audit.blocking() == {}
    # Changed through the DOM and the CSSOM, which the page's CSP allows to a script.
    session.page.evaluate("""() => {
      const main = document.querySelector('main');
      main.append(document.createElement('input'));
      const faint = document.createElement('p');
      faint.textContent = 'Faint text nobody can read';
      faint.style.color = '#d8d8d8';
      main.append(faint);
    }""")
    audit.page("petition with an unlabelled field and faint text")
    found = {v["id"]: v["impact"]
             for v in audit.blocking()["petition with an unlabelled field and faint text"]}
    assert found == {"label": "critical", "color-contrast": "serious"}
