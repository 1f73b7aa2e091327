"""Creating and editing petitions. Flush, never commit."""

import re

from sqlalchemy import select

from .. import audit
from ..extensions import db
from ..models import Petition
from ..models.petitions import PETITION_STATUSES, VERIFICATION_MODES

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
FIELDS = ("title_fr", "title_en", "text_fr", "text_en", "addressee", "goal", "opens_on",
          "closes_on", "status", "verification", "ask_site", "ask_department", "refresh_minutes")


class PetitionError(ValueError):
    """A rule about petitions was broken; the message is a stable code for the view to translate."""


def get(campaign, slug):
    return db.session.execute(
        select(Petition).where(Petition.campaign_id == campaign.id, Petition.slug == slug)
    ).scalar_one_or_none()


def _apply(petition, values):
    changed = []
    for name in FIELDS:
        if name in values and getattr(petition, name) != values[name]:
            setattr(petition, name, values[name])
            changed.append(name)
    if petition.status not in PETITION_STATUSES:
        raise PetitionError("bad_status")
    if petition.verification not in VERIFICATION_MODES:
        raise PetitionError("bad_verification")
    if petition.opens_on and petition.closes_on and petition.closes_on < petition.opens_on:
        raise PetitionError("bad_dates")
    if not (petition.title_fr or petition.title_en):
        raise PetitionError("no_title")
    return changed


def create_petition(campaign, slug, *, actor, **values):
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise PetitionError("bad_slug")
    if get(campaign, slug) is not None:
        raise PetitionError("slug_taken")
    petition = Petition(campaign_id=campaign.id, slug=slug, status="draft", verification="none",
                        ask_site=True, ask_department=True, refresh_minutes=15)
    petition.campaign = campaign
    _apply(petition, values)
    db.session.add(petition)
    db.session.flush()
    audit.record("petition_created", actor=actor, target=petition, campaign=campaign)
    return petition


def update_petition(petition, *, actor, **values):
    changed = _apply(petition, values)
    if changed:
        db.session.flush()
        audit.record("petition_updated", actor=actor, target=petition, campaign=petition.campaign,
                     details={"fields": changed, "status": petition.status})
    return changed
