"""Every model, imported here so that metadata and migrations see them all."""

from .audit import AuditEvent
from .campaigns import Campaign, Unit
from .consent import ConsentEvent, ConsentText
from .keys import DataKey
from .outbox import OutboxMessage
from .petitions import Petition, PetitionSnapshot, Signature
from .users import Invitation, Membership, StaffSession, User

__all__ = [
    "AuditEvent",
    "Campaign",
    "ConsentEvent",
    "ConsentText",
    "DataKey",
    "Invitation",
    "Membership",
    "OutboxMessage",
    "Petition",
    "PetitionSnapshot",
    "Signature",
    "StaffSession",
    "Unit",
    "User",
]
