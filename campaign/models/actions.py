"""The campaign's action log: what it did and will do, public or internal."""

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, public_id_column, utcnow

KINDS = ("communique", "strike", "rally", "petition_delivery", "management_meeting", "press",
         "legal", "other")

VISIBILITY_PUBLIC = "public"
VISIBILITY_INTERNAL = "internal"
VISIBILITIES = (VISIBILITY_PUBLIC, VISIBILITY_INTERNAL)


class Action(db.Model):
    """One action of the campaign on one day; public ones make the timeline and the calendar."""

    __tablename__ = "actions"
    __table_args__ = (Index("ix_actions_campaign_happens_on", "campaign_id", "happens_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    happens_on = mapped_column(Date, nullable=False)
    title_fr: Mapped[str | None] = mapped_column(String(200))
    title_en: Mapped[str | None] = mapped_column(String(200))
    description_fr: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    participant_count: Mapped[int | None] = mapped_column(Integer)
    visibility: Mapped[str] = mapped_column(
        String(16), nullable=False, default=VISIBILITY_INTERNAL, server_default=VISIBILITY_INTERNAL
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    campaign = relationship("Campaign")

    @property
    def is_public(self):
        return self.visibility == VISIBILITY_PUBLIC

    def __repr__(self):
        return f"<Action {self.public_id}>"
