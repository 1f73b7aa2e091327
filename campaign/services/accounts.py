"""Staff accounts: passwords, second factor, server-side sessions, invitations and memberships.

Flush, never commit.
"""

import gzip
import hashlib
import hmac
import secrets
import time
from datetime import timedelta
from functools import lru_cache
from importlib import resources

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from .. import audit
from ..crypto import aad_for, keyring, new_token, token_hash
from ..extensions import db
from ..models import Invitation, Membership, StaffSession, User
from ..models.base import utcnow
from ..models.users import ROLES, RecoveryCode

PASSWORD_MIN = 12
PASSWORD_MAX = 128

# Library defaults in every environment but the test suite, which sets ARGON2_FAST to keep
# hundreds of logins quick (still argon2id).
_HASHERS = {False: PasswordHasher(), True: PasswordHasher(time_cost=1, memory_cost=1024,
                                                         parallelism=1)}
_DUMMY_HASHES = {}


def _hasher_obj():
    return _HASHERS[bool(current_app.config.get("ARGON2_FAST"))]


def _dummy_hash():
    """Verified against when the e-mail is unknown, so both paths do the same work."""
    fast = bool(current_app.config.get("ARGON2_FAST"))
    if fast not in _DUMMY_HASHES:
        _DUMMY_HASHES[fast] = _HASHERS[fast].hash("not a real password, only spends the time")
    return _DUMMY_HASHES[fast]


class AccountError(ValueError):
    """A rule about accounts was broken; the message is a stable code for the view to translate."""


@lru_cache(maxsize=1)
def common_passwords():
    data = resources.files("campaign").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def password_problem(password):
    """None when acceptable, else a code: 'too_short', 'too_long' or 'too_common'."""
    if len(password) < PASSWORD_MIN:
        return "too_short"
    if len(password) > PASSWORD_MAX:
        return "too_long"
    if password.strip().lower() in common_passwords():
        return "too_common"
    return None


def set_password(user, password):
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    user.password_hash = _hasher_obj().hash(password)


def normalize_email(email):
    return (email or "").strip().lower()


def get_user(public_id):
    return db.session.execute(
        select(User).where(User.public_id == str(public_id))
    ).scalar_one_or_none()


def get_user_by_email(email):
    return db.session.execute(
        select(User).where(User.email == normalize_email(email))
    ).scalar_one_or_none()


def authenticate(email, password):
    """The user if the e-mail and password match an active account, else None.

    An unknown address and a wrong password take the same path and the same time. This is only
    the first step: the sign-in is complete, and audited as `login`, after the second factor
    (`check_second_factor` or `confirm_enrolment`).
    """
    user = get_user_by_email(email)
    stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    try:
        _hasher_obj().verify(stored, password or "")
        ok = user is not None and user.password_hash is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or not user.is_active:
        audit.record("login_failed", actor=None)
        return None
    if _hasher_obj().check_needs_rehash(user.password_hash):
        user.password_hash = _hasher_obj().hash(password)
    return user


def create_user(email, display_name, *, password=None, is_admin=False, locale=None, actor=None):
    email = normalize_email(email)
    if not email or "@" not in email:
        raise AccountError("bad_email")
    if get_user_by_email(email) is not None:
        raise AccountError("email_taken")
    user = User(email=email, display_name=display_name.strip() or email.split("@")[0],
                is_admin=is_admin, locale=locale)
    if password is not None:
        set_password(user, password)
    db.session.add(user)
    db.session.flush()
    audit.record("user_created", actor=actor, target=user,
                 details={"role": "admin" if is_admin else "staff"})
    return user


# --- second factor (TOTP, RFC 6238, and recovery codes) -----------------------------------------
# Every staff account enrols: the password step leaves a pending secret on the account, the
# enrolment page shows it, and a first valid code confirms it. A code is accepted for the time
# step before, at and after now (clock drift), and only for a step later than the last accepted
# one, so a code cannot be replayed, not even by two requests racing each other.

TOTP_DIGITS = 6
TOTP_INTERVAL = 30
TOTP_DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
#: recovery codes: 16 characters from 31 without look-alikes (no i, l, o, 0, 1): 79 random bits
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 16
TOTP_ISSUER = "Campaign"


def _secret_aad(user):
    return aad_for("users", "totp_secret", user.public_id)


def set_totp_secret(user, secret=None):
    """Store a (new) TOTP secret on the account, encrypted; returns it in clear.

    The account is not enrolled until `confirm_enrolment` sees a code made from it.
    """
    secret = secret or pyotp.random_base32(length=32)  # 160 bits, as RFC 4226 recommends
    user.totp_secret_ct = keyring().encrypt(secret, _secret_aad(user))
    user.totp_last_step = None
    user.totp_enrolled_at = None
    return secret


def totp_secret(user):
    """The account's TOTP secret in clear, or None (DecryptionError if it was tampered with)."""
    if user.totp_secret_ct is None:
        return None
    return keyring().decrypt(user.totp_secret_ct, _secret_aad(user)).decode()


def prepare_enrolment(user):
    """Make sure an account that is not enrolled has a pending secret (kept across visits, so a
    reload does not invalidate what the phone already scanned). Returns it."""
    if user.is_second_factor_enrolled:
        raise AccountError("already_enrolled")
    return totp_secret(user) or set_totp_secret(user)


def provisioning_uri(user, secret):
    """The otpauth:// URI authenticator apps read (from a QR code or a tap on a phone)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL).provisioning_uri(
        name=user.email, issuer_name=TOTP_ISSUER)


def _current_step(now=None):
    return int((time.time() if now is None else now) // TOTP_INTERVAL)


def _normalize_totp(code):
    digits = "".join((code or "").split())
    return digits if len(digits) == TOTP_DIGITS and digits.isascii() and digits.isdigit() else None


def _accept_totp(user, code, now=None):
    """True when code is valid for a step not used yet; that step is then recorded atomically."""
    code = _normalize_totp(code)
    secret = totp_secret(user)
    if code is None or secret is None:
        return False
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)
    current = _current_step(now)
    matched = None
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            matched = step
    if matched is None:
        return False
    # A conditional UPDATE, not a read then a write: of two requests carrying the same code,
    # only one can move the last step forward.
    result = db.session.execute(
        update(User)
        .where(User.id == user.id,
               or_(User.totp_last_step.is_(None), User.totp_last_step < matched))
        .values(totp_last_step=matched)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    set_committed_value(user, "totp_last_step", matched)
    return True


def _normalize_recovery(code):
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _recovery_hash(code):
    return hashlib.sha256(_normalize_recovery(code).encode()).hexdigest()


def _new_recovery_code():
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4))


def _new_recovery_codes(user):
    """Replace the account's recovery codes with fresh ones; returns them in clear (once)."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(code))
                       for code in codes)
    db.session.flush()
    return codes


def _use_recovery_code(user, code):
    normalized = _normalize_recovery(code)
    if len(normalized) != RECOVERY_CODE_LENGTH:
        return False
    result = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id,
               RecoveryCode.code_hash == _recovery_hash(normalized),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def recovery_codes_left(user):
    return db.session.execute(
        select(func.count()).select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).scalar_one()


def confirm_enrolment(user, code, *, now=None):
    """Enrol the account when code matches its pending secret, which completes the sign-in
    (audited as `login`); returns the recovery codes, to be shown once.
    AccountError('wrong_code') otherwise."""
    if user.is_second_factor_enrolled:
        raise AccountError("already_enrolled")
    if not _accept_totp(user, code, now=now):
        audit.record("second_factor_failed", actor=None, target=user,
                     details={"reason": "enrolment"})
        raise AccountError("wrong_code")
    user.totp_enrolled_at = utcnow()
    codes = _new_recovery_codes(user)
    audit.record("second_factor_enrolled", actor=user, target=user)
    audit.record("login", actor=user, target=user, details={"by": "totp"})
    return codes


def check_second_factor(user, code, *, now=None):
    """Complete a sign-in: 'totp' or 'recovery_code' when code is a valid, unused code of this
    enrolled account (audited as `login`), else None (audited as a failure)."""
    method = None
    if user.is_second_factor_enrolled:
        if _normalize_totp(code) is not None:
            method = "totp" if _accept_totp(user, code, now=now) else None
        elif _use_recovery_code(user, code):
            method = "recovery_code"
    if method is None:
        audit.record("second_factor_failed", actor=None, target=user, details={"reason": "code"})
        return None
    audit.record("login", actor=user, target=user, details={"by": method})
    return method


def reset_second_factor(user, *, actor):
    """Forget the account's second factor and recovery codes and end its sessions: the next
    sign-in goes through enrolment again."""
    user.totp_secret_ct = None
    user.totp_last_step = None
    user.totp_enrolled_at = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    end_all_sessions(user)
    db.session.flush()
    audit.record("second_factor_reset", actor=actor, target=user)


# --- sessions ------------------------------------------------------------------------------------

def start_session(user):
    """Create a server-side session; returns the raw id for the cookie (stored only hashed)."""
    raw = new_token()
    hours = current_app.config["SESSION_MAX_HOURS"]
    db.session.add(StaffSession(id_hash=token_hash(raw), user_id=user.id,
                                expires_at=utcnow() + timedelta(hours=hours)))
    db.session.flush()
    return raw


def load_session_user(raw):
    """The active user owning a live session id, or None."""
    if not raw:
        return None
    record = db.session.get(StaffSession, token_hash(raw))
    if record is None or record.expires_at <= utcnow():
        return None
    user = record.user
    return user if user.is_active else None


def end_session(raw):
    if raw:
        db.session.execute(delete(StaffSession).where(StaffSession.id_hash == token_hash(raw)))


def end_all_sessions(user):
    db.session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))


def purge_expired_sessions():
    result = db.session.execute(delete(StaffSession).where(StaffSession.expires_at <= utcnow()))
    return result.rowcount


def purge_spent_invitations():
    """Delete invitations that can no longer be used (used, or expired): a link to one already
    answers like an unknown link (`find_invitation`)."""
    result = db.session.execute(delete(Invitation).where(
        or_(Invitation.used_at.is_not(None), Invitation.expires_at <= utcnow())))
    return result.rowcount


# --- invitations ---------------------------------------------------------------------------------

def invite(email, display_name, *, actor, is_admin=False, locale=None):
    """Create an account without a password and a one-time link to choose one.

    Returns (user, raw_token); the token is shown to the inviting admin once and mailed.
    """
    user = create_user(email, display_name, is_admin=is_admin, locale=locale, actor=actor)
    raw = new_token()
    hours = current_app.config["INVITATION_HOURS"]
    db.session.add(Invitation(token_hash=token_hash(raw), user_id=user.id,
                              expires_at=utcnow() + timedelta(hours=hours)))
    db.session.flush()
    audit.record("user_invited", actor=actor, target=user)
    return user, raw


def find_invitation(raw):
    if not raw:
        return None
    invitation = db.session.execute(
        select(Invitation).where(Invitation.token_hash == token_hash(raw))
    ).scalar_one_or_none()
    if invitation is None or invitation.used_at or invitation.expires_at <= utcnow():
        return None
    if not invitation.user.is_active:
        return None
    return invitation


def accept_invitation(invitation, password):
    set_password(invitation.user, password)
    invitation.used_at = utcnow()
    audit.record("invitation_accepted", actor=invitation.user, target=invitation.user)
    return invitation.user


# --- account state and memberships ---------------------------------------------------------------

def change_password(user, current, new):
    try:
        _hasher_obj().verify(user.password_hash or _dummy_hash(), current or "")
    except (VerificationError, InvalidHashError) as exc:
        raise AccountError("wrong_password") from exc
    set_password(user, new)
    end_all_sessions(user)
    audit.record("password_changed", actor=user, target=user)


def set_active(user, active, *, actor):
    user.is_active = active
    if not active:
        end_all_sessions(user)
    audit.record("user_reactivated" if active else "user_deactivated", actor=actor, target=user)


def delete_user(user, *, actor):
    """Delete a staff account for good: its e-mail, name, password hash and second factor, with
    its roles, sessions, invitations and recovery codes. The audit log keeps the account's
    public id in the events it made or was the target of (hashed: the chain still verifies),
    and notes it wrote say no author. The last active administrator cannot be deleted."""
    if user.is_admin and user.is_active and db.session.execute(
            select(func.count(User.id)).where(User.is_admin.is_(True), User.is_active.is_(True),
                                              User.id != user.id)).scalar() == 0:
        raise AccountError("last_admin")
    audit.record("user_deleted", actor=actor, target=user)
    # sessions and invitations go by their foreign keys' ON DELETE CASCADE, roles and recovery
    # codes by the model's cascade; audit events and notes keep the row's public id or no author
    db.session.delete(user)
    db.session.flush()


def grant(user, campaign, role, *, actor):
    if role not in ROLES:
        raise AccountError("bad_role")
    existing = db.session.execute(
        select(Membership).where(Membership.user_id == user.id,
                                 Membership.campaign_id == campaign.id,
                                 Membership.role == role)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    membership = Membership(user=user, campaign=campaign, role=role)
    db.session.add(membership)
    db.session.flush()
    audit.record("role_granted", actor=actor, target=user, campaign=campaign,
                 details={"role": role})
    return membership


def revoke(user, campaign, role, *, actor):
    membership = db.session.execute(
        select(Membership).where(Membership.user_id == user.id,
                                 Membership.campaign_id == campaign.id,
                                 Membership.role == role)
    ).scalar_one_or_none()
    if membership is None:
        return False
    db.session.delete(membership)
    # A removed role ends the user's sessions, so nothing it allowed lingers in an open tab.
    end_all_sessions(user)
    db.session.flush()
    audit.record("role_revoked", actor=actor, target=user, campaign=campaign,
                 details={"role": role})
    return True
