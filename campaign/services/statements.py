"""Statements: submission, the author's own choices, moderation, withdrawal and erasure.

Flush, never commit. What an author allows lives in the consent ledger (`publish`,
`publish_named`, `share_with_reps`); every reader asks it at render time, so narrowing takes
effect on the next request. The author's name and e-mail address are sealed with their own data
key; withdrawal and erasure destroy that key.

Rules decided here (and documented for authors on their private page):

- Narrowing is immediate and needs nobody: withdrawing `publish_named` hides the name at once;
  withdrawing `publish` takes a published statement off every public page and puts it back to
  `pending` (it is no longer published; the reps' redaction and translation are kept).
- Widening a published statement (granting `publish_named` after an anonymous publication) puts
  it back to `pending` too: the reps check a name before it is shown (anyone can type any name),
  so it leaves the public pages until they decide again.
- The site and department are kept only while `share_with_reps` holds (nobody else may see
  them): not stored without it, erased when it is withdrawn.
- Withdrawal keeps a tombstone (status, dates, the consent history) and erases everything else:
  the text, its redacted and translated versions, the name, the e-mail address, site and
  department. Erasure deletes the row and its consent events too; the private link stops working.
"""

from dataclasses import dataclass

from sqlalchemy import delete, func, select

from .. import access, audit, mail
from ..crypto import new_public_id, new_token, token_hash
from ..extensions import db
from ..i18n import LOCALES
from ..models import ConsentEvent, Statement
from ..models.base import utcnow
from ..models.consent import (
    CHANNEL_WEB,
    PUBLISH,
    PUBLISH_NAMED,
    SHARE_WITH_REPS,
    STATEMENT_PURPOSES,
)
from ..models.statements import (
    PUBLIC_ANONYMOUS,
    PUBLIC_NAMED,
    PUBLICATION_CHOICES,
    REJECTION_REASONS,
    REPS_ONLY,
    STATUS_PENDING,
    STATUS_PUBLISHED,
    STATUS_REJECTED,
    STATUS_WITHDRAWN,
)
from . import campaigns as campaign_service
from . import consent, keys

TABLE = "statements"
TEXT_MAX = 10_000
NOTE_MAX = 1_000


class StatementError(ValueError):
    """A rule about statements was broken; the message is a stable code for the view."""


@dataclass
class StatementInput:
    text: str
    language: str
    name: str | None = None
    email: str | None = None
    site_id: int | None = None
    department_id: int | None = None
    publication: str = REPS_ONLY
    share_with_reps: bool = False
    locale: str = "fr"


@dataclass
class PublicStatement:
    """A statement as the public and organizers see it: redacted text, name only if allowed."""

    statement: Statement
    author_name: str | None


def today():
    return utcnow().date()


# --- choices <-> consent ---------------------------------------------------------------------

def wanted_consents(publication, share_with_reps):
    """{purpose: bool} an author's choice amounts to in the ledger."""
    if publication not in PUBLICATION_CHOICES:
        raise StatementError("bad_choice")
    return {
        PUBLISH: publication in (PUBLIC_ANONYMOUS, PUBLIC_NAMED),
        PUBLISH_NAMED: publication == PUBLIC_NAMED,
        SHARE_WITH_REPS: bool(share_with_reps),
    }


def choice_of(consents):
    """The publication choice that the effective consents express."""
    if not consents.get(PUBLISH):
        return REPS_ONLY
    return PUBLIC_NAMED if consents.get(PUBLISH_NAMED) else PUBLIC_ANONYMOUS


def effective(statement):
    return consent.effective(statement_id=statement.id)


def granted_statements_clause(purpose):
    """A SQL condition on Statement.id: its latest event for `purpose` is a grant."""
    latest = (
        select(func.max(ConsentEvent.id))
        .where(ConsentEvent.purpose == purpose, ConsentEvent.statement_id.is_not(None))
        .group_by(ConsentEvent.statement_id)
    )
    granted = select(ConsentEvent.statement_id).where(
        ConsentEvent.id.in_(latest), ConsentEvent.granted.is_(True)
    )
    return Statement.id.in_(granted)


# --- submission ------------------------------------------------------------------------------

def _valid_unit(campaign, unit_id, kind):
    if unit_id is None:
        return None
    for unit in campaign.units:
        if unit.id == unit_id and unit.kind == kind and unit.is_active:
            return unit.id
    raise StatementError("bad_unit")


def _clean(value):
    value = (value or "").strip()
    return value or None


def submit(campaign, data, *, link_for, texts=None):
    """Store a statement and its author's choices. Returns (statement, raw private-link token).

    `link_for(token)` builds the private link mailed to the author when they gave an address.
    """
    if not access.can_submit_statement(campaign):
        raise StatementError("closed")
    text = _clean(data.text)
    if not text:
        raise StatementError("missing")
    if len(text) > TEXT_MAX:
        raise StatementError("too_long")
    if data.language not in LOCALES:
        raise StatementError("bad_language")
    name, email = _clean(data.name), _clean(data.email)
    wanted = wanted_consents(data.publication, data.share_with_reps)
    if wanted[PUBLISH_NAMED] and not name:
        raise StatementError("no_name")
    site_id = _valid_unit(campaign, data.site_id, "site")
    department_id = _valid_unit(campaign, data.department_id, "department")
    if not wanted[SHARE_WITH_REPS]:
        # Nobody may see where the author works: do not keep it (least exposure).
        site_id = department_id = None
    texts = texts or consent.current_texts(STATEMENT_PURPOSES)

    token = new_token()
    statement = Statement(
        public_id=new_public_id(),
        campaign_id=campaign.id,
        text=text,
        language=data.language,
        locale=data.locale if data.locale in LOCALES else None,
        site_id=site_id,
        department_id=department_id,
        status=STATUS_PENDING,
        submitted_on=today(),
        token_hash=token_hash(token),
    )
    statement.campaign = campaign
    if name or email:
        data_key = keys.fresh_person_key()
        statement.data_key = data_key
        statement.author_name_ct = keys.seal(data_key, TABLE, "author_name", statement.public_id,
                                             name)
        statement.author_email_ct = keys.seal(data_key, TABLE, "author_email",
                                              statement.public_id, email)
    db.session.add(statement)
    db.session.flush()
    for purpose in STATEMENT_PURPOSES:
        if wanted[purpose]:
            consent.record(statement_id=statement.id, purpose=purpose, granted=True,
                           text=texts[purpose], channel=CHANNEL_WEB)
    if email:
        mail.queue_template(email, "statement_link", locale=data.locale, campaign=campaign,
                            private_link=link_for(token))
    db.session.flush()
    return statement, token


# --- lookups ---------------------------------------------------------------------------------

def find_by_hash(digest):
    return db.session.execute(
        select(Statement).where(Statement.token_hash == digest)).scalar_one_or_none()


def get_by_public_id(public_id):
    if not public_id:
        return None
    return db.session.execute(
        select(Statement).where(Statement.public_id == public_id)).scalar_one_or_none()


def get_in_campaign(campaign, public_id):
    return db.session.execute(
        select(Statement).where(Statement.campaign_id == campaign.id,
                                Statement.public_id == public_id)).scalar_one_or_none()


def identity(statement):
    """(name, email) decrypted; (None, None) when none was given or once erased."""
    if statement.data_key is None or statement.data_key.wrapped is None:
        return None, None
    return (
        keys.unseal(statement.data_key, TABLE, "author_name", statement.public_id,
                    statement.author_name_ct),
        keys.unseal(statement.data_key, TABLE, "author_email", statement.public_id,
                    statement.author_email_ct),
    )


def public_statements(campaign, limit=None):
    """Published statements whose authors still allow publication, newest decision first."""
    if not access.can_view_public_statements(campaign):
        return []
    query = (
        select(Statement)
        .where(Statement.campaign_id == campaign.id, Statement.status == STATUS_PUBLISHED,
               granted_statements_clause(PUBLISH))
        .order_by(Statement.decided_on.desc(), Statement.id.desc())
    )
    if limit:
        query = query.limit(limit)
    shown = []
    for statement in db.session.execute(query).scalars():
        consents = effective(statement)
        if not access.is_statement_public(statement, consents):
            continue
        name = None
        if access.can_show_statement_author_publicly(statement, consents):
            name, _email = identity(statement)
        shown.append(PublicStatement(statement=statement, author_name=name))
    return shown


def published_statements(campaign):
    """What organizers see: the published statements, as the public sees them but never named."""
    rows = db.session.execute(
        select(Statement)
        .where(Statement.campaign_id == campaign.id, Statement.status == STATUS_PUBLISHED,
               granted_statements_clause(PUBLISH))
        .order_by(Statement.decided_on.desc(), Statement.id.desc())
    ).scalars()
    return [PublicStatement(statement=s, author_name=None) for s in rows]


def staff_statements(campaign):
    """Every statement of the campaign except withdrawn tombstones, with its consents (reps)."""
    rows = db.session.execute(
        select(Statement)
        .where(Statement.campaign_id == campaign.id, Statement.status != STATUS_WITHDRAWN)
        .order_by(Statement.submitted_on.desc(), Statement.id.desc())
    ).scalars().all()
    return [(s, effective(s)) for s in rows]


def moderation_queue(statements_with_consents):
    """Pending statements whose authors ask for publication: the reps' decisions to make."""
    return [(s, c) for s, c in statements_with_consents
            if s.status == STATUS_PENDING and access.publication_allowed(c)]


# --- the author's own choices ----------------------------------------------------------------

def change_choices(statement, publication, share_with_reps, *, texts=None, channel=CHANNEL_WEB):
    """Record the author's new choices in the ledger. Returns {purpose: granted} of what changed."""
    if statement.status == STATUS_WITHDRAWN:
        raise StatementError("withdrawn")
    wanted = wanted_consents(publication, share_with_reps)
    name, _email = identity(statement)
    if wanted[PUBLISH_NAMED] and not name:
        raise StatementError("no_name")
    texts = texts or consent.current_texts(STATEMENT_PURPOSES)
    current = effective(statement)
    changed = {}
    for purpose in STATEMENT_PURPOSES:
        if bool(current.get(purpose)) != wanted[purpose]:
            consent.record(statement_id=statement.id, purpose=purpose, granted=wanted[purpose],
                           text=texts[purpose], channel=channel)
            changed[purpose] = wanted[purpose]
    if changed.get(SHARE_WITH_REPS) is False:
        # Nobody may see where the author works any more: do not keep it.
        statement.site_id = statement.department_id = None
    if statement.status == STATUS_PUBLISHED:
        if changed.get(PUBLISH) is False or changed.get(PUBLISH_NAMED) is True:
            # Off the public pages: no longer allowed, or the reps must check a name first.
            statement.status = STATUS_PENDING
            statement.published_named = False
        elif changed.get(PUBLISH_NAMED) is False:
            statement.published_named = False
    db.session.flush()
    return changed


def withdraw(statement, *, channel=CHANNEL_WEB):
    """Gone from every page at once: consents withdrawn, words and identity erased, a tombstone."""
    if statement.status == STATUS_WITHDRAWN:
        return statement
    current = effective(statement)
    texts = consent.current_texts(STATEMENT_PURPOSES)
    for purpose in STATEMENT_PURPOSES:
        if current.get(purpose):
            consent.record(statement_id=statement.id, purpose=purpose, granted=False,
                           text=texts[purpose], channel=channel)
    statement.status = STATUS_WITHDRAWN
    statement.withdrawn_on = today()
    statement.published_named = False
    statement.redacted_text = None
    statement.translation = None
    statement.rejection_note = None
    _erase_personal(statement)
    db.session.flush()
    audit.record("statement_withdrawn", actor=None, target_type=TABLE,
                 target_id=statement.public_id, campaign=statement.campaign)
    return statement


def _erase_personal(statement, *, reason="erasure"):
    """Erase the author's words (the original) and identity; the public, redacted text stays."""
    if statement.data_key is not None:
        keys.destroy(statement.data_key, reason=reason)
    statement.author_name_ct = None
    statement.author_email_ct = None
    statement.site_id = None
    statement.department_id = None
    statement.text = None
    statement.erased_on = statement.erased_on or today()


def erase(statement):
    """Erase everything: the data key, the row and its consent events."""
    campaign = statement.campaign
    public_id = statement.public_id
    if statement.data_key is not None:
        keys.destroy(statement.data_key)
    db.session.execute(delete(ConsentEvent).where(ConsentEvent.statement_id == statement.id))
    db.session.delete(statement)
    db.session.flush()
    audit.record("statement_erased", actor=None, target_type=TABLE, target_id=public_id,
                 campaign=campaign)


def export_own(statement):
    """Everything stored about the author and their statement, for the JSON download."""
    name, email = identity(statement)

    def day(value):
        return value.isoformat() if value else None

    return {
        "campaign": {
            "slug": statement.campaign.slug,
            "title_fr": statement.campaign.title_fr,
            "title_en": statement.campaign.title_en,
        },
        "statement": {
            "id": statement.public_id,
            "text": statement.text,
            "language": statement.language,
            "name": name,
            "email": email,
            "site": statement.site.code if statement.site else None,
            "department": statement.department.code if statement.department else None,
            "status": statement.status,
            "published_text": statement.redacted_text,
            "translation": statement.translation,
            "published_with_name": statement.published_named,
            "rejection_reason": statement.rejection_reason,
            "rejection_note": statement.rejection_note,
            "submitted_on": day(statement.submitted_on),
            "decided_on": day(statement.decided_on),
            "withdrawn_on": day(statement.withdrawn_on),
        },
        "consent": dict(effective(statement)),
        "consent_history": consent.history_export(
            consent.history(statement_id=statement.id)),
    }


# --- moderation (reps) -----------------------------------------------------------------------

def _notify_author(statement, template, **context):
    _name, email = identity(statement)
    if email:
        mail.queue_template(email, template, locale=statement.locale, campaign=statement.campaign,
                            statement=statement, **context)


def publish(statement, *, actor, redacted_text, named=False):
    """Publish the (redacted) text, within what the author allows right now. Audited."""
    if statement.status == STATUS_WITHDRAWN or statement.text is None:
        raise StatementError("withdrawn")
    consents = effective(statement)
    if not access.publication_allowed(consents):
        raise StatementError("not_allowed")
    if named and not access.publication_allowed(consents, named=True):
        raise StatementError("named_not_allowed")
    if named and identity(statement)[0] is None:
        raise StatementError("no_name")
    redacted = _clean(redacted_text)
    if not redacted:
        raise StatementError("missing")
    if len(redacted) > TEXT_MAX:
        raise StatementError("too_long")
    newly = statement.status != STATUS_PUBLISHED
    statement.redacted_text = redacted
    statement.published_named = bool(named)
    statement.status = STATUS_PUBLISHED
    statement.rejection_reason = None
    statement.rejection_note = None
    statement.decided_on = today()
    db.session.flush()
    audit.record("statement_published", actor=actor, target_type=TABLE,
                 target_id=statement.public_id, campaign=statement.campaign,
                 details={"kind": "named" if named else "anonymous",
                          "result": "redacted" if redacted != statement.text else "as_written"})
    if newly:
        _notify_author(statement, "statement_decision", published=True)
    return statement


def reject(statement, *, actor, reason, note=None):
    """Do not publish (or unpublish), with a reason the author sees. Audited."""
    if statement.status == STATUS_WITHDRAWN:
        raise StatementError("withdrawn")
    if reason not in REJECTION_REASONS:
        raise StatementError("bad_reason")
    note = _clean(note)
    if note and len(note) > NOTE_MAX:
        raise StatementError("too_long")
    statement.status = STATUS_REJECTED
    statement.published_named = False
    statement.rejection_reason = reason
    statement.rejection_note = note
    statement.decided_on = today()
    db.session.flush()
    audit.record("statement_rejected", actor=actor, target_type=TABLE,
                 target_id=statement.public_id, campaign=statement.campaign,
                 details={"reason": reason})
    _notify_author(statement, "statement_decision", published=False)
    return statement


def set_translation(statement, *, actor, translation):
    """Add, replace or (empty) remove the reps' translation into the other language. Audited."""
    if statement.status == STATUS_WITHDRAWN:
        raise StatementError("withdrawn")
    translation = _clean(translation)
    if translation and len(translation) > TEXT_MAX:
        raise StatementError("too_long")
    if translation == statement.translation:
        return statement
    statement.translation = translation
    db.session.flush()
    audit.record("statement_translated", actor=actor, target_type=TABLE,
                 target_id=statement.public_id, campaign=statement.campaign,
                 details={"locale": statement.translation_language,
                          "result": "saved" if translation else "removed"})
    return statement


def record_identity_view(statement, *, actor, purpose):
    """A rep was shown an author's name: audited, never the name itself."""
    audit.record("identities_viewed", actor=actor, target_type=TABLE,
                 target_id=statement.public_id, campaign=statement.campaign,
                 details={"count": 1, "purpose": purpose})


# --- retention -------------------------------------------------------------------------------

def purge_due(now=None):
    """Past a closed campaign's retention: erase authors' identities and original words.

    What was published (the redacted text and its translation) stays, anonymous. Returns the
    number of statements purged. For the daily `flask purge` job.
    """
    now = now or utcnow()
    purged = 0
    for campaign in campaign_service.past_retention(now):
        rows = db.session.execute(
            select(Statement).where(Statement.campaign_id == campaign.id,
                                    Statement.erased_on.is_(None))
        ).scalars().all()
        for statement in rows:
            statement.published_named = False
            if statement.status != STATUS_PUBLISHED:
                statement.redacted_text = None
                statement.translation = None
            _erase_personal(statement, reason="retention")
            purged += 1
        if rows:
            audit.record("purge", actor=None, campaign=campaign,
                         details={"count": len(rows), "reason": "retention", "kind": TABLE})
    db.session.flush()
    return purged

