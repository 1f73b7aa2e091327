"""The one writer of audit events: append-only and hash-chained, so tampering is detectable.

An event records who (a staff public id), did what (an action name), to which object (type and
public id), in which campaign, and when (UTC). It never records an identity value, a statement,
an e-mail address or an IP address: `details` accepts only short scalar values under known keys.
"""

import hashlib
import json

from flask import current_app, has_request_context
from flask_login import current_user
from sqlalchemy import select, text

from .crypto import new_public_id
from .extensions import db
from .models import AuditEvent, Campaign, User
from .models.base import utcnow

GENESIS = "0" * 64
#: the PostgreSQL advisory lock that serialises appends to the chain
CHAIN_LOCK_ID = 7_300_417

# Keys allowed in `details`; values must be short scalars. Anything else is a programming error.
ALLOWED_DETAIL_KEYS = frozenset(
    {
        "role",
        "status",
        "reason",
        "count",
        "field",
        "fields",
        "kind",
        "format",
        "purpose",
        "channel",
        "version",
        "locale",
        "result",
        "rows",
        "label",
        "petition",
        "by",
        "period",
    }
)


class AuditTamperError(Exception):
    pass


def _canonical(event, prev_hash):
    record = {
        "public_id": event.public_id,
        "created_at": event.created_at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "campaign": event.campaign_slug,
        "details": event.details or {},
        "prev_hash": prev_hash,
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def compute_hash(event, prev_hash):
    return hashlib.sha256(_canonical(event, prev_hash).encode()).hexdigest()


def _check_details(details):
    clean = {}
    for key, value in (details or {}).items():
        if key not in ALLOWED_DETAIL_KEYS:
            raise ValueError(f"audit detail {key!r} is not allowed")
        if isinstance(value, (list, tuple)):
            value = [str(v)[:64] for v in value][:20]
        elif value is not None and not isinstance(value, (int, bool)):
            value = str(value)[:200]
        clean[key] = value
    return clean


def _lock_chain():
    """Serialise appends, so two writers never chain onto the same head.

    PostgreSQL: a transaction-scoped advisory lock, held until commit; in READ COMMITTED (the
    default) the head read just after it sees the previous writer's committed event.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": CHAIN_LOCK_ID})
    # SQLite: write transactions start with BEGIN IMMEDIATE (see campaign.database), which
    # already serialises writers.


#: What signers and authors do through their private link. Kept in the chain at day precision
#: and never listed one by one (only counted per day), so that the log cannot time a withdrawal
#: against the batched public count (DESIGN 2a: counts do not betray timing).
SELF_SERVICE_ACTIONS = frozenset({
    "signature_withdrawn", "signature_erased", "statement_withdrawn", "statement_erased",
})


def _start_of_day(moment):
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _default_actor():
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return current_user
    return None


def record(action, *, actor=None, target=None, target_type=None, target_id=None, campaign=None,
           details=None):
    """Append one event to the chain (flushes, never commits). Returns the event."""
    actor = actor if actor is not None else _default_actor()
    if target is not None:
        target_type = target_type or target.__tablename__
        target_id = target_id or getattr(target, "public_id", None) or getattr(target, "slug", None)
    _lock_chain()
    prev_hash = db.session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar() or GENESIS
    event = AuditEvent(
        public_id=new_public_id(),
        created_at=_start_of_day(utcnow()) if action in SELF_SERVICE_ACTIONS else utcnow(),
        actor_id=getattr(actor, "id", None),
        actor=getattr(actor, "public_id", None),
        action=action,
        target_type=target_type,
        target_id=target_id,
        campaign_id=getattr(campaign, "id", None),
        campaign_slug=getattr(campaign, "slug", None),
        details=_check_details(details),
        prev_hash=prev_hash,
    )
    event.hash = compute_hash(event, prev_hash)
    db.session.add(event)
    db.session.flush()
    current_app.logger.info("audit %s %s", action, event.public_id)
    return event


def verify():
    """Walk the chain in order. Returns (count, None) when intact, or (count, broken_event).

    An event is broken when its hash does not match its content, when it does not follow the
    previous event (one was altered, inserted or deleted before it), or when its unhashed links
    (actor_id, campaign_id: kept so deleting a user or campaign does not break the chain) point at
    another user or campaign than the hashed public id and slug say. Events removed from the end
    of the chain cannot be detected here: compare the head hash with one kept elsewhere.
    """
    prev_hash = GENESIS
    count = 0
    rows = db.session.execute(
        select(AuditEvent, User.public_id, Campaign.slug)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .outerjoin(Campaign, Campaign.id == AuditEvent.campaign_id)
        .order_by(AuditEvent.id)
        .execution_options(yield_per=1000)
    )
    for event, actor_public_id, campaign_slug in rows:
        count += 1
        if (
            event.prev_hash != prev_hash
            or compute_hash(event, event.prev_hash) != event.hash
            or (event.actor_id is not None and actor_public_id != event.actor)
            or (event.campaign_id is not None and campaign_slug != event.campaign_slug)
        ):
            rows.close()
            return count, event
        prev_hash = event.hash
    return count, None


def head_hash():
    return db.session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar() or GENESIS
