"""Staff accounts: passwords, server-side sessions, invitations and memberships. Flush, never commit."""

import gzip
from datetime import timedelta
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import delete, select

from .. import audit
from ..crypto import new_token, token_hash
from ..extensions import db
from ..models import Invitation, Membership, StaffSession, User
from ..models.base import utcnow
from ..models.users import ROLES

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


def get_user_by_email(email):
    return db.session.execute(
        select(User).where(User.email == normalize_email(email))
    ).scalar_one_or_none()


def authenticate(email, password):
    """The user if the e-mail and password match an active account, else None.

    An unknown address and a wrong password take the same path and the same time.
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
    audit.record("login", actor=user, target=user)
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
