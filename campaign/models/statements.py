"""Employees' statements: their own words, moderated by the campaign's reps before publication.

What an author allows is not a column here: it lives in the consent ledger (`publish`,
`publish_named`, `share_with_reps` events naming this statement), and every page asks the ledger
at render time, so a withdrawal takes effect on the next request.
"""

from sqlalchemy import Boolean, Date, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import public_id_column

STATUS_PENDING = "pending"
STATUS_PUBLISHED = "published"
STATUS_REJECTED = "rejected"
STATUS_WITHDRAWN = "withdrawn"
STATUSES = (STATUS_PENDING, STATUS_PUBLISHED, STATUS_REJECTED, STATUS_WITHDRAWN)

#: what the author asks for, expressed as consent events (see services.statements.choice_of)
REPS_ONLY = "reps_only"
PUBLIC_ANONYMOUS = "public_anonymous"
PUBLIC_NAMED = "public_named"
PUBLICATION_CHOICES = (REPS_ONLY, PUBLIC_ANONYMOUS, PUBLIC_NAMED)

#: why reps did not publish a statement (the code is audited; the author sees its label)
REJECTION_REASONS = ("identifying", "off_topic", "abusive", "duplicate", "other")


class Statement(db.Model):
    """One employee's testimony, submitted without an account, reached later by a private link."""

    __tablename__ = "statements"
    __table_args__ = (Index("ix_statements_campaign_status", "campaign_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False
    )
    #: PII-ish (the author's own words, may identify them): shown to the campaign's reps only,
    #: erased at withdrawal and at retention end
    text: Mapped[str | None] = mapped_column(Text)
    #: language the author wrote in (fr or en)
    language: Mapped[str] = mapped_column(String(8), nullable=False)
    #: the author's interface language, for mail
    locale: Mapped[str | None] = mapped_column(String(8))
    data_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_keys.id", ondelete="SET NULL")
    )
    #: PII, encrypted with the author's data key, erased at withdrawal and at retention end
    author_name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: PII, encrypted with the author's data key, erased at withdrawal and at retention end
    author_email_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: PII (place of work): shown to reps only with `share_with_reps`; erased with the identity
    site_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(
        String(16), nullable=False, default=STATUS_PENDING, server_default=STATUS_PENDING
    )
    rejection_reason: Mapped[str | None] = mapped_column(String(32))
    #: the reps' note to the author about a rejection (shown on the author's private page)
    rejection_note: Mapped[str | None] = mapped_column(Text)
    #: what is published: the text as redacted by the reps (the original stays with reps only)
    redacted_text: Mapped[str | None] = mapped_column(Text)
    #: the reps' translation of the redacted text into the other language
    translation: Mapped[str | None] = mapped_column(Text)
    #: the reps decided to show the author's name (shown only while `publish_named` holds)
    published_named: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="0"
    )
    # Day precision only, like every date about an employee.
    submitted_on = mapped_column(Date, nullable=False)
    decided_on = mapped_column(Date)
    withdrawn_on = mapped_column(Date)
    erased_on = mapped_column(Date)
    #: SHA-256 of the private-link token
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    campaign = relationship("Campaign")
    data_key = relationship("DataKey")
    site = relationship("Unit", foreign_keys=[site_id])
    department = relationship("Unit", foreign_keys=[department_id])

    @property
    def is_published(self):
        return self.status == STATUS_PUBLISHED

    @property
    def is_withdrawn(self):
        return self.status == STATUS_WITHDRAWN

    @property
    def translation_language(self):
        return "en" if self.language == "fr" else "fr"

    def __repr__(self):
        return f"<Statement {self.public_id}>"
