"""Per-person data keys (envelope encryption) and key-ring rotation. Flush, never commit."""

from sqlalchemy import select

from .. import audit
from ..crypto import (
    DecryptionError,
    aad_for,
    blob_key_id,
    decrypt,
    encrypt,
    keyring,
    new_data_key,
    new_public_id,
)
from ..extensions import db
from ..models import DataKey
from ..models.base import utcnow


class KeyDestroyed(Exception):
    """The person's data key was erased: their data is gone for good."""


def _wrap_aad(data_key):
    return aad_for("data_keys", "wrapped", data_key.public_id)


def new_person_key():
    """A fresh data key for one person, stored wrapped by the key ring."""
    record = DataKey(public_id=new_public_id())
    raw = new_data_key()
    ring = keyring()
    record.wrapped = ring.encrypt(raw, _wrap_aad(record))
    record.ring_key_id = ring.primary_id
    db.session.add(record)
    db.session.flush()
    return record


def unwrap(data_key):
    if data_key is None or data_key.wrapped is None:
        raise KeyDestroyed()
    return keyring().decrypt(data_key.wrapped, _wrap_aad(data_key))


def seal(data_key, table, column, row_id, plaintext):
    """Encrypt one personal value for `row_id` (the row's public id) under the person's key."""
    if plaintext is None or plaintext == "":
        return None
    return encrypt(unwrap(data_key), data_key.public_id, plaintext, aad_for(table, column, row_id))


def unseal(data_key, table, column, row_id, blob):
    """Decrypt a value sealed by `seal`; None when there is no value.

    Raises KeyDestroyed once the person's key is erased, DecryptionError when the blob was sealed
    under another person's key or for another table, column or row, or was altered.
    """
    if blob is None:
        return None
    key = unwrap(data_key)
    if blob_key_id(blob) != data_key.public_id:
        raise DecryptionError("value sealed under another data key")
    return decrypt(key, blob, aad_for(table, column, row_id)).decode()


def destroy(data_key, *, actor=None, reason="erasure"):
    """Erase the wrapped key: every value it sealed becomes unreadable in this database.

    Copies of the wrapped key in older backups stay readable until the ring key that wrapped them
    is rotated out and removed from the configuration (see campaign.crypto). On SQLite the old
    bytes also linger in the -wal file until the next checkpoint. Not audited here: the caller
    records the domain event (signature or statement erased), and deliberately none for shadow
    rows. Returns True when a key was erased, False when it already was.
    """
    if data_key.wrapped is None:
        return False
    data_key.wrapped = None
    data_key.ring_key_id = None
    data_key.destroyed_at = utcnow()
    db.session.flush()
    return True


def rotate(batch_size=500):
    """Re-wrap every live data key under the key ring's primary key. Returns how many changed."""
    ring = keyring()
    changed = 0
    last_id = 0
    while True:
        batch = db.session.execute(
            select(DataKey)
            .where(DataKey.id > last_id, DataKey.wrapped.is_not(None))
            .order_by(DataKey.id)
            .limit(batch_size)
        ).scalars().all()
        if not batch:
            break
        for record in batch:
            last_id = record.id
            if record.ring_key_id == ring.primary_id and not ring.needs_rotation(record.wrapped):
                continue
            raw = ring.decrypt(record.wrapped, _wrap_aad(record))
            record.wrapped = ring.encrypt(raw, _wrap_aad(record))
            record.ring_key_id = ring.primary_id
            changed += 1
        db.session.flush()
    audit.record("keys_rotated", details={"count": changed, "label": ring.primary_id})
    return changed
