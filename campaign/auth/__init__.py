"""Staff sign-in, sign-out, invitations and account settings. There is no public sign-up."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import routes  # noqa: E402,F401
