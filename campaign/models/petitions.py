"""Petitions, their signatures and the batched public count."""

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, public_id_column, utcnow

PETITION_DRAFT = "draft"
PETITION_OPEN = "open"
PETITION_CLOSED = "closed"
PETITION_STATUSES = (PETITION_DRAFT, PETITION_OPEN, PETITION_CLOSED)

VERIFY_NONE = "none"
VERIFY_EMAIL = "email"
VERIFICATION_MODES = (VERIFY_NONE, VERIFY_EMAIL)

SOURCE_ONLINE = "online"
SOURCE_PAPER = "paper"
SOURCE_REP = "rep"
SOURCES = (SOURCE_ONLINE, SOURCE_PAPER, SOURCE_REP)


class Petition(db.Model):
    __tablename__ = "petitions"
    __table_args__ = (UniqueConstraint("campaign_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(64), nullable=False)
    title_fr: Mapped[str | None] = mapped_column(String(200))
    title_en: Mapped[str | None] = mapped_column(String(200))
    text_fr: Mapped[str | None] = mapped_column(Text)
    text_en: Mapped[str | None] = mapped_column(Text)
    addressee: Mapped[str | None] = mapped_column(String(200))
    goal: Mapped[int | None] = mapped_column(Integer)
    opens_on = mapped_column(Date)
    closes_on = mapped_column(Date)
    status: Mapped[str] = mapped_column(
        String(16), nullable=False, default=PETITION_DRAFT, server_default=PETITION_DRAFT
    )
    verification: Mapped[str] = mapped_column(
        String(16), nullable=False, default=VERIFY_NONE, server_default=VERIFY_NONE
    )
    ask_site: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="1")
    ask_department: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default="1"
    )
    #: how often the public count and name list are refreshed (minutes)
    refresh_minutes: Mapped[int] = mapped_column(
        Integer, nullable=False, default=15, server_default="15"
    )
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    campaign = relationship("Campaign", backref="petitions")

    def __repr__(self):
        return f"<Petition {self.public_id}>"


class Signature(db.Model):
    """One signer of one petition.

    Shadow signatures: when an address that already signed signs again, a shadow record is made
    from what was typed, so the response, the private link and the private page look exactly like
    a first signature's; the shadow is never counted, never shown to anyone but its link holder,
    and the address's owner is told by e-mail instead.
    """

    __tablename__ = "signatures"
    __table_args__ = (
        UniqueConstraint("petition_id", "signer_key"),
        Index("ix_signatures_tally", "petition_id", "is_shadow", "confirmed_on", "withdrawn_on",
              "site_id", "department_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), nullable=False
    )
    #: keyed hash of the normalized e-mail (de-duplication without storing it); NULL for shadows
    #: and once the identity is erased
    signer_key: Mapped[str | None] = mapped_column(String(64))
    is_shadow: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="0"
    )
    data_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_keys.id", ondelete="SET NULL")
    )
    #: PII, encrypted with the signer's data key, erased at withdrawal and at retention end
    name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: PII, encrypted with the signer's data key, erased at withdrawal and at retention end
    email_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: PII (political opinion by place of work) only inside suppressed tallies; kept for counts
    site_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(
        String(16), nullable=False, default=SOURCE_ONLINE, server_default=SOURCE_ONLINE
    )
    #: label of a paper batch, given by the rep who entered it
    batch_label: Mapped[str | None] = mapped_column(String(120))
    locale: Mapped[str | None] = mapped_column(String(8))
    # Day precision only: no time of day is ever stored for a signer.
    signed_on = mapped_column(Date, nullable=False)
    confirmed_on = mapped_column(Date)
    withdrawn_on = mapped_column(Date)
    erased_on = mapped_column(Date)
    #: SHA-256 of the private-link token
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: SHA-256 of the e-mail confirmation token
    confirm_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    petition: Mapped[Petition] = relationship(backref="signatures")
    data_key = relationship("DataKey")
    site = relationship("Unit", foreign_keys=[site_id])
    department = relationship("Unit", foreign_keys=[department_id])

    @property
    def is_confirmed(self):
        return self.confirmed_on is not None

    @property
    def is_withdrawn(self):
        return self.withdrawn_on is not None

    @property
    def is_counted(self):
        return not self.is_shadow and self.is_confirmed and not self.is_withdrawn


class PetitionSnapshot(db.Model):
    """The public count and public-name list as of the last batch refresh (only the latest kept)."""

    __tablename__ = "petition_snapshots"

    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True
    )
    taken_at = mapped_column(UTCDateTime, nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: public ids of the signatures whose signers chose `public_name` at refresh time
    public_ids = mapped_column(JSON, nullable=False, default=list)
