"""Statements: what each author allows is what each reader sees, withdrawal is immediate, and
every moderation decision is audited."""

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import AuditEvent, ConsentEvent, DataKey, OutboxMessage, Statement
from campaign.models.base import utcnow
from campaign.services import statements as service
from campaign.services.campaigns import get_by_slug
from tests.conftest import csrf_token, staff

LINK_RE = re.compile(r'href="http://localhost(/s/[A-Za-z0-9_-]{43})"')
STAFF = "/staff/campaigns/acme/statements"


def submit(client, text="The contract is wrong.", publication="reps_only", name="", email="",
           share=False, language="en", extra=None, lang="en"):
    page = client.get("/c/acme/statements/new", headers={"Accept-Language": lang})
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.text), "text": text, "language": language,
            "name": name, "email": email, "publication": publication, "site": "",
            "department": "", "version_publish": "1", "version_publish_named": "1",
            "version_share_with_reps": "1"}
    if share:
        data["consent_share_with_reps"] = "y"
    data.update(extra or {})
    return client.post("/c/acme/statements/new", data=data, headers={"Accept-Language": lang})


def submitted(app, client, **kwargs):
    """Submit and return (private link path, statement public id)."""
    response = submit(client, **kwargs)
    assert response.status_code == 200, response.text
    link = LINK_RE.search(response.text).group(1)
    with app.app_context():
        public_id = db.session.execute(
            select(Statement.public_id).order_by(Statement.id.desc()).limit(1)).scalar_one()
    return link, public_id


def publish(client, public_id, text, named=False):
    page = client.get(f"{STAFF}/{public_id}")
    data = {"csrf_token": csrf_token(page.text), "redacted_text": text}
    if named:
        data["named"] = "y"
    return client.post(f"{STAFF}/{public_id}/publish", data=data)


def public_pages(client):
    return [client.get("/c/acme").text, client.get("/c/acme/statements").text,
            client.get("/c/acme/actions.ics").text]


def author_choose(app, link, publication, share=False):
    author = app.test_client()
    assert author.get(link).status_code == 302
    me = author.get("/my-statement")
    data = {"csrf_token": csrf_token(me.text), "publication": publication,
            "version_publish": "1", "version_publish_named": "1", "version_share_with_reps": "1"}
    if share:
        data["consent_share_with_reps"] = "y"
    return author, author.post("/my-statement/choices", data=data)


# --- what each reader sees ---------------------------------------------------------------------

def test_reps_only_statement_never_reaches_the_public_or_an_organizer(app, client, campaign):
    _link, public_id = submitted(app, client, text="CANARY reps only words",
                                 name="Rita Reps", share=True)
    rep = staff(app, "rep@example.org")
    assert "CANARY reps only words" in rep.get(STAFF).text
    refused = publish(rep, public_id, "CANARY reps only words")
    assert refused.status_code == 400
    assert "did not allow publication" in refused.text
    with app.app_context():
        assert db.session.execute(select(Statement.status)).scalar_one() == "pending"

    for page in public_pages(app.test_client()):
        assert "CANARY" not in page and "Rita Reps" not in page
    organizer = staff(app, "org@example.org")
    listing = organizer.get(STAFF)
    assert listing.status_code == 200
    assert "CANARY" not in listing.text and "Rita Reps" not in listing.text
    detail = organizer.get(f"{STAFF}/{public_id}")
    assert detail.status_code == 403
    assert "CANARY" not in detail.text


def test_anonymous_publication_shows_no_name_anywhere_public(app, client, campaign):
    _link, public_id = submitted(app, client, text="CANARY anonymous words",
                                 publication="public_anonymous", name="Nadia Nameless",
                                 share=True)
    rep = staff(app, "rep@example.org")
    detail = rep.get(f"{STAFF}/{public_id}")
    assert "Nadia Nameless" in detail.text  # shared with reps
    assert 'name="named"' not in detail.text  # no way to ask for a named publication
    named = publish(rep, public_id, "CANARY anonymous words", named=True)
    assert named.status_code == 400
    assert publish(rep, public_id, "CANARY anonymous words").status_code == 302

    for page in public_pages(app.test_client()) + public_pages(app.test_client()):
        assert "Nadia Nameless" not in page
    campaign_page = app.test_client().get("/c/acme").text
    assert "CANARY anonymous words" in campaign_page
    assert "Anonymous" in campaign_page
    organizer_view = staff(app, "org@example.org").get(STAFF).text
    assert "CANARY anonymous words" in organizer_view and "Nadia Nameless" not in organizer_view


def test_named_publication_shows_the_name_until_the_author_narrows(app, client, campaign):
    link, public_id = submitted(app, client, text="CANARY named words",
                                publication="public_named", name="Paula Public")
    rep = staff(app, "rep@example.org")
    # publish_named lets the reps who must check the name read it (no share_with_reps needed)
    assert "Paula Public" in rep.get(f"{STAFF}/{public_id}").text
    assert publish(rep, public_id, "CANARY named words", named=True).status_code == 302
    assert "By Paula Public" in app.test_client().get("/c/acme").text

    _author, response = author_choose(app, link, "public_anonymous")
    assert response.status_code == 302
    page = app.test_client().get("/c/acme").text
    assert "CANARY named words" in page
    assert "Paula Public" not in page


def test_withdrawal_takes_the_statement_off_every_page_on_the_next_request(app, client, campaign):
    link, public_id = submitted(app, client, text="CANARY withdrawn words",
                                publication="public_named", name="Walter Withdraw",
                                email="walter@personal.example")
    rep = staff(app, "rep@example.org")
    publish(rep, public_id, "CANARY withdrawn words", named=True)
    assert "CANARY withdrawn words" in app.test_client().get("/c/acme").text

    author = app.test_client()
    author.get(link)
    me = author.get("/my-statement")
    assert author.post("/my-statement/withdraw",
                       data={"csrf_token": csrf_token(me.text)}).status_code == 302

    for page in public_pages(app.test_client()):
        assert "CANARY withdrawn words" not in page and "Walter Withdraw" not in page
    assert "CANARY" not in rep.get(STAFF).text
    assert rep.get(f"{STAFF}/{public_id}").status_code == 404
    assert "CANARY" not in staff(app, "org@example.org").get(STAFF).text
    assert "Withdrawn" in author.get("/my-statement").text
    with app.app_context():
        statement = db.session.execute(select(Statement)).scalar_one()
        assert statement.status == "withdrawn"
        assert statement.text is None and statement.redacted_text is None
        assert statement.author_name_ct is None and statement.data_key.wrapped is None
        assert not any(service.effective(statement).values())
        assert db.session.execute(select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "statement_withdrawn",
            AuditEvent.target_id == public_id)).scalar_one() == 1


def test_widening_after_publication_takes_it_back_to_the_reps(app, client, campaign):
    link, public_id = submitted(app, client, text="CANARY widened words",
                                publication="public_anonymous", name="Wanda Wider")
    rep = staff(app, "rep@example.org")
    publish(rep, public_id, "CANARY widened words")
    assert "CANARY widened words" in app.test_client().get("/c/acme").text

    _author, response = author_choose(app, link, "public_named")
    assert response.status_code == 302
    page = app.test_client().get("/c/acme").text
    assert "CANARY widened words" not in page and "Wanda Wider" not in page
    with app.app_context():
        assert db.session.execute(select(Statement.status)).scalar_one() == "pending"
    assert "CANARY widened words" in rep.get(STAFF).text  # back in the queue
    assert publish(rep, public_id, "CANARY widened words", named=True).status_code == 302
    assert "By Wanda Wider" in app.test_client().get("/c/acme").text


def test_author_narrowing_to_reps_only_unpublishes_at_once(app, client, campaign):
    link, public_id = submitted(app, client, text="CANARY narrowed words",
                                publication="public_anonymous")
    publish(staff(app, "rep@example.org"), public_id, "CANARY narrowed words")
    author_choose(app, link, "reps_only")
    assert "CANARY narrowed words" not in app.test_client().get("/c/acme").text


def test_the_public_page_asks_the_ledger_not_the_status(app, client, campaign):
    """A consent withdrawn behind the status's back (e.g. by a later channel) still hides it."""
    _link, public_id = submitted(app, client, text="CANARY ledger words",
                                 publication="public_named", name="Lena Ledger")
    publish(staff(app, "rep@example.org"), public_id, "CANARY ledger words", named=True)
    with app.app_context():
        from campaign.services import consent

        statement = db.session.execute(select(Statement)).scalar_one()
        texts = consent.current_texts(["publish_named"])
        consent.record(statement_id=statement.id, purpose="publish_named", granted=False,
                       text=texts["publish_named"], channel="rep")
        db.session.commit()
    page = app.test_client().get("/c/acme").text
    assert "CANARY ledger words" in page and "Lena Ledger" not in page


# --- moderation ------------------------------------------------------------------------------

def test_moderation_cannot_publish_beyond_consent(app, client, campaign):
    submitted(app, client, text="reps only", name="A Person", share=True)
    submitted(app, client, text="anonymous", publication="public_anonymous", name="B Person",
              share=True)
    with app.app_context():
        from campaign.models import User

        rep = db.session.execute(
            select(User).where(User.email == "rep@example.org")).scalar_one()
        reps_only, anonymous = db.session.execute(
            select(Statement).order_by(Statement.id)).scalars().all()
        with pytest.raises(service.StatementError, match="not_allowed"):
            service.publish(reps_only, actor=rep, redacted_text="reps only")
        with pytest.raises(service.StatementError, match="named_not_allowed"):
            service.publish(anonymous, actor=rep, redacted_text="anonymous", named=True)
        service.publish(anonymous, actor=rep, redacted_text="anonymous")
        assert anonymous.status == "published" and anonymous.published_named is False
        assert reps_only.status == "pending"


def test_redacted_text_is_published_and_the_original_stays_with_reps(app, client, campaign):
    _link, public_id = submitted(app, client, text="I work in team ZEBRA-7 since March.",
                                 publication="public_anonymous")
    rep = staff(app, "rep@example.org")
    assert publish(rep, public_id, "I work in [a team] since [a date].").status_code == 302
    for page in public_pages(app.test_client()):
        assert "ZEBRA-7" not in page
    assert "I work in [a team] since [a date]." in app.test_client().get("/c/acme").text
    organizer_view = staff(app, "org@example.org").get(STAFF).text
    assert "ZEBRA-7" not in organizer_view and "[a team]" in organizer_view
    assert "ZEBRA-7" in rep.get(f"{STAFF}/{public_id}").text


def test_translation_is_shown_to_readers_of_the_other_language(app, client, campaign):
    _link, public_id = submitted(app, client, text="Ce contrat nous fait honte.",
                                 publication="public_anonymous", language="fr")
    rep = staff(app, "rep@example.org")
    publish(rep, public_id, "Ce contrat nous fait honte.")
    page = rep.get(f"{STAFF}/{public_id}")
    assert rep.post(f"{STAFF}/{public_id}/translation", data={
        "csrf_token": csrf_token(page.text),
        "translation-translation": "This contract shames us."}).status_code == 302
    english = app.test_client().get("/c/acme", headers={"Accept-Language": "en"}).text
    assert '<blockquote lang="en"><p>This contract shames us.</p>' in english
    french = app.test_client().get("/c/acme", headers={"Accept-Language": "fr"}).text
    assert "This contract shames us." not in french
    assert "Ce contrat nous fait honte." in french


def test_every_decision_is_audited_without_the_words(app, client, campaign):
    _link, first = submitted(app, client, text="CANARY audited words",
                             publication="public_named", name="Alma Audit", share=True)
    _link, second = submitted(app, client, text="CANARY rejected words",
                              publication="public_anonymous")
    rep = staff(app, "rep@example.org")
    publish(rep, first, "CANARY audited [redacted]", named=True)
    page = rep.get(f"{STAFF}/{first}")
    rep.post(f"{STAFF}/{first}/translation", data={
        "csrf_token": csrf_token(page.text), "translation-translation": "CANARY traduction"})
    page = rep.get(f"{STAFF}/{second}")
    assert rep.post(f"{STAFF}/{second}/reject", data={
        "csrf_token": csrf_token(page.text), "reject-reason": "identifying",
        "reject-note": "CANARY note"}).status_code == 302
    with app.app_context():
        from campaign.models import User

        rep_id = db.session.execute(
            select(User.public_id).where(User.email == "rep@example.org")).scalar_one()
        events = db.session.execute(
            select(AuditEvent).where(AuditEvent.target_type == "statements")
            .order_by(AuditEvent.id)).scalars().all()
        decisions = [(e.action, e.target_id, e.details) for e in events
                     if e.action != "identities_viewed"]
        assert decisions == [
            ("statement_published", first, {"kind": "named", "result": "redacted"}),
            ("statement_translated", first, {"locale": "fr", "result": "saved"}),
            ("statement_rejected", second, {"reason": "identifying"}),
        ]
        assert all(e.actor == rep_id and e.campaign_slug == "acme" for e in events)
        viewed = [e for e in events if e.action == "identities_viewed"]
        assert viewed and all(e.target_id == first for e in viewed)
        dumped = json.dumps([(e.details, e.target_id) for e in events])
        assert "CANARY" not in dumped and "Alma" not in dumped
        statement = service.get_by_public_id(second)
        assert statement.status == "rejected" and statement.rejection_note == "CANARY note"


def test_rejection_reason_reaches_the_author(app, client, campaign):
    link, public_id = submitted(app, client, text="words", publication="public_anonymous")
    rep = staff(app, "rep@example.org")
    page = rep.get(f"{STAFF}/{public_id}")
    rep.post(f"{STAFF}/{public_id}/reject", data={
        "csrf_token": csrf_token(page.text), "reject-reason": "off_topic",
        "reject-note": "Please write about the contract."})
    author = app.test_client()
    author.get(link)
    me = author.get("/my-statement").text
    assert "It is not about this campaign" in me and "Please write about the contract." in me


@pytest.mark.parametrize("who,status", [("org@example.org", 403), ("admin@example.org", 403),
                                        ("otherrep@example.org", 404)])
def test_only_the_campaign_reps_moderate(app, client, campaign, who, status):
    _link, public_id = submitted(app, client, text="CANARY words", name="Hidden Hannah",
                                 publication="public_anonymous", share=True)
    viewer = staff(app, who)
    page = viewer.get("/staff/")
    token = csrf_token(page.text)
    detail = viewer.get(f"{STAFF}/{public_id}")
    assert detail.status_code == status
    assert "Hidden Hannah" not in detail.text
    for action, data in (("publish", {"redacted_text": "x"}),
                         ("reject", {"reject-reason": "other"}),
                         ("translation", {"translation-translation": "x"})):
        data["csrf_token"] = token
        assert viewer.post(f"{STAFF}/{public_id}/{action}", data=data).status_code == status
    with app.app_context():
        statement = db.session.execute(select(Statement)).scalar_one()
        assert statement.status == "pending" and statement.translation is None


def test_admin_and_other_reps_get_no_statement_list(app, client, campaign):
    submitted(app, client, text="CANARY listed words", publication="public_anonymous")
    assert staff(app, "admin@example.org").get(STAFF).status_code == 403
    assert staff(app, "otherrep@example.org").get(STAFF).status_code == 404


def test_reps_see_the_author_name_only_with_consent(app, client, campaign):
    _link, silent = submitted(app, client, text="silent", name="Sam Silent")
    _link, sharing = submitted(app, client, text="sharing", name="Sharon Shares", share=True)
    rep = staff(app, "rep@example.org")
    assert "Sam Silent" not in rep.get(f"{STAFF}/{silent}").text
    assert "Sharon Shares" in rep.get(f"{STAFF}/{sharing}").text
    listing = rep.get(STAFF).text
    assert "Sam Silent" not in listing and "Sharon Shares" not in listing
    with app.app_context():
        views = db.session.execute(select(AuditEvent).where(
            AuditEvent.action == "identities_viewed")).scalars().all()
        assert [(e.target_id, e.details["purpose"]) for e in views] == [
            (sharing, "share_with_reps")]


# --- submitting and the private page -------------------------------------------------------------

def test_submission_records_choices_in_the_ledger_and_seals_the_name(app, client, campaign):
    submit(client, text="words", publication="public_named", name="Sealed Selma",
           email="selma@personal.example", share=True)
    with app.app_context():
        statement = db.session.execute(select(Statement)).scalar_one()
        events = db.session.execute(
            select(ConsentEvent).where(ConsentEvent.statement_id == statement.id)
            .order_by(ConsentEvent.id)).scalars().all()
        assert sorted((e.purpose, e.granted, e.consent_text.version, e.channel) for e in events) \
            == [("publish", True, 1, "web"), ("publish_named", True, 1, "web"),
                ("share_with_reps", True, 1, "web")]
        assert b"Selma" not in statement.author_name_ct
        assert b"selma" not in statement.author_email_ct
        assert service.identity(statement) == ("Sealed Selma", "selma@personal.example")
        assert statement.submitted_on == utcnow().date()
        assert len(statement.token_hash) == 64
        assert db.session.execute(select(func.count(OutboxMessage.id))).scalar_one() == 1


def test_reps_only_by_default_records_no_consent_and_sends_no_mail(app, client, campaign):
    response = submit(client, text="words")
    assert response.status_code == 200 and LINK_RE.search(response.text)
    with app.app_context():
        assert db.session.execute(select(func.count(ConsentEvent.id))).scalar_one() == 0
        assert db.session.execute(select(func.count(OutboxMessage.id))).scalar_one() == 0
        assert db.session.execute(select(func.count(DataKey.id))).scalar_one() == 0


def test_named_publication_needs_a_name(app, client, campaign):
    response = submit(client, text="words", publication="public_named")
    assert response.status_code == 400
    assert "give your name" in response.text
    with app.app_context():
        assert db.session.execute(select(func.count(Statement.id))).scalar_one() == 0


def test_form_reminds_that_details_identify(client, campaign):
    page = client.get("/c/acme/statements/new", headers={"Accept-Language": "en"})
    assert "Details can identify you" in page.text
    assert "team or project name" in page.text
    french = client.get("/c/acme/statements/new", headers={"Accept-Language": "fr"})
    assert '<html lang="fr">' in french.text


def test_honeypot_stores_nothing_and_answers_alike(app, client, campaign):
    real = submit(client, text="words")
    bot = submit(client, text="words", extra={"website": "http://spam.example"})
    assert bot.status_code == real.status_code == 200

    def normalized(response):
        text = response.text.replace(csrf_token(client.get("/c/acme/statements/new").text), "")
        return re.sub(r"/s/[A-Za-z0-9_-]{43}", "/s/TOKEN", text)

    assert normalized(real) == normalized(bot)
    with app.app_context():
        assert db.session.execute(select(func.count(Statement.id))).scalar_one() == 1


def test_submission_is_rate_limited(make_config, make_campaign):
    from campaign import create_app
    from campaign.services import consent

    app = create_app(make_config(STATEMENT_RATE_LIMIT="2 per minute"))
    with app.app_context():
        db.create_all()
        consent.seed_defaults()
        db.session.commit()
    try:
        from campaign.services import campaigns

        with app.app_context():
            campaigns.create_campaign("acme", actor=None, title_en="Acme", employer="Acme",
                                      status="active")
            db.session.commit()
        client = app.test_client()
        assert [submit(client, text=f"words {n}").status_code for n in range(3)] == [200, 200, 429]
        with app.app_context():
            assert db.session.execute(select(func.count(Statement.id))).scalar_one() == 2
    finally:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


def test_closed_campaign_takes_no_statement(app, client, make_campaign):
    make_campaign("acme", status="closed")
    assert client.get("/c/acme/statements/new").status_code == 404
    assert client.get("/c/acme/statements").status_code == 200


def test_private_link_leads_to_the_own_page_and_the_token_is_not_stored(app, client, campaign):
    link, public_id = submitted(app, client, text="CANARY own words", name="Olga Own",
                                email="olga@personal.example")
    author = app.test_client()
    opened = author.get(link)
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/my-statement")
    me = author.get("/my-statement")
    assert me.status_code == 200
    assert "CANARY own words" in me.text and "Olga Own" in me.text
    assert app.test_client().get("/my-statement").status_code == 403
    with app.app_context():
        raw = link.rsplit("/", 1)[1]
        assert db.session.execute(select(func.count(Statement.id)).where(
            Statement.token_hash == raw)).scalar_one() == 0
    data = author.get("/my-statement/data.json")
    assert data.headers["Content-Type"].startswith("application/json")
    payload = json.loads(data.text)
    assert payload["statement"]["id"] == public_id
    assert payload["statement"]["name"] == "Olga Own"
    assert payload["statement"]["text"] == "CANARY own words"
    assert payload["consent_history"] == []


def test_erase_deletes_the_row_its_consents_and_its_key(app, client, campaign):
    link, public_id = submitted(app, client, text="CANARY erased words",
                                publication="public_named", name="Erin Erase", share=True)
    publish(staff(app, "rep@example.org"), public_id, "CANARY erased words", named=True)
    author = app.test_client()
    author.get(link)
    me = author.get("/my-statement")
    erased = author.post("/my-statement/erase", data={"csrf_token": csrf_token(me.text)})
    assert erased.status_code == 200 and "Everything is erased" in erased.text
    assert "CANARY" not in app.test_client().get("/c/acme").text
    assert app.test_client().get(link).status_code == 404
    with app.app_context():
        assert db.session.execute(select(func.count(Statement.id))).scalar_one() == 0
        assert db.session.execute(select(func.count(ConsentEvent.id))).scalar_one() == 0
        assert db.session.execute(select(func.count(DataKey.id)).where(
            DataKey.wrapped.is_not(None))).scalar_one() == 0
        assert db.session.execute(select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "statement_erased")).scalar_one() == 1


def test_get_to_an_author_action_changes_nothing(app, client, campaign):
    link, _public_id = submitted(app, client, text="words")
    author = app.test_client()
    author.get(link)
    for url in ("/my-statement/withdraw", "/my-statement/erase", "/my-statement/choices"):
        assert author.get(url).status_code == 405
    with app.app_context():
        assert db.session.execute(select(Statement.status)).scalar_one() == "pending"


def test_decision_is_mailed_to_an_author_who_gave_an_address(app, client, campaign):
    response = submit(client, text="words", publication="public_anonymous",
                      email="mia@personal.example")
    assert response.status_code == 200
    response.close()  # a server closes each response: the mail it queued goes out then
    with app.app_context():
        public_id = db.session.execute(select(Statement.public_id)).scalar_one()
    publish(staff(app, "rep@example.org"), public_id, "words").close()
    with app.app_context():
        from campaign import mail

        assert mail.pending_count() == 0
        sent = app.extensions["campaign_outbox"]
        assert [m["Subject"] for m in sent] == ["Your private link", "News about your request"]
        assert "published" in sent[1].get_content()
        assert "words" not in sent[1]["Subject"]


def test_retention_purge_erases_authors_and_originals(app, client, campaign):
    _link, published_id = submitted(app, client, text="original words",
                                    publication="public_named", name="Rhea Retained")
    submitted(app, client, text="pending words", name="Penny Pending")
    publish(staff(app, "rep@example.org"), published_id, "redacted words", named=True)
    with app.app_context():
        found = get_by_slug("acme")
        found.status = "closed"
        found.closed_at = utcnow() - timedelta(days=found.retention_days + 1)
        db.session.commit()
        assert service.purge_due() == 2
        db.session.commit()
        rows = db.session.execute(select(Statement).order_by(Statement.id)).scalars().all()
        assert all(s.text is None and s.author_name_ct is None for s in rows)
        assert rows[0].redacted_text == "redacted words" and rows[0].published_named is False
        assert rows[1].redacted_text is None
        assert service.purge_due() == 0
    page = app.test_client().get("/c/acme").text
    assert "redacted words" in page and "Rhea Retained" not in page


def test_demo_voices_seed_a_believable_campaign(app, client, campaign):
    from campaign.demo_voices import seed_voices
    from campaign.models import Action, MeetingNoteRevision, User

    with app.app_context():
        rep = db.session.execute(select(User).where(User.email == "rep@example.org")).scalar_one()
        organizer = db.session.execute(
            select(User).where(User.email == "org@example.org")).scalar_one()
        assert seed_voices(get_by_slug("acme"), rep, organizer) == {
            "statements": 5, "notes": 3, "actions": 5}
        db.session.commit()
        assert db.session.execute(select(func.count(MeetingNoteRevision.id))).scalar_one() == 5
        statuses = sorted(db.session.execute(select(Statement.status)).scalars())
        assert statuses == ["pending", "pending", "published", "published", "published"]
        assert db.session.execute(select(func.count(Action.id)).where(
            Action.visibility == "internal")).scalar_one() == 1
    page = client.get("/c/acme", headers={"Accept-Language": "en"}).text
    assert "By Alex Martin" in page
    assert "Camille D." not in page and "seuls les représentants" not in page
    assert "équipe Atlas" not in page  # redacted before publication
    assert "I chose this job" in page  # the reps' translation, for English readers
    assert "Rally outside headquarters" in page
    assert "Meeting with the executive board" not in page
    assert len(events_in(client.get("/c/acme/actions.ics").get_data(as_text=True))) == 2


def events_in(body):
    return [line for line in body.split("\r\n") if line == "BEGIN:VEVENT"]


def test_workplace_is_kept_only_while_shared_with_reps(app, client, campaign):
    with app.app_context():
        paris = next(u.id for u in get_by_slug("acme").sites() if u.code == "paris")
    link, shared = submitted(app, client, text="shared", share=True, extra={"site": str(paris)})
    submitted(app, client, text="kept to myself", extra={"site": str(paris)})
    rep = staff(app, "rep@example.org")
    assert "<dt>Site</dt><dd>Paris</dd>" in rep.get(f"{STAFF}/{shared}").text
    with app.app_context():
        rows = db.session.execute(select(Statement).order_by(Statement.id)).scalars().all()
        assert [s.site_id for s in rows] == [paris, None]
    author_choose(app, link, "reps_only", share=False)
    assert "Paris" not in rep.get(f"{STAFF}/{shared}").text
    with app.app_context():
        assert db.session.execute(select(Statement.site_id).where(
            Statement.public_id == shared)).scalar_one() is None
