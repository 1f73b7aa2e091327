"""Mail waiting to be sent: kept until delivered, so a failed mail server loses nothing."""

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, public_id_column, utcnow


class OutboxMessage(db.Model):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    #: PII: the whole message, its recipient's address in its headers (and maybe a private
    #: link in its body), encrypted by the key ring; the row is deleted once sent. The
    #: envelope is read from those headers: no second copy of the address is kept.
    message_ct: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(String(64))
    next_attempt_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class LinkRequest(db.Model):
    """An "I lost my link" request, answered after the response so both answers take the same time."""

    __tablename__ = "link_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), nullable=False
    )
    #: PII: the typed address, encrypted by the key ring; the row is deleted once handled
    email_ct: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    locale: Mapped[str | None] = mapped_column(String(8))
    base_url: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
