"""Per-person data keys, stored wrapped by the key ring (envelope encryption)."""

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, public_id_column, utcnow


class DataKey(db.Model):
    """One person's data key. Erasing `wrapped` makes every value it encrypted unreadable."""

    __tablename__ = "data_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    #: the person's AES key, encrypted by the key ring; NULL once destroyed
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    ring_key_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    destroyed_at = mapped_column(UTCDateTime)
