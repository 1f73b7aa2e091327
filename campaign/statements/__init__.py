"""Public statement pages: submitting a statement, reading published ones, the author's own page,
and the campaign's public action calendar."""

from flask import Blueprint

bp = Blueprint("statements", __name__)

from . import labels, routes  # noqa: E402,F401

labels.register(bp)
