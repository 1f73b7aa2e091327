"""The petition page reused for visitors (campaign.petitions.page_cache): the same page only
while nothing it shows has changed, never a stale name, count, text or choice, never another
visitor's CSRF token, never a staff member's page."""

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask import template_rendered
from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Petition, PetitionSnapshot, Signature, Unit
from campaign.petitions import page_cache
from campaign.services import consent
from campaign.services import petitions as petition_service
from campaign.services import signatures as signature_service
from campaign.services.campaigns import get_by_slug
from tests.conftest import csrf_token, login

PAGE = "/c/acme/p/end-it"


@pytest.fixture
def petition(app, campaign):
    with app.app_context():
        found = petition_service.create_petition(
            get_by_slug("acme"), "end-it", actor=None, title_fr="Arrêtez", title_en="Stop it",
            text_fr="Texte", text_en="Text", status="open", goal=100, refresh_minutes=60)
        db.session.commit()
        return found.id


def view(client, lang="en"):
    response = client.get(PAGE, headers={"Accept-Language": lang})
    assert response.status_code == 200
    return response.text


def sign(client, name, email, consents=()):
    data = {"csrf_token": csrf_token(view(client)), "name": name, "email": email,
            "version_public_name": "1", "version_share_with_reps": "1", "version_contact": "1"}
    data.update({f"consent_{purpose}": "y" for purpose in consents})
    response = client.post(PAGE + "/sign", data=data, headers={"Accept-Language": "en"})
    assert response.status_code == 200
    return response


def without_token(html):
    return html.replace(csrf_token(html), "")


def next_batch(app, petition):
    """Make the public snapshot due, as if the refresh interval had passed."""
    with app.app_context():
        snapshot = db.session.get(PetitionSnapshot, petition)
        snapshot.taken_at -= timedelta(minutes=61)
        db.session.commit()


@contextmanager
def renders(app, name="petitions/petition.html"):
    """The renders of a template (by default the petition page's) inside the block."""
    seen = []

    def note(_sender, template, **_extra):
        if template.name == name:
            seen.append(template.name)

    template_rendered.connect(note, app)
    try:
        yield seen
    finally:
        template_rendered.disconnect(note, app)


def stored(app):
    with app.test_request_context():
        return page_cache.stored_pages()


def test_a_second_visitor_gets_the_stored_page_with_a_token_of_their_own(app, petition):
    first, second = app.test_client(), app.test_client()
    with renders(app) as rendered:
        page_one, page_two = view(first), view(second)
    assert len(rendered) == 1  # rendered once, then reused
    assert len(stored(app)) == 1
    assert without_token(page_one) == without_token(page_two)
    assert csrf_token(page_one) != csrf_token(page_two)
    assert page_cache.PLACEHOLDER not in page_two
    # each visitor's token is the one their own session accepts
    sign(second, "Token Owner", "owner@personal.example")
    with app.app_context():
        assert db.session.execute(select(Signature)).scalar_one() is not None


def test_a_page_with_units_and_names_is_read_without_the_orm_and_served_from_the_store(
        app, petition):
    """A visitor's view reads plain rows and compares them with the key of the last render,
    which was taken from the loaded objects: both must give the same key, or nothing is ever
    reused (the names, the units and the snapshot included)."""
    from campaign.services import campaigns as campaign_service

    with app.app_context():
        campaign = get_by_slug("acme")
        for code in ("cached-lyon", "cached-nice"):
            campaign_service.add_unit(campaign, "site", code, actor=None,
                                      name_en=code.removeprefix("cached-").title())
        db.session.commit()
    signer = app.test_client()
    sign(signer, "Nora Named", "nora@personal.example", consents=["public_name"])
    next_batch(app, petition)
    first = view(app.test_client())  # renders: the snapshot was due
    with renders(app) as rendered:
        pages = [view(app.test_client()) for _ in range(3)]
    assert rendered == []
    assert all("Nora Named" in page and "Nice" in page for page in [first, *pages])
    with app.test_request_context():
        seen = page_cache.read("acme", "end-it")
        assert seen is not None and seen.petition_id == petition
        assert seen.key[5] == tuple(page_cache.signatures.public_name_keys(
            db.session.get(PetitionSnapshot, petition)))
        assert len(seen.key[3]) == len(get_by_slug("acme").units) >= 2


def test_a_stored_page_is_served_without_a_transaction_of_the_session_on_postgresql(
        app, petition):
    """On PostgreSQL a visitor's view of a stored page reads in autocommit on a connection of
    its own: the request's session never begins (no BEGIN and ROLLBACK round trips). On SQLite
    the session's connection is used. Either way the page is the stored one."""
    from sqlalchemy import event

    view(app.test_client())  # the first view renders and stores
    begun = []

    def note(_session, _transaction, _connection):
        begun.append(1)

    with app.app_context():
        session_factory = db.session.session_factory
    event.listen(session_factory, "after_begin", note)
    try:
        with renders(app) as rendered:
            page = view(app.test_client())
    finally:
        event.remove(session_factory, "after_begin", note)
    assert rendered == [] and "Stop it" in page
    with app.app_context():
        dialect = db.engine.dialect.name
    assert len(begun) == (0 if dialect == "postgresql" else 1)


def test_the_thank_you_page_is_rendered_once_and_each_signer_gets_their_own_link(app, petition):
    """After signing, the page differs between signers only by the private link: it is rendered
    once (per language) with a placeholder, and each signer's own link is put in its place."""
    with renders(app, "petitions/signed.html") as seen:
        answers = [sign(app.test_client(), f"Signer {n}", f"signer{n}@personal.example").text
                   for n in range(3)]
    assert len(seen) == 1
    links = [re.search(r'href="(http://localhost/s/[^"]+)"', page).group(1) for page in answers]
    assert len(set(links)) == 3 and all(page_cache.LINK not in page for page in answers)
    with app.app_context():
        for link in links:  # each link opens its own signature
            token = link.rsplit("/", 1)[1]
            assert signature_service.find_by_token(token) is not None
    assert all("Stop it" in page for page in answers)


def test_the_thank_you_page_follows_the_language_and_a_new_title(app, petition):
    client = app.test_client()
    data = {"csrf_token": csrf_token(view(client, "fr")), "name": "Élise", "email":
            "elise@personal.example", "version_public_name": "1", "version_share_with_reps": "1",
            "version_contact": "1"}
    french = client.post(PAGE + "/sign", data=data, headers={"Accept-Language": "fr"}).text
    assert "Arrêtez" in french and "Merci" in french
    sign(app.test_client(), "Before Edit", "before@personal.example")
    with app.app_context():
        found = db.session.get(Petition, petition)
        found.title_en = "Stop it now"
        db.session.commit()
    assert "Stop it now" in sign(app.test_client(), "After Edit", "after@personal.example").text


def test_each_language_has_its_own_page_and_a_query_string_is_never_stored(app, petition):
    visitor = app.test_client()
    english, french = view(visitor, "en"), view(visitor, "fr")
    assert 'lang="en"' in english and 'lang="fr"' in french
    assert "Stop it" in english and "Arrêtez" in french
    assert len(stored(app)) == 2
    with_query = visitor.get(PAGE + "?from=leaflet", headers={"Accept-Language": "en"}).text
    assert "from%3Dleaflet" in with_query  # the language switch returns to the same address
    assert len(stored(app)) == 2
    assert "from%3Dleaflet" not in view(visitor, "en")


def test_a_withdrawn_name_is_gone_from_the_next_page_and_from_memory(app, petition):
    signer, visitor = app.test_client(), app.test_client()
    sign(signer, "Paula Public", "paula@personal.example", consents=["public_name"])
    next_batch(app, petition)
    assert "Paula Public" in view(visitor) and "Paula Public" in view(visitor, "fr")
    view(visitor)  # served from the store
    assert sum("Paula Public" in html for html in stored(app)) == 2
    with app.app_context():
        signature = db.session.execute(select(Signature)).scalar_one()
        signature_service.withdraw(signature)
        db.session.commit()
    assert "Paula Public" not in view(visitor)
    assert not any("Paula Public" in html for html in stored(app))


def test_a_name_whose_consent_is_taken_back_is_gone_at_once(app, petition):
    signer, visitor = app.test_client(), app.test_client()
    sign(signer, "Carl Consent", "carl@personal.example", consents=["public_name"])
    next_batch(app, petition)
    assert "Carl Consent" in view(visitor)
    with app.app_context():
        signature = db.session.execute(select(Signature)).scalar_one()
        signature_service.change_consent(signature, "public_name", False)
        db.session.commit()
    assert "Carl Consent" not in view(visitor)


def test_a_new_count_is_shown_with_the_next_snapshot(app, petition):
    visitor = app.test_client()
    assert "0 signatures" in view(visitor)
    sign(app.test_client(), "Dana Default", "dana@personal.example")
    assert "0 signatures" in view(visitor)  # the batch is not due: the stored page is right
    next_batch(app, petition)
    assert "1 signature" in view(visitor)


@pytest.mark.parametrize("change", ["petition", "campaign", "unit", "consent text"])
def test_any_edit_of_what_the_page_shows_is_shown_on_the_next_view(app, petition, change):
    visitor = app.test_client()
    with renders(app) as rendered:
        before, _again = view(visitor), view(visitor)
    assert len(rendered) == 1  # stored: the edit below is what makes the difference
    with app.app_context():
        if change == "petition":
            db.session.get(Petition, petition).title_en = "Renamed petition"
            marker = "Renamed petition"
        elif change == "campaign":
            get_by_slug("acme").title_en = "Renamed campaign"
            marker = "Renamed campaign"
        elif change == "unit":
            db.session.execute(select(Unit).where(
                Unit.code == "lyon", Unit.campaign_id == get_by_slug("acme").id)
            ).scalar_one().name_en = "Lyon Part-Dieu"
            marker = "Lyon Part-Dieu"
        else:
            consent.add_version("public_name", "Mon nom, version deux.", "My name, version two.")
            marker = "My name, version two."
        db.session.commit()
    assert marker not in before
    assert marker in view(visitor)


def test_a_closed_petition_loses_its_form_at_once(app, petition):
    visitor = app.test_client()
    assert 'action="/c/acme/p/end-it/sign"' in view(visitor)
    with app.app_context():
        db.session.get(Petition, petition).status = "closed"
        db.session.commit()
    assert 'action="/c/acme/p/end-it/sign"' not in view(visitor)


def test_staff_never_get_or_leave_a_stored_page(app, petition):
    visitor = app.test_client()
    view(visitor)
    rep = app.test_client()
    login(rep, "rep@example.org")
    staff_page = view(rep)
    assert "My campaigns" in staff_page  # the staff navigation, not the visitor's page
    assert all("My campaigns" not in html for html in stored(app))
    assert "My campaigns" not in view(visitor)


def test_a_flashed_message_is_shown_not_swallowed_by_the_stored_page(app, petition):
    visitor = app.test_client()
    view(visitor)
    with visitor.session_transaction() as session:
        session["_flashes"] = [("success", "A message for this visitor only")]
    assert "A message for this visitor only" in view(visitor)
    assert "A message for this visitor only" not in view(app.test_client())
    assert all("A message for this visitor only" not in html for html in stored(app))


def test_the_cache_can_be_turned_off(make_config, petition):
    from campaign import create_app

    app = create_app(make_config(PETITION_PAGE_CACHE=False))
    view(app.test_client())
    assert stored(app) == []
