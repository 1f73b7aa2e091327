"""Staff accounts: sign-in that reveals nothing, rate limits, server-side sessions."""

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import AuditEvent, StaffSession, User
from tests.conftest import DEFAULT_PASSWORD, csrf_token, login, post_form


def _body_without_token(response, email):
    return response.text.replace(csrf_token(response.text), "TOKEN").replace(email, "EMAIL")


def test_password_hash_is_argon2id(app, make_user):
    make_user("a@example.org")
    with app.app_context():
        user = db.session.execute(select(User)).scalar_one()
        assert user.password_hash.startswith("$argon2id$")


def test_unknown_email_and_wrong_password_get_the_same_answer(app, client, make_user):
    make_user("known@example.org")
    unknown = login(client, "nobody@example.org", "whatever password 123")
    wrong = login(client, "known@example.org", "wrong password 12345")
    assert unknown.status_code == wrong.status_code == 200
    assert _body_without_token(unknown, "nobody@example.org") == _body_without_token(
        wrong, "known@example.org")
    assert sorted(unknown.headers.keys()) == sorted(wrong.headers.keys())
    with app.app_context():
        assert db.session.execute(select(StaffSession)).first() is None


def test_sixth_rapid_attempt_gets_429_in_the_request_language(client, make_user):
    make_user("known@example.org")
    for _ in range(5):
        assert login(client, "known@example.org", "wrong password 12345").status_code == 200
    page = client.get("/login")
    token = csrf_token(page.text)
    blocked = client.post("/login", data={"email": "known@example.org", "password": "x",
                                          "csrf_token": token},
                          headers={"Accept-Language": "en"})
    assert blocked.status_code == 429
    assert '<html lang="en">' in blocked.text
    assert "Too many attempts" in blocked.text


def test_login_then_logout_makes_the_old_cookie_anonymous(app, client, make_user):
    make_user("rep@example.org")
    response = login(client, "rep@example.org")
    assert response.status_code == 302
    assert client.get("/staff/").status_code == 200
    cookie = client.get_cookie("campaign_session")
    assert cookie is not None
    stolen = cookie.value
    post_form(client, "/logout", page_url="/staff/")
    assert client.get("/staff/").status_code == 302
    client.set_cookie("campaign_session", stolen)
    assert client.get("/staff/").status_code == 302
    with app.app_context():
        assert db.session.execute(select(StaffSession)).first() is None


def test_session_id_is_renewed_at_login(client, make_user):
    make_user("rep@example.org")
    client.get("/login")
    before = client.get_cookie("campaign_session").value
    login(client, "rep@example.org")
    after = client.get_cookie("campaign_session").value
    assert before != after


def test_deactivation_ends_every_session(app, client, make_user):
    public_id = make_user("rep@example.org")
    login(client, "rep@example.org")
    assert client.get("/staff/").status_code == 200
    from campaign.services import accounts

    with app.app_context():
        user = db.session.execute(select(User).where(User.public_id == public_id)).scalar_one()
        accounts.set_active(user, False, actor=None)
        db.session.commit()
    assert client.get("/staff/").status_code == 302


def test_failed_and_successful_logins_are_audited_without_the_email(app, client, make_user):
    make_user("rep@example.org")
    login(client, "nobody@example.org", "whatever password 123")
    login(client, "rep@example.org", DEFAULT_PASSWORD)
    with app.app_context():
        events = db.session.execute(select(AuditEvent)).scalars().all()
        actions = [e.action for e in events]
        assert "login_failed" in actions and "login" in actions
        for event in events:
            assert "example.org" not in str(event.details) + str(event.target_id)


def test_reading_public_pages_sets_no_cookie(client, make_campaign):
    make_campaign("open")
    for url in ("/", "/c/open", "/healthz"):
        response = client.get(url)
        assert response.status_code == 200
        assert not response.headers.getlist("Set-Cookie"), url
