"""Public petition pages: reading, signing, confirming, and the signer's private page."""

from flask import Blueprint

bp = Blueprint("petitions", __name__)

from . import routes  # noqa: E402,F401
