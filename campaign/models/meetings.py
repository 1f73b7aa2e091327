"""Reps' notes of meetings (works council, negotiations, assemblies), with every edit kept."""

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, public_id_column, utcnow

KIND_WORKS_COUNCIL = "works_council"
KIND_NEGOTIATION = "negotiation"
KIND_GENERAL_ASSEMBLY = "general_assembly"
KIND_UNION_SECTION = "union_section"
KIND_OTHER = "other"
KINDS = (KIND_WORKS_COUNCIL, KIND_NEGOTIATION, KIND_GENERAL_ASSEMBLY, KIND_UNION_SECTION,
         KIND_OTHER)

VISIBILITY_REPS = "reps_only"
VISIBILITY_REPS_AND_ORGANIZERS = "reps_and_organizers"
VISIBILITIES = (VISIBILITY_REPS, VISIBILITY_REPS_AND_ORGANIZERS)

#: the fields a revision keeps (the whole note, so any revision can be shown on its own)
CONTENT_FIELDS = ("title", "held_on", "kind", "attendees", "body", "decisions", "follow_ups",
                  "visibility")


class MeetingNote(db.Model):
    """The current text of a note; its history is in `revisions` (number 0 is the original)."""

    __tablename__ = "meeting_notes"
    __table_args__ = (Index("ix_meeting_notes_campaign_held_on", "campaign_id", "held_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    held_on = mapped_column(Date, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    #: who attended (staff and management; Markdown is not rendered here, plain text)
    attendees: Mapped[str | None] = mapped_column(Text)
    #: Markdown, rendered through campaign.markdown
    body: Mapped[str | None] = mapped_column(Text)
    decisions: Mapped[str | None] = mapped_column(Text)
    follow_ups: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(
        String(32), nullable=False, default=VISIBILITY_REPS, server_default=VISIBILITY_REPS
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    campaign = relationship("Campaign")
    created_by = relationship("User", foreign_keys=[created_by_id])
    revisions: Mapped[list["MeetingNoteRevision"]] = relationship(
        back_populates="note", cascade="all, delete-orphan",
        order_by="MeetingNoteRevision.number",
    )

    def __repr__(self):
        return f"<MeetingNote {self.public_id}>"


class MeetingNoteRevision(db.Model):
    """A full copy of a note as saved once: number 0 at creation, then 1, 2, ... per edit."""

    __tablename__ = "meeting_note_revisions"
    __table_args__ = (UniqueConstraint("note_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_notes.id", ondelete="CASCADE"), nullable=False
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    held_on = mapped_column(Date, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    attendees: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    decisions: Mapped[str | None] = mapped_column(Text)
    follow_ups: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(32), nullable=False)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    note: Mapped[MeetingNote] = relationship(back_populates="revisions")
    author = relationship("User")
