"""Signing, confirming, the signer's private link, and the batched public count. Flush, never commit.

A signature is counted and nothing more unless its signer opted in. Names and e-mail addresses
are sealed with the signer's own data key; withdrawal and erasure destroy that key.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, exists, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from .. import audit, mail
from ..crypto import keyed_hash, new_public_id, new_token, normalize_identifier, token_hash
from ..extensions import db
from ..models import ConsentEvent, DataKey, OutboxMessage, Petition, PetitionSnapshot, Signature
from ..models.base import utcnow
from ..models.consent import CHANNEL_WEB, PUBLIC_NAME, SIGNATURE_PURPOSES
from ..models.petitions import PETITION_OPEN, SOURCE_ONLINE, VERIFY_EMAIL
from . import campaigns as campaign_service
from . import consent, keys

TABLE = "signatures"


class SignatureError(ValueError):
    """A rule about signing was broken; the message is a stable code for the view to translate."""


@dataclass
class SignResult:
    """What the signer is shown. Identical in shape whether or not the address had signed."""

    signature_id: int
    token: str
    needs_confirmation: bool

    @property
    def signature(self):
        return db.session.get(Signature, self.signature_id)


@dataclass
class Links:
    """Builds the absolute URLs put in mails (the view knows the routes, the service does not)."""

    private: object  # token -> url
    confirm: object  # token -> url
    lost: object  # () -> url (only an address that signed before is sent it)


@dataclass
class SignerInput:
    name: str
    email: str | None
    site_id: int | None = None
    department_id: int | None = None
    consents: dict = field(default_factory=dict)  # purpose -> bool (missing = not granted)
    locale: str = "fr"


def today():
    return utcnow().date()


def signer_key(petition, email):
    """Keyed hash of the address, scoped to the petition so keys do not link petitions."""
    return signer_key_for(petition.public_id, email)


def signer_key_for(petition_public_id, email):
    """`signer_key` from the petition's public id alone (known before the petition is read)."""
    return keyed_hash(f"{petition_public_id}\x00{normalize_identifier(email)}", purpose="signer")


def petition_is_open(petition, on=None):
    on = on or today()
    if petition.status != PETITION_OPEN or not petition.campaign.is_public:
        return False
    if petition.campaign.status != "active":
        return False
    if petition.opens_on and on < petition.opens_on:
        return False
    if petition.closes_on and on > petition.closes_on:
        return False
    return True


def _valid_unit(petition, unit_id, kind):
    if unit_id is None:
        return None
    for unit in petition.campaign.units:
        if unit.id == unit_id and unit.kind == kind and unit.is_active:
            return unit.id
    raise SignatureError("bad_unit")


@dataclass(frozen=True)
class SealedSigner:
    """A fresh data key (wrapped) and a name and address sealed under it for a new row: the
    cryptography of a signature, done without the database."""

    key_public_id: str
    wrapped: bytes
    ring_key_id: str
    public_id: str
    name_ct: bytes | None
    email_ct: bytes | None


def seal_signer(name, email):
    data_key = keys.new_key()
    public_id = new_public_id()
    return SealedSigner(
        key_public_id=data_key.public_id, wrapped=data_key.wrapped,
        ring_key_id=data_key.ring_key_id, public_id=public_id,
        name_ct=keys.seal(data_key, TABLE, "name", public_id, name),
        email_ct=keys.seal(data_key, TABLE, "email", public_id, email))


#: the rows of a new signature, written with Core statements (signing is the hot path: the
#: ORM's unit of work cost more than the inserts themselves)
_INSERT_DATA_KEY = insert(DataKey.__table__).returning(DataKey.__table__.c.id)
_INSERT_EVENTS = insert(ConsentEvent.__table__).inline()  # no RETURNING of unused ids
_KEY_EXISTS = (
    select(Signature.id)
    .where(Signature.petition_id == bindparam("petition_id"),
           Signature.signer_key == bindparam("key"))
    .limit(1)
)


def _insert_signature(dialect):
    """INSERT of a signature that does nothing when its signer key is taken (the unique
    constraint on (petition_id, signer_key)), returning the new id or no row."""
    table = Signature.__table__
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (make(table).on_conflict_do_nothing(index_elements=["petition_id", "signer_key"])
            .returning(table.c.id))


_INSERT_SIGNATURE = {name: _insert_signature(name) for name in ("sqlite", "postgresql")}

#: the columns of a new signature's row that `_new_signature` gives (all but its data key)
_SIGNATURE_VALUES = (
    "public_id", "petition_id", "signer_key", "is_shadow", "site_id", "department_id", "source",
    "batch_label", "locale", "signed_on", "confirmed_on", "token_hash", "name_ct", "email_ct",
    "confirm_hash")


def _insert_key_and_signature(with_mail=False):
    """On PostgreSQL, the data key and the signature in one statement (one round trip instead
    of two): the key's INSERT is a CTE whose id the signature's INSERT ... SELECT takes. Like
    `_insert_signature`, it does nothing when the signer key is taken (the key row stays, and
    `_new_signature` gives it to the shadow). The parameters are the key's, the signature's
    prefixed with "s_". `with_mail`: the signer's mail's outbox row too, written only if the
    signature row was (parameters prefixed with "o_", see mail.outbox_row)."""
    keys, table = DataKey.__table__, Signature.__table__
    new_key = (insert(keys).values(public_id=bindparam("public_id"),
                                   wrapped=bindparam("wrapped"),
                                   ring_key_id=bindparam("ring_key_id"),
                                   created_at=bindparam("created_at"))
               .returning(keys.c.id).cte("new_key"))
    values = select(*(bindparam(f"s_{name}", type_=table.c[name].type)
                      for name in _SIGNATURE_VALUES), new_key.c.id)
    new_signature = (
        postgresql.insert(table).from_select([*_SIGNATURE_VALUES, "data_key_id"], values)
        .on_conflict_do_nothing(index_elements=["petition_id", "signer_key"])
        .returning(table.c.id))
    if not with_mail:
        return new_signature
    new_signature = new_signature.cte("new_signature")
    outbox = OutboxMessage.__table__
    mail_values = select(*(bindparam(f"o_{name}", type_=outbox.c[name].type)
                           for name in mail.OUTBOX_VALUES)
                         ).where(exists(select(new_signature.c.id)))
    new_mail = insert(outbox).from_select(list(mail.OUTBOX_VALUES), mail_values).cte("new_mail")
    return select(new_signature.c.id).add_cte(new_mail)


_INSERT_KEY_AND_SIGNATURE = _insert_key_and_signature()
_INSERT_KEY_SIGNATURE_AND_MAIL = _insert_key_and_signature(with_mail=True)
_KEY_ID_BY_PUBLIC_ID = select(DataKey.__table__.c.id).where(
    DataKey.__table__.c.public_id == bindparam("public_id"))


def _new_signature(petition, data, *, source, channel, texts, key, confirmed, batch_label=None,
                   sealed=None, token=None, confirm_token=None, sealed_mail=None):
    """Store a signature under `key`, or a shadow (no key, never counted) when `key` is None or
    already taken (signed before, or by a submission racing this one). Returns (id, private-link
    token, whether it is a shadow). Flushes the session first; adds nothing to it.
    `sealed_mail`: queued with the row if it is stored as asked (under `key`, or as a shadow
    when `key` is None), not when the key turned out taken (on PostgreSQL in the same
    statement)."""
    sealed = sealed or seal_signer(data.name, data.email)
    token = token or new_token()
    db.session.flush()
    connection = db.session.connection()
    data_key = {"public_id": sealed.key_public_id, "wrapped": sealed.wrapped,
                "ring_key_id": sealed.ring_key_id, "created_at": utcnow()}
    row = {
        "public_id": sealed.public_id, "petition_id": petition.id, "signer_key": key,
        "is_shadow": key is None, "site_id": data.site_id,
        "department_id": data.department_id, "source": source, "batch_label": batch_label,
        "locale": data.locale, "signed_on": today(), "confirmed_on": today() if confirmed else None,
        "token_hash": token_hash(token), "name_ct": sealed.name_ct, "email_ct": sealed.email_ct,
        "confirm_hash": token_hash(confirm_token) if confirm_token and key else None,
    }
    signature_id, mail_written = _write_key_and_row(connection, data_key, row, sealed_mail)
    taken = signature_id is None
    if taken:  # the key was taken (a race): a shadow instead, with the data key written
        row.update(signer_key=None, is_shadow=True, confirm_hash=None)
        row.setdefault("data_key_id", connection.execute(
            _KEY_ID_BY_PUBLIC_ID, {"public_id": sealed.key_public_id}).scalar_one())
        signature_id = connection.execute(
            _INSERT_SIGNATURE[connection.dialect.name], row).scalar_one()
    if mail_written:
        mail.queued(sealed_mail)  # its row went in with the signature's
    elif sealed_mail is not None and not taken:
        mail.queue(sealed_mail)
    events = [
        {"signature_id": signature_id, "statement_id": None, "purpose": purpose,
         "granted": True, "consent_text_id": consent.checked_text(texts[purpose], purpose).id,
         "channel": channel, "created_on": today()}
        for purpose in SIGNATURE_PURPOSES if data.consents.get(purpose)
    ]
    if events:
        connection.execute(_INSERT_EVENTS, events)
    return signature_id, token, row["is_shadow"]


def _write_key_and_row(connection, data_key, row, sealed_mail):
    """Write the data key and the signature row as given (under its signer key, or a shadow
    when that is None). Returns (the signature's id, or None when its signer key was taken;
    whether the outbox row of `sealed_mail` went in with it). PostgreSQL: one statement, the
    mail's row included; SQLite: one statement each, the mail left to the caller."""
    if connection.dialect.name != "postgresql":
        row["data_key_id"] = connection.execute(_INSERT_DATA_KEY, data_key).scalar_one()
        return connection.execute(_INSERT_SIGNATURE["sqlite"], row).scalar_one_or_none(), False
    parameters = {**data_key, **{f"s_{name}": value for name, value in row.items()}}
    if sealed_mail is not None:
        parameters.update({f"o_{name}": value
                           for name, value in mail.outbox_row(sealed_mail).items()})
    signature_id = connection.execute(
        _INSERT_KEY_AND_SIGNATURE if sealed_mail is None else _INSERT_KEY_SIGNATURE_AND_MAIL,
        parameters).scalar_one_or_none()
    return signature_id, signature_id is not None and sealed_mail is not None


def _key_exists(petition, key):
    return db.session.connection().execute(
        _KEY_EXISTS, {"petition_id": petition.id, "key": key}).first() is not None


@dataclass(frozen=True)
class Prepared:
    """What an online signature computes before it writes: the keyed hash of the address, the
    tokens, the sealed identity, and the mail for the case a look-up made then expects. `sign`
    lets the unique constraint decide a race and seals the other mail only if that changed."""

    key: str
    token: str
    confirm_token: str
    sealed: SealedSigner
    repeated: bool  # the address had signed when looked up
    mail_kind: str
    mail: object  # mail.SealedMail


def _mail_kind(repeated, verify):
    if repeated:
        return "already_signed"
    return "confirm_signature" if verify else "private_link"


def _seal_mail(kind, data, links, token, confirm_token):
    if kind == "already_signed":
        return mail.seal_template(data.email, kind, locale=data.locale,
                                  lost_link=links.lost())
    if kind == "confirm_signature":
        return mail.seal_template(data.email, kind, locale=data.locale,
                                  confirm_link=links.confirm(confirm_token),
                                  private_link=links.private(token))
    return mail.seal_template(data.email, kind, locale=data.locale,
                              private_link=links.private(token))


@dataclass(frozen=True)
class LookedUp:
    """Whether a signer key was taken, read along with the petition (one query instead of
    two); `prepare` uses it when the key is the one it needs: made from this petition's public
    id and this address (then it is not made again)."""

    key: str | None
    taken: bool
    petition_public_id: str | None = None
    email: str | None = None

    def key_for(self, petition, email):
        """The key, if it was made for `petition` and `email`; None otherwise."""
        if self.key and self.petition_public_id == petition.public_id and self.email == email:
            return self.key
        return None


def prepare(petition, data, *, links, looked_up=None):
    """The work of `sign` that needs no lock; both outcomes cost the same (one look-up, one
    sealed identity, one mail), so a repeated address is not told apart by timing.
    `looked_up`: the look-up already made for this key, if any."""
    if not data.name or not data.email:
        raise SignatureError("missing")
    reused = looked_up.key_for(petition, data.email) if looked_up is not None else None
    key = reused or signer_key(petition, data.email)
    token, confirm_token = new_token(), new_token()
    repeated = looked_up.taken if reused else _key_exists(petition, key)
    kind = _mail_kind(repeated, petition.verification == VERIFY_EMAIL)
    return Prepared(key=key, token=token, confirm_token=confirm_token,
                    sealed=seal_signer(data.name, data.email), repeated=repeated,
                    mail_kind=kind,
                    mail=_seal_mail(kind, data, links, token, confirm_token))


def sign(petition, data, *, links, texts=None, prepared=None):
    """Sign online. Returns a SignResult that looks the same for a new and a repeated address.
    `prepared`: what `prepare` computed before the write transaction began."""
    if not petition_is_open(petition):
        raise SignatureError("closed")
    if not data.name or not data.email:
        raise SignatureError("missing")
    data.site_id = _valid_unit(petition, data.site_id, "site") if petition.ask_site else None
    data.department_id = (_valid_unit(petition, data.department_id, "department")
                          if petition.ask_department else None)
    texts = texts or consent.current_texts(SIGNATURE_PURPOSES)
    prepared = prepared or prepare(petition, data, links=links)
    verify = petition.verification == VERIFY_EMAIL
    stored = {"source": SOURCE_ONLINE, "channel": CHANNEL_WEB, "texts": texts,
              "confirmed": not verify, "sealed": prepared.sealed, "token": prepared.token}

    # Both paths do the same work: one look-up (in `prepare`), one set of inserts, one mail.
    # The unique constraint decides when two submissions of one address race each other (or
    # one signed after the look-up): the loser gets a shadow made from what was typed, so this
    # signer sees exactly what a first signer sees, and the address's owner is told by e-mail.
    # (An address whose signature was erased after the look-up gets a shadow too; it may sign
    # again.)
    # The mail prepared goes with the row, if it is still the right one.
    sealed_mail = (prepared.mail if prepared.mail_kind == _mail_kind(prepared.repeated, verify)
                   else None)
    signature_id, token, repeated = _new_signature(
        petition, data, key=None if prepared.repeated else prepared.key,
        confirm_token=prepared.confirm_token if verify else None,
        sealed_mail=sealed_mail, **stored)
    if sealed_mail is None or repeated != prepared.repeated:
        # The key was taken meanwhile (the mail prepared was left out), or the petition's
        # verification changed: the mail for what happened.
        mail.queue(_seal_mail(_mail_kind(repeated, verify), data, links, prepared.token,
                              prepared.confirm_token))
    return SignResult(signature_id=signature_id, token=token, needs_confirmation=verify)


def find_by_confirm_token(raw):
    if not raw:
        return None
    return db.session.execute(
        select(Signature).where(Signature.confirm_hash == token_hash(raw))
    ).scalar_one_or_none()


def confirm(signature):
    """Confirm by POST (never by GET: mail scanners follow links)."""
    if signature.confirmed_on is None and signature.withdrawn_on is None:
        signature.confirmed_on = today()
    signature.confirm_hash = None
    db.session.flush()
    return signature


def find_by_token(raw):
    if not raw:
        return None
    return db.session.execute(
        select(Signature).where(Signature.token_hash == token_hash(raw))
    ).scalar_one_or_none()


def get_by_public_id(public_id):
    if not public_id:
        return None
    return db.session.execute(
        select(Signature).where(Signature.public_id == public_id)
    ).scalar_one_or_none()


def identity(signature):
    """(name, email) decrypted, or (None, None) once erased."""
    if signature.data_key is None or signature.data_key.wrapped is None:
        return None, None
    return (
        keys.unseal(signature.data_key, TABLE, "name", signature.public_id, signature.name_ct),
        keys.unseal(signature.data_key, TABLE, "email", signature.public_id, signature.email_ct),
    )


def change_consent(signature, purpose, granted, *, channel=CHANNEL_WEB, text=None):
    if purpose not in SIGNATURE_PURPOSES:
        raise SignatureError("bad_purpose")
    if signature.withdrawn_on is not None:
        raise SignatureError("withdrawn")
    text = text or consent.current_texts([purpose])[purpose]
    current = consent.effective(signature=signature).get(purpose, False)
    if current == bool(granted):
        return None
    return consent.record(signature=signature, purpose=purpose, granted=granted, text=text,
                          channel=channel)


def _erase_identity(signature):
    if signature.data_key is not None:
        keys.destroy(signature.data_key)
    signature.name_ct = None
    signature.email_ct = None
    signature.signer_key = None
    signature.erased_on = signature.erased_on or today()


def withdraw(signature, *, channel=CHANNEL_WEB):
    """No longer counted; identity erased; every consent withdrawn in the ledger."""
    if signature.withdrawn_on is not None:
        return signature
    effective_now = consent.effective(signature=signature)
    texts = consent.current_texts(SIGNATURE_PURPOSES)
    for purpose, granted in effective_now.items():
        if granted:
            consent.record(signature=signature, purpose=purpose, granted=False,
                           text=texts[purpose], channel=channel)
    signature.withdrawn_on = today()
    _erase_identity(signature)
    db.session.flush()
    if not signature.is_shadow:
        audit.record("signature_withdrawn", actor=None, target_type=TABLE,
                     target_id=signature.public_id, campaign=signature.petition.campaign)
    return signature


def erase(signature):
    """Erase everything: the data key, the row and its consent events."""
    campaign = signature.petition.campaign
    public_id, shadow = signature.public_id, signature.is_shadow
    if signature.data_key is not None:
        keys.destroy(signature.data_key)
    db.session.execute(delete(ConsentEvent).where(ConsentEvent.signature_id == signature.id))
    db.session.delete(signature)
    db.session.flush()
    if not shadow:
        audit.record("signature_erased", actor=None, target_type=TABLE, target_id=public_id,
                     campaign=campaign)


def new_private_link(signature):
    """Replace the private-link token (the old link stops working). Returns the raw token."""
    token = new_token()
    signature.token_hash = token_hash(token)
    db.session.flush()
    return token


def request_lost_link(petition, email, locale, base_url):
    """Queue an "I lost my link" request. The caller answers the same for every address; the
    look-up and the mail happen after the response (`handle_link_requests`)."""
    from ..crypto import aad_for, keyring
    from ..models import LinkRequest

    row = LinkRequest(public_id=new_public_id(), petition_id=petition.id, locale=locale,
                      base_url=base_url)
    row.email_ct = keyring().encrypt(email, aad_for("link_requests", "email", row.public_id))
    db.session.add(row)
    db.session.flush()
    return row


def handle_link_requests(links_for_base, limit=100):
    """Answer queued requests: a signer's address gets a new private link, others nothing.

    `links_for_base(base_url)` returns a Links for that base URL. Returns how many were mailed.
    """
    from ..crypto import aad_for, keyring
    from ..models import LinkRequest

    mailed = 0
    rows = db.session.execute(select(LinkRequest).order_by(LinkRequest.id).limit(limit)).scalars()
    for row in rows.all():
        email = keyring().decrypt(row.email_ct, aad_for("link_requests", "email", row.public_id))
        email = email.decode()
        petition = db.session.get(Petition, row.petition_id)
        found = db.session.execute(
            select(Signature).where(Signature.petition_id == row.petition_id,
                                    Signature.signer_key == signer_key(petition, email))
        ).scalar_one_or_none()
        if found is not None:
            token = new_private_link(found)
            links = links_for_base(row.base_url)
            mail.queue_template(email, "private_link", locale=found.locale or row.locale,
                                petition=petition, private_link=links.private(token))
            mailed += 1
        db.session.delete(row)
    db.session.flush()
    return mailed


def export_own(signature):
    """Everything stored about the signer, for the private page's JSON download."""
    name, email = identity(signature)
    events = consent.history(signature=signature)
    return {
        "petition": {
            "id": signature.petition.public_id,
            "title_fr": signature.petition.title_fr,
            "title_en": signature.petition.title_en,
        },
        "signature": {
            "id": signature.public_id,
            "name": name,
            "email": email,
            "site": signature.site.code if signature.site else None,
            "department": signature.department.code if signature.department else None,
            "source": signature.source,
            "signed_on": signature.signed_on.isoformat(),
            "confirmed_on": signature.confirmed_on.isoformat() if signature.confirmed_on else None,
            "withdrawn_on": signature.withdrawn_on.isoformat() if signature.withdrawn_on else None,
            "language": signature.locale,
        },
        "consent": {p: g for p, g in consent.effective(signature=signature).items()},
        "consent_history": consent.history_export(events),
    }


# --- counts ----------------------------------------------------------------------------------------

def counted_clause():
    return (
        Signature.is_shadow.is_(False),
        Signature.confirmed_on.is_not(None),
        Signature.withdrawn_on.is_(None),
    )


def live_count(petition):
    return db.session.execute(
        select(func.count(Signature.id)).where(Signature.petition_id == petition.id,
                                               *counted_clause())
    ).scalar_one()


def refresh_snapshot(petition):
    """Recompute the public count and public-name list (a batch, never per signature)."""
    count = live_count(petition)
    public_ids = db.session.execute(
        select(Signature.public_id)
        .where(Signature.petition_id == petition.id, *counted_clause(),
               consent.granted_signatures_clause(PUBLIC_NAME))
        .order_by(Signature.id)
    ).scalars().all()
    snapshot = db.session.get(PetitionSnapshot, petition.id)
    if snapshot is None:
        try:
            with db.session.begin_nested():
                db.session.add(PetitionSnapshot(petition_id=petition.id, taken_at=utcnow(),
                                                count=count, public_ids=list(public_ids)))
        except IntegrityError:
            pass  # another writer took the first one meanwhile (PostgreSQL): update theirs
        snapshot = db.session.get(PetitionSnapshot, petition.id)
    snapshot.taken_at = utcnow()
    snapshot.count = count
    snapshot.public_ids = list(public_ids)
    db.session.flush()
    return snapshot


def snapshot_is_stale(petition, snapshot):
    if snapshot is None:
        return True
    return utcnow() - snapshot.taken_at >= timedelta(minutes=petition.refresh_minutes)


def _shown_names(snapshot, limit):
    """Conditions on Signature for the names a page shows: in the snapshot (its last `limit`),
    counted, and their signers STILL consent to `public_name` (withdrawal wins at once). None
    when the snapshot has no name."""
    if snapshot is None or not snapshot.public_ids:
        return None
    return (Signature.public_id.in_(snapshot.public_ids[-limit:]), *counted_clause(),
            consent.granted_signatures_clause(PUBLIC_NAME))


def public_name_rows(snapshot, limit=500):
    """Signatures whose names the petition's page shows, newest first."""
    conditions = _shown_names(snapshot, limit)
    if conditions is None:
        return []
    return db.session.execute(
        select(Signature).where(*conditions).order_by(Signature.id.desc())
    ).scalars().all()


def public_name_keys(snapshot, limit=500, *, connection=None):
    """(public id, sealed name) of the same signatures, in the same order, without loading them:
    what stands for the shown names in a cached page's key. `connection`: the one to read on
    (default: the session's)."""
    conditions = _shown_names(snapshot, limit)
    if conditions is None:
        return []
    connection = connection or db.session.connection()
    return [tuple(row) for row in connection.execute(
        select(Signature.public_id, Signature.name_ct).where(*conditions)
        .order_by(Signature.id.desc()))]


def names_of(signatures):
    """Their names, decrypted (erased identities are skipped)."""
    names = []
    for signature in signatures:
        name, _email = identity(signature)
        if name:
            names.append(name)
    return names


def purge_due(now=None):
    """Erase identities past retention and of expired unconfirmed signatures. Returns counts."""
    now = now or utcnow()
    days = current_app.config.get("UNCONFIRMED_DAYS", 7)
    erased_closed = 0
    erased_unconfirmed = 0
    for campaign in campaign_service.past_retention(now):
        rows = db.session.execute(
            select(Signature).join(Petition).where(Petition.campaign_id == campaign.id,
                                                   Signature.erased_on.is_(None))
        ).scalars().all()
        for signature in rows:
            _erase_identity(signature)
            erased_closed += 1
        if rows:
            audit.record("purge", actor=None, campaign=campaign,
                         details={"count": len(rows), "reason": "retention"})
    stale = db.session.execute(
        select(Signature).where(Signature.confirmed_on.is_(None), Signature.erased_on.is_(None),
                                Signature.signed_on <= (now - timedelta(days=days)).date())
    ).scalars().all()
    for signature in stale:
        _erase_identity(signature)
        signature.confirm_hash = None
        erased_unconfirmed += 1
    if stale:
        audit.record("purge", actor=None, details={"count": len(stale), "reason": "unconfirmed"})
    db.session.flush()
    return {"retention": erased_closed, "unconfirmed": erased_unconfirmed}
