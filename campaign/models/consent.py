"""Versioned consent wording and the append-only consent ledger."""

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow

PUBLIC_NAME = "public_name"
SHARE_WITH_REPS = "share_with_reps"
CONTACT = "contact"
PUBLISH = "publish"
PUBLISH_NAMED = "publish_named"
SIGNATURE_PURPOSES = (PUBLIC_NAME, SHARE_WITH_REPS, CONTACT)
STATEMENT_PURPOSES = (PUBLISH, PUBLISH_NAMED, SHARE_WITH_REPS)
PURPOSES = (PUBLIC_NAME, SHARE_WITH_REPS, CONTACT, PUBLISH, PUBLISH_NAMED)

CHANNEL_WEB = "web"
CHANNEL_PAPER = "paper"
CHANNEL_REP = "rep"
CHANNELS = (CHANNEL_WEB, CHANNEL_PAPER, CHANNEL_REP)


class ConsentText(db.Model):
    """The exact bilingual wording shown for one purpose; immutable once used (new version instead)."""

    __tablename__ = "consent_texts"
    __table_args__ = (UniqueConstraint("purpose", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    text_fr: Mapped[str] = mapped_column(Text, nullable=False)
    text_en: Mapped[str] = mapped_column(Text, nullable=False)
    #: SHA-256 of purpose, version and both texts: proves which words a person saw
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    def text(self, locale):
        return self.text_fr if locale == "fr" else self.text_en


class ConsentEvent(db.Model):
    """One grant or withdrawal. Append-only; effective consent is the latest event per purpose."""

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_events_subject", "signature_id", "purpose", "id"),
        Index("ix_consent_events_statement", "statement_id", "purpose", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    signature_id: Mapped[int | None] = mapped_column(
        ForeignKey("signatures.id", ondelete="CASCADE")
    )
    statement_id: Mapped[int | None] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    granted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    consent_text_id: Mapped[int] = mapped_column(ForeignKey("consent_texts.id"), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    # Day precision, like every date about an employee.
    created_on = mapped_column(Date, nullable=False)

    consent_text: Mapped[ConsentText] = relationship()
