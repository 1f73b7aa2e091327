"""Least exposure, end to end: what a signer or author who ticked nothing leaves visible anywhere.

DESIGN.md §2.1 and §4: a signature made with the default choices is counted and nothing more; its
name and e-mail address are shown to nobody (not the public, not a rep, not an organizer, not an
admin), and withdrawal takes the name off at once while the public count moves only with the
next batch refresh (§2a "Counts do not betray timing").

The first test does not trust a list of pages: it signs in as each staff role, walks every page
reachable by GET from that role's home and the admin pages (following every same-origin link),
downloads every export format, and scans every body and header for the secrets in every form
they could be written in (raw, HTML-escaped, URL-encoded, JSON-escaped). The same crawl must find
the names of people who DID consent on the pages where they belong, which proves the crawl
reaches those pages and that the scanner would see a leak.
"""

import html
import json
import re
from collections import deque
from datetime import timedelta
from urllib.parse import quote, quote_plus, urljoin, urlsplit, urlunsplit

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Petition, PetitionSnapshot, Signature, Statement, TallyRelease
from campaign.services import petitions as petition_service
from campaign.services.campaigns import get_by_slug
from tests.conftest import csrf_token, login

SLUG, PETITION = "acme", "end-it"
PUBLIC_PETITION = f"/c/{SLUG}/p/{PETITION}"
STAFF_PETITION = f"/staff/campaigns/{SLUG}/petitions/{PETITION}"
DASHBOARD = f"{STAFF_PETITION}/tallies/"
PRIVATE_LINK_RE = re.compile(r'href="http://localhost(/s/[A-Za-z0-9_-]{43})"')
COUNT_RE = re.compile(r'<p class="count"><strong>([^<]*)</strong>')

#: who must stay invisible: (label, [secrets]); every name has an apostrophe, so that its
#: HTML-escaped form differs from the raw one and the scanner has to look for both
DEFAULT_SIGNER = ("online signer, default choices",
                  ["Zelda O'Quokka-Default", "Quokka-Default", "zelda.quokka@personal.example",
                   "zelda.quokka"])
DEFAULT_PAPER = ("paper signer, no box ticked",
                 ["Pablo D'Paperwhite", "Paperwhite", "pablo.paperwhite@personal.example",
                  "pablo.paperwhite"])
DEFAULT_AUTHOR = ("statement author, reps only and no sharing",
                  ["Agathe L'Autrice-Égarée", "Autrice-Égarée", "agathe.muette@personal.example",
                   "agathe.muette"])
#: nobody below ticks `contact`: no one's e-mail address may show to anyone, consenting or not
OTHER_EMAILS = ("e-mail addresses of the people who consented to something else",
                ["sharon.sharewell@personal.example", "publius.publicus@personal.example",
                 "paloma.papersharer@personal.example", "stella.sharer@personal.example",
                 "sharon.sharewell", "publius.publicus", "paloma.papersharer", "stella.sharer"])
HIDDEN = (DEFAULT_SIGNER, DEFAULT_PAPER, DEFAULT_AUTHOR, OTHER_EMAILS)

#: people who consented: the crawl must find each where it belongs (the crawl's self-test)
SHARING_SIGNER = "Sharon O'Sharewell"       # share_with_reps: the rep's list of signers
PUBLIC_SIGNER = "Publius D'Publicus"        # public_name: the public petition page
SHARING_PAPER = "Paloma O'Papersharer"      # paper, share_with_reps ticked: the rep's list
SHARING_AUTHOR = "Stella D'Sharingauthor"   # statement, share_with_reps: the rep's moderation page

MAX_PAGES = 300
SKIPPED_PREFIXES = ("/s/", "/language/", "/logout", "/static/", "/me/", "/my-statement/")


# --- the scanner and the crawler ------------------------------------------------------------------

def written_forms(secret):
    """Every way a page, a file or an address could carry `secret` (lower-cased)."""
    forms = {
        secret,
        html.escape(secret),                      # ' -> &#x27;
        html.escape(secret, quote=False),
        secret.replace("'", "&#39;"),             # Jinja / MarkupSafe
        secret.replace("'", "&apos;"),
        quote(secret), quote(secret, safe=""), quote_plus(secret),
    }
    for encoded in (json.dumps(secret)[1:-1],     # ASCII JSON (\u00e9...)
                    json.dumps(secret, ensure_ascii=False)[1:-1]):
        forms.add(encoded)
        for char in "'<>&":  # HTML-safe JSON (Jinja's |tojson): ' written as \u0027...
            encoded = encoded.replace(char, "\\u%04x" % ord(char))
        forms.add(encoded)
    return {form.lower() for form in forms}


def leaks(pages, secrets):
    """[(url, secret)] for every page whose body or headers hold a secret in any written form."""
    found = []
    for url, page in pages.items():
        haystack = page["text"].lower()
        for secret in secrets:
            if any(form in haystack for form in written_forms(secret)):
                found.append((url, secret))
    return found


def _text_of(response):
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return response.get_data().decode("utf-8", errors="replace") + "\n" + headers


LINK_RE = re.compile(r'''(?:href|src)\s*=\s*["']([^"']+)["']''', re.I)
GET_FORM_RE = re.compile(r'''<form\b[^>]*\bmethod\s*=\s*["']get["'][^>]*>''', re.I)
ACTION_RE = re.compile(r'''\baction\s*=\s*["']([^"']+)["']''', re.I)


def _links_in(body):
    links = [html.unescape(m) for m in LINK_RE.findall(body)]
    for form in GET_FORM_RE.findall(body):
        action = ACTION_RE.search(form)
        if action:
            links.append(html.unescape(action.group(1)))
    return links


def _normalized(base, link):
    """A same-origin path?query for `link` seen on `base`, or None when it is not to be followed."""
    if link.startswith(("mailto:", "tel:", "javascript:", "data:", "#")):
        return None
    parts = urlsplit(urljoin("http://localhost" + base, link))
    if parts.scheme not in ("http", "https") or parts.netloc != "localhost":
        return None
    path = parts.path or "/"
    if path.startswith(SKIPPED_PREFIXES) or path in ("/me", "/my-statement"):
        return None
    return urlunsplit(("", "", path, parts.query, ""))


def crawl(client, seeds, *, languages=("en", "fr")):
    """GET every page reachable from `seeds` through same-origin links, in each language (by
    Accept-Language). Returns {"<lang> <url>": {"status", "text"}}. Fails if the bound is hit:
    a crawl cut short would prove nothing."""
    pages = {}
    for lang in languages:
        queue = deque(seeds)
        seen = set(seeds)
        while queue:
            url = queue.popleft()
            assert len(seen) <= MAX_PAGES, f"crawl bound hit ({MAX_PAGES} pages)"
            response = client.get(url, headers={"Accept-Language": lang})
            pages[f"{lang} {url}"] = {"status": response.status_code, "text": _text_of(response)}
            targets = []
            if response.status_code in (301, 302, 303, 307, 308):
                targets.append(response.headers["Location"])
            elif response.status_code == 200 and response.mimetype == "text/html":
                targets.extend(_links_in(response.get_data(as_text=True)))
            for target in targets:
                found = _normalized(url, target)
                if found is not None and found not in seen:
                    seen.add(found)
                    queue.append(found)
    return pages


def reached(pages, path, status=200):
    """Whether the crawl GOT `path` (any query, any language) with this status."""
    return any(key.split(" ", 1)[1].split("?")[0] == path and page["status"] == status
               for key, page in pages.items())


# --- the world ------------------------------------------------------------------------------------

def make_petition(app, refresh_minutes):
    with app.app_context():
        petition_service.create_petition(
            get_by_slug(SLUG), PETITION, actor=None, title_fr="Arrêtez", title_en="Stop it",
            text_fr="Texte", text_en="Text", status="open", goal=100,
            refresh_minutes=refresh_minutes)
        db.session.commit()


def sign(client, name, email, consents=(), lang="en"):
    """Sign through the public form; `consents` lists the boxes ticked (none by default)."""
    page = client.get(PUBLIC_PETITION, headers={"Accept-Language": lang})
    data = {"csrf_token": csrf_token(page.text), "name": name, "email": email, "site": "",
            "department": "", "version_public_name": "1", "version_share_with_reps": "1",
            "version_contact": "1"}
    data.update({f"consent_{purpose}": "y" for purpose in consents})
    response = client.post(f"{PUBLIC_PETITION}/sign", data=data,
                           headers={"Accept-Language": lang})
    assert response.status_code == 200, response.text
    return PRIVATE_LINK_RE.search(response.text).group(1)


def submit_statement(client, name, email, text, share=False):
    """Submit a statement with the form's default publication choice (reps only)."""
    page = client.get(f"/c/{SLUG}/statements/new", headers={"Accept-Language": "en"})
    default = next((re.search(r'value="([^"]+)"', tag) for tag in
                    re.findall(r'<input\b[^>]*>', page.text)
                    if 'name="publication"' in tag and re.search(r'\bchecked\b', tag)), None)
    assert default, "the statement form has no default publication choice"
    data = {"csrf_token": csrf_token(page.text), "text": text, "language": "en", "name": name,
            "email": email, "publication": default.group(1), "site": "", "department": "",
            "version_publish": "1", "version_publish_named": "1",
            "version_share_with_reps": "1"}
    if share:
        data["consent_share_with_reps"] = "y"
    response = client.post(f"/c/{SLUG}/statements/new", data=data,
                           headers={"Accept-Language": "en"})
    assert response.status_code == 200, response.text
    return default.group(1)


def enter_paper(client, name, email, share=False):
    page = client.get(f"{STAFF_PETITION}/paper")
    data = {"csrf_token": csrf_token(page.text), "name": name, "email": email, "site": "",
            "department": "", "version": "1", "batch_label": "AG Lyon"}
    if share:
        data["consent_share_with_reps"] = "y"
    response = client.post(f"{STAFF_PETITION}/paper", data=data)
    assert response.status_code == 302, response.text


def staff_client(app, email):
    client = app.test_client()
    response = login(client, email)
    assert response.status_code == 302, "sign-in failed"
    return client


def exports(client, release_id, by):
    """POST every export format the dashboard offers; {label: {"status", "text"}}."""
    token = csrf_token(client.get("/staff/").text)
    files = {}
    for label, options in (("csv", {"format": "csv", "language": "en"}),
                           ("french csv", {"format": "csv", "language": "fr", "french_csv": "y"}),
                           ("json", {"format": "json", "language": "en"})):
        response = client.post(DASHBOARD + "export", data={
            "csrf_token": token, "release": release_id, "by": by, "period": "week", **options})
        files[f"export {label}"] = {"status": response.status_code, "text": _text_of(response)}
    return files


@pytest.fixture
def world(app, make_campaign, make_user):
    make_campaign(SLUG)
    make_campaign("other")
    make_petition(app, refresh_minutes=0)
    make_user("rep@example.org", roles=[(SLUG, "rep")])
    make_user("org@example.org", roles=[(SLUG, "organizer")])
    make_user("admin@example.org", is_admin=True)
    return app


# --- 1. nothing shows a default signature's identity ----------------------------------------------

def test_a_default_signature_is_counted_and_its_name_appears_nowhere(world):
    """A signer, a paper signer and a statement author who ticked nothing are counted (the
    signatures) and their names and e-mail addresses (and the addresses' local parts) appear in
    no page reachable by GET for the public, the campaign's rep, its organizer or an admin, in
    neither language, nor in any tally export (CSV, French CSV, JSON) nor the audit log. Nor do
    the e-mail addresses of those who consented to other things but not to `contact`.

    Self-test: people who DID consent are found by the same crawl and scanner on the very pages
    where they belong (the rep's list of signers, the rep's moderation page, the public petition
    page), and those names are written HTML-escaped there, so a leak would be caught in that form
    too; the pages where a default identity would show if leaked were all reached."""
    app = world
    public = app.test_client()
    sign(public, DEFAULT_SIGNER[1][0], DEFAULT_SIGNER[1][2])
    sign(public, SHARING_SIGNER, "sharon.sharewell@personal.example", consents=["share_with_reps"])
    sign(public, PUBLIC_SIGNER, "publius.publicus@personal.example", consents=["public_name"])
    choice = submit_statement(public, DEFAULT_AUTHOR[1][0], DEFAULT_AUTHOR[1][2],
                              "The contract helps nobody here.")
    assert choice == "reps_only"  # the default is the least exposure
    submit_statement(public, SHARING_AUTHOR, "stella.sharer@personal.example",
                     "I object to this contract.", share=True)

    rep = staff_client(app, "rep@example.org")
    enter_paper(rep, DEFAULT_PAPER[1][0], DEFAULT_PAPER[1][2])
    enter_paper(rep, SHARING_PAPER, "paloma.papersharer@personal.example", share=True)

    with app.app_context():
        counted = db.session.execute(select(Signature).where(Signature.is_shadow.is_(False))
                                     ).scalars().all()
        assert len(counted) == 5 and all(s.is_counted for s in counted)
        default_statement = db.session.execute(
            select(Statement.public_id).order_by(Statement.id).limit(1)).scalar_one()

    organizer = staff_client(app, "org@example.org")
    admin = staff_client(app, "admin@example.org")

    # a tally release, taken and published by the organizer, so that exports and the public
    # summary exist
    token = csrf_token(organizer.get(DASHBOARD).text)
    assert organizer.post(DASHBOARD + "releases", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        release = db.session.execute(select(TallyRelease)).scalar_one()
        assert not release.is_deferred, release.defer_reason
        release_id, by = release.public_id, release.dimensions
    token = csrf_token(organizer.get(DASHBOARD).text)
    assert organizer.post(f"{DASHBOARD}releases/{release_id}/publish",
                          data={"csrf_token": token}).status_code == 302

    public_seeds = ["/", f"/c/{SLUG}", PUBLIC_PETITION, f"/c/{SLUG}/statements",
                    f"/c/{SLUG}/statements/new", f"/c/{SLUG}/actions.ics",
                    f"/c/{SLUG}/actions.ics?lang=fr", f"/c/{SLUG}/actions.ics?lang=en",
                    "/lost-link"]
    staff_seeds = ["/staff/", "/account", "/admin/users", "/admin/consent-texts", "/admin/audit",
                   f"/admin/audit?campaign={SLUG}", "/admin/audit?verify=1"]

    seen = {}
    seen["rep"] = crawl(rep, staff_seeds)
    seen["rep"].update(exports(rep, release_id, by))
    seen["organizer"] = crawl(organizer, staff_seeds)
    seen["organizer"].update(exports(organizer, release_id, by))
    seen["admin"] = crawl(admin, staff_seeds)
    seen["admin"].update(exports(admin, release_id, by))
    # then every address any of them reached, asked by each of the others and by the public
    # (a page not linked for a role must still refuse it, not show it)
    everywhere = sorted({key.split(" ", 1)[1] for pages in seen.values() for key in pages
                         if not key.startswith("export ")} | set(public_seeds))
    for who, client in (("rep", rep), ("organizer", organizer), ("admin", admin),
                        ("public", app.test_client())):
        seen.setdefault(who, {}).update(crawl(client, everywhere))

    # --- the crawl reaches what it must (self-test) ---
    signers_page = f"{STAFF_PETITION}/signers"
    moderation_page = f"/staff/campaigns/{SLUG}/statements/{default_statement}"
    assert reached(seen["rep"], signers_page)
    assert reached(seen["rep"], moderation_page)
    assert reached(seen["rep"], DASHBOARD) and reached(seen["organizer"], DASHBOARD)
    assert reached(seen["rep"], f"{STAFF_PETITION}/paper")
    assert reached(seen["organizer"], "/admin/audit")  # its campaign's log
    assert reached(seen["admin"], "/admin/audit") and reached(seen["admin"], "/admin/users")
    assert reached(seen["public"], PUBLIC_PETITION)
    assert reached(seen["public"], f"/c/{SLUG}/actions.ics")
    for who in ("rep", "organizer"):
        assert all(seen[who][f"export {f}"]["status"] == 200 for f in ("csv", "french csv", "json"))
        assert "# Audit event:" in seen[who]["export csv"]["text"]
    for who in ("organizer", "admin"):  # DESIGN §4: no names for them, refused
        assert reached(seen[who], signers_page, status=403)

    def hits(pages, name):
        return {key.split(" ", 1)[1].split("?")[0] for key, _secret in leaks(pages, [name])}

    assert signers_page in hits(seen["rep"], SHARING_SIGNER)
    assert signers_page in hits(seen["rep"], SHARING_PAPER)
    assert any(path.startswith(f"/staff/campaigns/{SLUG}/statements/")
               for path in hits(seen["rep"], SHARING_AUTHOR))
    assert PUBLIC_PETITION in hits(seen["public"], PUBLIC_SIGNER)
    rep_signers = next(p["text"] for k, p in seen["rep"].items() if k.endswith(signers_page))
    assert SHARING_SIGNER not in rep_signers  # shown escaped only: the escaped forms matter
    # and the consents are honoured the other way round too
    assert hits(seen["public"], SHARING_SIGNER) == set()
    assert hits(seen["organizer"], PUBLIC_SIGNER) - {PUBLIC_PETITION} == set()

    # --- nobody sees a default identity anywhere ---
    for who, pages in seen.items():
        for label, secrets in HIDDEN:
            found = leaks(pages, secrets)
            assert not found, f"{label}: identity shown to {who} at {found}"


# --- 2. withdrawal: names at once, counts with the next batch -------------------------------------

def public_count(client):
    page = client.get(PUBLIC_PETITION, headers={"Accept-Language": "en"}).text
    match = COUNT_RE.search(page)
    assert match, "no count on the public page"
    return int(re.sub(r"\D", "", match.group(1))), page


def shows(text, name):
    return bool(leaks({"page": {"text": text}}, [name]))


def age_snapshot(app, minutes):
    """Pretend the public figures were taken `minutes` earlier than they were."""
    with app.app_context():
        snapshot = db.session.execute(select(PetitionSnapshot)).scalar_one()
        snapshot.taken_at = snapshot.taken_at - timedelta(minutes=minutes)
        db.session.commit()


def test_withdrawal_reaches_the_public_count_at_the_next_batch_and_names_at_once(
        app, runner, make_campaign, make_user):
    """With a 15-minute refresh, a withdrawal through the private link does not move the public
    count on the next requests (even 14 minutes later: a "-1" would tell who just left) and moves
    it once the batch is due; the withdrawn signer's public name, and the name the rep saw, are
    gone on the very next request (withdrawal wins at once for names)."""
    make_campaign(SLUG)
    make_petition(app, refresh_minutes=15)
    make_user("rep@example.org", roles=[(SLUG, "rep")])
    public = app.test_client()
    leaving_name = "Wanda O'Withdrawer"
    sign(public, "Stan Stayer", "stan.stayer@personal.example", consents=["public_name"])
    sign(public, "Dora Default", "dora.default@personal.example")
    signer = app.test_client()
    link = sign(signer, leaving_name, "wanda.withdrawer@personal.example",
                consents=["public_name", "share_with_reps"])

    # the page showed 0 when the first signer opened it: that batch holds for 15 minutes;
    # the scheduled job (`flask petitions refresh`) takes the first batch with the three
    assert public_count(public)[0] == 0
    result = runner.invoke(args=["petitions", "refresh"])
    assert result.exit_code == 0, result.output
    count, page = public_count(public)
    assert count == 3
    assert shows(page, leaving_name) and shows(page, "Stan Stayer")
    rep = staff_client(app, "rep@example.org")
    assert shows(rep.get(f"{STAFF_PETITION}/signers").text, leaving_name)

    assert signer.get(link).status_code == 302
    me = signer.get("/me")
    assert me.status_code == 200
    assert signer.post("/me/withdraw", data={"csrf_token": csrf_token(me.text)}).status_code == 302

    count, page = public_count(public)
    assert count == 3, "the public count moved before the batch refresh"
    assert not shows(page, leaving_name) and not shows(page, "Withdrawer")
    assert shows(page, "Stan Stayer")
    rep_view = rep.get(f"{STAFF_PETITION}/signers").text
    assert not shows(rep_view, leaving_name) and not shows(rep_view, "Withdrawer")
    staff_view = rep.get(STAFF_PETITION, headers={"Accept-Language": "en"}).text
    assert "3 signatures" in staff_view  # staff see the batched figures too

    age_snapshot(app, 14)
    count, page = public_count(public)
    assert count == 3, "the public count moved before its 15 minutes were up"
    assert not shows(page, leaving_name) and not shows(page, "Withdrawer")

    age_snapshot(app, 2)  # 16 minutes old: the next view takes a new batch
    count, page = public_count(public)
    assert count == 2
    assert not shows(page, leaving_name) and not shows(page, "Withdrawer")
    assert shows(page, "Stan Stayer")
    with app.app_context():
        withdrawn = db.session.execute(
            select(Signature).where(Signature.withdrawn_on.is_not(None))).scalar_one()
        assert withdrawn.name_ct is None  # erased, not merely hidden
        withdrawn_id = withdrawn.public_id
        snapshot = db.session.execute(select(PetitionSnapshot)).scalar_one()
        petition = db.session.execute(select(Petition)).scalar_one()
        assert snapshot.count == 2 and withdrawn_id not in snapshot.public_ids
        assert petition.refresh_minutes == 15
