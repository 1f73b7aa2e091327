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
    page.locator(f"main a[href$='/p/{slug}']").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("h1").inner_text() == PETITION_TITLES[slug][lang]
    return page


def _fill_signature(page, name, email, tick_all):
    page.fill("#name", name)
    page.fill("#email", email)
    page.select_option("#site", index=1)
    page.select_option("#department", index=2)
    boxes = [page.locator(f"#consent_{p}") for p in PURPOSES]
    for box in boxes:
        assert not box.is_checked(), "every consent box starts unchecked"
        if tick_all:
            box.check()
    page.locator("form[action$='/sign'] button[type=submit]").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_new_employee_signs_confirms_and_manages_their_data(browse, live_server, lang):
    t = lambda msgid, **values: live_server.gettext(lang, msgid, **values)  # noqa: E731
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
    _fill_signature(page, name, email, tick_all=False)
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
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == t("Signature confirmed")

    page.goto(private_url)
    page.wait_for_url("**/me")
    assert "/s/" not in page.url, "the token leaves the address bar"
    facts = page.locator("dl.facts").inner_text()
    assert name in facts and email in facts and t("counted") in facts
    assert [_choice(page, p) for p in PURPOSES] == [False, False, False]

    # 2. Every box ticked on the petition counted at once.
    _open_petition(session, lang, PETITION_DIRECT)
    _fill_signature(page, name, email, tick_all=True)
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
    page.locator("form[action$='/me/consent']:has(input[value=public_name]) button").click()
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
    page.locator("form[action$='/me/withdraw'] button").click()
    page.wait_for_url("**/me")
    facts = page.locator("dl.facts").inner_text()
    assert name not in facts and email not in facts
    assert page.locator("form[action$='/me/consent']").count() == 0
    page.locator("form[action$='/me/erase'] button").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == t("Everything is erased")
    response = session.goto("/me")
    assert response.status == 403
    assert page.locator("h1").inner_text() == t("Please open your private link again")

    # The first signature still counts; the erased one is gone from the database.
    from campaign.models import Petition, Signature

    with live_server.app.app_context():
        petition_ids = dict(db.session.execute(select(Petition.slug, Petition.id)).all())
        rows = db.session.execute(select(Signature.petition_id, Signature.confirmed_on).where(
            Signature.locale == lang, Signature.signer_key.is_not(None),
            Signature.petition_id.in_(petition_ids.values()),
            Signature.source == "online", Signature.name_ct.is_not(None))).all()
    assert [r.petition_id for r in rows].count(petition_ids[PETITION_DIRECT]) == 0
    session.assert_clean()


STATEMENT_TEXT = {
    "fr": "Je refuse que mon travail serve à traquer des personnes (témoignage FR).",
    "en": "I refuse to let my work be used to hunt people down (statement EN).",
}


def _submit_statement(session, lang, text, publication="public_anonymous"):
    page = session.page
    session.goto(f"/c/{CAMPAIGN}")
    page.locator(f"main a[href$='/c/{CAMPAIGN}/statements/new']").click()
    page.wait_for_load_state()
    page.fill("#text", text)
    page.select_option("#language", lang)
    page.locator(f"input[name=publication][value={publication}]").check()
    page.locator("form[action$='/statements/new'] button[type=submit]").click()
    page.wait_for_load_state()
    return page.locator("main a.break").get_attribute("href")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_employee_submits_a_statement(browse, live_server, lang):
    t = lambda msgid, **values: live_server.gettext(lang, msgid, **values)  # noqa: E731
    session = browse(OTHER_LOCALE[lang])
    page = session.page
    session.goto(f"/c/{CAMPAIGN}")
    session.switch_language(lang)
    page.locator(f"main a[href$='/c/{CAMPAIGN}/statements/new']").click()
    page.wait_for_load_state()
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
    t = lambda msgid, **values: live_server.gettext("en", msgid, **values)  # noqa: E731
    text = "Our team was never asked before the contract was signed (to moderate)."
    author = browse("en-GB")
    _submit_statement(author, "en", text)

    session = browse("fr-FR")
    page = sign_in(session, "journey_rep")
    session.switch_language("en")
    assert page.locator("h1").inner_text() == t("My campaigns")
    session.screenshot("staff-home-en")
    page.locator(f"main a[href$='/staff/campaigns/{CAMPAIGN}']").first.click()
    page.wait_for_load_state()
    page.locator(f"main a[href$='/staff/campaigns/{CAMPAIGN}/statements']").first.click()
    page.wait_for_load_state()
    session.screenshot("staff-moderation-queue-en")
    card = page.locator("ul.cards li.card", has_text=text)
    card.locator("a").click()
    page.wait_for_load_state()
    assert text in page.locator("main blockquote").first.inner_text()
    redacted = text.replace(" (to moderate)", "")
    page.fill("#redacted_text", redacted)
    page.locator("form[action$='/publish'] button[type=submit]").click()
    page.wait_for_load_state()
    assert t("Published text") in page.locator("main").inner_text()
    session.screenshot("staff-statement-en")

    # The public sees the redacted text, not the original.
    public = browse("en-GB")
    public.goto(f"/c/{CAMPAIGN}/statements")
    published = public.page.locator("main").inner_text()
    assert redacted in published and "(to moderate)" not in published

    # A meeting note.
    session.goto(f"/staff/campaigns/{CAMPAIGN}/notes")
    page.locator(f"main a[href$='/staff/campaigns/{CAMPAIGN}/notes/new']").click()
    page.wait_for_load_state()
    page.fill("#title", "Works council, browser test")
    page.fill("#held_on", "2026-01-15")
    page.select_option("#kind", index=0)
    page.select_option("#visibility", index=0)
    page.fill("#attendees", "Two reps")
    page.fill("#body", "We **asked** for the contract to end.")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Works council, browser test"
    assert page.locator("main strong", has_text="asked").count() == 1, "Markdown is rendered"
    session.screenshot("staff-note-en")

    # An action.
    session.goto(f"/staff/campaigns/{CAMPAIGN}/actions")
    page.locator(f"main a[href$='/staff/campaigns/{CAMPAIGN}/actions/new']").click()
    page.wait_for_load_state()
    page.select_option("#kind", index=0)
    page.fill("#happens_on", "2026-02-01")
    page.fill("#title_fr", "Rassemblement devant le siège")
    page.fill("#title_en", "Rally at headquarters")
    page.fill("#participant_count", "40")
    page.select_option("#visibility", "public")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert "Rally at headquarters" in page.locator("main").inner_text()
    session.screenshot("staff-actions-en")
    for each in (author, session, public):
        each.assert_clean()


def test_organizer_opens_the_dashboard_and_downloads_an_export(browse, live_server, sign_in):
    t = lambda msgid, **values: live_server.gettext("fr", msgid, **values)  # noqa: E731
    session = browse("en-GB")
    page = sign_in(session, "journey_organizer")
    session.switch_language("fr")
    page.locator(f"main a[href$='/staff/campaigns/{CAMPAIGN}']").first.click()
    page.wait_for_load_state()
    page.locator(f"main a[href$='/staff/campaigns/{CAMPAIGN}/petitions/']").first.click()
    page.wait_for_load_state()
    page.locator(f"main a[href$='/petitions/{PETITION_EMAIL}']").first.click()
    page.wait_for_load_state()
    page.locator(f"main a[href*='/petitions/{PETITION_EMAIL}/tallies/']").first.click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == t("Tallies")
    page.locator("form[action$='/tallies/releases'] button").click()
    page.wait_for_load_state()
    session.screenshot("staff-tally-dashboard-fr")
    page.select_option("#format", "csv")
    with page.expect_download() as download_info:
        page.locator("form[action$='/tallies/export'] button[type=submit]").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    content = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(content), delimiter=";" if content.count(";") > content.count(",") else ","))
    assert len(rows) > 2
    flat = "\n".join(",".join(r) for r in rows)
    assert "@" not in flat, "no e-mail address in an export"
    for email, _admin, _role in STAFF.values():
        assert email not in flat
    session.assert_clean()
