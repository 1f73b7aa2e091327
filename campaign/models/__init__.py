"""Every model, imported here so that metadata and migrations see them all."""

from .audit import AuditEvent
from .campaigns import Campaign, Unit
from .consent import ConsentEvent, ConsentText
from .keys import DataKey
from .outbox import LinkRequest, OutboxMessage
from .petitions import Petition, PetitionSnapshot, Signature
from .users import Invitation, Membership, StaffSession, User

__all__ = [
    "AuditEvent",
    "Campaign",
    "ConsentEvent",
    "ConsentText",
    "DataKey",
    "Invitation",
    "LinkRequest",
    "Membership",
    "OutboxMessage",
    "Petition",
    "PetitionSnapshot",
    "Signature",
    "StaffSession",
    "Unit",
    "User",
]

from .actions import Action  # noqa: E402
from .meetings import MeetingNote, MeetingNoteRevision  # noqa: E402
from .statements import Statement  # noqa: E402

__all__ += ["Action", "MeetingNote", "MeetingNoteRevision", "Statement"]

from .tallies import TallyRelease  # noqa: E402

__all__ += ["TallyRelease"]
