"""Journeys in a real browser (chromium), in French and in English, against the live app.

A new employee signs two petitions (default choices, then every box ticked), confirms by e-mail
through a real SMTP server, opens the private link, changes a consent, downloads their data,
withdraws and erases; an employee submits a statement; a rep signs in with the second factor,
moderates it, writes a meeting note and logs an action; an organizer opens the tally dashboard
and downloads an export. Every request stays on the app's origin and the Content-Security-Policy
refuses nothing (the `browse` fixture records both).
"""

import csv
import io
import json
import re
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from campaign.extensions import db

from .conftest import CAMPAIGN, OTHER_LOCALE, PETITION_DIRECT, PETITION_EMAIL, STAFF

LINK = re.compile(r"http://[^\s/]+/(?:s|confirm)/[A-Za-z0-9_-]{43}")
PETITION_TITLES = {PETITION_EMAIL: {"fr": "Mettez fin au contrat", "en": "End the contract"},
                   PETITION_DIRECT: {"fr": "Engagement public", "en": "Public pledge"}}
PURPOSES = ("public_name", "share_with_reps", "contact")


def _links(server, message):
    """(confirm link or None, private link) from a mail; both on the app's own origin."""
    found = LINK.findall(message.get_content())
    for url in found:
        assert f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" == server.origin
    confirm = next((u for u in found if "/confirm/" in u), None)
    private = next(u for u in found if "/s/" in u)
    return confirm, private


def _choice(page, purpose):
    """True when the private page says this consent is given (its button then withdraws it)."""
    form = page.locator(f"form[action$='/me/consent']:has(input[name=purpose][value={purpose}])")
    return form.locator("input[name=granted]").get_attribute("value") == "0"


def _open_petition(session, lang, slug):
    page = session.page
    session.goto(f"/c/{CAMPAIGN}")
    session.click(f"main a[href$='/p/{slug}']")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("h1").inner_text() == PETITION_TITLES[slug][lang]
    return page


def _fill_signature(session, name, email, tick_all):
    page = session.page
    page.fill("#name", name)
    page.fill("#email", email)
    page.select_option("#site", index=1)
    page.select_option("#department", index=2)
    boxes = [page.locator(f"#consent_{p}") for p in PURPOSES]
    for box in boxes:
        assert not box.is_checked(), "every consent box starts unchecked"
        if tick_all:
            box.check()
    session.click("form[action$='/sign'] button[type=submit]")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_new_employee_signs_confirms_and_manages_their_data(browse, live_server, lang):
    t = partial(live_server.gettext, lang)
    session = browse(OTHER_LOCALE[lang])
    page = session.page
    session.goto("/")
    assert page.locator("html").get_attribute("lang") == OTHER_LOCALE[lang][:2]
    session.switch_language(lang)
    assert page.locator("h1").inner_text() == t("Current campaigns")
    name = f"Camille Signataire {lang.upper()}"
    email = f"camille-{lang}@personal.example"

    # 1. Default choices on the petition confirmed by e-mail: only counted.
    _open_petition(session, lang, PETITION_EMAIL)
    session.screenshot(f"petition-{lang}")
    _fill_signature(session, name, email, tick_all=False)
    assert page.locator("h1").inner_text() == t("Thank you")
    assert t("We sent you an e-mail. Open it and press the button on the page it leads to: "
             "your signature counts once you confirm it.") in page.locator("main").inner_text()
    shown_link = page.locator("main a.break").get_attribute("href")
    assert shown_link.startswith(live_server.origin + "/s/")
    session.screenshot(f"signed-{lang}")

    [mail] = live_server.mail_to(email)
    assert mail["Subject"] == t("Please confirm your request")
    confirm_url, private_url = _links(live_server, mail)
    assert confirm_url and private_url == shown_link
    page.goto(confirm_url)
    assert page.locator("h1").inner_text() == t("Confirm your signature")
    session.screenshot(f"confirm-{lang}")
    session.click("main form button[type=submit]")
    assert page.locator("h1").inner_text() == t("Signature confirmed")

    page.goto(private_url)
    page.wait_for_url("**/me")
    assert "/s/" not in page.url, "the token leaves the address bar"
    facts = page.locator("dl.facts").inner_text()
    assert name in facts and email in facts and t("counted") in facts
    assert [_choice(page, p) for p in PURPOSES] == [False, False, False]

    # 2. Every box ticked on the petition counted at once.
    _open_petition(session, lang, PETITION_DIRECT)
    _fill_signature(session, name, email, tick_all=True)
    assert page.locator("h1").inner_text() == t("Thank you")
    [mail] = live_server.mail_to(email, count=2)[1:]
    assert mail["Subject"] == t("Your private link")
    confirm_url, private_url = _links(live_server, mail)
    assert confirm_url is None
    page.goto(private_url)
    page.wait_for_url("**/me")
    assert [_choice(page, p) for p in PURPOSES] == [True, True, True]
    session.screenshot(f"private-page-{lang}")

    # Change a consent: no longer shown publicly.
    session.click("form[action$='/me/consent']:has(input[value=public_name]) button")
    page.wait_for_url("**/me")
    assert t("Your choice is saved. It applies everywhere from now on.") in page.locator(
        ".flashes").inner_text()
    assert [_choice(page, p) for p in PURPOSES] == [False, True, True]

    # Download what is stored.
    with page.expect_download() as download_info:
        page.locator("a[href$='/me/data.json']").click()
    download = download_info.value
    assert download.suggested_filename == "my-signature.json"
    data = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert data["signature"]["name"] == name and data["signature"]["email"] == email
    assert data["signature"]["language"] == lang
    assert data["consent"] == {"public_name": False, "share_with_reps": True, "contact": True}

    # Withdraw, then erase everything.
    session.click("form[action$='/me/withdraw'] button")
    page.wait_for_url("**/me")
    facts = page.locator("dl.facts").inner_text()
    assert name not in facts and email not in facts
    assert page.locator("form[action$='/me/consent']").count() == 0
    session.click("form[action$='/me/erase'] button")
    assert page.locator("h1").inner_text() == t("Everything is erased")
    response = session.goto("/me")
    assert response.status == 403
    assert page.locator("h1").inner_text() == t("Please open your private link again")

    # The erased signature is gone from the database, row and all.
    from campaign.models import Signature

    with live_server.app.app_context():
        assert db.session.execute(select(Signature.id).where(
            Signature.public_id == data["signature"]["id"])).first() is None
    session.assert_clean()


STATEMENT_TEXT = {
    "fr": "Je refuse que mon travail serve à traquer des personnes (témoignage FR).",
    "en": "I refuse to let my work be used to hunt people down (statement EN).",
}


def _submit_statement(session, lang, text, publication="public_anonymous"):
    page = session.page
    session.goto(f"/c/{CAMPAIGN}")
    session.click(f"main a[href$='/c/{CAMPAIGN}/statements/new']")
    page.fill("#text", text)
    page.select_option("#language", lang)
    page.locator(f"input[name=publication][value={publication}]").check()
    session.click("form[action$='/statements/new'] button[type=submit]")
    return page.locator("main a.break").get_attribute("href")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_employee_submits_a_statement(browse, live_server, lang):
    t = partial(live_server.gettext, lang)
    session = browse(OTHER_LOCALE[lang])
    page = session.page
    session.goto(f"/c/{CAMPAIGN}")
    session.switch_language(lang)
    session.click(f"main a[href$='/c/{CAMPAIGN}/statements/new']")
    assert page.locator("h1").inner_text() == t("Write a statement")
    session.screenshot(f"statement-form-{lang}")
    link = _submit_statement(session, lang, STATEMENT_TEXT[lang])
    assert page.locator("h1").inner_text() == t("Thank you")
    assert link.startswith(live_server.origin + "/s/")
    page.goto(link)
    page.wait_for_url("**/my-statement")
    assert page.locator("h1").inner_text() == t("Your statement")
    assert STATEMENT_TEXT[lang] in page.locator("main blockquote").first.inner_text()
    session.screenshot(f"statement-private-page-{lang}")
    session.assert_clean()


def test_rep_moderates_writes_a_note_and_logs_an_action(browse, live_server, sign_in):
    t = partial(live_server.gettext, "en")
    text = "Our team was never asked before the contract was signed (to moderate)."
    author = browse("en-GB")
    _submit_statement(author, "en", text)

    session = browse("fr-FR")
    page = sign_in(session, "journey_rep")
    session.switch_language("en")
    assert page.locator("h1").inner_text() == t("My campaigns")
    session.screenshot("staff-home-en")
    session.click(page.locator(f"main a[href$='/staff/campaigns/{CAMPAIGN}']").first)
    session.click(page.locator(f"main a[href$='/staff/campaigns/{CAMPAIGN}/statements']").first)
    session.screenshot("staff-moderation-queue-en")
    card = page.locator("ul.cards li.card", has_text=text)
    session.click(card.locator("a"))
    assert text in page.locator("main blockquote").first.inner_text()
    redacted = text.replace(" (to moderate)", "")
    page.fill("#redacted_text", redacted)
    session.click("form[action$='/publish'] button[type=submit]")
    assert t("Published text") in page.locator("main").inner_text()
    session.screenshot("staff-statement-en")

    # The public sees the redacted text, not the original.
    public = browse("en-GB")
    public.goto(f"/c/{CAMPAIGN}/statements")
    published = public.page.locator("main").inner_text()
    assert redacted in published and "(to moderate)" not in published

    # A meeting note.
    session.goto(f"/staff/campaigns/{CAMPAIGN}/notes")
    session.click(f"main a[href$='/staff/campaigns/{CAMPAIGN}/notes/new']")
    page.fill("#title", "Works council, browser test")
    page.fill("#held_on", "2026-01-15")
    page.select_option("#kind", index=0)
    page.select_option("#visibility", index=0)
    page.fill("#attendees", "Two reps")
    page.fill("#body", "We **asked** for the contract to end.")
    session.click("main form button[type=submit]")
    assert page.locator("h1").inner_text() == "Works council, browser test"
    assert page.locator("main strong", has_text="asked").count() == 1, "Markdown is rendered"
    session.screenshot("staff-note-en")

    # An action.
    session.goto(f"/staff/campaigns/{CAMPAIGN}/actions")
    session.click(f"main a[href$='/staff/campaigns/{CAMPAIGN}/actions/new']")
    page.select_option("#kind", index=0)
    page.fill("#happens_on", "2026-02-01")
    page.fill("#title_fr", "Rassemblement devant le siège")
    page.fill("#title_en", "Rally at headquarters")
    page.fill("#participant_count", "40")
    page.select_option("#visibility", "public")
    session.click("main form button[type=submit]")
    assert "Rally at headquarters" in page.locator("main").inner_text()
    session.screenshot("staff-actions-en")
    for each in (author, session, public):
        each.assert_clean()


def test_organizer_opens_the_dashboard_and_downloads_an_export(browse, live_server, sign_in):
    t = partial(live_server.gettext, "fr")
    session = browse("en-GB")
    page = sign_in(session, "journey_organizer")
    session.switch_language("fr")
    session.click(page.locator(f"main a[href$='/staff/campaigns/{CAMPAIGN}']").first)
    session.click(page.locator(f"main a[href$='/staff/campaigns/{CAMPAIGN}/petitions/']").first)
    session.click(page.locator(f"main a[href$='/petitions/{PETITION_EMAIL}']").first)
    session.click(page.locator(f"main a[href*='/petitions/{PETITION_EMAIL}/tallies/']").first)
    assert page.locator("h1").inner_text() == t("Tallies")
    session.click("form[action$='/tallies/releases'] button")
    session.screenshot("staff-tally-dashboard-fr")
    page.select_option("#format", "csv")
    page.select_option("#language", "fr")
    with page.expect_download() as download_info:
        page.locator("form[action$='/tallies/export'] button[type=submit]").click()
    download = download_info.value
    assert re.fullmatch(rf"tally-{CAMPAIGN}-{PETITION_EMAIL}-\d{{4}}-\d\d-\d\d\.csv",
                        download.suggested_filename)
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    # The file names the audit event that recorded this export, by this organizer.
    prefix = "# " + t("Audit event: %(id)s", id="")
    assert rows[0][0].startswith(prefix)
    from campaign.models import AuditEvent, User

    with live_server.app.app_context():
        event = db.session.execute(select(AuditEvent.action, User.email).join(
            User, User.id == AuditEvent.actor_id).where(
            AuditEvent.public_id == rows[0][0][len(prefix):])).one()
    assert tuple(event) == ("tally_exported", STAFF["journey_organizer"][0])
    # Headers in French; figures and suppressed cells, no identity of anyone.
    header = next(r for r in rows if r and r[0] == t("Site"))
    assert header[:3] == [t("Site"), t("Department"), t("Signatures")]
    totals = next(r for r in rows if r[:2] == [t("All sites"), t("All departments")])
    assert int(totals[2]) >= 410 and int(totals[2]) % 5 == 0, "rounded to multiples of 5"
    text = "\n".join(",".join(r) for r in rows)
    assert "@" not in text, "no e-mail address in an export"
    session.assert_clean()


def test_the_recorder_sees_a_foreign_request_and_a_csp_refusal(browse, live_server):
    """The harness itself: what `assert_clean` looks for is really recorded."""
    session = browse("en-GB")
    session.goto(f"/c/{CAMPAIGN}")
    assert session.foreign_requests() == [] and session.csp_messages() == []
    # An inline script and an image from elsewhere: the CSP refuses both.
    session.page.evaluate("""() => {
      const script = document.createElement('script');
      script.textContent = 'window.inlineRan = true;';
      document.body.append(script);
      const image = document.createElement('img');
      image.src = 'http://127.0.0.2:9/pixel.png';
      document.body.append(image);
    }""")
    assert session.page.evaluate("() => window.inlineRan === undefined")
    for _ in range(50):  # console messages arrive on their own
        refused = session.csp_messages()
        if len(refused) >= 2:
            break
        session.page.wait_for_timeout(100)
    assert any("script-src" in m for m in refused) and any("img-src" in m for m in refused)
    # The refused image is recorded as a request all the same; a navigation is not a CSP
    # matter, and is recorded too.
    try:
        session.page.goto("http://127.0.0.2:9/elsewhere", timeout=5000)
    except Exception:  # noqa: BLE001, S110 - nothing listens there; only the request matters
        pass
    assert session.foreign_requests() == ["http://127.0.0.2:9/pixel.png",
                                          "http://127.0.0.2:9/elsewhere"]
    # Cleared, so that the fixture's own check at the end passes.
    session.requests[:] = [live_server.origin + "/"]
    session.console.clear()
