"""Exports of tally releases: inert in a spreadsheet, readable in French spreadsheets, in the chosen
language, traceable to their audit event, free of identities and times, the same from the page
and from `flask tallies export`, and refused to whoever may not see tallies."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import AuditEvent
from campaign.services import exports, tallies
from campaign.services import signatures as signature_service
from campaign.services.campaigns import get_by_slug
from tests.conftest import csrf_token
from tests.test_tallies import DASHBOARD, PETITION, SLUG, TODAY, add, make_world, sign_in

INJECTION = '=HYPERLINK("http://x","y")'


def seeded(with_identities=False):
    """A released tally whose unit names include a formula and French accents."""
    _campaign, petition = make_world(
        (("a", 300, "Paris", "Paris"), ("b", 300, INJECTION, INJECTION),
         ("c", 300, "@SUM(A1:A9)", "+33 1 23 45 67 89")),
        (("dev", 500, "Développement", "Development"), ("ops", 500, "-Exploitation",
                                                        "Operations")))
    for site, department, n in (("a", "dev", 30), ("a", "ops", 20), ("b", "dev", 25),
                                ("b", "ops", 22), ("c", "dev", 18), ("c", "ops", 4),
                                (None, None, 11)):
        add(petition, n, site, department, day=TODAY - timedelta(days=2 * n))
    if with_identities:
        links = signature_service.Links(private=lambda t: f"http://x/s/{t}",
                                        confirm=lambda t: f"http://x/c/{t}",
                                        lost=lambda: "http://x/l")
        signature_service.sign(petition, signature_service.SignerInput(
            name="Zoé Canaryname", email="canary.mailbox@personal.example",
            consents={"share_with_reps": True, "public_name": True}), links=links)
    release = tallies.take_release(petition, kind="scheduled").release
    return petition, release


def rows_of(content, delimiter=","):
    text = content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def export(release, **options):
    values = {"by": "site,department", "period": "week", "fmt": "csv", "lang": "en"}
    values.update(options)
    return exports.export_release(release, **values)


def without_event(content, fmt):
    """The file without its audit event id (each export is an event of its own)."""
    if fmt == "json":
        document = json.loads(content)
        document.pop("audit_event")
        return document
    text = content.decode("utf-8-sig")
    first, _, rest = text.partition("\r\n")
    assert first.startswith("# ")
    return rest


# --- inert cells ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", INJECTION])
def test_formula_cells_are_neutralized(value):
    assert exports.guard_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Paris", "Développement", "a=b", " =1", "#tag", 42, 0])
def test_other_cells_are_left_alone(value):
    assert exports.guard_cell(value) == value


def test_a_hyperlink_formula_in_a_unit_name_opens_as_text(ctx):
    _petition, release = seeded()
    rows = rows_of(export(release).content)
    sites = {row[0] for row in rows if len(row) > 1}
    assert "'" + INJECTION in sites
    assert INJECTION not in sites
    assert "'+33 1 23 45 67 89" in sites
    departments = {row[1] for row in rows if len(row) > 2}
    assert "'-Exploitation" not in departments  # English export: "Operations"
    french = rows_of(export(release, lang="fr", french_csv=True).content, delimiter=";")
    assert "'-Exploitation" in {row[1] for row in french if len(row) > 2}
    assert "'@SUM(A1:A9)" in {row[0] for row in french if len(row) > 1}
    # no cell of any export starts with a formula character
    for row in rows + french:
        for cell in row:
            assert not cell.startswith(exports.FORMULA_PREFIXES), cell


# --- French spreadsheets and languages ------------------------------------------------------------

def test_the_french_option_has_semicolons_a_bom_and_intact_accents(ctx):
    _petition, release = seeded()
    content = export(release, lang="fr", french_csv=True).content
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8-sig")
    assert "Développement" in text
    assert "D\u00e9veloppement".encode() in content  # UTF-8, not Latin-1 or escaped
    rows = rows_of(content, delimiter=";")
    header = next(row for row in rows if row and not row[0].startswith("#"))
    with force_locale("fr"):
        assert header[:3] == [_("Site"), _("Department"), _("Signatures")]
    assert any(row[:2] == ["Paris", "Développement"] for row in rows)
    plain = export(release, lang="fr").content
    assert not plain.startswith(b"\xef\xbb\xbf")
    assert any(row[:2] == ["Paris", "Développement"] for row in rows_of(plain))


def test_headers_and_labels_follow_the_chosen_language(ctx):
    _petition, release = seeded()
    english = rows_of(export(release, lang="en").content)
    assert ["Site", "Department", "Signatures"] == next(
        row for row in english if row and not row[0].startswith("#"))[:3]
    assert any(row[:2] == ["Paris", "Development"] for row in english)
    french = json.loads(export(release, fmt="json", lang="fr").content)
    with force_locale("fr"):
        assert french["columns"]["department"] == _("Department")
    assert {row["department"]["name"] for row in french["breakdown"]} >= {"Développement"}
    assert french["language"] == "fr"


# --- traceable, and nothing about people ----------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_every_export_is_an_audit_event_whose_id_is_in_the_file(ctx, fmt):
    petition, release = seeded()
    before = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    exported = export(release, fmt=fmt, by="site", period="month")
    after = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    assert after == before + 1
    event = db.session.execute(
        select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
    assert event.action == "tally_exported" and event.public_id == exported.event_id
    assert event.target_id == release.public_id and event.campaign_slug == SLUG
    assert event.details["format"] == fmt and event.details["by"] == ["site"]
    assert event.details["period"] == "month" and event.details["petition"] == petition.slug
    if fmt == "json":
        assert json.loads(exported.content)["audit_event"] == event.public_id
    else:
        assert exported.content.decode().splitlines()[0] == f"# Audit event: {event.public_id}"


def test_an_export_holds_no_name_no_email_and_no_time_of_day(ctx):
    _petition, release = seeded(with_identities=True)
    for fmt in ("csv", "json"):
        for lang in ("fr", "en"):
            content = export(release, fmt=fmt, lang=lang).content.decode("utf-8-sig")
            assert "Canaryname" not in content and "Zoé" not in content
            assert "canary" not in content.lower() and "@personal" not in content
            assert not re.search(r"\d{1,2}:\d{2}", content), content
            # an ISO date-time ("2026-11-29T14..."), not the letters of a random public id
            assert not re.search(r"\d{4}-\d{2}-\d{2}T\d", content), content


def test_an_export_is_refused_for_a_breakdown_the_release_does_not_have(ctx):
    _petition, release = seeded()
    before = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    with pytest.raises(tallies.TallyError):
        export(release, by="region")
    with pytest.raises(tallies.TallyError):
        export(release, fmt="xlsx")
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar() == before


# --- the same file from the page and from the CLI -------------------------------------------------

@pytest.mark.parametrize(("fmt", "lang", "french", "by", "period"), [
    ("csv", "fr", True, "site,department", "week"),
    ("csv", "en", False, "department", "month"),
    ("json", "fr", False, "site", "week"),
])
def test_the_cli_export_equals_the_service_output(app, runner, tmp_path, fmt, lang, french, by,
                                                  period):
    with app.app_context():
        _petition, release = seeded()
        db.session.commit()
        expected = export(release, fmt=fmt, lang=lang, french_csv=french, by=by,
                          period=period).content
        db.session.commit()
    target = tmp_path / f"out.{fmt}"
    args = ["tallies", "export", SLUG, "--petition", PETITION, "--by", by, "--period", period,
            "--format", fmt, "--lang", lang, "--output", str(target)]
    result = runner.invoke(args=args + (["--french-csv"] if french else []))
    assert result.exit_code == 0, result.output
    produced = target.read_bytes()
    assert without_event(produced, fmt) == without_event(expected, fmt)
    assert produced != expected  # its own audit event
    # on standard output too
    streamed = runner.invoke(args=args[:-2] + (["--french-csv"] if french else []))
    assert streamed.exit_code == 0, streamed.output
    assert without_event(streamed.stdout_bytes, fmt) == without_event(expected, fmt)


def test_the_cli_explains_what_it_cannot_export(app, runner):
    with app.app_context():
        make_world((("a", 100),))
        db.session.commit()
    result = runner.invoke(args=["tallies", "export", SLUG, "--petition", PETITION, "--lang",
                                 "en"])
    assert result.exit_code != 0 and "no release" in result.output
    result = runner.invoke(args=["tallies", "export", SLUG, "--petition", "nope", "--lang", "en"])
    assert result.exit_code != 0 and "No such campaign or petition" in result.output


@pytest.fixture
def exported_world(app):
    with app.app_context():
        _petition, release = seeded()
        from campaign.services import campaigns

        campaigns.create_campaign("other", actor=None, title_en="Other", employer="E",
                                  status="active")
        db.session.commit()
        release_id = release.public_id
    return app, release_id


FORM = {"by": "site,department", "period": "week", "format": "csv", "language": "fr",
        "french_csv": "y"}


def test_the_page_download_equals_the_service_output(exported_world):
    app, release_id = exported_world
    client = sign_in(app, app.test_client(), "rep@example.org", roles=((SLUG, "rep"),))
    token = csrf_token(client.get(DASHBOARD).text)
    response = client.post(DASHBOARD + "export",
                           data={**FORM, "release": release_id, "csrf_token": token})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Content-Type"].startswith("text/csv")
    with app.app_context():
        release = tallies.get_release(get_by_slug(SLUG).petitions[0], release_id)
        expected = export(release, lang="fr", french_csv=True).content
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "tally_exported")
            .order_by(AuditEvent.id)).scalars().first()
        assert event.actor is not None  # the rep who downloaded it
        event_id = event.public_id
    assert without_event(response.data, "csv") == without_event(expected, "csv")
    first_line = response.data.decode("utf-8-sig").splitlines()[0]
    assert first_line.startswith("# ") and first_line.endswith(event_id)


@pytest.mark.parametrize(("who", "roles", "is_admin", "status"), [
    ("admin", (), True, 403),
    ("rep-other", (("other", "rep"),), False, 404),
    ("organizer-other", (("other", "organizer"),), False, 404),
    ("rep", ((SLUG, "rep"),), False, 200),
    ("organizer", ((SLUG, "organizer"),), False, 200),
])
def test_who_may_export(exported_world, who, roles, is_admin, status):
    app, release_id = exported_world
    client = sign_in(app, app.test_client(), f"{who}@example.org", roles=roles,
                     is_admin=is_admin)
    token = csrf_token(client.get("/staff/").text)
    with app.app_context():
        before = db.session.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "tally_exported")).scalar()
    response = client.post(DASHBOARD + "export",
                           data={**FORM, "release": release_id, "csrf_token": token})
    assert response.status_code == status
    with app.app_context():
        after = db.session.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "tally_exported")).scalar()
    assert after == before + (1 if status == 200 else 0)
