"""The consent ledger: versioned texts, append-only events, effective consent. Flush, never commit.

Effective consent for a purpose is the latest event for that subject and purpose; no event means
not granted (least exposure by default).
"""

import hashlib

from flask import current_app
from sqlalchemy import and_, bindparam, func, select

from ..database import row, transient
from ..extensions import db
from ..models import ConsentEvent, ConsentText
from ..models.base import utcnow
from ..models.consent import (
    CONTACT,
    PUBLIC_NAME,
    PUBLISH,
    PUBLISH_NAMED,
    SHARE_WITH_REPS,
)

# Version 1 of every text, frozen: the first migration inserts it. New wording is a new version
# (add_version), never an edit of this dict.
DEFAULT_TEXTS = {
    PUBLIC_NAME: (
        "Afficher mon nom sur la page publique de la pétition. Tout le monde, y compris "
        "l'employeur, pourra le voir.",
        "Show my name on the petition's public page. Anyone, including the employer, will be "
        "able to see it.",
    ),
    SHARE_WITH_REPS: (
        "Montrer mon nom, mon site et mon département aux représentant·es syndicaux de cette "
        "campagne (pas aux organisateurs, pas à l'employeur).",
        "Show my name, site and department to this campaign's union representatives (not to "
        "organizers, not to the employer).",
    ),
    CONTACT: (
        "M'écrire à cette adresse au sujet de cette campagne.",
        "E-mail me at this address about this campaign.",
    ),
    PUBLISH: (
        "Publier mon témoignage sans mon nom sur la page publique de la campagne.",
        "Publish my statement without my name on the campaign's public page.",
    ),
    PUBLISH_NAMED: (
        "Publier mon témoignage avec mon nom sur la page publique de la campagne.",
        "Publish my statement with my name on the campaign's public page.",
    ),
}


def text_hash(purpose, version, text_fr, text_en):
    payload = "\x00".join([purpose, str(version), text_fr, text_en]).encode()
    return hashlib.sha256(payload).hexdigest()


def seed_defaults():
    """Create version 1 of each purpose's text when missing. Idempotent."""
    existing = set(db.session.execute(select(ConsentText.purpose)).scalars())
    for purpose, (text_fr, text_en) in DEFAULT_TEXTS.items():
        if purpose not in existing:
            db.session.add(ConsentText(purpose=purpose, version=1, text_fr=text_fr,
                                       text_en=text_en,
                                       sha256=text_hash(purpose, 1, text_fr, text_en)))
    db.session.flush()


def _current_texts_statement():
    latest = (
        select(ConsentText.purpose, func.max(ConsentText.version).label("version"))
        .where(ConsentText.purpose.in_(bindparam("purposes", expanding=True)))
        .group_by(ConsentText.purpose)
        .subquery()
    )
    return select(ConsentText).join(
        latest, and_(ConsentText.purpose == latest.c.purpose,
                     ConsentText.version == latest.c.version))


#: built once (on every page that shows a form): only the purposes vary
_CURRENT_TEXTS = _current_texts_statement()


#: Texts are only ever added (`add_version`), never edited nor deleted: the highest id names
#: the whole set. A caller may read it in its own query and pass it to `current_texts`.
LATEST_TEXT_ID = select(func.max(ConsentText.id)).scalar_subquery()


def current_texts(purposes, *, latest_id=None):
    """{purpose: latest ConsentText} for the given purposes.

    With `latest_id` (LATEST_TEXT_ID, read by the caller in the same transaction) the texts
    come from what this application read before for the same set, as read-only copies outside
    the session (database.transient: to show, not to attach to a row)."""
    if latest_id is not None:
        kept = current_app.extensions.setdefault("campaign_current_texts", {})
        values = kept.get((tuple(purposes), latest_id))
        if values is None:
            values = {purpose: row(text) for purpose, text in current_texts(purposes).items()}
            kept.clear()  # older sets are never asked for again
            kept[(tuple(purposes), latest_id)] = values
        return {purpose: transient(ConsentText, row_values)
                for purpose, row_values in values.items()}
    rows = db.session.execute(_CURRENT_TEXTS, {"purposes": list(purposes)}).scalars()
    found = {t.purpose: t for t in rows}
    missing = [p for p in purposes if p not in found]
    if missing:
        raise LookupError(f"no consent text for {missing}")
    return found


def get_text(purpose, version):
    return db.session.execute(
        select(ConsentText).where(ConsentText.purpose == purpose, ConsentText.version == version)
    ).scalar_one_or_none()


def add_version(purpose, text_fr, text_en):
    """A new version of a purpose's wording (used texts are never edited)."""
    top = db.session.execute(
        select(func.max(ConsentText.version)).where(ConsentText.purpose == purpose)
    ).scalar() or 0
    text = ConsentText(purpose=purpose, version=top + 1, text_fr=text_fr, text_en=text_en,
                       sha256=text_hash(purpose, top + 1, text_fr, text_en))
    db.session.add(text)
    db.session.flush()
    return text


def checked_text(text, purpose):
    """`text`, if it is a text of `purpose` (an event never names another purpose's wording)."""
    if text.purpose != purpose:
        raise ValueError("consent text of another purpose")
    return text


def record(*, signature=None, statement_id=None, purpose, granted, text, channel):
    """Append one grant or withdrawal, naming the exact text version shown."""
    checked_text(text, purpose)
    event = ConsentEvent(
        signature_id=signature.id if signature is not None else None,
        statement_id=statement_id,
        purpose=purpose,
        granted=bool(granted),
        consent_text_id=text.id,
        channel=channel,
        created_on=utcnow().date(),
    )
    db.session.add(event)
    db.session.flush()
    return event


def _latest_ids(subject_column, subject_value, purpose=None):
    query = select(func.max(ConsentEvent.id)).where(subject_column == subject_value)
    if purpose is not None:
        query = query.where(ConsentEvent.purpose == purpose)
    return query.group_by(ConsentEvent.purpose)


def effective(*, signature=None, statement_id=None):
    """{purpose: bool} of the subject's effective consent (missing purposes are False)."""
    if signature is not None:
        column, value = ConsentEvent.signature_id, signature.id
    else:
        column, value = ConsentEvent.statement_id, statement_id
    events = db.session.execute(
        select(ConsentEvent).where(ConsentEvent.id.in_(_latest_ids(column, value)))
    ).scalars()
    return {e.purpose: e.granted for e in events}


def history(*, signature=None, statement_id=None):
    column = ConsentEvent.signature_id if signature is not None else ConsentEvent.statement_id
    value = signature.id if signature is not None else statement_id
    return db.session.execute(
        select(ConsentEvent).where(column == value).order_by(ConsentEvent.id)
    ).scalars().all()


def history_export(events):
    """A consent history as plain data, for the signer's or author's own JSON download: each
    event with the exact wording (both languages, its version and hash) that was shown."""
    return [
        {
            "purpose": e.purpose,
            "granted": e.granted,
            "text_version": e.consent_text.version,
            "text_sha256": e.consent_text.sha256,
            "text_fr": e.consent_text.text_fr,
            "text_en": e.consent_text.text_en,
            "channel": e.channel,
            "on": e.created_on.isoformat(),
        }
        for e in events
    ]


def granted_signatures_clause(purpose):
    """A SQL condition on Signature.id: its latest event for `purpose` is a grant."""
    from ..models import Signature

    latest = (
        select(func.max(ConsentEvent.id))
        .where(ConsentEvent.purpose == purpose, ConsentEvent.signature_id.is_not(None))
        .group_by(ConsentEvent.signature_id)
    )
    granted = select(ConsentEvent.signature_id).where(
        ConsentEvent.id.in_(latest), ConsentEvent.granted.is_(True)
    )
    return Signature.id.in_(granted)
