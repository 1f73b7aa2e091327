"""Staff two-factor sign-in: the password alone opens nothing; a TOTP code (or a single-use
recovery code) starts the session; codes cannot be replayed or guessed at speed; enrolment needs
a valid first code; an admin reset forces a new enrolment and ends the sessions; the secret is
stored encrypted; every page speaks through gettext."""

import re
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy import func, select

from campaign import sessions
from campaign.crypto import DecryptionError, aad_for, keyring
from campaign.extensions import babel, db
from campaign.models import AuditEvent, StaffSession, User
from campaign.models.users import RecoveryCode
from campaign.services import accounts
from tests.conftest import (
    DEFAULT_PASSWORD,
    TOTP_SECRET,
    csrf_token,
    login,
    post_form,
    submit_code,
    totp_code,
)

SECRET_RE = re.compile(r'id="totp-secret">([A-Z2-7 ]+)</code>')
RECOVERY_RE = re.compile(r"<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code></li>")


# --- helpers -------------------------------------------------------------------------------------

def password_step(client, email, password=DEFAULT_PASSWORD, next_url=None):
    page = client.get("/login")
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": password,
                                  "csrf_token": csrf_token(page.text)})


def location(response):
    return urlsplit(response.headers["Location"]).path


def session_count(app):
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(StaffSession)).scalar_one()


def get_user(app, email):
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == email)).scalar_one()
        db.session.expunge(user)
        return user


def audit_actions(app):
    with app.app_context():
        return [e.action for e in db.session.execute(
            select(AuditEvent).order_by(AuditEvent.id)).scalars()]


def enrol_through_pages(client, email):
    """Password, enrolment page, a first valid code: returns (secret, recovery codes)."""
    assert location(password_step(client, email)) == "/login/enrol"
    page = client.get("/login/enrol")
    secret = SECRET_RE.search(page.text).group(1).replace(" ", "")
    done = client.post("/login/enrol", data={"code": pyotp.TOTP(secret).now(),
                                             "csrf_token": csrf_token(page.text)})
    assert done.status_code == 200, done.status_code
    return secret, RECOVERY_RE.findall(done.text)


def logout(client):
    post_form(client, "/logout", page_url="/staff/")
    assert client.get("/staff/").status_code == 302


# --- the password alone opens nothing ------------------------------------------------------------

def test_a_right_password_without_the_code_creates_no_session(app, client, make_user):
    make_user("rep@example.org")
    response = password_step(client, "rep@example.org")
    assert response.status_code == 302 and location(response) == "/login/code"
    assert session_count(app) == 0
    for url in ("/staff/", "/account", "/admin/users"):
        refused = client.get(url)
        assert refused.status_code == 302 and location(refused) == "/login", url
    assert "login" not in audit_actions(app)
    page = client.get("/login/code", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "Second step of sign-in" in page.text


def test_a_pending_login_opens_no_staff_endpoint(app, client, make_user):
    """Every request of the access matrix that sends an anonymous visitor to the sign-in page
    does the same to someone who typed an admin's right password but no code yet."""
    from tests.test_access_matrix import LOGIN, MATRIX, build_world, send, snapshot

    world = build_world(app)
    make_user("pending-admin@example.org", is_admin=True)
    assert location(password_step(client, "pending-admin@example.org")) == "/login/code"
    checked = 0
    for endpoint, cases in MATRIX.items():
        if endpoint in ("auth.second_factor", "auth.enrol"):
            continue  # the pages a pending login is for
        for case in cases:
            if case.expect[0] != LOGIN:
                continue
            before = snapshot(app, case)
            response = send(client, case, world, "anonymous")
            assert response.status_code == 302, (endpoint, case.method, response.status_code)
            assert location(response) == "/login", (endpoint, case.method)
            assert snapshot(app, case) == before, endpoint
            checked += 1
    assert checked >= 20
    assert session_count(app) == 0
    with client.session_transaction() as session:
        assert sessions.PENDING_KEY in session  # still pending: the check was not vacuous
    assert submit_code(client, totp_code(app, "pending-admin@example.org")).status_code == 302
    assert client.get("/admin/users").status_code == 200


def test_a_correct_code_starts_the_session_and_the_login_is_audited(app, client, make_user):
    make_user("rep@example.org")
    password_step(client, "rep@example.org")
    response = submit_code(client, totp_code(app, "rep@example.org"))
    assert response.status_code == 302 and location(response) == "/staff/"
    assert session_count(app) == 1
    assert client.get("/staff/").status_code == 200
    with app.app_context():
        event = db.session.execute(
            select(AuditEvent).where(AuditEvent.action == "login")).scalar_one()
        assert event.details == {"by": "totp"}


def test_the_next_page_survives_the_second_step(client, make_user):
    make_user("admin@example.org", is_admin=True)
    password_step(client, "admin@example.org", next_url="/admin/users")
    response = submit_code(client, totp_code(client.application, "admin@example.org"))
    assert response.status_code == 302 and location(response) == "/admin/users"


def test_a_wrong_code_is_refused_and_audited(app, client, make_user):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    make_user("rep@example.org")
    password_step(client, "rep@example.org")
    good = totp_code(app, "rep@example.org")
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    response = submit_code(client, wrong)
    assert response.status_code == 200
    assert "This code is not right" in response.text
    assert session_count(app) == 0
    assert "second_factor_failed" in audit_actions(app)


def test_a_replayed_code_is_refused(app, client, make_user):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    make_user("rep@example.org")
    password_step(client, "rep@example.org")
    code = totp_code(app, "rep@example.org")
    assert submit_code(client, code).status_code == 302
    logout(client)

    other = app.test_client()  # the same code, seen over a shoulder, tried from elsewhere
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert location(password_step(other, "rep@example.org")) == "/login/code"
    replay = submit_code(other, code)
    assert replay.status_code == 200 and "already used" in replay.text
    assert other.get("/staff/").status_code == 302
    assert session_count(app) == 0


def test_a_code_of_an_earlier_step_than_the_last_used_is_refused(app, make_user):
    make_user("rep@example.org")
    totp = pyotp.TOTP(TOTP_SECRET)
    now = time.time()
    with app.app_context():
        user = db.session.execute(select(User)).scalar_one()
        assert accounts.check_second_factor(user, totp.at(now), now=now) == "totp"
        # One step of drift is allowed, but not going back behind an accepted step.
        assert accounts.check_second_factor(user, totp.at(now - 30), now=now) is None
        assert accounts.check_second_factor(user, totp.at(now), now=now) is None
        assert accounts.check_second_factor(user, totp.at(now + 30), now=now) == "totp"
        # Two steps away is too far, whatever the history.
        assert accounts.check_second_factor(user, totp.at(now + 120), now=now) is None
        db.session.rollback()


def test_of_two_requests_racing_with_the_same_code_only_one_wins(app, make_user):
    """The second request read the account before the first one recorded the step: the
    conditional UPDATE still refuses it."""
    public_id = make_user("rep@example.org")
    code = pyotp.TOTP(TOTP_SECRET).now()
    with app.app_context():
        late = accounts.get_user(public_id)  # read before the other request commits
        assert late.totp_last_step is None
        db.session.expunge(late)
        db.session.rollback()
    with app.app_context():
        assert accounts.check_second_factor(accounts.get_user(public_id), code) == "totp"
        db.session.commit()
    with app.app_context():
        db.session.add(late)  # its stale state still says no step was used
        assert late.totp_last_step is None
        assert accounts.check_second_factor(late, code) is None
        db.session.commit()
    assert audit_actions(app).count("login") == 1


def test_the_pending_login_expires_after_five_minutes(app, client, make_user):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    make_user("rep@example.org")
    password_step(client, "rep@example.org")
    with client.session_transaction() as session:
        pending = session[sessions.PENDING_KEY]
        pending["at"] -= sessions.PENDING_MINUTES * 60 + 1
        session[sessions.PENDING_KEY] = pending
    response = client.post("/login/code", data={
        "code": totp_code(app, "rep@example.org"),
        "csrf_token": csrf_token(client.get("/login").text)})
    assert response.status_code == 302 and location(response) == "/login"
    assert session_count(app) == 0
    page = client.get("/login", headers={"Accept-Language": "en"})
    assert "Your sign-in took too long" in page.text
    assert client.get("/login/code").status_code == 302


def test_a_pending_login_of_a_deactivated_account_goes_nowhere(app, client, make_user):
    public_id = make_user("rep@example.org")
    password_step(client, "rep@example.org")
    with app.app_context():
        accounts.set_active(accounts.get_user(public_id), False, actor=None)
        db.session.commit()
    response = client.post("/login/code", data={
        "code": totp_code(app, "rep@example.org"), "csrf_token": csrf_token(client.get("/login").text)})
    assert response.status_code == 302 and location(response) == "/login"
    assert session_count(app) == 0


# --- guessing is slowed --------------------------------------------------------------------------

def test_the_sixth_wrong_code_gets_429_even_from_another_address(app, make_user):
    make_user("rep@example.org")
    first = app.test_client()
    password_step(first, "rep@example.org")
    for attempt in range(5):
        assert submit_code(first, f"{attempt:06d}").status_code == 200
    blocked = submit_code(first, totp_code(app, "rep@example.org"))
    assert blocked.status_code == 429
    assert session_count(app) == 0

    # A new address gets a new password attempt, but not five more guesses at this account.
    second = app.test_client()
    second.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert location(password_step(second, "rep@example.org")) == "/login/code"
    assert submit_code(second, totp_code(app, "rep@example.org")).status_code == 429
    assert session_count(app) == 0


def test_wrong_enrolment_codes_are_rate_limited_too(app, client, make_user):
    make_user("new@example.org", enrolled=False)
    password_step(client, "new@example.org")
    page = client.get("/login/enrol")
    for attempt in range(5):
        response = client.post("/login/enrol", data={"code": f"{attempt:06d}",
                                                     "csrf_token": csrf_token(page.text)})
        assert response.status_code == 200
    secret = SECRET_RE.search(page.text).group(1).replace(" ", "")
    blocked = client.post("/login/enrol", data={"code": pyotp.TOTP(secret).now(),
                                                "csrf_token": csrf_token(page.text)})
    assert blocked.status_code == 429
    assert not get_user(app, "new@example.org").is_second_factor_enrolled


# --- enrolment and recovery codes ----------------------------------------------------------------

def test_enrolment_requires_a_valid_first_code(app, client, make_user):
    make_user("new@example.org", enrolled=False)
    response = password_step(client, "new@example.org")
    assert response.status_code == 302 and location(response) == "/login/enrol"
    assert client.get("/login/code").status_code == 302  # not enrolled: back to enrolment
    page = client.get("/login/enrol", headers={"Accept-Language": "en"})
    secret = SECRET_RE.search(page.text).group(1).replace(" ", "")
    assert len(secret) == 32
    uri = re.search(r'href="(otpauth://totp/[^"]+)"', page.text).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(uri).query)["secret"] == [secret]
    assert client.get("/login/enrol").text.count(secret[:4] + " " + secret[4:8]) == 1  # stable

    code = pyotp.TOTP(secret).now()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for bad in (wrong, "12345", "abcdef"):
        refused = client.post("/login/enrol", data={"code": bad, "csrf_token": csrf_token(page.text)})
        assert refused.status_code == 200
        assert 'aria-invalid="true"' in refused.text
    assert session_count(app) == 0
    assert not get_user(app, "new@example.org").is_second_factor_enrolled

    done = client.post("/login/enrol", data={"code": code, "csrf_token": csrf_token(page.text)},
                       headers={"Accept-Language": "en"})
    assert done.status_code == 200 and "Your recovery codes" in done.text
    codes = RECOVERY_RE.findall(done.text)
    assert len(codes) == len(set(codes)) == 10
    assert session_count(app) == 1
    assert client.get("/staff/").status_code == 200
    user = get_user(app, "new@example.org")
    assert user.is_second_factor_enrolled
    with app.app_context():
        stored = db.session.execute(select(RecoveryCode.code_hash)).scalars().all()
    assert len(stored) == 10
    assert not {c.replace("-", "") for c in codes} & set(stored)
    assert not any(c in h or c.replace("-", "") in h for c in codes for h in stored)
    actions = audit_actions(app)
    assert "second_factor_enrolled" in actions and "login" in actions
    # The codes were shown once: nothing shows them again.
    assert codes[0] not in client.get("/account").text
    assert client.get("/login/enrol").status_code == 302


def test_recovery_codes_work_once_each(app, client, make_user):
    make_user("new@example.org", enrolled=False)
    _secret, codes = enrol_through_pages(client, "new@example.org")
    logout(client)

    password_step(client, "new@example.org")
    used = submit_code(client, codes[0].upper().replace("-", " "))  # typed loosely
    assert used.status_code == 302
    assert client.get("/staff/").status_code == 200
    with app.app_context():
        assert db.session.execute(select(AuditEvent.details).where(
            AuditEvent.action == "login").order_by(AuditEvent.id.desc())).scalars().first() \
            == {"by": "recovery_code"}
        assert accounts.recovery_codes_left(accounts.get_user_by_email("new@example.org")) == 9
    logout(client)

    password_step(client, "new@example.org")
    again = submit_code(client, codes[0])
    assert again.status_code == 200 and session_count(app) == 0
    assert submit_code(client, codes[1]).status_code == 302
    assert session_count(app) == 1


def test_an_invitation_leads_to_enrolment_not_to_a_session(app, client, make_user):
    with app.app_context():
        _user, token = accounts.invite("invitee@example.org", "Invitee", actor=None)
        db.session.commit()
    form = client.get(f"/invitation/{token}")
    password = "a long enough password for this"
    response = client.post(f"/invitation/{token}", data={
        "csrf_token": csrf_token(form.text), "password": password, "confirm": password})
    assert response.status_code == 302 and location(response) == "/login/enrol"
    assert session_count(app) == 0
    assert client.get("/staff/").status_code == 302
    page = client.get("/login/enrol")
    secret = SECRET_RE.search(page.text).group(1).replace(" ", "")
    done = client.post("/login/enrol", data={"code": pyotp.TOTP(secret).now(),
                                             "csrf_token": csrf_token(page.text)})
    assert len(RECOVERY_RE.findall(done.text)) == 10
    assert client.get("/staff/").status_code == 200


# --- reset by an admin ---------------------------------------------------------------------------

def test_admin_reset_ends_sessions_and_forces_a_new_enrolment(app, client, make_user):
    make_user("admin@example.org", is_admin=True)
    rep_id = make_user("rep@example.org")
    rep = app.test_client()
    login(rep, "rep@example.org")
    assert rep.get("/staff/").status_code == 200

    login(client, "admin@example.org")
    page = client.get(f"/admin/users/{rep_id}")
    response = client.post(f"/admin/users/{rep_id}/second-factor/reset",
                           data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302 and location(response) == f"/admin/users/{rep_id}"

    assert rep.get("/staff/").status_code == 302  # signed out
    user = get_user(app, "rep@example.org")
    assert not user.is_second_factor_enrolled and user.totp_secret_ct is None
    admin_id = get_user(app, "admin@example.org").public_id
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(RecoveryCode)).scalar_one() == 0
        event = db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "second_factor_reset")).scalar_one()
        assert event.target_id == rep_id
        assert event.actor == admin_id

    # The old secret no longer signs in: the next sign-in is a new enrolment.
    again = app.test_client()
    assert location(password_step(again, "rep@example.org")) == "/login/enrol"
    assert again.get("/login/code").status_code == 302
    new_secret = SECRET_RE.search(again.get("/login/enrol").text).group(1).replace(" ", "")
    assert new_secret != TOTP_SECRET


def test_only_an_admin_may_reset_a_second_factor(app, client, make_user, make_campaign):
    make_campaign("acme")
    make_user("organizer@example.org", roles=[("acme", "organizer")])
    rep_id = make_user("rep@example.org", roles=[("acme", "rep")])
    login(client, "organizer@example.org")
    page = client.get("/staff/")
    response = client.post(f"/admin/users/{rep_id}/second-factor/reset",
                           data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 403
    assert get_user(app, "rep@example.org").is_second_factor_enrolled
    anonymous = app.test_client()
    refused = anonymous.post(f"/admin/users/{rep_id}/second-factor/reset",
                             data={"csrf_token": csrf_token(anonymous.get("/login").text)})
    assert refused.status_code == 302 and location(refused) == "/login"
    assert get_user(app, "rep@example.org").is_second_factor_enrolled


def test_the_admin_include_shows_the_state_and_posts_to_the_reset(app, make_user):
    from flask import g, render_template

    admin_id = make_user("admin@example.org", is_admin=True)
    rep_id = make_user("rep@example.org")
    new_id = make_user("new@example.org", enrolled=False)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        g._login_user = accounts.get_user(admin_id)
        enrolled = render_template("auth/_admin_reset_totp.html", user=accounts.get_user(rep_id))
        pending = render_template("auth/_admin_reset_totp.html", user=accounts.get_user(new_id))
        g._login_user = accounts.get_user(rep_id)  # not an admin: nothing shown
        hidden = render_template("auth/_admin_reset_totp.html", user=accounts.get_user(new_id))
    assert f'action="/admin/users/{rep_id}/second-factor/reset"' in enrolled
    assert 'name="csrf_token"' in enrolled
    assert "Set up on" in enrolled and "Not set up yet" in pending
    assert hidden.strip() == ""


# --- the secret at rest --------------------------------------------------------------------------

def test_the_totp_secret_is_not_stored_in_clear(app, make_user):
    import base64

    make_user("rep@example.org")
    make_user("other@example.org")
    raw_key = base64.b32decode(TOTP_SECRET)
    with app.app_context():
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT * FROM users").fetchall()
        assert len(rows) == 2
        for row in rows:
            for value in row:
                data = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
                assert TOTP_SECRET.encode() not in data
                assert TOTP_SECRET.lower().encode() not in data
                assert raw_key not in data
        rep = accounts.get_user_by_email("rep@example.org")
        other = accounts.get_user_by_email("other@example.org")
        assert accounts.totp_secret(rep) == TOTP_SECRET
        # Bound to its row: the ciphertext copied onto another account does not decrypt.
        with pytest.raises(DecryptionError):
            keyring().decrypt(rep.totp_secret_ct, aad_for("users", "totp_secret", other.public_id))


# --- every page through gettext ------------------------------------------------------------------

OPEN, CLOSE = "\u27e6", "\u27e7"


@pytest.fixture
def pseudo_app(make_config, tmp_path):
    """An app whose French catalog is a pseudo-translation: every message of the project
    becomes ⟦message⟧, so any visible text left unmarked did not go through gettext."""
    from campaign import catalogs, create_app
    from campaign.services import consent

    pot = tmp_path / "messages.pot"
    catalogs.extract(pot)
    with open(pot, "rb") as handle:
        template = read_po(handle)
    catalog = Catalog(locale="fr")
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            # as many forms as the locale has (CLDR gives French three)
            forms = [OPEN + message.id[0] + CLOSE]
            forms += [OPEN + message.id[1] + CLOSE] * (catalog.num_plurals - 1)
            catalog.add(message.id, forms, flags=message.flags)
        else:
            catalog.add(message.id, OPEN + message.id + CLOSE, flags=message.flags)
    folder = tmp_path / "pseudo" / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "messages.mo", "wb") as handle:
        write_mo(handle, catalog)
    app = create_app(make_config(BABEL_TRANSLATION_DIRECTORIES=str(tmp_path / "pseudo")))
    # Flask-Babel caches loaded catalogs per locale in the process-wide domain, whatever the
    # directory: drop the real French before, and the pseudo one after.
    with app.app_context():
        babel.domain_instance.cache.clear()
        db.create_all()
        consent.seed_defaults()
        db.session.commit()
    try:
        yield app
    finally:
        with app.app_context():
            babel.domain_instance.cache.clear()
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


class MainText(HTMLParser):
    """Visible text of <main>, leaving out the values the page shows on purpose (the secret,
    the recovery codes, the e-mail address)."""

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.skip = 0
        self.chunks = []

    def handle_starttag(self, tag, attrs):
        if tag == "main":
            self.depth += 1
        if self.depth and tag == "code":
            self.skip += 1

    def handle_endtag(self, tag):
        if tag == "main":
            self.depth -= 1
        if self.depth and tag == "code":
            self.skip -= 1

    def handle_data(self, data):
        if self.depth and not self.skip and data.strip():
            self.chunks.append(data.strip())


def unmarked_text(html):
    parser = MainText()
    parser.feed(html)
    marked = re.compile(re.escape(OPEN) + ".*?" + re.escape(CLOSE), re.S)
    leftovers = [marked.sub("", chunk).strip(" .:—-\n") for chunk in parser.chunks]
    return [left for left in leftovers if left], parser.chunks


def assert_all_translated(response):
    assert '<html lang="fr">' in response.text
    leftovers, chunks = unmarked_text(response.text)
    assert chunks, "no text found in <main>: the check would be empty"
    assert set(leftovers) == set(), leftovers


def test_macro_strings_are_extracted(tmp_path):
    from campaign import catalogs

    pot = tmp_path / "messages.pot"
    catalogs.extract(pot)
    with open(pot, "rb") as handle:
        ids = {message.id for message in read_po(handle)}
    assert "Please correct the following:" in ids


def test_every_second_factor_page_goes_through_gettext(pseudo_app, make_config):
    app = pseudo_app
    french = {"Accept-Language": "fr"}
    with app.app_context():
        from campaign.models.base import utcnow

        new = accounts.create_user("new@example.org", "New", password=DEFAULT_PASSWORD)
        old = accounts.create_user("old@example.org", "Old", password=DEFAULT_PASSWORD)
        accounts.set_totp_secret(old, TOTP_SECRET)
        old.totp_enrolled_at = utcnow()
        db.session.commit()
        assert new.public_id

    client = app.test_client()
    page = client.get("/login", headers=french)
    client.post("/login", headers=french, data={
        "email": "new@example.org", "password": DEFAULT_PASSWORD, "csrf_token": csrf_token(page.text)})
    enrol = client.get("/login/enrol", headers=french)
    assert_all_translated(enrol)
    wrong = client.post("/login/enrol", headers=french,
                        data={"code": "000000", "csrf_token": csrf_token(enrol.text)})
    secret = SECRET_RE.search(enrol.text).group(1).replace(" ", "")
    if pyotp.TOTP(secret).verify("000000", valid_window=1):
        pytest.skip("000000 happens to be the right code")
    assert_all_translated(wrong)
    codes = client.post("/login/enrol", headers=french,
                        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(enrol.text)})
    assert len(RECOVERY_RE.findall(codes.text)) == 10
    assert_all_translated(codes)
    assert_all_translated(client.get("/account", headers=french))

    other = app.test_client()
    page = other.get("/login", headers=french)
    other.post("/login", headers=french, data={
        "email": "old@example.org", "password": DEFAULT_PASSWORD, "csrf_token": csrf_token(page.text)})
    code_page = other.get("/login/code", headers=french)
    assert_all_translated(code_page)
    refused = other.post("/login/code", headers=french,
                         data={"code": "not a code", "csrf_token": csrf_token(code_page.text)})
    assert refused.status_code == 200
    assert_all_translated(refused)
    with other.session_transaction() as session:
        pending = session[sessions.PENDING_KEY]
        pending["at"] -= sessions.PENDING_MINUTES * 60 + 1
        session[sessions.PENDING_KEY] = pending
    other.get("/login/code", headers=french)
    assert_all_translated(other.get("/login", headers=french))  # with the "too long" message

    with app.test_request_context(headers=french):
        from flask import g, render_template

        admin = accounts.create_user("admin@example.org", "Admin", is_admin=True)
        g._login_user = admin
        include = render_template("auth/_admin_reset_totp.html",
                                  user=accounts.get_user_by_email("old@example.org"))
        db.session.rollback()
    leftovers, chunks = unmarked_text(f"<main>{include}</main>")
    assert chunks and leftovers == []


def test_the_pages_speak_english_when_asked(client, make_user):
    make_user("rep@example.org")
    password_step(client, "rep@example.org")
    page = client.get("/login/code", headers={"Accept-Language": "en"})
    assert '<html lang="en">' in page.text
    assert "Second step of sign-in" in page.text and "recovery codes" in page.text


def test_a_file_posted_as_a_code_or_an_address_is_refused_with_a_message(app, client, make_user):
    import io

    make_user("rep@example.org")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client.get("/login")
    refused = client.post("/login", data={"email": (io.BytesIO(b"rep@example.org"), "a.txt"),
                                          "password": DEFAULT_PASSWORD,
                                          "csrf_token": csrf_token(page.text)})
    assert refused.status_code == 200 and 'aria-invalid="true"' in refused.text
    password_step(client, "rep@example.org")
    code_page = client.get("/login/code")
    refused = client.post("/login/code", data={
        "code": (io.BytesIO(totp_code(app, "rep@example.org").encode()), "code.txt"),
        "csrf_token": csrf_token(code_page.text)})
    assert refused.status_code == 200 and 'aria-invalid="true"' in refused.text
    assert session_count(app) == 0
