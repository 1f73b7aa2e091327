"""The action log: staff log actions, the public sees the public ones, calendars subscribe."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import Action, AuditEvent
from campaign.models.base import utcnow
from campaign.services import actions as service
from campaign.services.campaigns import get_by_slug
from tests.conftest import csrf_token, staff

ACTIONS = "/staff/campaigns/acme/actions"
FEED = "/c/acme/actions.ics"


def log(client, **overrides):
    page = client.get(f"{ACTIONS}/new")
    data = {"kind": "rally", "happens_on": (utcnow().date() + timedelta(days=3)).isoformat(),
            "title_fr": "Rassemblement", "title_en": "Rally", "description_fr": "",
            "description_en": "", "participant_count": "", "visibility": "public",
            "csrf_token": csrf_token(page.text)}
    data.update(overrides)
    return client.post(f"{ACTIONS}/new", data=data)


def add(app, slug="acme", days=3, visibility="public", **values):
    with app.app_context():
        values.setdefault("title_en", f"Action in {days} days")
        action = service.create_action(
            get_by_slug(slug), actor=None, kind=values.pop("kind", "rally"),
            happens_on=utcnow().date() + timedelta(days=days), visibility=visibility, **values)
        db.session.commit()
        return action.public_id


# --- a small, strict RFC 5545 reader, independent of the writer ---------------------------------

def unfold(body):
    """Content lines of an iCalendar body; asserts CRLF endings and 75-octet lines."""
    assert body.endswith("\r\n")
    physical = body[:-2].split("\r\n")
    for line in physical:
        assert "\n" not in line and "\r" not in line, repr(line)
        assert len(line.encode("utf-8")) <= 75, repr(line)
    lines = []
    for line in physical:
        if line.startswith((" ", "\t")):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    return lines


def parse(body):
    """[(name, params, value)] with TEXT values unescaped."""
    parsed = []
    for line in unfold(body):
        head, _sep, value = line.partition(":")
        name, *params = head.split(";")
        out, chars = [], iter(value)
        for ch in chars:
            if ch == "\\":
                nxt = next(chars)
                out.append("\n" if nxt in "nN" else nxt)
            else:
                out.append(ch)
        parsed.append((name, dict(p.split("=", 1) for p in params), "".join(out)))
    return parsed


def events(body):
    parsed = parse(body)
    assert parsed[0] == ("BEGIN", {}, "VCALENDAR") and parsed[-1] == ("END", {}, "VCALENDAR")
    found, current, depth = [], None, 0
    for name, params, value in parsed:
        if name == "BEGIN":
            depth += 1
            if value == "VEVENT":
                current = {}
        elif name == "END":
            depth -= 1
            if value == "VEVENT":
                found.append(current)
                current = None
        elif current is not None:
            current[name] = (params, value)
    assert depth == 0
    return found


# --- the feed ------------------------------------------------------------------------------------

def test_feed_holds_upcoming_public_actions_only(app, client, campaign):
    soon = add(app, days=2, title_en="Public rally soon")
    later = add(app, days=30, title_en="Public strike later", kind="strike")
    add(app, days=5, visibility="internal", title_en="CANARY internal meeting")
    add(app, days=-3, title_en="CANARY past rally")
    add(app, slug="other", days=4, title_en="CANARY other campaign")
    response = client.get(FEED, headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.get_data(as_text=True)
    assert "CANARY" not in body
    found = events(body)
    assert [e["UID"][1] for e in found] == [f"action-{soon}@localhost",
                                             f"action-{later}@localhost"]
    first = found[0]
    start = utcnow().date() + timedelta(days=2)
    assert first["DTSTART"] == ({"VALUE": "DATE"}, start.strftime("%Y%m%d"))
    assert first["DTEND"] == ({"VALUE": "DATE"}, (start + timedelta(days=1)).strftime("%Y%m%d"))
    assert first["SUMMARY"] == ({"LANGUAGE": "en"}, "Public rally soon")
    assert first["DTSTAMP"][1].endswith("Z")
    assert first["URL"][1] == "http://localhost/c/acme"


def test_feed_escapes_folds_and_keeps_utf8_whole(app, client, campaign):
    tricky = "Grève, piquet; « salle \\ B »\nrendez-vous à 8 h"
    long_text = "é" * 120 + " — fin"
    add(app, title_fr=tricky, title_en=None, description_fr=long_text)
    body = client.get(FEED + "?lang=fr").get_data(as_text=True)
    raw_lines = body.split("\r\n")
    assert any(line.startswith(" ") for line in raw_lines)  # something was folded
    event = events(body)[0]
    assert event["SUMMARY"] == ({"LANGUAGE": "fr"}, tricky)
    assert event["DESCRIPTION"] == ({"LANGUAGE": "fr"}, long_text)
    assert "SUMMARY;LANGUAGE=fr:Grève\\, piquet\\; « salle \\\\ B »\\nrendez-vous" in body.replace(
        "\r\n ", "")


def test_feed_falls_back_to_the_other_language(app, client, campaign):
    add(app, title_fr="Seulement en français", title_en=None)
    event = events(client.get(FEED + "?lang=en").get_data(as_text=True))[0]
    assert event["SUMMARY"] == ({"LANGUAGE": "fr"}, "Seulement en français")


def test_feed_with_nothing_upcoming_is_an_empty_calendar(client, campaign):
    body = client.get(FEED).get_data(as_text=True)
    assert events(body) == []
    names = [name for name, _params, _value in parse(body)]
    assert names[:3] == ["BEGIN", "VERSION", "PRODID"]


def test_feed_parses_with_a_real_icalendar_library(app, client, campaign):
    import icalendar  # a declared test dependency: missing, the test fails rather than skips
    add(app, days=2, title_en="Rally, with; punctuation\\", description_en="Line one\nLine two")
    add(app, days=9, title_en="Strike " + "long " * 30, kind="strike")
    add(app, days=4, visibility="internal", title_en="internal")
    body = client.get(FEED + "?lang=en").get_data()
    calendar = icalendar.Calendar.from_ical(body)
    parsed = list(calendar.walk("VEVENT"))
    assert [str(e["SUMMARY"]) for e in parsed] == ["Rally, with; punctuation\\",
                                                    "Strike " + ("long " * 30).strip()]
    assert str(parsed[0]["DESCRIPTION"]) == "Line one\nLine two"
    assert parsed[0].decoded("DTSTART") == utcnow().date() + timedelta(days=2)


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_feed_of_a_campaign_that_is_not_public_is_not_found(app, client, make_campaign, status):
    make_campaign("acme", status=status)
    add(app)
    assert client.get(FEED).status_code == 404


def test_escape_and_fold_helpers():
    assert service.escape_text("a,b;c\\d\ne\r\nf\x00g") == "a\\,b\\;c\\\\d\\ne\\nfg"
    line = "X:" + "€" * 40
    folded = service.fold(line)
    parts = folded.split("\r\n ")
    assert all(len(p.encode()) <= 74 for p in parts[1:]) and len(parts[0].encode()) <= 75
    assert "".join(parts) == line


# --- the timeline and the staff pages ------------------------------------------------------------

def test_public_timeline_shows_public_actions_and_never_internal_ones(app, client, campaign):
    add(app, days=-10, title_en="Delivered the petition", kind="petition_delivery",
        participant_count=120)
    add(app, days=5, visibility="internal", title_en="CANARY internal strategy")
    page = client.get("/c/acme", headers={"Accept-Language": "en"}).text
    assert "Delivered the petition" in page and "Petition delivery" in page
    assert "120 participants" in page
    assert "CANARY" not in page
    assert 'href="/c/acme/actions.ics?lang=en"' in page


def test_reps_and_organizers_log_actions_and_see_internal_ones(app, campaign):
    add(app, visibility="internal", title_en="CANARY internal strategy")
    for who in ("rep@example.org", "org@example.org"):
        client = staff(app, who)
        listing = client.get(ACTIONS)
        assert listing.status_code == 200 and "CANARY internal strategy" in listing.text
        assert log(client, title_en=f"Logged by {who}").status_code == 302
    with app.app_context():
        assert db.session.execute(select(func.count(Action.id))).scalar_one() == 3


@pytest.mark.parametrize("who,status", [("admin@example.org", 403), ("otherrep@example.org", 404)])
def test_admins_and_other_campaigns_cannot_see_or_log_actions(app, campaign, who, status):
    public_id = add(app, visibility="internal", title_en="CANARY internal strategy")
    client = staff(app, who)
    for path in (ACTIONS, f"{ACTIONS}/new", f"{ACTIONS}/{public_id}/edit"):
        response = client.get(path)
        assert response.status_code == status, path
        assert "CANARY" not in response.text
    token = csrf_token(client.get("/staff/").text)
    assert client.post(f"{ACTIONS}/{public_id}/delete",
                       data={"csrf_token": token}).status_code == status
    assert client.post(f"{ACTIONS}/new", data={"csrf_token": token, "kind": "rally",
                                               "happens_on": "2026-12-01", "title_en": "x",
                                               "visibility": "public"}).status_code == status
    with app.app_context():
        assert db.session.execute(select(func.count(Action.id))).scalar_one() == 1


def test_editing_and_deleting_are_audited(app, campaign):
    rep = staff(app, "rep@example.org")
    assert log(rep, title_en="First title").status_code == 302
    with app.app_context():
        public_id = db.session.execute(select(Action.public_id)).scalar_one()
    page = rep.get(f"{ACTIONS}/{public_id}/edit")
    assert page.status_code == 200 and "First title" in page.text
    assert rep.post(f"{ACTIONS}/{public_id}/edit", data={
        "csrf_token": csrf_token(page.text), "kind": "strike", "happens_on": "2026-12-01",
        "title_en": "Second title", "title_fr": "", "visibility": "internal",
        "participant_count": "40"}).status_code == 302
    listing = rep.get(ACTIONS)
    assert rep.post(f"{ACTIONS}/{public_id}/delete",
                    data={"csrf_token": csrf_token(listing.text)}).status_code == 302
    with app.app_context():
        assert db.session.execute(select(func.count(Action.id))).scalar_one() == 0
        events = db.session.execute(select(AuditEvent).where(
            AuditEvent.target_type == "actions").order_by(AuditEvent.id)).scalars().all()
        assert [e.action for e in events] == ["action_created", "action_edited", "action_deleted"]
        assert set(events[1].details["fields"]) == {"kind", "happens_on", "title_en", "title_fr",
                                                    "participant_count", "visibility"}


def test_an_action_needs_a_title_in_one_language(app, campaign):
    rep = staff(app, "rep@example.org")
    response = log(rep, title_fr="", title_en="")
    assert response.status_code == 400
    assert "Fill in at least one language." in response.text
    with app.app_context():
        assert db.session.execute(select(func.count(Action.id))).scalar_one() == 0


def test_service_refuses_bad_values(app, campaign):
    with app.app_context():
        campaign = get_by_slug("acme")
        for values, code in (({"kind": "riot"}, "bad_kind"), ({"visibility": "secret"},
                             "bad_visibility"), ({"participant_count": -1}, "bad_count"),
                             ({"title_en": None}, "no_title")):
            base = {"kind": "rally", "happens_on": date(2026, 12, 1), "title_en": "x",
                    "visibility": "public"}
            base.update(values)
            with pytest.raises(service.ActionError, match=code):
                service.create_action(campaign, actor=None, **base)
            db.session.rollback()
