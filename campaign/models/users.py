"""Staff accounts, their per-campaign roles, second factor, server-side sessions and invitations."""

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, public_id_column, utcnow

ROLE_ORGANIZER = "organizer"
ROLE_REP = "rep"
ROLES = (ROLE_ORGANIZER, ROLE_REP)


class User(db.Model):
    """A staff account (rep, organizer, admin). Employees who sign never have one."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = public_id_column()
    #: staff e-mail, stored lower-cased; staff identities are not the protected population
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(String(120), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(8))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default="1")
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default="0")
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    #: TOTP secret, AES-GCM under the key ring (associated data users|totp_secret|public_id);
    #: set at the password step of a first sign-in, confirmed by a first code at enrolment
    totp_secret_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: the last accepted TOTP time step (unix time // 30): a code of that step or an earlier one
    #: is refused, so a code cannot be used twice
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    #: when the second factor was confirmed; None means not enrolled (no staff session possible)
    totp_enrolled_at = mapped_column(UTCDateTime)

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    recovery_codes: Mapped[list["RecoveryCode"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # Flask-Login protocol
    @property
    def is_authenticated(self):
        return True

    @property
    def is_anonymous(self):
        return False

    def get_id(self):
        return self.public_id

    @property
    def is_second_factor_enrolled(self):
        return self.totp_enrolled_at is not None and self.totp_secret_ct is not None

    def roles_in(self, campaign):
        return {m.role for m in self.memberships if m.campaign_id == campaign.id}

    def __repr__(self):
        return f"<User {self.public_id}>"


class Membership(db.Model):
    """A role held by a user in one campaign."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "campaign_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    campaign = relationship("Campaign", back_populates="memberships")


class StaffSession(db.Model):
    """A server-side staff session; the cookie carries only its random id, stored here hashed."""

    __tablename__ = "staff_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = mapped_column(UTCDateTime, nullable=False)

    user: Mapped[User] = relationship()


class Invitation(db.Model):
    """A one-time link for an invited staff member to choose a password."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = mapped_column(UTCDateTime, nullable=False)
    used_at = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class RecoveryCode(db.Model):
    """A single-use code that stands in for a TOTP code when the phone is lost.

    Only the SHA-256 of the code is stored: each code carries 80 random bits, so a hash without
    a slow function or a key is enough to make the stored value useless to whoever copies it.
    """

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    used_at = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="recovery_codes")
