"""Creating and editing campaigns and their units. Flush, never commit."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from .. import audit
from ..extensions import db
from ..models import Campaign, Unit
from ..models.base import utcnow
from ..models.campaigns import STATUS_CLOSED, STATUSES
from ..models.users import ROLE_ORGANIZER
from .accounts import grant

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
CAMPAIGN_FIELDS = (
    "title_fr", "title_en", "summary_fr", "summary_en", "employer", "employer_domains",
    "status", "retention_days", "tally_threshold",
)
UNIT_FIELDS = ("name_fr", "name_en", "headcount", "position", "is_active")


class CampaignError(ValueError):
    """A rule about campaigns was broken; the message is a stable code for the view to translate."""


def get_by_slug(slug):
    return db.session.execute(select(Campaign).where(Campaign.slug == slug)).scalar_one_or_none()


def _apply(campaign, values):
    changed = []
    for field in CAMPAIGN_FIELDS:
        if field in values and getattr(campaign, field) != values[field]:
            setattr(campaign, field, values[field])
            changed.append(field)
    if campaign.status not in STATUSES:
        raise CampaignError("bad_status")
    if "status" in changed:
        campaign.closed_at = utcnow() if campaign.status == STATUS_CLOSED else campaign.closed_at
    return changed


def create_campaign(slug, *, actor, **values):
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise CampaignError("bad_slug")
    if get_by_slug(slug) is not None:
        raise CampaignError("slug_taken")
    campaign = Campaign(slug=slug, employer=values.get("employer") or "", status="draft",
                        retention_days=180, tally_threshold=10)
    _apply(campaign, values)
    db.session.add(campaign)
    db.session.flush()
    audit.record("campaign_created", actor=actor, target=campaign, campaign=campaign)
    if actor is not None:
        grant(actor, campaign, ROLE_ORGANIZER, actor=actor)
    return campaign


def update_campaign(campaign, *, actor, **values):
    changed = _apply(campaign, values)
    if changed:
        db.session.flush()
        audit.record("campaign_updated", actor=actor, target=campaign, campaign=campaign,
                     details={"fields": changed, "status": campaign.status})
    return changed


def add_unit(campaign, kind, code, *, actor, **values):
    code = (code or "").strip().lower()
    if not SLUG_RE.match(code):
        raise CampaignError("bad_code")
    exists = db.session.execute(
        select(Unit).where(Unit.campaign_id == campaign.id, Unit.kind == kind, Unit.code == code)
    ).scalar_one_or_none()
    if exists is not None:
        raise CampaignError("code_taken")
    if values.get("position") is None:
        top = db.session.execute(
            select(func.max(Unit.position)).where(Unit.campaign_id == campaign.id)
        ).scalar()
        values["position"] = (top or 0) + 1
    unit = Unit(campaign=campaign, kind=kind, code=code)
    for field in UNIT_FIELDS:
        if field in values:
            setattr(unit, field, values[field])
    db.session.add(unit)
    db.session.flush()
    audit.record("unit_added", actor=actor, target_type="units", target_id=f"{kind}:{code}",
                 campaign=campaign, details={"kind": kind})
    return unit


def update_unit(unit, *, actor, **values):
    if values.get("position") is None:
        values.pop("position", None)  # left empty: the unit keeps its place
    changed = [f for f in UNIT_FIELDS if f in values and getattr(unit, f) != values[f]]
    for field in changed:
        setattr(unit, field, values[field])
    if changed:
        db.session.flush()
        audit.record("unit_updated", actor=actor, target_type="units",
                     target_id=f"{unit.kind}:{unit.code}", campaign=unit.campaign,
                     details={"fields": changed})
    return changed


def past_retention(now):
    """Closed or archived campaigns whose retention period has ended by `now`: their people's
    identities are due for erasure (`flask purge`)."""
    closed = db.session.execute(
        select(Campaign).where(Campaign.closed_at.is_not(None),
                               Campaign.status.in_(("closed", "archived")))
    ).scalars().all()
    return [c for c in closed if c.closed_at + timedelta(days=c.retention_days) <= now]
