"""Tallies: the staff dashboard of a petition's anonymized tallies, its release ledger and exports,
and the public summary shown on the campaign page."""

from flask import Blueprint

bp = Blueprint("tallies", __name__,
               url_prefix="/staff/campaigns/<slug>/petitions/<petition_slug>/tallies")

from . import routes  # noqa: E402,F401
