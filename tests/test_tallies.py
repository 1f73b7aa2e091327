"""Tallies through the service, on real rows: the one SQL aggregation, suppression of small cells,
the release ledger (encrypted true counts, differencing between releases, withdrawals), the
dashboard and its access rules, the public summary, the CLI and the demo.

The suppression engine itself (every hidden cell admits two values, property-based) is tested in
tests/test_suppression.py; here the question is whether real signatures reach it correctly and
whether what pages and releases show is what it allows.
"""

import re
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, insert, select, update

from campaign import sessions
from campaign.crypto import DecryptionError, new_public_id
from campaign.extensions import db
from campaign.models import AuditEvent, Signature, TallyRelease
from campaign.models.base import utcnow
from campaign.services import accounts, campaigns, petitions, suppression, tallies
from campaign.services import signatures as signature_service
from campaign.services.campaigns import get_by_slug
from tests.conftest import csrf_token

SLUG, PETITION = "tally", "stop"
K = 10
TODAY = date.today()


# --- helpers -------------------------------------------------------------------------------------

def make_world(sites, departments=(), *, slug=SLUG, threshold=K, ask_department=None):
    """A campaign with these units ((code, headcount, name_fr, name_en)) and an open petition."""
    campaign = campaigns.create_campaign(slug, actor=None, title_fr="Campagne", title_en="Campaign",
                                         employer="Example Corp", status="active",
                                         tally_threshold=threshold)
    for kind, units in (("site", sites), ("department", departments)):
        for code, headcount, *names in units:
            name_fr, name_en = (names + [code.upper(), code.upper()])[:2]
            campaigns.add_unit(campaign, kind, code, actor=None, headcount=headcount,
                               name_fr=name_fr, name_en=name_en)
    petition = petitions.create_petition(
        campaign, PETITION, actor=None, title_fr="Pétition", title_en="Petition", status="open",
        ask_department=bool(departments) if ask_department is None else ask_department,
        refresh_minutes=15)
    db.session.flush()
    return campaign, petition


def unit_id(campaign, kind, code):
    if code is None:
        return None
    return next(u.id for u in campaign.units if u.kind == kind and u.code == code)


def add(petition, n, site=None, department=None, *, day=None, confirmed=True, withdrawn=False,
        shadow=False):
    """n signature rows, as the signing service leaves them (no identity needed to count)."""
    campaign = petition.campaign
    day = day or TODAY - timedelta(days=3)
    rows = [{"public_id": new_public_id(), "petition_id": petition.id, "is_shadow": shadow,
             "site_id": unit_id(campaign, "site", site),
             "department_id": unit_id(campaign, "department", department),
             "source": "online", "signed_on": day, "confirmed_on": day if confirmed else None,
             "withdrawn_on": TODAY if withdrawn else None} for _ in range(n)]
    if rows:
        db.session.execute(insert(Signature), rows)


def withdraw(petition, n, site=None, department=None):
    """Withdraw n counted signatures of that unit (as the signer's private page does)."""
    campaign = petition.campaign
    ids = db.session.execute(
        select(Signature.id).where(
            Signature.petition_id == petition.id, *signature_service.counted_clause(),
            Signature.site_id.is_(None) if site is None
            else Signature.site_id == unit_id(campaign, "site", site),
            Signature.department_id.is_(None) if department is None
            else Signature.department_id == unit_id(campaign, "department", department))
        .limit(n)).scalars().all()
    assert len(ids) == n
    db.session.execute(update(Signature).where(Signature.id.in_(ids))
                       .values(withdrawn_on=TODAY))


def entry(release, row=None, column=None):
    return release.get(row, column)


def later(release, minutes=60):
    return release.created_at + timedelta(minutes=minutes)


def true_counts(release):
    doc = tallies.read_ledger(release)
    return {(e["kind"], e["row"], e["column"]): e["count"] for e in doc["table"]["entries"]}


def published_values(release):
    return {(e["kind"], e["row"], e["column"]): e["value"]
            for e in release.public_data["table"]["entries"]}


THREE_SITES = (("a", 200), ("b", 200), ("c", 200))


# --- the one SQL aggregation ----------------------------------------------------------------------

def test_only_counted_signatures_are_tallied(ctx):
    _campaign, petition = make_world(THREE_SITES)
    add(petition, 40, "a")
    add(petition, 30, "b")
    add(petition, 12, "c")
    add(petition, 15)  # preferred not to say
    add(petition, 5, "a", shadow=True)       # a repeated signature: never counted
    add(petition, 6, "b", confirmed=False)   # waiting for e-mail confirmation
    add(petition, 7, "c", withdrawn=True)    # withdrawn
    # and two through the real signing service, one of them signing twice (a shadow)
    links = signature_service.Links(private=lambda t: f"http://x/s/{t}",
                                    confirm=lambda t: f"http://x/confirm/{t}",
                                    lost=lambda: "http://x/l")
    for email in ("one@personal.example", "two@personal.example", "one@personal.example"):
        signature_service.sign(petition, signature_service.SignerInput(
            name="Someone", email=email, site_id=unit_id(petition.campaign, "site", "a")),
            links=links)
    tally = tallies.compute(petition)
    assert tally.true_total == 40 + 30 + 12 + 15 + 2
    assert tally.true_total == signature_service.live_count(petition)
    assert tally.dimensions == ("site",)
    assert entry(tally.table, "a").value == 40  # 42, rounded to 5
    assert entry(tally.table, "b").value == 30
    assert entry(tally.table, "c").is_published  # 12 >= k and 200 - 12 >= k


def captured_tally_queries(petition):
    """(statement, parameters) of every query on signatures that `compute` sends."""
    statements = []

    def capture(_conn, _cursor, statement, parameters, *_args):
        if re.search(r"\bFROM signatures\b", statement):
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        tallies.compute(petition)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    return statements


def test_the_tally_is_one_grouped_query_and_loads_no_signature(ctx):
    _campaign, petition = make_world(THREE_SITES, (("dev", 300), ("ops", 300)))
    add(petition, 40, "a", "dev")
    add(petition, 35, "b", "ops")
    statements = captured_tally_queries(petition)
    assert len(statements) == 1, statements
    query = statements[0][0]
    assert "GROUP BY" in query and "count(" in query.lower()
    assert "name_ct" not in query and "email_ct" not in query and "signatures.id" not in query


def test_the_query_reads_the_covering_index_without_sorting(ctx):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the plan is read with SQLite's EXPLAIN QUERY PLAN")
    _campaign, petition = make_world(THREE_SITES, (("dev", 300),))
    add(petition, 40, "a", "dev")
    db.session.execute(db.text("ANALYZE"))
    (query, parameters), = captured_tally_queries(petition)
    plan = " ".join(str(row[-1]) for row in db.session.connection().exec_driver_sql(
        "EXPLAIN QUERY PLAN " + query, parameters).all())
    assert "COVERING INDEX ix_signatures_tally" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # aggregated while reading, not sorted first


# --- suppression on real data ---------------------------------------------------------------------

def test_a_cell_of_three_is_hidden(ctx):
    _campaign, petition = make_world(THREE_SITES)
    add(petition, 40, "a")
    add(petition, 30, "b")
    add(petition, 3, "c")
    add(petition, 12)  # preferred not to say
    table = tallies.compute(petition).table
    assert entry(table, "c").value is None
    assert entry(table, "c").public_reason == suppression.SUPPRESSED
    # hidden with a partner: the total alone would otherwise give it away
    hidden = [e for e in table.entries if e.kind != "total" and not e.is_published]
    assert len(hidden) >= 2
    assert table.total.value == 85


def test_a_unit_of_25_where_all_25_signed_is_hidden(ctx):
    _campaign, petition = make_world((("a", 200), ("b", 200), ("team", 25)))
    add(petition, 40, "a")
    add(petition, 30, "b")
    add(petition, 25, "team")
    add(petition, 11)
    table = tallies.compute(petition).table
    assert entry(table, "team").value is None
    assert entry(table, "team").public_reason == suppression.SUPPRESSED
    assert entry(table, "a").value == 40 and entry(table, "a").percent == 20


def test_a_unit_of_30_with_29_signers_is_hidden(ctx):
    _campaign, petition = make_world((("a", 200), ("b", 200), ("team", 30)))
    add(petition, 40, "a")
    add(petition, 30, "b")
    add(petition, 29, "team")
    add(petition, 11)
    table = tallies.compute(petition).table
    assert entry(table, "team").value is None
    assert entry(table, "a").is_published and entry(table, "b").is_published


def test_a_row_with_one_hidden_cell_and_a_published_total_hides_a_second_cell(ctx):
    _campaign, petition = make_world((("a", 500), ("b", 500)),
                                     (("dev", 500), ("ops", 500), ("hr", 500)))
    add(petition, 3, "a", "dev")  # the only small cell
    for site, department in (("a", "ops"), ("a", "hr"), ("a", None), ("b", "dev"), ("b", "ops"),
                             ("b", "hr"), ("b", None), (None, "dev"), (None, "ops"),
                             (None, "hr"), (None, None)):
        add(petition, 20, site, department)
    table = tallies.compute(petition).table
    assert table.is_two_dimensional
    assert entry(table, "a", "dev").reason == suppression.PRIMARY
    assert [e.reason for e in table.entries if e.reason == suppression.PRIMARY] == ["primary"]
    assert entry(table, "a").is_published  # the row total is published...
    row_a = [e for e in table.entries if e.kind == "cell" and e.row == "a"]
    assert sum(not e.is_published for e in row_a) >= 2  # ...so a second cell of the row is hidden
    column_dev = [e for e in table.entries if e.kind == "cell" and e.column == "dev"]
    assert sum(not e.is_published for e in column_dev) >= 2


def test_nothing_is_broken_down_below_the_minimum_total(ctx):
    _campaign, petition = make_world(THREE_SITES)
    add(petition, 15, "a")
    add(petition, 14, "b")
    table = tallies.compute(petition).table
    assert table.total.value == 30  # 29, rounded: the public count is public anyway
    assert not table.is_breakdown_published
    assert {e.public_reason for e in table.entries if e.kind != "total"} == {
        suppression.BELOW_MINIMUM_TOTAL}
    add(petition, 1, "c")
    assert tallies.compute(petition).table.is_breakdown_published


def test_small_units_are_counted_under_other(ctx):
    _campaign, petition = make_world((("a", 200), ("b", 200), ("tiny", 8), ("mini", 15)))
    add(petition, 40, "a")
    add(petition, 30, "b")
    add(petition, 6, "tiny")
    add(petition, 9, "mini")
    add(petition, 12)
    table = tallies.compute(petition).table
    assert {line.key for line in table.merged_rows} == {"tiny", "mini"}
    assert entry(table, "tiny").public_reason == suppression.OTHER
    # the "other" line (23 people, 15 signers) is itself too small: hidden with a partner
    assert entry(table, tallies.OTHER).value is None


# --- series ---------------------------------------------------------------------------------------

def test_signatures_per_week_and_month_add_up_to_the_count(ctx):
    _campaign, petition = make_world(THREE_SITES)
    monday = TODAY - timedelta(days=TODAY.weekday() + 21)  # a Monday three weeks ago
    add(petition, 10, "a", day=monday)
    add(petition, 5, "b", day=monday + timedelta(days=6))  # same week (Sunday)
    add(petition, 7, "c", day=monday + timedelta(days=14))  # two weeks later; one week empty
    tally = tallies.compute(petition)
    weeks = tallies.series(tally.daily, "week", until=TODAY)
    assert [(p.start, p.count) for p in weeks[:3]] == [
        (monday, 15), (monday + timedelta(days=7), 0), (monday + timedelta(days=14), 7)]
    assert weeks[-1].start == TODAY - timedelta(days=TODAY.weekday())
    assert weeks[-1].cumulative == tally.true_total == 22
    months = tallies.series(tally.daily, "month", until=TODAY)
    assert all(p.start.day == 1 for p in months)
    assert sum(p.count for p in months) == 22 and months[-1].cumulative == 22
    with pytest.raises(tallies.TallyError):
        tallies.series(tally.daily, "day")


# --- the release ledger ---------------------------------------------------------------------------

def test_a_release_keeps_true_counts_encrypted_and_publishes_only_rounded_ones(ctx):
    _campaign, petition = make_world(THREE_SITES)
    add(petition, 42, "a")
    add(petition, 31, "b")
    add(petition, 3, "c")
    add(petition, 11)
    outcome = tallies.take_release(petition, kind="scheduled")
    release = outcome.release
    assert outcome.result == "released" and not release.is_deferred
    raw = db.session.execute(
        select(TallyRelease.ledger_ct).where(TallyRelease.id == release.id)).scalar_one()
    assert b'"count"' not in raw and b"42" not in raw
    counts = true_counts(release)
    assert counts[("cell", "c", None)] == 3 and counts[("cell", "a", None)] == 42
    assert "count" not in str(release.public_data)
    assert published_values(release)[("cell", "a", None)] == 40
    assert published_values(release)[("cell", "c", None)] is None
    # the ledger is bound to its release: copied into another row it does not decrypt
    add(petition, 10, "a")
    other = tallies.take_release(petition, kind="scheduled").release
    other.ledger_ct = release.ledger_ct
    with pytest.raises(DecryptionError):
        tallies.read_ledger(other)


def test_ledgers_follow_a_key_rotation(app, ctx):
    from campaign.crypto import KeyRing, new_data_key

    _campaign, petition = make_world(THREE_SITES)
    add(petition, 50, "a")
    release = tallies.take_release(petition, kind="scheduled").release
    expected = tallies.read_ledger(release)
    old_ring = app.extensions["campaign_keyring"]
    old = [(kid, old_ring._keys[kid]) for kid in old_ring.ids]
    new_key = ("rotated", new_data_key())
    try:
        app.extensions["campaign_keyring"] = KeyRing([new_key] + old)
        from campaign.services import keys

        assert keys.rotate()["tally_releases.ledger_ct"] == 1
        assert keys.rotate()["tally_releases.ledger_ct"] == 0
        app.extensions["campaign_keyring"] = KeyRing([new_key])  # the old key removed
        assert tallies.read_ledger(release) == expected
    finally:
        app.extensions["campaign_keyring"] = old_ring


def test_two_releases_one_signature_apart_in_a_small_unit_do_not_expose_it(ctx):
    _campaign, petition = make_world((("a", 300), ("b", 300), ("c", 300), ("team", 40)))
    add(petition, 60, "a")
    add(petition, 45, "b")
    add(petition, 30, "c")
    add(petition, 14, "team")  # published on its own: 14 >= k and 40 - 14 >= k
    add(petition, 20)
    first = tallies.take_release(petition, kind="scheduled").release
    assert published_values(first)[("cell", "team", None)] == 15

    add(petition, 1, "team")  # one more person in the team
    second = tallies.take_release(petition, kind="scheduled")
    assert second.result == "deferred"
    assert second.reason == suppression.DEFER_TOTAL_DIFFERENCE
    assert second.release.public_data is None and second.release.ledger_ct is None

    add(petition, 12, "a")  # enough signatures elsewhere for the total to move by k or more
    third = tallies.take_release(petition, kind="scheduled")
    assert third.result == "released"
    release = third.release
    assert published_values(release)[("cell", "team", None)] is None  # the change stays hidden
    before, after = true_counts(first), true_counts(release)
    for key, value in published_values(release).items():
        if value is not None and published_values(first)[key] is not None:
            moved = abs(after[key] - before[key])
            assert moved == 0 or moved >= K, (key, moved)
    # the team is hidden with a partner, so the published total does not give it away either
    hidden = [k for k, v in published_values(release).items() if v is None]
    assert len(hidden) >= 2
    # the ledger still holds both published releases, each readable, in order
    assert [r.id for r in tallies.releases(petition, include_deferred=False)] == [first.id,
                                                                                  release.id]


def test_a_withdrawal_changes_the_next_release_not_history(ctx):
    _campaign, petition = make_world(THREE_SITES)
    add(petition, 50, "a")
    add(petition, 40, "b")
    add(petition, 30, "c")
    first = tallies.take_release(petition, kind="scheduled").release
    tallies.publish(first, actor=None)
    public_before = dict(first.public_data)
    ledger_before = tallies.read_ledger(first)

    withdraw(petition, 1, "c")
    assert tallies.compute(petition).true_total == 119  # counts at once
    blocked = tallies.take_release(petition, kind="scheduled")
    assert blocked.result == "deferred"  # one signature apart: the next snapshot is not taken

    withdraw(petition, 10, "a")
    next_one = tallies.take_release(petition, kind="scheduled")
    assert next_one.result == "released"
    assert tallies.read_ledger(next_one.release)["total"] == 109
    db.session.expire_all()
    past = db.session.get(TallyRelease, first.id)
    assert past.public_data == public_before and tallies.read_ledger(past) == ledger_before
    assert past.is_published
    assert tallies.latest_release(petition, published_only=True).id == first.id


def test_a_scheduled_release_with_nothing_new_stores_nothing(ctx):
    _campaign, petition = make_world(THREE_SITES)
    add(petition, 50, "a")
    tallies.take_release(petition, kind="scheduled")
    outcome = tallies.take_release(petition, kind="scheduled")
    assert outcome.result == "unchanged" and outcome.release is None
    assert len(tallies.releases(petition)) == 1


def test_releases_on_demand_are_no_more_frequent_than_the_public_count(ctx):
    _campaign, petition = make_world(THREE_SITES)
    add(petition, 50, "a")
    first = tallies.take_release(petition, kind="on_demand").release
    with pytest.raises(tallies.TallyError, match="too_soon"):
        tallies.take_release(petition, kind="on_demand", now=later(first, 5))
    again = tallies.take_release(petition, kind="on_demand", now=later(first, 16))
    assert again.result == "released"


def test_a_change_of_units_needs_an_explicit_new_series(ctx):
    campaign, petition = make_world(THREE_SITES)
    add(petition, 50, "a")
    add(petition, 40, "b")
    first = tallies.take_release(petition, kind="scheduled").release
    campaigns.add_unit(campaign, "site", "d", actor=None, name_en="D", headcount=100)
    db.session.refresh(campaign)
    outcome = tallies.take_release(petition, kind="on_demand", now=later(first))
    assert outcome.result == "deferred"
    assert outcome.reason == suppression.DEFER_STRUCTURE_CHANGED
    add(petition, 3, "d")  # the total moved by less than k: even a new series must wait
    refused = tallies.take_release(petition, kind="on_demand", new_series=True,
                                   now=later(first, 120))
    assert refused.result == "deferred" and refused.reason == suppression.DEFER_TOTAL_DIFFERENCE
    assert refused.release.series == 1  # a refused attempt starts no series...
    still = tallies.take_release(petition, kind="on_demand", now=later(first, 180))
    assert still.reason == suppression.DEFER_STRUCTURE_CHANGED  # ...nor skips the check
    add(petition, 7, "a")
    started = tallies.take_release(petition, kind="on_demand", new_series=True,
                                   now=later(first, 240))
    assert started.result == "released" and started.release.series == 2
    assert "d" in [line["key"] for line in started.release.public_data["table"]["rows"]]


def test_the_release_breakdown_views_are_margins_of_one_table(ctx):
    _campaign, petition = make_world(THREE_SITES, (("dev", 300), ("ops", 300)))
    for site in ("a", "b", "c"):
        add(petition, 20, site, "dev")
        add(petition, 15, site, "ops")
    release = tallies.take_release(petition, kind="scheduled").release
    assert release.dimension_list == ("site", "department")
    by_site = tallies.breakdown(release, "site")
    by_both = tallies.breakdown(release, "site,department")
    for cell in by_site.cells:
        assert by_both.get(cell.row, None).value == cell.value
    by_department = tallies.breakdown(release, ("department",))
    assert [c.row for c in by_department.cells][:2] == ["dev", "ops"]
    assert by_department.get("dev").value == by_both.get(None, "dev").value
    with pytest.raises(tallies.TallyError):
        tallies.breakdown(release, "region")


def test_the_scheduled_command_releases_every_public_petition(app, runner):
    with app.app_context():
        _campaign, petition = make_world(THREE_SITES)
        add(petition, 50, "a")
        add(petition, 40, "b")
        db.session.commit()
    result = runner.invoke(args=["tallies", "release", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "tally/stop: released." in result.output
    again = runner.invoke(args=["tallies", "release", "--lang", "en"])
    assert "tally/stop: unchanged" in again.output
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(TallyRelease)).scalar() == 1
        actions = db.session.execute(select(AuditEvent.action)).scalars().all()
        assert actions.count("tally_release_taken") == 2


# --- pages ----------------------------------------------------------------------------------------

def sign_in(app, client, email, *, roles=(), is_admin=False):
    """A real staff session (sign-in itself is tested elsewhere)."""
    with app.app_context():
        user = accounts.create_user(email, email.split("@")[0], is_admin=is_admin)
        for slug, role in roles:
            accounts.grant(user, get_by_slug(slug), role, actor=None)
        raw = accounts.start_session(user)
        db.session.commit()
    with client.session_transaction() as session:
        session[sessions.SESSION_KEY] = raw
        session[sessions.SEEN_KEY] = int(time.time())
    return client


@pytest.fixture
def staff_world(app):
    """Campaign "tally" with a released, unpublished tally, and campaign "other"."""
    with app.app_context():
        _campaign, petition = make_world(
            (("a", 300, "Site A", "Site A"), ("b", 300, "Site B", "Site B"),
             ("team", 25, "Équipe 25", "Team 25")),
            (("dev", 400, "Développement", "Development"), ("ops", 400, "Exploitation",
                                                            "Operations")))
        for site, department, n in (("a", "dev", 30), ("a", "ops", 25), ("b", "dev", 20),
                                    ("b", "ops", 3), ("team", "dev", 25), (None, None, 12)):
            add(petition, n, site, department, day=TODAY - timedelta(days=n))
        signature_service.refresh_snapshot(petition)
        tallies.take_release(petition, kind="scheduled")
        campaigns.create_campaign("other", actor=None, title_en="Other", employer="E",
                                  status="active")
        db.session.commit()
    return app


DASHBOARD = f"/staff/campaigns/{SLUG}/petitions/{PETITION}/tallies/"


@pytest.mark.parametrize(("who", "roles", "is_admin", "status"), [
    ("admin", (), True, 403),
    ("rep-other", (("other", "rep"),), False, 404),
    ("organizer-other", (("other", "organizer"),), False, 404),
    ("rep", ((SLUG, "rep"),), False, 200),
    ("organizer", ((SLUG, "organizer"),), False, 200),
])
def test_who_may_open_the_dashboard(staff_world, who, roles, is_admin, status):
    client = sign_in(staff_world, staff_world.test_client(), f"{who}@example.org", roles=roles,
                     is_admin=is_admin)
    assert client.get(DASHBOARD).status_code == status


def test_anonymous_visitors_are_sent_to_sign_in(staff_world):
    response = staff_world.test_client().get(DASHBOARD)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_dashboard_shows_hidden_cells_as_hidden_and_charts_with_their_table(staff_world):
    client = sign_in(staff_world, staff_world.test_client(), "rep@example.org",
                     roles=((SLUG, "rep"),))
    page = client.get(DASHBOARD, headers={"Accept-Language": "en"}).text
    assert "Team 25" in page
    assert "hidden to protect people" in page
    assert f'action="{DASHBOARD}releases"' not in page  # reps do not take releases
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(svgs) == 3  # over time, by site, by department
    for svg in svgs:
        ids = re.search(r'aria-labelledby="([^"]+)"', svg).group(1).split()
        assert f'<title id="{ids[0]}">' in svg and f'<desc id="{ids[1]}">' in svg
        assert 'role="img"' in svg
        assert "<script" not in svg and "style=" not in svg and "http://www.w3.org" in svg
    assert "style=" not in page and "<script" not in page
    # the chart over time and its table give the same figures
    time_chart = svgs[0]
    points = re.findall(r"<g><circle[^>]*/><title>([^<]+): ([\d,\u202f\xa0 ]+)</title></g>",
                        time_chart)
    table = re.search(r'<table id="time-table">.*?</table>', page, re.S).group(0)
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td>[^<]+</td><td>([^<]+)</td></tr>',
                      table)
    assert points and points == rows
    # the bars by site and their table: same figures, hidden ones hidden in both
    site_chart = svgs[1]
    bars = re.findall(r"<g><title>([^<]+): ([^<]+)</title>", site_chart)
    site_table = re.search(r'<table id="table-site">.*?</table>', page, re.S).group(0)
    for label, shown in bars:
        assert label in site_table
        if shown == "hidden":
            assert re.search(re.escape(label) + r'</th><td><span class="tally-hidden">',
                             site_table)
        else:
            assert re.search(re.escape(label) + r'</th><td><span class="tally-value">'
                             + re.escape(shown) + "<", site_table)
    assert ("Team 25", "hidden") in bars


def test_organizers_take_and_publish_releases_and_the_public_page_shows_them(staff_world):
    app = staff_world
    organizer = sign_in(app, app.test_client(), "org@example.org", roles=((SLUG, "organizer"),))
    rep = sign_in(app, app.test_client(), "rep@example.org", roles=((SLUG, "rep"),))
    public = app.test_client()
    english = {"Accept-Language": "en"}
    first_public = public.get(f"/c/{SLUG}", headers=english).text
    assert "Who signed, in numbers" in first_public  # the count...
    assert "Signatures by site" not in first_public  # ...but no breakdown published yet

    rep_token = csrf_token(rep.get(DASHBOARD).text)
    assert rep.post(DASHBOARD + "releases", data={"csrf_token": rep_token}).status_code == 403
    page = organizer.get(DASHBOARD).text
    assert f'action="{DASHBOARD}releases"' in page
    assert f'action="{DASHBOARD}releases"' not in rep.get(DASHBOARD).text
    token = csrf_token(page)
    # nothing changed since the scheduled release, and it is too soon anyway: refused
    response = organizer.post(DASHBOARD + "releases", data={"csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        release = db.session.execute(select(TallyRelease)).scalars().one()
        release_id = release.public_id
        release.created_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    assert organizer.post(DASHBOARD + "releases", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(TallyRelease)).scalar() == 2

    publish_url = f"{DASHBOARD}releases/{release_id}/publish"
    assert rep.post(publish_url, data={"csrf_token": rep_token}).status_code == 403
    assert organizer.post(DASHBOARD + "releases/no-such-release/publish",
                          data={"csrf_token": token}).status_code == 404
    assert organizer.post(publish_url, data={"csrf_token": token}).status_code == 302
    public_page = public.get(f"/c/{SLUG}", headers={"Accept-Language": "en"}).text
    assert "Signatures by site" in public_page
    assert "Team 25" in public_page and "hidden" in public_page
    summary = re.search(r'<section aria-labelledby="tallies-title">.*?</section>', public_page,
                        re.S).group(0)
    # the team of 25 where everybody signed is not given away
    assert re.search(r'Team 25</th><td><span class="tally-hidden">hidden</span>', summary)


def test_the_demo_seeds_a_tally_with_real_suppression(ctx):
    from campaign.demo_tallies import seed_tally_demo

    campaign, petition = make_world(
        (("paris", 900), ("lyon", 420), ("toulouse", 380), ("nantes", 210), ("lille", 60)),
        (("consulting", 600), ("infra", 450), ("software", 520), ("data", 240),
         ("support", 160)))
    outcome = seed_tally_demo(campaign, petition)
    assert outcome.result == "released" and outcome.release.is_published
    total = tallies.read_ledger(outcome.release)["total"]
    assert 300 <= total <= 500
    site_view = tallies.breakdown(outcome.release, "site")
    assert site_view.get("lille").status == suppression.SUPPRESSED  # 56 of 60 signed
    assert site_view.get("paris").is_published
    grid = tallies.breakdown(outcome.release, "site,department")
    assert any(not c.is_published for c in grid.cells if c.row and c.column)
    weeks = tallies.release_series(outcome.release, "week")
    assert len(weeks) >= 8


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_every_tally_page_renders_in_both_languages(staff_world, locale):
    """The dashboard with a deferred attempt in its ledger, and the public summary."""
    app = staff_world
    with app.app_context():
        petition = get_by_slug(SLUG).petitions[0]
        release = tallies.latest_release(petition)
        tallies.publish(release, actor=None)
        add(petition, 1, "a")
        assert tallies.take_release(petition, kind="on_demand",
                                    now=later(release)).result == "deferred"
        db.session.commit()
    organizer = sign_in(app, app.test_client(), "org@example.org", roles=((SLUG, "organizer"),))
    headers = {"Accept-Language": locale}
    for period in ("week", "month"):
        page = organizer.get(f"{DASHBOARD}?period={period}", headers=headers)
        assert page.status_code == 200
        assert f'<html lang="{locale}">' in page.text
        assert page.text.count("<svg") == 3 and 'id="table-grid"' in page.text
    public = app.test_client().get(f"/c/{SLUG}", headers=headers)
    assert public.status_code == 200 and 'id="public-stop-site"' in public.text
