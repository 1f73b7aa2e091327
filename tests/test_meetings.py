"""Meeting notes: sanitized through the real pages, every edit kept, and only the right eyes."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import AuditEvent, MeetingNote, MeetingNoteRevision
from tests.conftest import csrf_token, staff

NOTES = "/staff/campaigns/acme/notes"

#: what an attacker with a rep account (or a pasted e-mail) might put in a note
PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    '<img src="https://evil.example/pixel.png" onerror="alert(1)">',
    "<img src=x onerror=alert(1)//",
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[ref][x]\n\n[x]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "![tracker](https://evil.example/track.png)",
    '![x](https://evil.example/a.png "title")',
    "[![img](https://evil.example/b.png)](https://ok.example/)",
    '<svg onload="alert(1)"></svg>',
    '<iframe src="https://evil.example/"></iframe>',
    '<div style="background:url(https://evil.example/c.png)">x</div>',
    '<p onclick="alert(1)">hi</p>',
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[vb](vbscript:msgbox(1))",
    '<a href="https://ok.example/" onmouseover="alert(1)">x</a>',
    "<form action=https://evil.example/><button>go</button></form>",
    "<object data=https://evil.example/x.swf></object>",
    "<meta http-equiv=refresh content='0;url=https://evil.example/'>",
    "<<script>script>alert(1)<</script>/script>",
]


FORBIDDEN_TAGS = {"script", "img", "iframe", "svg", "object", "embed", "style", "base", "image",
                  "video", "audio", "source", "math"}


class Elements(HTMLParser):
    """Every element and attribute a browser would build from the page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.attributes = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend((tag, name, value or "") for name, value in attrs)

    handle_startendtag = handle_starttag


def active_content(html):
    """What in this page could run script, load a remote resource or lead to a script URL."""
    parser = Elements()
    parser.feed(html)
    parser.close()
    found = [f"<{t}>" for t in parser.tags if t in FORBIDDEN_TAGS]
    for tag, name, value in parser.attributes:
        if name.startswith("on") or name == "style":
            found.append(f"{tag}@{name}")
        if name in ("href", "src", "action", "formaction", "data", "srcset"):
            target = "".join(value.split()).lower()
            if target.startswith(("javascript:", "vbscript:", "data:")):
                found.append(f"{tag}@{name}={target[:20]}")
            if name != "href" and urlsplit(target).netloc:
                found.append(f"{tag}@{name} remote")
    if parser.tags.count("meta") != 3:  # base.html's charset, viewport, referrer: nothing more
        found.append("extra <meta>")
    if parser.tags.count("link") != 1:  # base.html's own stylesheet
        found.append("extra <link>")
    return found


def note_data(**overrides):
    data = {"title": "Works council of March", "held_on": "2026-03-12", "kind": "works_council",
            "visibility": "reps_only", "attendees": "Sacha\nDominique",
            "body": "We asked for the contract.", "decisions": "", "follow_ups": ""}
    data.update(overrides)
    return data


def write_note(client, **overrides):
    page = client.get(f"{NOTES}/new")
    assert page.status_code == 200
    data = note_data(**overrides)
    data["csrf_token"] = csrf_token(page.text)
    response = client.post(f"{NOTES}/new", data=data)
    assert response.status_code == 302, response.text
    return urlsplit(response.headers["Location"]).path


def edit_note(client, url, **overrides):
    page = client.get(url + "/edit")
    data = note_data(**overrides)
    data["csrf_token"] = csrf_token(page.text)
    return client.post(url + "/edit", data=data)


# --- rendering -------------------------------------------------------------------------------

def test_the_check_catches_what_it_looks_for():
    bad = ('<html><meta charset="utf-8"><meta name="viewport"><meta name="referrer">'
           '<img src="https://evil.example/x.png"><a href="javascript:alert(1)">x</a>'
           '<link rel="stylesheet" href="/static/app.css">'
           '<p onclick="x">y</p><script>1</script></html>')
    found = active_content(bad)
    assert "<img>" in found and "<script>" in found and "p@onclick" in found
    assert any(f.startswith("a@href=javascript:") for f in found)
    fine = '<meta charset="utf-8"><meta name="a"><meta name="b"><link rel="stylesheet"><p>ok</p>'
    assert active_content(fine) == []
    assert active_content(fine + '<link rel="prefetch" href="https://evil.example/">') == [
        "extra <link>"]


def test_no_payload_reaches_the_note_page_active(app, campaign):
    rep = staff(app, "rep@example.org")
    corpus = "\n\n".join(PAYLOADS)
    url = write_note(rep, title="<script>alert('title')</script>", body=corpus,
                     decisions=corpus, follow_ups=corpus,
                     attendees="<img src=https://evil.example/a.png onerror=alert(1)>")
    for path in (url, f"{url}/revisions", f"{url}/revisions/0", NOTES):
        page = rep.get(path)
        assert page.status_code == 200, path
        assert active_content(page.text) == [], path
        assert "<script" not in page.text.lower()
        assert "evil.example" not in "".join(
            value for _t, name, value in _attributes(page.text) if name in ("src", "href"))
    # what was typed stays readable as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rep.get(url).text
    assert 'href="https://ok.example/"' in rep.get(url).text


def test_each_payload_alone_renders_inert(app, campaign):
    rep = staff(app, "rep@example.org")
    url = write_note(rep)
    for number, payload in enumerate(PAYLOADS, start=1):
        assert edit_note(rep, url, body=payload).status_code == 302
        for path in (url, f"{url}/revisions/{number}", f"{url}/revisions/{number}/diff"):
            page = rep.get(path)
            assert page.status_code == 200
            assert active_content(page.text) == [], (payload, path)


def _attributes(html):
    parser = Elements()
    parser.feed(html)
    return parser.attributes


def test_markdown_renders(app, campaign):
    rep = staff(app, "rep@example.org")
    url = write_note(rep, body="# Agenda\n\n- **contract** ended\n- [source](https://ok.example/)",
                     decisions="1. Strike on the 5th")
    page = rep.get(url).text
    assert "<h2>Agenda</h2>" in page
    assert "<strong>contract</strong>" in page
    assert '<a href="https://ok.example/" rel="noopener noreferrer nofollow">source</a>' in page
    assert "<li>Strike on the 5th</li>" in page


# --- revisions -------------------------------------------------------------------------------

def test_three_edits_leave_three_revisions_a_rep_can_open(app, campaign):
    rep = staff(app, "rep@example.org")
    url = write_note(rep, body="first body")
    for n, body in enumerate(("second body", "third body", "fourth body"), start=1):
        assert edit_note(rep, url, body=body, title=f"Title {n}").status_code == 302
    with app.app_context():
        numbers = db.session.execute(
            select(MeetingNoteRevision.number).order_by(MeetingNoteRevision.number)
        ).scalars().all()
        assert numbers == [0, 1, 2, 3]  # the original and three edits
        note = db.session.execute(select(MeetingNote)).scalar_one()
        assert note.body == "fourth body" and note.title == "Title 3"
    listing = rep.get(f"{url}/revisions")
    assert listing.status_code == 200
    assert "Edit 3" in listing.text and "Edit 1" in listing.text and "Original" in listing.text
    for number, body in enumerate(("first body", "second body", "third body", "fourth body")):
        page = rep.get(f"{url}/revisions/{number}")
        assert page.status_code == 200
        assert body in page.text
    diff = rep.get(f"{url}/revisions/2/diff")
    assert diff.status_code == 200
    assert "<del>− second body</del>" in diff.text and "<ins>+ third body</ins>" in diff.text
    assert "<del>− Title 1</del>" in diff.text
    assert rep.get(f"{url}/revisions/4").status_code == 404


def test_an_edit_that_changes_nothing_keeps_no_revision(app, campaign):
    rep = staff(app, "rep@example.org")
    url = write_note(rep)
    assert edit_note(rep, url).status_code == 302
    with app.app_context():
        assert db.session.execute(select(func.count(MeetingNoteRevision.id))).scalar_one() == 1


def test_the_diff_escapes_what_it_shows(app, campaign):
    rep = staff(app, "rep@example.org")
    url = write_note(rep, body="safe")
    edit_note(rep, url, body="<script>alert(1)</script>")
    page = rep.get(f"{url}/revisions/1/diff").text
    assert "<ins>+ &lt;script&gt;alert(1)&lt;/script&gt;</ins>" in page
    assert active_content(page) == []


def test_note_writing_and_editing_is_audited(app, campaign):
    rep = staff(app, "rep@example.org")
    url = write_note(rep)
    edit_note(rep, url, body="changed", kind="negotiation")
    with app.app_context():
        events = db.session.execute(select(AuditEvent).where(
            AuditEvent.target_type == "meeting_notes").order_by(AuditEvent.id)).scalars().all()
        assert [(e.action, e.details) for e in events] == [
            ("meeting_note_created", {"kind": "works_council", "version": 0}),
            ("meeting_note_edited", {"version": 1, "fields": ["kind", "body"]}),
        ]


# --- who sees what ---------------------------------------------------------------------------

def test_organizer_cannot_open_a_reps_only_note(app, campaign):
    rep = staff(app, "rep@example.org")
    secret = write_note(rep, title="CANARY reps only note", visibility="reps_only")
    shared = write_note(rep, title="Shared note", visibility="reps_and_organizers")
    organizer = staff(app, "org@example.org")
    for path in (secret, f"{secret}/edit", f"{secret}/revisions", f"{secret}/revisions/0",
                 f"{secret}/revisions/0/diff"):
        response = organizer.get(path)
        assert response.status_code == 404, path
        assert "CANARY" not in response.text
    listing = organizer.get(NOTES)
    assert listing.status_code == 200
    assert "Shared note" in listing.text and "CANARY" not in listing.text
    assert organizer.get(shared).status_code == 200
    # organizers read shared notes; writing and the history are the reps'
    assert organizer.get(f"{shared}/edit").status_code == 403
    assert organizer.get(f"{shared}/revisions").status_code == 403
    assert organizer.get(f"{NOTES}/new").status_code == 403


@pytest.mark.parametrize("who,status", [("otherrep@example.org", 404), ("admin@example.org", 403)])
def test_outsiders_cannot_open_any_note(app, campaign, who, status):
    rep = staff(app, "rep@example.org")
    urls = [write_note(rep, title="CANARY note one", visibility="reps_only"),
            write_note(rep, title="CANARY note two", visibility="reps_and_organizers")]
    viewer = staff(app, who)
    assert viewer.get(NOTES).status_code == status
    for url in urls:
        for path in (url, f"{url}/edit", f"{url}/revisions", f"{url}/revisions/0",
                     f"{url}/revisions/0/diff"):
            response = viewer.get(path)
            assert response.status_code == (404 if who.startswith("other") else status), path
            assert "CANARY" not in response.text
        page = viewer.get("/staff/")
        response = viewer.post(url + "/edit", data=dict(note_data(title="hijacked"),
                                                        csrf_token=csrf_token(page.text)))
        assert response.status_code in (403, 404)
    with app.app_context():
        assert "hijacked" not in db.session.execute(select(MeetingNote.title)).scalars().all()


def test_notes_are_filtered_by_date_and_kind(app, campaign):
    rep = staff(app, "rep@example.org")
    write_note(rep, title="January council", held_on="2026-01-10", kind="works_council")
    write_note(rep, title="February talks", held_on="2026-02-10", kind="negotiation")
    write_note(rep, title="March assembly", held_on="2026-03-10", kind="general_assembly")
    page = rep.get(f"{NOTES}?date_from=2026-02-01&date_to=2026-03-31").text
    assert "February talks" in page and "March assembly" in page
    assert "January council" not in page
    page = rep.get(f"{NOTES}?kind=negotiation").text
    assert "February talks" in page and "March assembly" not in page
    page = rep.get(NOTES).text
    assert page.index("March assembly") < page.index("February talks") < page.index(
        "January council")
    assert rep.get(f"{NOTES}?date_from=not-a-date").status_code == 400


def test_a_note_needs_a_title_and_a_date(app, campaign):
    rep = staff(app, "rep@example.org")
    page = rep.get(f"{NOTES}/new")
    response = rep.post(f"{NOTES}/new", data=dict(note_data(title="", held_on=""),
                                                  csrf_token=csrf_token(page.text)))
    assert response.status_code == 400
    with app.app_context():
        assert db.session.execute(select(func.count(MeetingNote.id))).scalar_one() == 0
