"""Bilingual labels for statement statuses, note and action kinds, and visibilities.

Registered as template globals by the statements blueprint (public pages, staff pages and mail
all use them), so every page says the same word for the same thing.
"""

from flask_babel import lazy_gettext as _l

STATEMENT_STATUS_LABELS = {
    "pending": _l("Waiting for the reps' decision"),
    "published": _l("Published"),
    "rejected": _l("Not published"),
    "withdrawn": _l("Withdrawn"),
}
#: a pending statement whose author did not ask for publication is simply for the reps
REPS_ONLY_STATUS_LABEL = _l("For the reps only")

PUBLICATION_LABELS = {
    "reps_only": _l("Only this campaign's union representatives may read it"),
    "public_anonymous": _l("Published on the campaign's page, without my name"),
    "public_named": _l("Published on the campaign's page, with my name"),
}
#: the same choices, as the reps read them
ALLOWANCE_LABELS = {
    "reps_only": _l("Reps only: not for publication"),
    "public_anonymous": _l("Publication without the author's name"),
    "public_named": _l("Publication with the author's name"),
}
REJECTION_REASON_LABELS = {
    "identifying": _l("It could identify its author or someone else"),
    "off_topic": _l("It is not about this campaign"),
    "abusive": _l("It is abusive or insulting"),
    "duplicate": _l("It repeats another statement"),
    "other": _l("Another reason"),
}
NOTE_KIND_LABELS = {
    "works_council": _l("Works council"),
    "negotiation": _l("Negotiation with management"),
    "general_assembly": _l("General assembly"),
    "union_section": _l("Union section"),
    "other": _l("Other meeting"),
}
NOTE_VISIBILITY_LABELS = {
    "reps_only": _l("Reps only"),
    "reps_and_organizers": _l("Reps and organizers"),
}
NOTE_FIELD_LABELS = {
    "title": _l("Title"),
    "held_on": _l("Date"),
    "kind": _l("Kind of meeting"),
    "attendees": _l("Attendees"),
    "body": _l("Notes"),
    "decisions": _l("Decisions"),
    "follow_ups": _l("Follow-ups"),
    "visibility": _l("Who may read it"),
}
ACTION_KIND_LABELS = {
    "communique": _l("Communiqué"),
    "strike": _l("Strike"),
    "rally": _l("Rally"),
    "petition_delivery": _l("Petition delivery"),
    "management_meeting": _l("Meeting with management"),
    "press": _l("Press"),
    "legal": _l("Legal action"),
    "other": _l("Other action"),
}
ACTION_VISIBILITY_LABELS = {
    "public": _l("Public: on the campaign's page and calendar"),
    "internal": _l("Internal: staff only"),
}


def _lookup(labels):
    def label(value):
        return labels.get(value, value)

    return label


def statement_status_label(statement, consents=None):
    """The status in words; a pending statement not asked for publication is 'for the reps'."""
    if statement.status == "pending" and consents is not None and not consents.get("publish"):
        return REPS_ONLY_STATUS_LABEL
    return STATEMENT_STATUS_LABELS.get(statement.status, statement.status)


def register(bp):
    for name, function in (
        ("statement_status_label", statement_status_label),
        ("publication_label", _lookup(PUBLICATION_LABELS)),
        ("allowance_label", _lookup(ALLOWANCE_LABELS)),
        ("rejection_reason_label", _lookup(REJECTION_REASON_LABELS)),
        ("note_kind_label", _lookup(NOTE_KIND_LABELS)),
        ("note_visibility_label", _lookup(NOTE_VISIBILITY_LABELS)),
        ("note_field_label", _lookup(NOTE_FIELD_LABELS)),
        ("action_kind_label", _lookup(ACTION_KIND_LABELS)),
        ("action_visibility_label", _lookup(ACTION_VISIBILITY_LABELS)),
    ):
        bp.add_app_template_global(function, name)
