"""One hash chain: tampering, deletion and forks are caught by `flask audit verify`."""

import json
import threading

import pytest
from sqlalchemy import func, select, text

from campaign import audit
from campaign.extensions import db
from campaign.models import AuditEvent
from campaign.services.campaigns import get_by_slug


def _record_events(app, n=5, campaign_slug=None):
    """Append n events, committed; returns their (id, public id) in chain order."""
    with app.app_context():
        campaign = get_by_slug(campaign_slug) if campaign_slug else None
        events = [
            audit.record("identities_viewed", target_type="petitions", target_id=f"p{i}",
                         campaign=campaign, details={"count": i, "purpose": "share_with_reps"})
            for i in range(n)
        ]
        db.session.commit()
        return [(e.id, e.public_id) for e in events]


def _count(app):
    """Events already in the log (fixtures may add some); the chain must still verify."""
    with app.app_context():
        count, broken = audit.verify()
        assert broken is None
        return count


def _raw_sql(app, statement, **params):
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()


def _verify(runner):
    return runner.invoke(args=["audit", "verify", "--lang", "en"])


def test_record_builds_a_chain_that_verifies(app, runner):
    before = _count(app)
    ids = _record_events(app, 4)
    with app.app_context():
        events = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        assert [e.public_id for e in events[before:]] == [public_id for _id, public_id in ids]
        assert events[0].prev_hash == audit.GENESIS
        for earlier, later in zip(events, events[1:], strict=False):
            assert later.prev_hash == earlier.hash
        assert audit.verify() == (before + 4, None)
        head = audit.head_hash()
        assert head == events[-1].hash
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    assert f"{before + 4} events" in result.output and head in result.output


TAMPER_SQL = {
    "action": "UPDATE audit_events SET action = :value WHERE id = :id",
    "details": "UPDATE audit_events SET details = :value WHERE id = :id",
    "target_id": "UPDATE audit_events SET target_id = :value WHERE id = :id",
    "actor": "UPDATE audit_events SET actor = :value WHERE id = :id",
}


@pytest.mark.parametrize("column, value", [
    ("action", "login"),
    ("details", json.dumps({"count": 99, "purpose": "share_with_reps"})),
    ("target_id", "p-other"),
    ("actor", "someone-else"),
])
def test_tampering_with_a_middle_event_is_named_by_verify(app, runner, column, value):
    ids = _record_events(app, 5)
    tampered_id, tampered_public_id = ids[2]
    assert _verify(runner).exit_code == 0
    _raw_sql(app, TAMPER_SQL[column], value=value, id=tampered_id)
    expected = json.loads(value) if column == "details" else value
    with app.app_context():  # the change really landed
        assert getattr(db.session.get(AuditEvent, tampered_id), column) == expected
    result = _verify(runner)
    assert result.exit_code != 0
    assert tampered_public_id in result.output
    assert f"#{tampered_id} " in result.output
    for _id, other_public_id in ids[:2] + ids[3:]:
        assert other_public_id not in result.output


def test_deleting_a_middle_event_is_detected(app, runner):
    ids = _record_events(app, 5)
    _raw_sql(app, "DELETE FROM audit_events WHERE id = :id", id=ids[2][0])
    result = _verify(runner)
    assert result.exit_code != 0
    assert ids[3][1] in result.output  # the event that no longer follows its predecessor


def test_deleting_the_first_event_is_detected(app, runner):
    _record_events(app, 3)
    with app.app_context():
        first, second = db.session.execute(
            select(AuditEvent.id, AuditEvent.public_id).order_by(AuditEvent.id).limit(2)).all()
    _raw_sql(app, "DELETE FROM audit_events WHERE id = :id", id=first.id)
    result = _verify(runner)
    assert result.exit_code != 0 and second.public_id in result.output


def test_moving_an_event_to_another_campaign_is_detected(app, runner, make_campaign):
    """campaign_id is not hashed (it may become NULL), yet the audit page filters on it."""
    make_campaign("first", units=False)
    make_campaign("second", units=False)
    ids = _record_events(app, 3, campaign_slug="first")
    assert _verify(runner).exit_code == 0
    with app.app_context():
        other = get_by_slug("second").id
    _raw_sql(app, "UPDATE audit_events SET campaign_id = :c WHERE id = :id", c=other,
             id=ids[1][0])
    result = _verify(runner)
    assert result.exit_code != 0 and ids[1][1] in result.output


def test_details_refuse_keys_outside_the_allow_list(app):
    before = _count(app)
    with app.app_context():
        _details_are_checked(before)
        db.session.rollback()


def _details_are_checked(before):
    with pytest.raises(ValueError):
        audit.record("export", details={"email": "someone@example.org"})
    with pytest.raises(ValueError):
        audit.record("export", details={"count": 3, "name": "Jean"})
    assert db.session.execute(select(func.count(AuditEvent.id))).scalar() == before
    assert "email" not in audit.ALLOWED_DETAIL_KEYS and "ip" not in audit.ALLOWED_DETAIL_KEYS
    event = audit.record("export", details={"count": 3, "label": "x" * 500,
                                            "fields": [f"f{i}" for i in range(50)]})
    assert len(event.details["label"]) == 200 and len(event.details["fields"]) == 20
    assert audit.verify() == (before + 1, None)


def test_concurrent_appends_form_one_intact_chain(app):
    """4 writers x 10 events, each in its own context and transaction (PostgreSQL when configured:
    the advisory lock; SQLite: BEGIN IMMEDIATE)."""
    writers, per_writer = 4, 10
    before = _count(app)
    start = threading.Barrier(writers)
    errors = []

    def write(n):
        try:
            with app.app_context():
                start.wait(timeout=10)
                for i in range(per_writer):
                    audit.record("login", details={"count": i, "label": f"writer-{n}"})
                    db.session.commit()
        except Exception as error:  # reported below, in the test's own thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    with app.app_context():
        assert audit.verify() == (before + writers * per_writer, None)
        prev_hashes = db.session.execute(select(AuditEvent.prev_hash)).scalars().all()
        assert len(set(prev_hashes)) == len(prev_hashes)  # no two events share a parent
        details = db.session.execute(select(AuditEvent.details).where(
            AuditEvent.action == "login")).scalars().all()
        assert sorted(d["label"] for d in details) == sorted(
            f"writer-{n}" for n in range(writers) for _ in range(per_writer))


def test_self_service_events_are_kept_by_day_and_never_listed_with_a_time(
        app, client, make_campaign, make_user):
    """An organizer reading the log right after a withdrawal must not learn when it happened
    (the public count is batched for that reason): the event is in the chain at day precision,
    left out of the list, and only counted per day; the chain still verifies."""
    from tests.conftest import login

    make_campaign("acme")
    make_user("org@example.org", roles=[("acme", "organizer")])
    with app.app_context():
        campaign = get_by_slug("acme")
        audit.record("campaign_updated", actor=None, target=campaign, campaign=campaign)
        withdrawn = audit.record("signature_withdrawn", actor=None, target_type="signatures",
                                 target_id="sig-public-id-1", campaign=campaign)
        audit.record("statement_erased", actor=None, target_type="statements",
                     target_id="st-public-id-1", campaign=campaign)
        db.session.commit()
        stamp = withdrawn.created_at
        withdrawn_public_id = withdrawn.public_id
        assert (stamp.hour, stamp.minute, stamp.second, stamp.microsecond) == (0, 0, 0, 0)
        assert audit.verify()[1] is None
    assert login(client, "org@example.org").status_code == 302
    page = client.get("/admin/audit", query_string={"campaign": "acme"})
    assert page.status_code == 200
    listed, _, per_day = page.text.partition("Withdrawals and erasures by signers and authors")
    assert per_day, "the per-day section is missing"
    assert "campaign_updated" in listed
    for hidden in ("signature_withdrawn", "statement_erased", withdrawn_public_id,
                   "sig-public-id-1", "st-public-id-1"):
        assert hidden not in listed
        assert hidden not in per_day or hidden in ("signature_withdrawn", "statement_erased")
    assert "signature_withdrawn" in per_day and "statement_erased" in per_day
    assert stamp.date().isoformat() in per_day
    assert "00:00:00" not in page.text
