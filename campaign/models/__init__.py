"""Every model, imported here so that metadata and migrations see them all."""

from .audit import AuditEvent
from .campaigns import Campaign, Unit
from .keys import DataKey
from .users import Invitation, Membership, StaffSession, User

__all__ = [
    "AuditEvent",
    "Campaign",
    "DataKey",
    "Invitation",
    "Membership",
    "StaffSession",
    "Unit",
    "User",
]
