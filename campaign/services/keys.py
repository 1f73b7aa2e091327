"""Per-person data keys (envelope encryption) and key-ring rotation. Flush, never commit.

Every encrypted column is declared here, in one of two lists:

- `RING_COLUMNS`: values encrypted directly by the key ring (`keyring().encrypt`), with the
  associated data `aad_for(table, aad_column, row.public_id)`. `rotate` re-encrypts them all, so
  a new column encrypted by the ring must be added there, or the old ring key cannot be removed.
- `SEALED_COLUMNS`: values sealed by `seal` under a person's data key. They follow a rotation
  through their data key (data_keys.wrapped, in `RING_COLUMNS`): nothing of theirs to re-encrypt.

tests/test_crypto.py fails when a model has an encrypted-looking column in neither list.
"""

from dataclasses import dataclass, field

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
from ..models import DataKey, LinkRequest, OutboxMessage, TallyRelease, User
from ..models.base import utcnow


@dataclass(frozen=True)
class RingColumn:
    """A column whose values the key ring encrypts directly (no per-person data key)."""

    model: type
    column: str
    #: the column's name in the associated data: aad_for(table, aad_column, row.public_id)
    aad_column: str
    #: a column recording the id of the ring key that encrypted the value, kept in step
    ring_key_id: str | None = None

    @property
    def kind(self):
        """The column as "table.column", as rotation counts name it (never a value)."""
        return f"{self.model.__tablename__}.{self.column}"

    def aad(self, row):
        return aad_for(self.model.__tablename__, self.aad_column, row.public_id)


#: every column encrypted by the key ring; `rotate` re-encrypts each of them
RING_COLUMNS = (
    RingColumn(DataKey, "wrapped", "wrapped", ring_key_id="ring_key_id"),
    RingColumn(User, "totp_secret_ct", "totp_secret"),
    RingColumn(LinkRequest, "email_ct", "email"),
    RingColumn(OutboxMessage, "message_ct", "message"),
    RingColumn(TallyRelease, "ledger_ct", "ledger"),
)

#: every column sealed under a person's data key ("table.column"); rotation re-wraps the key
SEALED_COLUMNS = frozenset({
    "signatures.name_ct",
    "signatures.email_ct",
    "statements.author_name_ct",
    "statements.author_email_ct",
})


class KeyDestroyed(Exception):
    """The person's data key was erased: their data is gone for good."""


class RotationError(Exception):
    """A value does not decrypt with the configured key ring (its key was removed too early, or
    it was altered). Names the column and the row's public id, never the value."""

    def __init__(self, kind, row_id):
        super().__init__(f"{kind} of row {row_id} does not decrypt with the key ring")
        self.kind, self.row_id = kind, row_id


def _wrap_aad(key_public_id):
    return aad_for("data_keys", "wrapped", key_public_id)


@dataclass(frozen=True)
class FreshKey:
    """A new data key for one person, before anything is stored: what its row will hold, and
    its raw value, kept in memory only while the person's first values are sealed under it
    (`seal` takes it as it takes a stored key, and has nothing to unwrap)."""

    public_id: str
    wrapped: bytes
    ring_key_id: str
    raw: bytes = field(repr=False)


def new_key():
    """A fresh data key for one person, wrapped by the key ring (no row, no ORM object: the
    signing path writes its row itself)."""
    public_id, raw, ring = new_public_id(), new_data_key(), keyring()
    return FreshKey(public_id=public_id, raw=raw, ring_key_id=ring.primary_id,
                    wrapped=ring.encrypt(raw, _wrap_aad(public_id)))


def fresh_person_key():
    """A fresh data key for one person, wrapped by the key ring, not in the session yet."""
    key = new_key()
    return DataKey(public_id=key.public_id, wrapped=key.wrapped, ring_key_id=key.ring_key_id)


def new_person_key():
    """A fresh data key for one person, stored wrapped by the key ring (flushed: it has an id).
    A row that takes it through its `data_key` relationship needs only `fresh_person_key`."""
    record = fresh_person_key()
    db.session.add(record)
    db.session.flush()
    return record


def unwrap(data_key):
    if isinstance(data_key, FreshKey):  # still in hand
        return data_key.raw
    if data_key is None or data_key.wrapped is None:
        raise KeyDestroyed()
    return keyring().decrypt(data_key.wrapped, _wrap_aad(data_key.public_id))


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


def _rotate_column(entry, ring, batch_size):
    """Re-encrypt one column's values not under the primary ring key; returns how many changed.

    Rows are locked as they are read (PostgreSQL; SQLite's CLI transactions hold the write lock
    already), so a value changed or erased meanwhile (a destroyed data key, a new TOTP secret) is
    never overwritten with the re-encrypted old one.
    """
    model, column = entry.model, getattr(entry.model, entry.column)
    changed, last_id = 0, 0
    while True:
        batch = db.session.execute(
            select(model)
            .where(model.id > last_id, column.is_not(None))
            .order_by(model.id)
            .limit(batch_size)
            .with_for_update(of=model)
            .execution_options(populate_existing=True)
        ).scalars().all()
        if not batch:
            return changed
        for row in batch:
            last_id = row.id
            blob = getattr(row, entry.column)
            labelled = entry.ring_key_id is None or \
                getattr(row, entry.ring_key_id) == ring.primary_id
            if labelled and not ring.needs_rotation(blob):
                continue
            aad = entry.aad(row)
            try:
                plaintext = ring.decrypt(blob, aad)
            except DecryptionError as exc:
                raise RotationError(entry.kind, row.public_id) from exc
            setattr(row, entry.column, ring.encrypt(plaintext, aad))
            if entry.ring_key_id is not None:
                setattr(row, entry.ring_key_id, ring.primary_id)
            changed += 1
        db.session.flush()


def rotate(batch_size=500):
    """Re-encrypt every value of `RING_COLUMNS` under the key ring's primary key.

    Run before an old ring key leaves the configuration: whatever it still encrypts (wrapped
    data keys, TOTP secrets, queued mail, tally ledgers...) would be unreadable without it.
    Returns {"table.column": how many changed}; the audit event holds the same counts. Raises
    RotationError at the first value the ring cannot decrypt: the caller rolls back, so a
    rotation is whole or not at all.
    """
    ring = keyring()
    counts = {entry.kind: _rotate_column(entry, ring, batch_size) for entry in RING_COLUMNS}
    audit.record("keys_rotated", details={
        "count": sum(counts.values()),
        "label": ring.primary_id,
        "fields": [f"{kind}={n}" for kind, n in counts.items()],
    })
    return counts
