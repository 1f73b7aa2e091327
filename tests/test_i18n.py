"""French and English everywhere: locale choice, html lang, bilingual content, the catalog."""

from sqlalchemy import select

from campaign import catalogs
from campaign.extensions import db
from campaign.models import Campaign
from tests.conftest import csrf_token, login


def test_the_french_catalog_is_complete_and_the_template_is_fresh():
    problems = catalogs.check()
    assert problems == [], "\n".join(problems[:40])


def test_accept_language_then_default(app, client, make_campaign):
    make_campaign("acme")
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "en-GB,en"}).text
    assert '<html lang="fr">' in client.get("/", headers={"Accept-Language": "fr-FR"}).text
    for default in ("fr", "en"):
        app.config["BABEL_DEFAULT_LOCALE"] = default
        page = client.get("/", headers={"Accept-Language": "de"}).text
        assert f'<html lang="{default}">' in page


def test_switcher_beats_accept_language_and_is_kept_in_the_session(client, make_campaign):
    make_campaign("acme")
    response = client.get("/language/en?next=/c/acme", headers={"Accept-Language": "fr"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/c/acme")
    assert '<html lang="en">' in client.get("/c/acme", headers={"Accept-Language": "fr"}).text


def test_user_preference_beats_accept_language(client, make_user):
    make_user("rep@example.org", locale="en")
    login(client, "rep@example.org")
    page = client.get("/staff/", headers={"Accept-Language": "fr"})
    assert '<html lang="en">' in page.text


def test_a_visitor_s_locale_is_chosen_without_asking_flask_login(app):
    """Only a staff session has a user with a preference: for everyone else (every signer) the
    locale is chosen without Flask-Login loading an anonymous user (it keeps what it loaded in
    g._login_user)."""
    from flask import g

    from campaign.i18n import select_locale
    from campaign.sessions import signed_in

    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert select_locale() == "en"
        assert not signed_in()
        assert "_login_user" not in g


def test_missing_translation_of_content_falls_back_marked_with_its_language(app, client,
                                                                            make_campaign):
    make_campaign("acme", title_fr="Titre seulement en français", title_en=None)
    page = client.get("/c/acme", headers={"Accept-Language": "en"}).text
    assert '<html lang="en">' in page
    assert '<span lang="fr">Titre seulement en français</span>' in page


def test_numbers_and_dates_are_formatted_per_locale(app, client, make_user, make_campaign):
    make_campaign("acme", retention_days=1500)
    make_user("org@example.org", roles=[("acme", "organizer")])
    login(client, "org@example.org")
    client.get("/language/fr")
    french = client.get("/staff/campaigns/acme").text
    client.get("/language/en")
    english = client.get("/staff/campaigns/acme").text
    assert "1,500" in english
    assert "1\u202f500" in french or "1\xa0500" in french
    with app.app_context():
        assert db.session.execute(select(Campaign)).scalar_one().retention_days == 1500
    assert csrf_token(french)
