"""Campaigns and their own lists of sites and departments (units)."""

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow

STATUS_DRAFT = "draft"
STATUS_ACTIVE = "active"
STATUS_CLOSED = "closed"
STATUS_ARCHIVED = "archived"
STATUSES = (STATUS_DRAFT, STATUS_ACTIVE, STATUS_CLOSED, STATUS_ARCHIVED)
PUBLIC_STATUSES = (STATUS_ACTIVE, STATUS_CLOSED)

UNIT_SITE = "site"
UNIT_DEPARTMENT = "department"
UNIT_KINDS = (UNIT_SITE, UNIT_DEPARTMENT)

MIN_TALLY_THRESHOLD = 5


class Campaign(db.Model):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(f"tally_threshold >= {MIN_TALLY_THRESHOLD}", name="tally_threshold_min"),
        CheckConstraint("retention_days >= 0", name="retention_days_nonneg"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    title_fr: Mapped[str | None] = mapped_column(String(200))
    title_en: Mapped[str | None] = mapped_column(String(200))
    summary_fr: Mapped[str | None] = mapped_column(Text)
    summary_en: Mapped[str | None] = mapped_column(Text)
    employer: Mapped[str] = mapped_column(String(200), nullable=False)
    #: the employer's mail domains (comma-separated): signers typing one are warned
    employer_domains: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(
        String(16), nullable=False, default=STATUS_DRAFT, server_default=STATUS_DRAFT
    )
    retention_days: Mapped[int] = mapped_column(
        Integer, nullable=False, default=180, server_default="180"
    )
    tally_threshold: Mapped[int] = mapped_column(
        Integer, nullable=False, default=10, server_default="10"
    )
    closed_at = mapped_column(UTCDateTime)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    units: Mapped[list["Unit"]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="Unit.position"
    )
    memberships = relationship("Membership", back_populates="campaign", cascade="all, delete-orphan")

    @property
    def is_public(self):
        return self.status in PUBLIC_STATUSES

    def employer_domain_list(self):
        return [d.strip().lower().lstrip("@") for d in (self.employer_domains or "").split(",") if d.strip()]

    def sites(self):
        return [u for u in self.units if u.kind == UNIT_SITE and u.is_active]

    def departments(self):
        return [u for u in self.units if u.kind == UNIT_DEPARTMENT and u.is_active]

    def __repr__(self):
        return f"<Campaign {self.slug}>"


class Unit(db.Model):
    """A site or department a signer may pick, so tallies group on clean values."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("campaign_id", "kind", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    name_fr: Mapped[str | None] = mapped_column(String(120))
    name_en: Mapped[str | None] = mapped_column(String(120))
    #: organizers' own estimate of the unit's size, never imported from the employer
    headcount: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(nullable=False, default=True, server_default="1")

    campaign: Mapped[Campaign] = relationship(back_populates="units")
