"""Synthetic signatures and a first release for the demo petition, so its tallies show suppression.

A few hundred made-up signatures spread over the demo campaign's sites and departments and over
the last several weeks: counted (confirmed, not withdrawn), with no identity at all (no name, no
e-mail, no data key), entered as plain rows (no mail is sent). Chosen so that the first release
shows what suppression does: a site where almost everybody signed (hidden: the few who did not
would stand out), small site x department cells, and the partners hidden with them.
"""

import random
from datetime import timedelta

from sqlalchemy import insert

from .crypto import new_public_id
from .extensions import db
from .models import Signature
from .models.petitions import SOURCE_ONLINE, SOURCE_PAPER
from .models.tallies import RELEASE_SCHEDULED
from .services import signatures, tallies

#: signers per site code (None: preferred not to say); Lille has 60 people and 56 sign
SITE_SIGNERS = {"paris": 150, "lyon": 95, "toulouse": 70, "nantes": 14, "lille": 56, None: 25}
#: share of each department code among the signers of a site
DEPARTMENT_WEIGHTS = {"consulting": 30, "infra": 25, "software": 30, "data": 9, "support": 3,
                      None: 3}


def seed_tally_demo(campaign, petition, *, weeks=8, seed=2026, publish=True):
    """Add the synthetic signatures, refresh the public count and take (and publish) a first
    release. Returns the release outcome. Flushes, never commits."""
    # made-up demo data, reproducible on purpose: not a security use of randomness
    rng = random.Random(seed)  # noqa: S311  # nosec B311
    units = {(u.kind, u.code): u.id for u in campaign.units}
    today = signatures.today()
    first_day = today - timedelta(weeks=weeks)
    span = (today - first_day).days
    departments = list(DEPARTMENT_WEIGHTS)
    weights = list(DEPARTMENT_WEIGHTS.values())
    rows = []
    for site, count in SITE_SIGNERS.items():
        for _ in range(count):
            # more signatures early on (launch), then a steady trickle
            day = first_day + timedelta(days=int(span * rng.random() ** 1.6))
            department = rng.choices(departments, weights)[0]
            rows.append({
                "public_id": new_public_id(),
                "petition_id": petition.id,
                "is_shadow": False,
                "site_id": units.get(("site", site)) if site else None,
                "department_id": units.get(("department", department)) if department else None,
                "source": SOURCE_PAPER if rng.random() < 0.1 else SOURCE_ONLINE,
                "locale": rng.choice(("fr", "fr", "fr", "en")),
                "signed_on": day,
                "confirmed_on": day,
            })
    db.session.execute(insert(Signature), rows)
    signatures.refresh_snapshot(petition)
    outcome = tallies.take_release(petition, kind=RELEASE_SCHEDULED)
    if publish and outcome.release is not None and not outcome.release.is_deferred:
        tallies.publish(outcome.release, actor=None)
    return outcome
