"""Many signers at once through gunicorn's worker processes: every accepted signature stored once.

The small, correctness-only version of bench/load_burst.py (no timing): the real gunicorn with the
project's gunicorn.conf.py, three sync worker processes, production configuration (through
bench/burst_wsgi.py), the suite's database (a SQLite file in WAL mode, or PostgreSQL).
"""

import pytest
from sqlalchemy import delete, select

from bench import load_burst as lb
from campaign.extensions import db
from campaign.models import ConsentEvent, Signature

WORKERS = 3
CLIENTS = 16
DISTINCT = 120
REPEATS = 30


@pytest.fixture
def server(app, database_url, tmp_path):
    """gunicorn serving the app with the fixture's database and secrets, stopped after the test."""
    lb.add_petition(app)
    env = lb.server_env(database_url, lb.secrets_of(app.config))
    running = lb.start_server(lb.CAMPAIGN_TARGET, env, WORKERS, tmp_path / "gunicorn.log")
    yield running
    lb.stop_server(running)


def test_a_burst_of_signers_and_repeats_is_stored_exactly_once(app, server):
    """120 addresses sign and 30 submissions repeat some of them (shuffled, so a repeat may race
    its first), 16 at a time, each after fetching the page for its cookie and CSRF token; every
    view starts at once on a petition that has no public count yet."""
    jobs = lb.plan(DISTINCT, REPEATS, seed=6)
    outcomes, _seconds = lb.burst(server.port, jobs, CLIENTS)
    verdict = lb.verify(app, outcomes, server.log())

    assert verdict.server_errors == 0, f"5xx answers: {verdict}"
    assert verdict.failed_requests == 0, [o.error for o in outcomes if o.error][:5]
    assert verdict.other_statuses == {}
    assert verdict.accepted == DISTINCT + REPEATS
    assert verdict.accepted_addresses == DISTINCT
    # Every accepted address has exactly one counted signature, and nothing else is counted.
    assert verdict.counted == DISTINCT
    assert verdict.duplicates == 0 and verdict.missing == 0 and verdict.unexpected == 0
    # Each repeat became a shadow (same answer for the signer, never counted).
    assert verdict.shadows == REPEATS
    assert verdict.log_problems == {}, verdict.log_problems
    assert verdict.ok

    # The check can fail: lose one stored signature and it is reported missing.
    with app.app_context():
        victim = db.session.execute(select(Signature.id).where(
            Signature.is_shadow.is_(False)).limit(1)).scalar_one()
        db.session.execute(delete(ConsentEvent).where(ConsentEvent.signature_id == victim))
        db.session.execute(delete(Signature).where(Signature.id == victim))
        db.session.commit()
    after_loss = lb.verify(app, outcomes, server.log())
    assert after_loss.missing == 1 and not after_loss.ok
