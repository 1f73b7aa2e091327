"""Admin pages: invitations, deactivation, memberships, consent-text versions."""

import re

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import ConsentEvent, ConsentText, User
from campaign.services import petitions as petition_service
from campaign.services.campaigns import get_by_slug
from tests.conftest import csrf_token, login


def test_invited_person_sets_a_password_once_and_signs_in(app, client, make_user):
    make_user("admin@example.org", is_admin=True)
    login(client, "admin@example.org")
    page = client.get("/admin/users/invite")
    response = client.post("/admin/users/invite", data={
        "csrf_token": csrf_token(page.text), "email": "New.Rep@Example.org",
        "display_name": "New Rep", "locale": "en"})
    assert response.status_code == 200
    link = re.search(r"http://localhost(/invitation/[A-Za-z0-9_-]{43})", response.text).group(1)
    guest = app.test_client()
    form = guest.get(link)
    assert form.status_code == 200
    short = guest.post(link, data={"csrf_token": csrf_token(form.text), "password": "password123",
                                   "confirm": "password123"}, headers={"Accept-Language": "en"})
    assert short.status_code == 200 and "at least 12 characters" in short.text
    common = guest.post(link, data={"csrf_token": csrf_token(form.text),
                                    "password": "1qaz2wsx3edc", "confirm": "1qaz2wsx3edc"},
                        headers={"Accept-Language": "en"})
    assert common.status_code == 200 and "too common" in common.text
    long_unicode = "é" * 40 + "ü" * 24
    done = guest.post(link, data={"csrf_token": csrf_token(form.text), "password": long_unicode,
                                  "confirm": long_unicode})
    assert done.status_code == 302
    assert guest.get(link).status_code == 404  # single use
    assert login(app.test_client(), "new.rep@example.org", long_unicode).status_code == 302


def test_the_purge_removes_used_and_expired_invitations_only(app, make_user, runner):
    from datetime import timedelta

    from campaign.models import Invitation
    from campaign.models.base import utcnow
    from campaign.services import accounts

    make_user("admin@example.org", is_admin=True)
    with app.app_context():
        admin = db.session.execute(select(User)).scalar_one()
        links = {name: accounts.invite(f"{name}@example.org", name, actor=admin)[1]
                 for name in ("used", "expired", "pending")}
        accounts.accept_invitation(accounts.find_invitation(links["used"]), "a long passphrase")
        expired = accounts.find_invitation(links["expired"])
        expired.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    result = runner.invoke(args=["purge", "--lang", "en"])
    assert "Used or expired staff invitations removed: 2." in result.output
    with app.app_context():
        left = db.session.execute(select(Invitation)).scalars().all()
        assert [invitation.user.display_name for invitation in left] == ["pending"]
        assert accounts.find_invitation(links["pending"]) is not None


def test_role_removal_ends_the_persons_sessions(app, client, make_user, make_campaign):
    make_campaign("acme")
    make_user("admin@example.org", is_admin=True)
    rep_id = make_user("rep@example.org", roles=[("acme", "rep")])
    rep = app.test_client()
    login(rep, "rep@example.org")
    assert rep.get("/staff/campaigns/acme").status_code == 200
    login(client, "admin@example.org")
    page = client.get(f"/admin/users/{rep_id}")
    client.post(f"/admin/users/{rep_id}/memberships/acme/rep/revoke",
                data={"csrf_token": csrf_token(page.text)})
    assert rep.get("/staff/campaigns/acme").status_code == 302  # signed out


def test_a_new_consent_text_version_is_shown_and_recorded(app, client, make_user, make_campaign):
    make_campaign("acme")
    make_user("admin@example.org", is_admin=True)
    with app.app_context():
        petition_service.create_petition(get_by_slug("acme"), "p", actor=None, title_en="P",
                                         status="open", refresh_minutes=0)
        db.session.commit()
    login(client, "admin@example.org")
    page = client.get("/admin/consent-texts")
    client.post("/admin/consent-texts", data={
        "csrf_token": csrf_token(page.text), "purpose": "public_name",
        "text_fr": "Afficher mon nom (v2).", "text_en": "Show my name (v2)."})
    signer = app.test_client()
    form = signer.get("/c/acme/p/p", headers={"Accept-Language": "en"})
    assert "Show my name (v2)." in form.text
    assert 'name="version_public_name" type="hidden" value="2"' in form.text
    signer.post("/c/acme/p/p/sign", data={
        "csrf_token": csrf_token(form.text), "name": "A", "email": "a@personal.example",
        "consent_public_name": "y", "version_public_name": "2",
        "version_share_with_reps": "1", "version_contact": "1"})
    with app.app_context():
        event = db.session.execute(select(ConsentEvent)).scalar_one()
        assert (event.consent_text.purpose, event.consent_text.version) == ("public_name", 2)
        v1 = db.session.execute(select(ConsentText).where(
            ConsentText.purpose == "public_name", ConsentText.version == 1)).scalar_one()
        assert v1.text_en.startswith("Show my name on the petition")
        assert db.session.execute(select(User)).scalars().first() is not None


def test_revoking_a_role_the_person_does_not_hold_says_so_and_changes_nothing(
        app, client, make_user, make_campaign):
    from campaign.models import AuditEvent

    make_campaign("acme")
    make_user("admin@example.org", is_admin=True)
    rep_id = make_user("rep@example.org", roles=[("acme", "rep")])
    rep = app.test_client()
    login(rep, "rep@example.org")
    login(client, "admin@example.org")
    page = client.get(f"/admin/users/{rep_id}")
    response = client.post(f"/admin/users/{rep_id}/memberships/acme/organizer/revoke",
                           data={"csrf_token": csrf_token(page.text)}, follow_redirects=True,
                           headers={"Accept-Language": "fr"})
    assert "ne détient pas ce rôle" in response.text
    assert "The role is removed" not in response.text
    assert rep.get("/staff/campaigns/acme").status_code == 200  # still signed in, still a rep
    with app.app_context():
        assert db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "role_revoked")).first() is None


def test_deleting_a_staff_account_keeps_the_audit_chain_and_only_the_public_id(
        app, make_user, make_campaign, runner):
    from campaign import audit
    from campaign.models import AuditEvent, Membership, StaffSession
    from campaign.services import accounts

    make_campaign("acme")
    make_user("admin@example.org", is_admin=True)
    rep_id = make_user("leaving.rep@example.org", roles=[("acme", "rep")], name="Leaving Rep")
    rep = app.test_client()
    login(rep, "leaving.rep@example.org")
    assert rep.get("/staff/campaigns/acme").status_code == 200
    with app.app_context():
        user = accounts.get_user_by_email("leaving.rep@example.org")
        audit.record("identities_viewed", actor=user, target=user)  # something the rep did
        db.session.commit()
        user_id = user.id

    refused = runner.invoke(args=["users", "delete", "leaving.rep@example.org", "--lang", "en"],
                            input="n\n")
    assert refused.exit_code != 0 and "Nothing was deleted." in refused.output
    result = runner.invoke(args=["users", "delete", "leaving.rep@example.org", "--yes",
                                 "--lang", "fr"])
    assert result.exit_code == 0, result.output
    assert f"Compte supprimé : {rep_id}" in result.output

    assert rep.get("/staff/campaigns/acme").status_code == 302  # signed out
    with app.app_context():
        assert accounts.get_user_by_email("leaving.rep@example.org") is None
        assert db.session.execute(select(Membership).where(
            Membership.user_id == user_id)).first() is None
        assert db.session.execute(select(StaffSession).where(
            StaffSession.user_id == user_id)).first() is None
        events = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        assert audit.verify() == (len(events), None)
        done = [e for e in events if e.actor == rep_id]
        assert done and all(e.actor_id is None for e in done)
        assert [e.action for e in events if e.target_id == rep_id][-1] == "user_deleted"
        assert all("leaving" not in (e.details or "") for e in events)


def test_the_last_active_administrator_cannot_be_deleted(app, make_user, runner):
    make_user("admin@example.org", is_admin=True)
    result = runner.invoke(args=["users", "delete", "admin@example.org", "--yes", "--lang", "en"])
    assert result.exit_code != 0
    assert "The last active administrator cannot be deleted." in result.output
    make_user("second.admin@example.org", is_admin=True)
    again = runner.invoke(args=["users", "delete", "admin@example.org", "--yes", "--lang", "en"])
    assert again.exit_code == 0, again.output


def test_an_admin_deletes_an_account_from_its_page_after_typing_its_email(app, client, make_user):
    from campaign.services import accounts

    make_user("admin@example.org", is_admin=True)
    rep_id = make_user("leaving.rep@example.org", name="Leaving Rep")
    login(client, "admin@example.org")
    page = client.get(f"/admin/users/{rep_id}", headers={"Accept-Language": "fr"})
    assert "Supprimer le compte définitivement" in page.text
    wrong = client.post(f"/admin/users/{rep_id}/delete", headers={"Accept-Language": "en"},
                        data={"csrf_token": csrf_token(page.text), "email": "someone@example.org"})
    assert wrong.status_code == 400 and "nothing was deleted" in wrong.text
    assert 'aria-invalid="true"' in wrong.text
    with app.app_context():
        assert accounts.get_user_by_email("leaving.rep@example.org") is not None
    done = client.post(f"/admin/users/{rep_id}/delete", headers={"Accept-Language": "en"},
                       data={"csrf_token": csrf_token(page.text),
                             "email": " Leaving.Rep@Example.org "}, follow_redirects=True)
    assert "The account is deleted." in done.text and "leaving.rep@example.org" not in done.text
    with app.app_context():
        assert accounts.get_user_by_email("leaving.rep@example.org") is None
    # an admin's own page offers no deletion (another admin has to do it)
    with app.app_context():
        admin_id = accounts.get_user_by_email("admin@example.org").public_id
    own = client.get(f"/admin/users/{admin_id}")
    assert f"/admin/users/{admin_id}/delete" not in own.text
    refused = client.post(f"/admin/users/{admin_id}/delete", follow_redirects=True,
                          data={"csrf_token": csrf_token(own.text), "email": "admin@example.org"})
    assert "You cannot delete your own account." in refused.text
