"""Staff accounts, their per-campaign roles, server-side sessions and invitations."""

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
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

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
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
