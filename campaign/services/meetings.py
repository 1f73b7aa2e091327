"""Meeting notes: writing, editing with every revision kept, listing, and what changed. Flush only.

Revisions: creating a note stores revision 0 (the original); each saved edit that changes
something stores the next number (1, 2, 3...). So "edited three times" means revisions 1, 2 and
3 beside the original 0, four in all, and the note itself always equals its latest revision.
An edit that changes nothing stores no revision.
"""

import difflib
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

from .. import audit
from ..extensions import db
from ..models import MeetingNote, MeetingNoteRevision
from ..models.base import utcnow
from ..models.meetings import CONTENT_FIELDS, KINDS, VISIBILITIES

TITLE_MAX = 200
TEXT_MAX = 50_000
ATTENDEES_MAX = 2_000
LIMITS = {"title": TITLE_MAX, "attendees": ATTENDEES_MAX, "body": TEXT_MAX,
          "decisions": TEXT_MAX, "follow_ups": TEXT_MAX}


class NoteError(ValueError):
    """A rule about meeting notes was broken; the message is a stable code for the view."""


@dataclass
class FieldDiff:
    """The lines of one field, each tagged ' ' (kept), '-' (removed) or '+' (added)."""

    name: str
    lines: list = field(default_factory=list)


def _normalize(values):
    clean = {}
    for name in CONTENT_FIELDS:
        if name not in values:
            continue
        value = values[name]
        if isinstance(value, str):
            value = value.replace("\r\n", "\n").strip() or None
        clean[name] = value
    return clean


def _check(note):
    if not note.title:
        raise NoteError("no_title")
    if not isinstance(note.held_on, date):
        raise NoteError("no_date")
    if note.kind not in KINDS:
        raise NoteError("bad_kind")
    if note.visibility not in VISIBILITIES:
        raise NoteError("bad_visibility")
    for name, limit in LIMITS.items():
        if len(getattr(note, name) or "") > limit:
            raise NoteError("too_long")


def _snapshot(note, number, actor):
    revision = MeetingNoteRevision(number=number, author_id=getattr(actor, "id", None),
                                   created_at=utcnow())
    for name in CONTENT_FIELDS:
        setattr(revision, name, getattr(note, name))
    note.revisions.append(revision)
    return revision


def create_note(campaign, *, actor, **values):
    note = MeetingNote(campaign_id=campaign.id, created_by_id=getattr(actor, "id", None))
    note.campaign = campaign
    for name, value in _normalize(values).items():
        setattr(note, name, value)
    _check(note)
    note.created_at = note.updated_at = utcnow()
    db.session.add(note)
    _snapshot(note, 0, actor)
    db.session.flush()
    audit.record("meeting_note_created", actor=actor, target=note, campaign=campaign,
                 details={"kind": note.kind, "version": 0})
    return note


def update_note(note, *, actor, **values):
    """Apply an edit; returns the new revision, or None when nothing changed."""
    changed = []
    for name, value in _normalize(values).items():
        if getattr(note, name) != value:
            setattr(note, name, value)
            changed.append(name)
    _check(note)
    if not changed:
        return None
    number = (db.session.execute(
        select(func.max(MeetingNoteRevision.number)).where(MeetingNoteRevision.note_id == note.id)
    ).scalar() or 0) + 1
    note.updated_at = utcnow()
    revision = _snapshot(note, number, actor)
    db.session.flush()
    audit.record("meeting_note_edited", actor=actor, target=note, campaign=note.campaign,
                 details={"version": number, "fields": changed})
    return revision


def get_note(campaign, public_id):
    return db.session.execute(
        select(MeetingNote).where(MeetingNote.campaign_id == campaign.id,
                                  MeetingNote.public_id == public_id)
    ).scalar_one_or_none()


def get_revision(note, number):
    return db.session.execute(
        select(MeetingNoteRevision).where(MeetingNoteRevision.note_id == note.id,
                                          MeetingNoteRevision.number == number)
    ).scalar_one_or_none()


def list_notes(campaign, visibilities, *, date_from=None, date_to=None, kind=None):
    """Notes of the given visibilities, newest meeting first, filtered by date range and kind."""
    if not visibilities:
        return []
    query = select(MeetingNote).where(MeetingNote.campaign_id == campaign.id,
                                      MeetingNote.visibility.in_(visibilities))
    if date_from:
        query = query.where(MeetingNote.held_on >= date_from)
    if date_to:
        query = query.where(MeetingNote.held_on <= date_to)
    if kind:
        query = query.where(MeetingNote.kind == kind)
    return db.session.execute(
        query.order_by(MeetingNote.held_on.desc(), MeetingNote.id.desc())
    ).scalars().all()


def _lines(value):
    if value is None:
        return []
    if isinstance(value, date):
        return [value.isoformat()]
    return str(value).split("\n")


def diff(before, after):
    """What changed from one revision to another, field by field (changed fields only).

    Plain data: the template escapes every line, so a note's text is never markup here.
    """
    changes = []
    for name in CONTENT_FIELDS:
        old = _lines(getattr(before, name) if before is not None else None)
        new = _lines(getattr(after, name))
        if old == new:
            continue
        lines = []
        matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                lines.extend((" ", line) for line in old[i1:i2])
                continue
            lines.extend(("-", line) for line in old[i1:i2])
            lines.extend(("+", line) for line in new[j1:j2])
        changes.append(FieldDiff(name=name, lines=lines))
    return changes
