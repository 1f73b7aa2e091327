"""What staff see of signers: reps only with consent and audited; organizers and admins counts."""

import io

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import AuditEvent, ConsentEvent, Signature
from campaign.services import petitions as petition_service
from campaign.services.campaigns import get_by_slug
from tests.conftest import csrf_token, login
from tests.test_signing import sign

URL = "/staff/campaigns/acme/petitions/end-it"


@pytest.fixture
def petition(app, make_campaign, make_user):
    make_campaign("acme")
    make_campaign("other")
    with app.app_context():
        petition_service.create_petition(
            get_by_slug("acme"), "end-it", actor=None, title_fr="Arrêtez", title_en="Stop it",
            status="open", refresh_minutes=0)
        db.session.commit()
    make_user("rep@example.org", roles=[("acme", "rep")])
    make_user("org@example.org", roles=[("acme", "organizer")])
    make_user("admin@example.org", is_admin=True)
    make_user("otherrep@example.org", roles=[("other", "rep")])
    return "end-it"


def test_rep_sees_only_signers_who_share_with_reps_and_each_view_is_audited(app, client, petition):
    public = app.test_client()
    sign(public, email="a@personal.example", name="Default Dana")
    sign(public, email="b@personal.example", name="Sharing Sam",
         extra={"consent_share_with_reps": "y", "site": ""})
    sign(public, email="c@personal.example", name="Public Pat", extra={"consent_public_name": "y"})
    login(client, "rep@example.org")
    page = client.get(URL + "/signers")
    assert page.status_code == 200
    assert "Sharing Sam" in page.text
    assert "Default Dana" not in page.text and "Public Pat" not in page.text
    with app.app_context():
        events = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "identities_viewed")).scalars().all()
        assert len(events) == 1 and events[0].details["count"] == 1


@pytest.mark.parametrize("who,status", [("org@example.org", 403), ("admin@example.org", 403),
                                        ("otherrep@example.org", 404)])
def test_organizers_admins_and_other_reps_never_see_names(app, client, petition, who, status):
    sign(app.test_client(), name="Sharing Sam", extra={"consent_share_with_reps": "y"})
    login(client, who)
    response = client.get(URL + "/signers")
    assert response.status_code == status
    assert "Sharing Sam" not in response.text
    detail = client.get(URL)
    assert "Sharing Sam" not in detail.text


def test_withdrawn_consent_disappears_from_the_rep_view_on_the_next_request(app, client, petition):
    signer = app.test_client()
    response = sign(signer, name="Sharing Sam", extra={"consent_share_with_reps": "y"})
    link = next(part for part in response.text.split('"') if "/s/" in part)
    login(client, "rep@example.org")
    assert "Sharing Sam" in client.get(URL + "/signers").text
    signer.get(link.replace("http://localhost", ""))
    me = signer.get("/me")
    signer.post("/me/consent", data={"csrf_token": csrf_token(me.text),
                                     "purpose": "share_with_reps", "granted": "0"})
    assert "Sharing Sam" not in client.get(URL + "/signers").text


def test_paper_form_records_the_ticked_boxes_and_version(app, client, petition):
    login(client, "rep@example.org")
    page = client.get(URL + "/paper")
    response = client.post(URL + "/paper", data={
        "csrf_token": csrf_token(page.text), "name": "Paper Paula", "email": "",
        "site": "", "department": "", "consent_share_with_reps": "y", "version": "1",
        "batch_label": "AG Lyon"})
    assert response.status_code == 302
    with app.app_context():
        signature = db.session.execute(select(Signature)).scalar_one()
        assert signature.source == "paper" and signature.batch_label == "AG Lyon"
        events = db.session.execute(select(ConsentEvent)).scalars().all()
        assert [(e.purpose, e.channel, e.consent_text.version) for e in events] == [
            ("share_with_reps", "paper", 1)]


def _upload(client, csv_text, label="Batch 1"):
    page = client.get(URL + "/paper")
    return client.post(URL + "/paper/batch", data={
        "batch-csrf_token": csrf_token(page.text), "batch-batch_label": label,
        "batch-version": "1",
        "batch-file": (io.BytesIO(csv_text.encode("utf-8")), "batch.csv")},
        content_type="multipart/form-data")


def test_csv_batch_with_one_bad_row_imports_nothing_and_names_the_row(app, client, petition):
    login(client, "rep@example.org", )
    csv_text = ("name,email,site,department,public_name,share_with_reps,contact\n"
                "Anne Un,anne@personal.example,paris,dev,no,yes,no\n"
                "Bruno Deux,,lyon,ops,non,oui,non\n"
                "Chloé Trois,,nowhere,dev,no,no,no\n")
    response = _upload(client, csv_text)
    assert response.status_code == 400
    assert "Row 4" in response.text and "unknown site" in response.text
    with app.app_context():
        assert db.session.execute(select(func.count(Signature.id))).scalar() == 0


def test_csv_batch_lands_whole(app, client, petition):
    login(client, "rep@example.org")
    csv_text = ("name;email;site;department;public_name;share_with_reps;contact\n"
                "Anne Un;anne@personal.example;Paris;dev;no;yes;no\n"
                "Bruno Deux;;lyon;ops;non;oui;non\n")
    response = _upload(client, csv_text)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.execute(select(func.count(Signature.id))).scalar() == 2
