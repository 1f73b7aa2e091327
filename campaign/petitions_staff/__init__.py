"""Staff pages for petitions: organizers run them, reps see consenting signers and enter paper."""

from flask import Blueprint

bp = Blueprint("petitions_staff", __name__, url_prefix="/staff/campaigns/<slug>/petitions")

from . import routes  # noqa: E402,F401
