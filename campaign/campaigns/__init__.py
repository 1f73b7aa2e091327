"""Staff pages for campaigns: the staff home, creating and editing a campaign and its units."""

from flask import Blueprint

bp = Blueprint("campaigns", __name__, url_prefix="/staff")

from . import routes  # noqa: E402,F401
