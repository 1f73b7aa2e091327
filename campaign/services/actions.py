"""The action log: logging actions, the public timeline, and the iCalendar feed. Flush only.

The feed is written by hand after RFC 5545: CRLF line endings, TEXT values escaped (backslash,
semicolon, comma, newline), content lines folded at 75 octets without splitting a UTF-8
character, all-day events (DTSTART;VALUE=DATE and an exclusive DTEND on the next day).
"""

from datetime import timedelta

from sqlalchemy import select

from .. import audit
from ..extensions import db
from ..i18n import localized
from ..models import Action
from ..models.actions import KINDS, VISIBILITIES, VISIBILITY_PUBLIC
from ..models.base import utcnow

FIELDS = ("kind", "happens_on", "title_fr", "title_en", "description_fr", "description_en",
          "participant_count", "visibility")
TITLE_MAX = 200
TEXT_MAX = 10_000
PARTICIPANTS_MAX = 10_000_000


class ActionError(ValueError):
    """A rule about actions was broken; the message is a stable code for the view to translate."""


def _apply(action, values):
    changed = []
    for name in FIELDS:
        if name not in values:
            continue
        value = values[name]
        if isinstance(value, str):
            value = value.replace("\r\n", "\n").strip() or None
        if getattr(action, name) != value:
            setattr(action, name, value)
            changed.append(name)
    if action.kind not in KINDS:
        raise ActionError("bad_kind")
    if action.visibility not in VISIBILITIES:
        raise ActionError("bad_visibility")
    if action.happens_on is None:
        raise ActionError("no_date")
    if not (action.title_fr or action.title_en):
        raise ActionError("no_title")
    for name in ("title_fr", "title_en"):
        if len(getattr(action, name) or "") > TITLE_MAX:
            raise ActionError("too_long")
    for name in ("description_fr", "description_en"):
        if len(getattr(action, name) or "") > TEXT_MAX:
            raise ActionError("too_long")
    count = action.participant_count
    if count is not None and not 0 <= count <= PARTICIPANTS_MAX:
        raise ActionError("bad_count")
    return changed


def create_action(campaign, *, actor, **values):
    action = Action(campaign_id=campaign.id, created_by_id=getattr(actor, "id", None))
    action.campaign = campaign
    _apply(action, values)
    action.created_at = action.updated_at = utcnow()
    db.session.add(action)
    db.session.flush()
    audit.record("action_created", actor=actor, target=action, campaign=campaign,
                 details={"kind": action.kind, "status": action.visibility})
    return action


def update_action(action, *, actor, **values):
    changed = _apply(action, values)
    if changed:
        action.updated_at = utcnow()
        db.session.flush()
        audit.record("action_edited", actor=actor, target=action, campaign=action.campaign,
                     details={"fields": changed, "status": action.visibility})
    return changed


def delete_action(action, *, actor):
    campaign, public_id = action.campaign, action.public_id
    db.session.delete(action)
    db.session.flush()
    audit.record("action_deleted", actor=actor, target_type="actions", target_id=public_id,
                 campaign=campaign)


def get_action(campaign, public_id):
    return db.session.execute(
        select(Action).where(Action.campaign_id == campaign.id, Action.public_id == public_id)
    ).scalar_one_or_none()


def staff_actions(campaign):
    """Every action, internal ones too, newest first."""
    return db.session.execute(
        select(Action).where(Action.campaign_id == campaign.id)
        .order_by(Action.happens_on.desc(), Action.id.desc())
    ).scalars().all()


def public_timeline(campaign):
    """Public actions only, newest first."""
    return db.session.execute(
        select(Action).where(Action.campaign_id == campaign.id,
                             Action.visibility == VISIBILITY_PUBLIC)
        .order_by(Action.happens_on.desc(), Action.id.desc())
    ).scalars().all()


def upcoming_public(campaign, on=None):
    """Public actions from `on` (today, UTC) onwards, soonest first: what the feed offers."""
    on = on or utcnow().date()
    return db.session.execute(
        select(Action).where(Action.campaign_id == campaign.id,
                             Action.visibility == VISIBILITY_PUBLIC, Action.happens_on >= on)
        .order_by(Action.happens_on, Action.id)
    ).scalars().all()


# --- iCalendar (RFC 5545) --------------------------------------------------------------------

CRLF = "\r\n"
LINE_OCTETS = 75


def escape_text(value):
    """A TEXT property value (RFC 5545 3.3.11): escape \\ ; , and newlines; drop controls."""
    value = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    value = "".join(ch for ch in value if ch == "\n" or ch == "\t" or ord(ch) >= 32)
    value = value.replace("\x7f", "")
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def fold(line):
    """Fold one content line at 75 octets (RFC 5545 3.1), never inside a UTF-8 character."""
    encoded = line.encode("utf-8")
    if len(encoded) <= LINE_OCTETS:
        return line
    parts = []
    current = ""
    size = 0
    limit = LINE_OCTETS
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > limit:
            parts.append(current)
            current, size = "", 0
            limit = LINE_OCTETS - 1  # continuation lines start with one space
        current += ch
        size += width
    parts.append(current)
    return (CRLF + " ").join(parts)


def _stamp(moment):
    return moment.strftime("%Y%m%dT%H%M%SZ")


def to_ical(campaign, actions, *, locale, host, url, now=None):
    """The calendar of `actions` (already filtered to upcoming public ones) as a str."""
    now = now or utcnow()
    name = localized(campaign, "title", locale).text or campaign.slug
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Campaign//Actions//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
    ]
    for action in actions:
        title = localized(action, "title", locale)
        description = localized(action, "description", locale)
        stamp = action.updated_at or action.created_at or now
        lines += [
            "BEGIN:VEVENT",
            f"UID:action-{action.public_id}@{host}",
            f"DTSTAMP:{_stamp(stamp)}",
            f"DTSTART;VALUE=DATE:{action.happens_on.strftime('%Y%m%d')}",
            f"DTEND;VALUE=DATE:{(action.happens_on + timedelta(days=1)).strftime('%Y%m%d')}",
            f"SUMMARY;LANGUAGE={title.lang}:{escape_text(title.text)}",
        ]
        if description.text:
            lines.append(f"DESCRIPTION;LANGUAGE={description.lang}:"
                         f"{escape_text(description.text)}")
        lines += [
            f"CATEGORIES:{escape_text(action.kind.upper())}",
            f"URL:{url}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return CRLF.join(fold(line) for line in lines) + CRLF
