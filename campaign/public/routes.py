"""Public views: they show only what `access` allows anyone to see."""

from urllib.parse import urlsplit

from flask import abort, redirect, render_template, request, session, url_for
from sqlalchemy import select

from .. import access
from ..extensions import db
from ..i18n import LOCALES
from ..models import Campaign
from ..models.campaigns import STATUS_ACTIVE
from ..services.campaigns import get_by_slug
from . import bp


@bp.get("/")
@access.public
def home():
    campaigns = db.session.execute(
        select(Campaign).where(Campaign.status == STATUS_ACTIVE).order_by(Campaign.created_at.desc())
    ).scalars().all()
    return render_template("public/home.html", campaigns=campaigns)


@bp.get("/c/<slug>")
@access.public
def campaign(slug):
    found = get_by_slug(slug)
    access.authorize(access.can_view_public_campaign(found), hide=True)
    return render_template("public/campaign.html", campaign=found)


def _safe_next(target):
    """Only a path on this site: never an open redirect."""
    if not target:
        return url_for("public.home")
    parts = urlsplit(target)
    # Browsers read a backslash as a slash ("/\\host" is "//host") and drop tabs and newlines.
    if (parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
            or "\\" in target or not target.isprintable()):
        return url_for("public.home")
    return target


@bp.get("/language/<locale>")
@access.public
def set_locale(locale):
    """Remember the visitor's language choice in the session (no stored data changes)."""
    if locale not in LOCALES:
        abort(404)
    session["locale"] = locale
    return redirect(_safe_next(request.args.get("next")))


#: built once: a statement is immutable, and SQLAlchemy keeps its cache key on the object
_PING = select(1)


@bp.get("/healthz")
@access.public
def healthz():
    db.session.execute(_PING)
    return {"status": "ok"}
