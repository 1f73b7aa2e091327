"""Signing a petition: least exposure by default, identical answers, private link."""

import re

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import ConsentEvent, DataKey, OutboxMessage, Petition, Signature
from campaign.services import petitions as petition_service
from campaign.services import signatures as signature_service
from campaign.services.campaigns import get_by_slug
from tests.conftest import csrf_token

LINK_RE = re.compile(r'href="(http://localhost/s/[A-Za-z0-9_-]{43})"')


@pytest.fixture
def petition(app, make_campaign):
    make_campaign("acme")
    with app.app_context():
        campaign = get_by_slug("acme")
        found = petition_service.create_petition(
            campaign, "end-it", actor=None, title_fr="Arrêtez", title_en="Stop it",
            text_fr="Texte", text_en="Text", status="open", goal=100, refresh_minutes=0)
        db.session.commit()
        return found.slug


def sign(client, email="alice@personal.example", name="Alice Canary", extra=None, lang="en"):
    page = client.get("/c/acme/p/end-it", headers={"Accept-Language": lang})
    data = {"csrf_token": csrf_token(page.text), "name": name, "email": email,
            "version_public_name": "1", "version_share_with_reps": "1", "version_contact": "1"}
    data.update(extra or {})
    return client.post("/c/acme/p/end-it/sign", data=data, headers={"Accept-Language": lang})


def test_default_signature_is_counted_and_shows_no_name(app, client, petition):
    response = sign(client)
    assert response.status_code == 200
    assert LINK_RE.search(response.text)
    with app.app_context():
        signature = db.session.execute(select(Signature)).scalar_one()
        assert signature.is_counted
        assert db.session.execute(select(func.count(ConsentEvent.id))).scalar() == 0
    page = client.get("/c/acme/p/end-it")
    assert "1 signature" in page.text
    assert "Alice Canary" not in page.text


def test_public_name_appears_only_with_consent(app, client, petition):
    sign(client, extra={"consent_public_name": "y"})
    sign(client, email="bob@personal.example", name="Bob Hidden")
    page = client.get("/c/acme/p/end-it")
    assert "Alice Canary" in page.text
    assert "Bob Hidden" not in page.text
    assert "2 signatures" in page.text


def test_second_signing_gives_the_same_page_and_one_counted_signature(app, client, petition):
    first = sign(client)
    second = sign(client, name="Someone Else")

    def normalized(response):
        text = response.text.replace(csrf_token(client.get("/c/acme/p/end-it").text), "")
        return re.sub(r"/s/[A-Za-z0-9_-]{43}", "/s/TOKEN", text)

    assert first.status_code == second.status_code
    assert normalized(first) == normalized(second)
    assert sorted(first.headers.keys()) == sorted(second.headers.keys())
    with app.app_context():
        counted = db.session.execute(
            select(func.count(Signature.id)).where(Signature.is_shadow.is_(False))).scalar()
        assert counted == 1
        assert db.session.execute(select(func.count(OutboxMessage.id))).scalar() == 2


def test_private_link_is_exchanged_for_a_session_and_the_token_leaves_the_address(
        app, client, petition):
    response = sign(client, extra={"consent_share_with_reps": "y"})
    link = LINK_RE.search(response.text).group(1)
    opened = client.get(link.replace("http://localhost", ""))
    assert opened.status_code == 302
    assert opened.headers["Location"].endswith("/me")
    me = client.get("/me")
    assert me.status_code == 200
    assert "Alice Canary" in me.text
    with app.app_context():
        token = link.rsplit("/", 1)[1]
        assert db.session.execute(
            select(func.count(Signature.id)).where(Signature.token_hash == token)).scalar() == 0


def test_withdrawal_erases_identity_and_stops_counting(app, client, petition):
    response = sign(client, extra={"consent_public_name": "y"})
    link = LINK_RE.search(response.text).group(1)
    client.get(link.replace("http://localhost", ""))
    me = client.get("/me")
    result = client.post("/me/withdraw", data={"csrf_token": csrf_token(me.text)})
    assert result.status_code == 302
    page = client.get("/c/acme/p/end-it")
    assert "Alice Canary" not in page.text
    assert "0 signatures" in page.text
    with app.app_context():
        signature = db.session.execute(select(Signature)).scalar_one()
        assert signature.name_ct is None and signature.data_key.wrapped is None


def test_get_to_an_action_changes_nothing(app, client, petition):
    sign(client)
    with app.app_context():
        before = db.session.execute(select(Signature.withdrawn_on)).all()
    assert client.get("/me/withdraw").status_code == 405
    with app.app_context():
        assert db.session.execute(select(Signature.withdrawn_on)).all() == before


def test_public_count_changes_in_batches_not_per_signature(app, client, petition):
    from datetime import timedelta

    from campaign.models import PetitionSnapshot

    with app.app_context():
        found = db.session.execute(select(Petition)).scalar_one()
        found.refresh_minutes = 15
        db.session.commit()
    assert "0 signatures" in client.get("/c/acme/p/end-it").text
    response = sign(client, extra={"consent_public_name": "y"})
    assert response.status_code == 200
    page = client.get("/c/acme/p/end-it").text
    assert "0 signatures" in page and "Alice Canary" not in page
    with app.app_context():
        snapshot = db.session.execute(select(PetitionSnapshot)).scalar_one()
        snapshot.taken_at = snapshot.taken_at - timedelta(minutes=16)
        db.session.commit()
    page = client.get("/c/acme/p/end-it").text
    assert "1 signature" in page and "Alice Canary" in page


def test_withdrawn_public_name_disappears_at_once_and_count_at_next_batch(app, client, petition):
    response = sign(client, extra={"consent_public_name": "y"})
    assert "Alice Canary" in client.get("/c/acme/p/end-it").text
    with app.app_context():
        found = db.session.execute(select(Petition)).scalar_one()
        found.refresh_minutes = 15
        db.session.commit()
    link = LINK_RE.search(response.text).group(1)
    client.get(link.replace("http://localhost", ""))
    me = client.get("/me")
    client.post("/me/consent", data={"csrf_token": csrf_token(me.text), "purpose": "public_name",
                                     "granted": "0"})
    page = client.get("/c/acme/p/end-it").text
    assert "Alice Canary" not in page
    assert "1 signature" in page


@pytest.mark.parametrize(("lang", "message", "other"), [
    ("fr", "Ce champ est requis.", "This field is required."),
    ("en", "This field is required.", "Ce champ est requis."),
])
def test_wtforms_own_messages_follow_the_page_language(client, petition, lang, message, other):
    """WTForms' built-in messages come from its catalog, kept per language by the base form:
    a French page after an English one (same process) still gets French."""
    for first in ("en", "fr"):
        sign(client, name="", lang=first)
    response = sign(client, name="", lang=lang)
    assert response.status_code == 400
    assert message in response.text
    assert other not in response.text


#: the mail's links, for calling the signing service directly
LINKS = signature_service.Links(private=lambda token: f"http://localhost/s/{token}",
                                confirm=lambda token: f"http://localhost/confirm/{token}",
                                lost=lambda: "http://localhost/lost")


def rita():
    """What one signer typed (a new object each time: the service fills in its units)."""
    return signature_service.SignerInput(name="Rita Race", email="rita@personal.example",
                                         locale="en")


def test_an_address_signing_between_prepare_and_the_lock_gets_the_already_signed_mail(
        app, petition):
    """`prepare` seals the mail a look-up expects before the write lock; if the same address
    signs in between, `sign` makes a shadow and seals the right mail under the lock."""
    from email import message_from_bytes, policy

    from campaign.crypto import aad_for, keyring
    from campaign.services import signatures as service

    with app.app_context():
        found = db.session.execute(select(Petition)).scalar_one()
        prepared = service.prepare(found, rita(), links=LINKS)
        assert prepared.mail_kind == "private_link"
        service.sign(found, rita(), links=LINKS)  # the same address gets there first
        result = service.sign(found, rita(), links=LINKS, prepared=prepared)
        db.session.commit()
        assert result.signature.is_shadow
        subjects = []
        for row in db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars():
            raw = keyring().decrypt(row.message_ct, aad_for("outbox", "message", row.public_id))
            subjects.append(str(message_from_bytes(raw, policy=policy.default)["Subject"]))
        assert subjects == ["Your private link", "About your recent request"]


def _organizer_writes(app, statement):
    """Run `statement` from another connection, as an organizer would, waiting a fifth of a
    second at most; True if it committed, False if the database kept it out (a signature in
    flight holds the write lock on SQLite, share locks on the rows on PostgreSQL)."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    other = create_engine(url, connect_args={"timeout": 0.2} if url.startswith("sqlite")
                          else {"options": "-c lock_timeout=200"})
    try:
        with other.begin() as connection:
            connection.execute(statement)
        return True
    except OperationalError:
        return False
    finally:
        other.dispose()


def test_an_organizer_cannot_close_a_petition_under_a_signature_in_flight(
        app, client, petition, monkeypatch):
    """What a signature checked (the petition open, its campaign public) stays true until it
    commits: an organizer closing the petition meanwhile (another connection, during `prepare`)
    waits for it, on SQLite (the signature holds the write lock from its first read) as on
    PostgreSQL (it share-locks the petition's and campaign's rows). The signature is kept; the
    close goes through once it is committed."""
    from sqlalchemy import update

    from campaign.services import signatures as service

    real_prepare = service.prepare
    closed = []

    def prepare_while_an_organizer_closes_it(*args, **kwargs):
        closed.append(_organizer_writes(app, update(Petition).values(status="closed")))
        return real_prepare(*args, **kwargs)

    monkeypatch.setattr(service, "prepare", prepare_while_an_organizer_closes_it)
    response = sign(client)
    assert closed == [False]
    assert response.status_code == 200 and LINK_RE.search(response.text)
    with app.app_context():
        assert db.session.execute(select(func.count(Signature.id))).scalar() == 1
        assert db.session.execute(select(func.count(OutboxMessage.id))).scalar() == 1
        assert db.session.execute(select(Petition.status)).scalar() == "open"
    assert _organizer_writes(app, update(Petition).values(status="closed"))  # now it can
    with app.app_context():
        assert db.session.execute(select(Petition.status)).scalar() == "closed"


def test_a_signer_key_taken_after_the_look_up_gives_a_shadow(
        app, petition, monkeypatch):
    """Two submissions of one address race (PostgreSQL, read committed): both look-ups find
    nothing, the unique constraint lets one insert win and the other becomes a shadow."""
    from campaign.services import signatures as service

    with app.app_context():
        found = db.session.execute(select(Petition)).scalar_one()
        first = service.sign(found, rita(), links=LINKS)
        monkeypatch.setattr(service, "_key_exists", lambda petition, key: False)
        second = service.sign(found, rita(), links=LINKS)
        db.session.commit()
        assert not first.signature.is_shadow
        assert second.signature.is_shadow and second.signature.signer_key is None
        assert second.token != first.token
        counted = db.session.execute(
            select(func.count(Signature.id)).where(Signature.is_shadow.is_(False))).scalar()
        assert counted == 1
        # each has a data key of its own, and no key is left without its signature (on
        # PostgreSQL the loser's key was inserted with its refused row, then given to the shadow)
        assert first.signature.data_key_id != second.signature.data_key_id
        assert (db.session.execute(select(func.count(DataKey.id))).scalar()
                == db.session.execute(select(func.count(Signature.id))).scalar() == 2)
        assert service.identity(second.signature) == ("Rita Race", "rita@personal.example")


def test_a_look_up_s_key_is_used_only_for_the_petition_and_address_it_was_made_for(
        app, petition):
    """The view makes the signer key before the petition is read, with the public id it last
    saw for these slugs; `prepare` takes it only when that was the petition's and the address
    is the one signing, and makes the right key otherwise."""
    from campaign.services import signatures as service

    with app.app_context():
        found = db.session.execute(select(Petition)).scalar_one()
        right = service.signer_key(found, "rita@personal.example")
        for public_id, email, expected in (
                (found.public_id, "rita@personal.example", "made-before"),
                ("an-old-public-id", "rita@personal.example", right),
                (found.public_id, " rita@personal.example", right),
                (None, "rita@personal.example", right)):
            looked_up = service.LookedUp(key="made-before", taken=False,
                                         petition_public_id=public_id, email=email)
            prepared = service.prepare(found, rita(), links=LINKS, looked_up=looked_up)
            assert prepared.key == expected
        db.session.rollback()


def test_a_signature_is_one_transaction(app, client, petition):
    """A signature's reads and writes are one transaction: one connection from the pool, one
    BEGIN (on SQLite, BEGIN IMMEDIATE: the write lock from the first read), one COMMIT."""
    from sqlalchemy import event

    page = client.get("/c/acme/p/end-it")
    data = {"csrf_token": csrf_token(page.text), "name": "Alice Canary",
            "email": "alice@personal.example", "version_public_name": "1",
            "version_share_with_reps": "1", "version_contact": "1"}
    with app.app_context():
        engine = db.engine
    seen = []
    statements = []
    listeners = [(engine, "begin", lambda _conn: seen.append("begin")),
                 (engine, "commit", lambda _conn: seen.append("commit")),
                 (engine.pool, "checkout", lambda *_args: seen.append("checkout")),
                 (engine, "before_cursor_execute",
                  lambda _conn, _cursor, statement, *_args: statements.append(statement))]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        response = client.post("/c/acme/p/end-it/sign", data=data)
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)
    assert response.status_code == 200 and LINK_RE.search(response.text)
    assert seen == ["checkout", "begin", "commit"]
    if engine.dialect.name == "sqlite":
        assert statements[0] == "BEGIN IMMEDIATE"
        assert not any(s.startswith("BEGIN") for s in statements[1:])
    with app.app_context():
        assert db.session.execute(select(func.count(Signature.id))).scalar() == 1


def test_a_chosen_site_is_checked_against_the_campaigns_units(app, client, petition):
    """The site a signer chose is checked against the campaign's units as they are when the
    signature is written: an active one is kept, a retired one is refused with a clear message
    and nothing is stored."""
    from sqlalchemy import update

    from campaign.models import Unit

    with app.app_context():
        first, second = db.session.execute(
            select(Unit.id).where(Unit.kind == "site").order_by(Unit.id)).scalars().all()[:2]
    response = sign(client, extra={"site": str(first)})
    assert response.status_code == 200 and LINK_RE.search(response.text)
    assert _organizer_writes(app, update(Unit).where(Unit.id == second).values(is_active=False))
    refused = sign(app.test_client(), email="bob@personal.example",
                   extra={"site": str(second)})
    assert refused.status_code == 400
    assert "Choose a site and a department from the lists." in refused.text
    with app.app_context():
        assert db.session.execute(select(Signature.site_id)).scalars().all() == [first]


@pytest.mark.parametrize("token", [None, "", "forged", "another-session"])
def test_a_signature_without_this_sessions_csrf_token_is_refused_and_stores_nothing(
        app, client, petition, token):
    """The signing form does not check its token itself: CSRFProtect does, before the view,
    for every POST. A missing, empty, forged or other session's token is refused."""
    page = client.get("/c/acme/p/end-it")
    data = {"name": "Alice Canary", "email": "alice@personal.example",
            "version_public_name": "1", "version_share_with_reps": "1", "version_contact": "1"}
    if token == "another-session":  # noqa: S105 - a case name, not a secret
        data["csrf_token"] = csrf_token(app.test_client().get("/c/acme/p/end-it").text)
    elif token is not None:
        data["csrf_token"] = token
    refused = client.post("/c/acme/p/end-it/sign", data=data)
    assert refused.status_code == 400
    assert "The form expired, please submit it again." in refused.text
    with app.app_context():
        assert db.session.execute(select(func.count(Signature.id))).scalar() == 0
    data["csrf_token"] = csrf_token(page.text)  # this session's: accepted
    assert client.post("/c/acme/p/end-it/sign", data=data).status_code == 200


def test_a_new_and_a_repeated_address_run_the_same_statements(app, client, petition):
    """Whether the address signed before is read with the petition (one query): a new and a
    repeated address then run exactly the same statements, in the same order, and no query of
    their own for the signer key."""
    from sqlalchemy import event

    def statements_of(email):
        page = client.get("/c/acme/p/end-it")
        data = {"csrf_token": csrf_token(page.text), "name": "Alice Canary", "email": email,
                "version_public_name": "1", "version_share_with_reps": "1",
                "version_contact": "1"}
        seen = []

        def note(_conn, _cursor, statement, *_args):
            seen.append(" ".join(statement.split()))

        event.listen(engine, "before_cursor_execute", note)
        try:
            response = client.post("/c/acme/p/end-it/sign", data=data)
        finally:
            event.remove(engine, "before_cursor_execute", note)
        assert response.status_code == 200
        return seen

    with app.app_context():
        engine = db.engine
    statements_of("warm@personal.example")  # this worker learns the petition's public id
    new = statements_of("alice@personal.example")
    repeated = statements_of("alice@personal.example")
    assert new == repeated
    assert not any(s.startswith("SELECT signatures.id FROM signatures") for s in new)
    # the outbox row is written (on PostgreSQL in the signature's own statement) without
    # fetching back an id nobody reads
    outbox = [s for s in new if "INSERT INTO outbox" in s]
    assert len(outbox) == 1 and "RETURNING outbox" not in outbox[0]
    assert outbox[0].startswith("WITH" if engine.dialect.name == "postgresql" else "INSERT")
    with app.app_context():
        kinds = db.session.execute(
            select(Signature.is_shadow).where(Signature.id > 1).order_by(Signature.id)
        ).scalars().all()
    assert kinds == [False, True]  # the repeated address got a shadow


def test_a_page_shown_again_refreshes_the_count_under_the_write_lock(app, client, petition):
    """A work address brings the form back (the signature's lock given back first); if the
    public count is due for a refresh then, that refresh is a write and takes the write lock
    (BEGIN IMMEDIATE on SQLite) like any other, instead of upgrading a read transaction."""
    from sqlalchemy import event

    sign(client, email="first@personal.example")  # something to count
    with app.app_context():
        engine = db.engine
    statements = []

    def note(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split())[:40])

    event.listen(engine, "before_cursor_execute", note)
    try:
        response = sign(app.test_client(), email="alice@example-corp.example")
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert response.status_code == 200 and "work address" in response.text
    writes = [n for n, s in enumerate(statements)
              if s.startswith(("INSERT INTO petition_snapshots", "UPDATE petition_snapshots"))]
    assert writes  # the count was refreshed while the page was shown again (after the POST's
    # BEGIN IMMEDIATE and the lock given back; the GET before it refreshes too)
    if engine.dialect.name == "sqlite":
        begins = [n for n, s in enumerate(statements) if s.startswith("BEGIN")]
        assert statements[max(n for n in begins if n < writes[-1])] == "BEGIN IMMEDIATE"
