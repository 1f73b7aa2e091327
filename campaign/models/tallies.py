"""The release ledger of anonymized tallies: every snapshot of a petition's tally, kept for good.

A release holds two documents. The public one (`public_data`) says what may be shown: rounded
counts, hidden entries with a coarse reason, never a true count. The ledger (`ledger_ct`) keeps the
TRUE counts, which the next release must be checked against so that the difference between two
releases reveals no hidden cell; it is as sensitive as the signatures themselves, so it is
encrypted with the key ring (associated data: table, column and the release's public id).

A deferred release (the check found it unsafe, or it was asked for too early) is kept as a row
without either document, so the ledger also shows what was refused and why.
"""

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, public_id_column, utcnow

RELEASE_SCHEDULED = "scheduled"
RELEASE_ON_DEMAND = "on_demand"
RELEASE_KINDS = (RELEASE_SCHEDULED, RELEASE_ON_DEMAND)


class TallyRelease(db.Model):
    __tablename__ = "tally_releases"
    __table_args__ = (Index("ix_tally_releases_petition_created", "petition_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), nullable=False
    )
    #: releases are checked against the earlier ones of the same series; an organizer starts a
    #: new series, explicitly, when the campaign's units changed
    series: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    #: the table's dimensions, comma-separated ("site,department", "site", "department" or "")
    dimensions: Mapped[str] = mapped_column(String(32), nullable=False, default="",
                                            server_default="")
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    #: the day the counts run to (day precision, like the signatures' own dates)
    as_of = mapped_column(Date, nullable=False)
    is_deferred: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="0"
    )
    defer_reason: Mapped[str | None] = mapped_column(String(32))
    #: TRUE counts (secret: they reveal the small cells); JSON encrypted with the key ring
    ledger_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: what may be published: rounded counts, coarse reasons, no true count
    public_data = mapped_column(JSON)
    is_published: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="0"
    )
    published_at = mapped_column(UTCDateTime)

    petition = relationship("Petition")

    @property
    def dimension_list(self):
        return tuple(d for d in (self.dimensions or "").split(",") if d)

    def __repr__(self):
        return f"<TallyRelease {self.public_id}>"
