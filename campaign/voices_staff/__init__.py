"""Staff pages for a campaign's voices: moderating statements, meeting notes, the action log."""

from flask import Blueprint

bp = Blueprint("voices_staff", __name__, url_prefix="/staff/campaigns/<slug>")

from . import routes  # noqa: E402,F401
