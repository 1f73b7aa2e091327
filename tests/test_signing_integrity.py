"""Nothing lost, nothing duplicated, nothing readable: concurrency, raw dumps, erasure, retention."""

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import Campaign, DataKey, Signature
from campaign.models.base import utcnow
from campaign.services import petitions as petition_service
from campaign.services import signatures as service
from campaign.services.campaigns import get_by_slug
from tests.conftest import csrf_token
from tests.test_signing import LINK_RE, sign


@pytest.fixture
def petition(app, make_campaign):
    make_campaign("acme")
    with app.app_context():
        petition_service.create_petition(get_by_slug("acme"), "end-it", actor=None,
                                         title_en="Stop it", status="open", refresh_minutes=0)
        db.session.commit()
    return "end-it"


def _burst(app, emails):
    """Each e-mail signs from its own client and thread, all released at once."""
    pages = []
    for _ in emails:
        client = app.test_client()
        page = client.get("/c/acme/p/end-it")
        pages.append((client, csrf_token(page.text)))
    barrier = threading.Barrier(len(emails))
    statuses = [None] * len(emails)

    def run(i, email):
        client, token = pages[i]
        barrier.wait()
        response = client.post("/c/acme/p/end-it/sign", data={
            "csrf_token": token, "name": f"Signer {i}", "email": email,
            "version_public_name": "1", "version_share_with_reps": "1", "version_contact": "1"})
        statuses[i] = response.status_code

    threads = [threading.Thread(target=run, args=(i, e)) for i, e in enumerate(emails)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def _counted(app):
    with app.app_context():
        return db.session.execute(select(func.count(Signature.id)).where(
            Signature.is_shadow.is_(False))).scalar()


def test_200_concurrent_distinct_signers_make_200_signatures(app, petition):
    app.config["SIGN_RATE_LIMIT"] = "100000 per minute"
    statuses = _burst(app, [f"person{i}@personal.example" for i in range(200)])
    assert statuses == [200] * 200
    assert _counted(app) == 200


def test_20_concurrent_submissions_of_one_address_make_one_signature(app, petition):
    app.config["SIGN_RATE_LIMIT"] = "100000 per minute"
    statuses = _burst(app, ["same@personal.example"] * 20)
    assert statuses == [200] * 20
    assert _counted(app) == 1


def test_the_database_file_holds_no_name_or_email_in_clear(app, petition, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("raw file dump is a SQLite check; PostgreSQL is covered by a SQL dump below")
    client = app.test_client()
    sign(client, email="canary.mail@personal.example", name="Zebulon Canary",
         extra={"consent_public_name": "y", "consent_share_with_reps": "y"})
    with app.app_context():
        db.session.execute(select(1))
        db.engine.dispose()  # close connections so WAL content is checkpointed or readable
    path = database_url.replace("sqlite:///", "")
    raw = b""
    for suffix in ("", "-wal"):
        try:
            with open(path + suffix, "rb") as handle:
                raw += handle.read()
        except FileNotFoundError:
            pass
    assert len(raw) > 10_000
    for canary in ("Zebulon Canary", "canary.mail@personal.example", "Zebulon", "canary.mail"):
        assert canary.encode() not in raw
        assert canary.encode("utf-16-le") not in raw
    with app.app_context():
        name, email = service.identity(db.session.execute(select(Signature)).scalar_one())
        assert (name, email) == ("Zebulon Canary", "canary.mail@personal.example")


def test_a_sql_dump_holds_no_name_or_email_in_clear(app, petition):
    sign(app.test_client(), email="canary.mail@personal.example", name="Zebulon Canary")
    with app.app_context():
        dump = []
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)).all():
                dump.append(repr(tuple(row)))
        text = "\n".join(dump)
    assert "Zebulon" not in text and "canary.mail" not in text


def test_erasing_destroys_the_data_key_and_every_row(app, petition):
    client = app.test_client()
    response = sign(client, extra={"consent_contact": "y"})
    client.get(LINK_RE.search(response.text).group(1).replace("http://localhost", ""))
    data = json.loads(client.get("/me/data.json").data)
    assert data["signature"]["name"] == "Alice Canary"
    assert data["consent"] == {"contact": True}
    assert data["consent_history"][0]["text_version"] == 1
    me = client.get("/me")
    erased = client.post("/me/erase", data={"csrf_token": csrf_token(me.text)})
    assert erased.status_code == 200
    with app.app_context():
        assert db.session.execute(select(func.count(Signature.id))).scalar() == 0
        key = db.session.execute(select(DataKey)).scalar_one()
        assert key.wrapped is None and key.destroyed_at is not None
    assert client.get("/me").status_code == 403


def test_purge_erases_identities_after_retention_and_keeps_counts(app, petition, runner):
    sign(app.test_client())
    sign(app.test_client(), email="bob@personal.example", name="Bob")
    with app.app_context():
        campaign = db.session.execute(select(Campaign)).scalar_one()
        campaign.status = "closed"
        campaign.retention_days = 30
        campaign.closed_at = utcnow() - timedelta(days=29)
        db.session.commit()
    result = runner.invoke(args=["purge", "--lang", "en"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.execute(select(func.count(Signature.id)).where(
            Signature.name_ct.is_not(None))).scalar() == 2
        campaign = db.session.execute(select(Campaign)).scalar_one()
        campaign.closed_at = utcnow() - timedelta(days=31)
        db.session.commit()
    result = runner.invoke(args=["purge", "--lang", "en"])
    assert "erased after retention: 2" in result.output
    with app.app_context():
        rows = db.session.execute(select(Signature)).scalars().all()
        assert len(rows) == 2
        assert all(r.name_ct is None and r.email_ct is None and r.erased_on for r in rows)
        assert all(r.data_key.wrapped is None for r in rows)
        assert service.live_count(rows[0].petition) == 2


def test_signature_dates_have_day_precision(app, petition):
    sign(app.test_client())
    with app.app_context():
        for column in Signature.__table__.columns:
            assert "DATETIME" not in str(column.type).upper(), column.name


def test_concurrent_first_views_of_a_petition_all_get_the_page(app, petition):
    """Twenty visitors open a petition at once before any public snapshot exists: each view
    tries to take the first one (on PostgreSQL they race on its primary key). Every visitor
    gets the page; one snapshot is kept."""
    from campaign.models import PetitionSnapshot

    barrier = threading.Barrier(20)
    statuses = [None] * 20

    def view(i):
        client = app.test_client()
        barrier.wait()
        statuses[i] = client.get("/c/acme/p/end-it").status_code

    threads = [threading.Thread(target=view, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(PetitionSnapshot)).scalar() == 1
