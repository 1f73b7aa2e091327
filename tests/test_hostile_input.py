"""Hostile input to every form of the app: never a 500, never a stored record.

Every endpoint that accepts a POST is a target (`targets()`; `test_every_post_endpoint_is_a_target`
fails for a new one): the public forms, the private pages' buttons, sign-in and its second step,
the staff forms and buttons, the admin's. Each property test posts generated submissions to one
form: a valid submission with at least one field made invalid (the "breaker", which must get it
refused), other fields replaced by hostile values (huge, control characters, invalid UTF-8, SQL
and template injection, wrong types, extra fields for mass assignment, duplicated keys), forged
ids of the other campaign's units, petitions, notes, actions, statements and releases, sent
urlencoded, as multipart with a file where text belongs, or as JSON. Whatever is sent, the answer
is a 4xx or the form again (200) with an error message, never a 5xx, in French when asked in
French; every table of the database is the same row for row afterwards; a private page or a
staff session is still open; and ``{{7*7}}`` is never rendered as 49. Hypothesis `note()`s each
submission (printed when a case fails) and counts the answers with `event()`
(`pytest --hypothesis-show-statistics`).

The world the forms act on is built once per module and each test gets a copy of its database
(a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL), with the sessions of its
viewers (their cookies), so that the ~45 forms fit the time budget.
"""

import csv as csv_module
import hashlib
import html
import io
import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Callable
from urllib.parse import quote, urlencode

import pyotp
import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart
from wtforms.i18n import messages_path

from campaign import catalogs
from campaign.extensions import db
from campaign.models import Petition, Signature, Statement, Unit
from campaign.services import petitions as petition_service
from campaign.services import signatures as signature_service
from campaign.services.campaigns import get_by_slug
from tests.conftest import (
    DEFAULT_PASSWORD,
    TOTP_SECRET,
    csrf_token,
    login,
    submit_code,
    totp_code,
)
from tests.template_database import TemplateDatabase

HOSTILE = settings(
    max_examples=40,
    deadline=None,
    derandomize=os.environ.get("CI") == "true",  # the same cases on every CI run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
#: ~45 forms in the time budget (the whole file in under 3 minutes on 2 cores): a form with
#: fields gets more draws than a button, whose only breakers are its token and its address
FORM_DRAWS = settings(HOSTILE, max_examples=40)
BUTTON_DRAWS = settings(HOSTILE, max_examples=15)
MISSING = object()  # a field left out of the submission
#: evaluated as a template it would read "zq49qz"
TEMPLATE_MARK = "zq{{7*7}}qz"
EVALUATED_MARK = "zq49qz"
INJECTIONS = [
    "{{7*7}}", TEMPLATE_MARK, "{% print 7*7 %}", "${7*7}", "#{7*7}", "{{config}}",
    "{{ self.__init__.__globals__ }}", "' OR 1=1 --", "'; DROP TABLE signatures; --",
    '" OR ""="', "1; SELECT pg_sleep(5)--", "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>', "javascript:alert(1)", "=cmd|' /C calc'!A0",
    "+SUM(1,1)", "@SUM(1+1)", "-2+3", "../../../../etc/passwd", "%00", "\x00", "\r\nBcc: x@y.z",
    "\u202etxt.exe", "\ufeff", "\U0001d54f" * 20, "null", "None", "[]", "{}", "-1", "1e308",
    "NaN", "0x41", "true",
]
#: what a refused form shows: the error summary, an invalid field, or a field's message
ERROR_MARKERS = ('role="alert"', 'aria-invalid="true"', 'class="error"')
#: what no answer may show: a trace, a database error, an evaluated template
LEAKS = ("Traceback", "OperationalError", "IntegrityError", "sqlalchemy", "psycopg",
         "jinja2.exceptions", EVALUATED_MARK)
EXTRA_FIELDS = {"id": "1", "is_admin": "1", "is_shadow": "1", "campaign_id": "2",
                "petition_id": "2", "signer_key": "x", "status": "published",
                "confirmed_on": "2020-01-01", "source": "paper", "role": "organizer",
                "user_id": "1", "totp_enrolled_at": "2020-01-01", "visibility": "public",
                "is_published": "1"}

control_text = st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Co"]),
                       min_size=1, max_size=40)
hostile_text = st.one_of(
    st.sampled_from(INJECTIONS),
    st.text(max_size=200),
    control_text,
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=10), st.sampled_from(INJECTIONS),
              control_text),
    st.integers(min_value=1_000, max_value=300_000).map(lambda n: "\u00e9" * n),
)
json_value = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
                       st.lists(st.text(max_size=5), max_size=3),
                       st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
invalid_utf8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                                b"\x80abc", b"ok\xfe\xff"])


def _valid_email(value):
    try:
        validate_email(value, check_deliverability=False)
    except (EmailNotValidError, TypeError, ValueError):
        return False
    return True


bad_email = st.one_of(
    st.sampled_from(["", "plainaddress", "a@", "@example.org", "a b@example.org", "a@b@c.org",
                     "a@localhost", "a@[127.0.0.1]", "' OR 1=1 --@x", "{{7*7}}@x",
                     "<script>@example.org", "a@example.org\r\nBcc: b@example.org",
                     "x" * 250 + "@example.org"]),
    hostile_text.filter(lambda v: not _valid_email(v.strip())),
)


def huge(limit):
    return st.integers(min_value=limit + 1, max_value=limit + 5_000).map(lambda n: "x" * n)


def not_a_unit(foreign_ids):
    """Site or department values no campaign form may accept for campaign "acme"."""
    return st.one_of(st.sampled_from(foreign_ids), st.sampled_from(
        ["abc", "-1", "0", "99999999", "1e3", "1.0", "' OR 1=1 --", "{{7*7}}", "\x00"]))


bad_date = st.sampled_from(["", "2026-02-30", "2026-13-01", "abc", "31/12/2026", "20261120",
                            "0000-01-01", "99999-01-01", "2026-11-20T10:00", "{{7*7}}", "\x00",
                            MISSING])
#: a code that is not a 6-digit TOTP code nor a recovery code, in any writing
malformed_code = st.one_of(
    st.sampled_from(["", "   ", MISSING, "12345", "1234567", "abcdef", "12 34 56 7",
                     "\uff11\uff12\uff13\uff14\uff15\uff16", "\u0661\u0662\u0663\u0664\u0665\u0666",
                     "123456\x00", "' OR 1=1 --", "{{7*7}}", "aaaa-aaaa-aaaa-aaa"]),
    huge(64))


def totp_codes_now(secret):
    """The codes the server accepts around now (one step of drift each way)."""
    totp = pyotp.TOTP(secret)
    step = int(time.time() // 30)
    return {totp.generate_otp(s) for s in range(step - 2, step + 3)}


def wrong_totp(secret):
    """Six digits that are not this secret's code around now: a wrong guess, never a lucky one."""
    return st.integers(0, 999_999).map(lambda n: f"{n:06d}").filter(
        lambda code: code not in totp_codes_now(secret))


#: a password the policy refuses, or two that differ
bad_password = st.sampled_from(["", "short", "a" * 11, "x" * 129, "password1234", MISSING])


@dataclass
class Target:
    """One form: where its page is, where it posts, a valid submission and what breaks it."""

    name: str
    viewer: str  # public, signer, author, organizer, rep, admin, pending, enrolling
    page: str
    url: str
    valid: dict
    breakers: dict  # field -> strategy of values that must get the submission refused
    #: besides 200 with an error message: refused (400), hidden or not allowed (404, 403, 405),
    #: not a form at all (415)
    error_statuses: tuple = (400, 403, 404, 405, 415)
    #: a redirect is acceptable (the router normalising a malformed address, e.g. "//")
    redirects: bool = False
    honeypot: str | None = None
    file_field: str | None = None  # multipart file input
    other_urls: tuple = ()  # the same form of another campaign, or another's record: refused
    ignore_tables: tuple = ()
    extra: dict = field(default_factory=dict)
    #: valid values known only when sending (a TOTP code): fresh(app, ids) -> fields
    fresh: Callable | None = None
    #: a page the viewer's session opens: still open after a refused submission
    kept_page: str | None = None
    #: the valid submission ends that session (signing out, leaving or erasing a private page)
    ends_session: bool = False
    #: the valid submission changes the database (leaving a private page only empties the
    #: cookie: `kept_page` shows it)
    stores: bool = True
    #: the endpoint reads no form, only the CSRF token: a JSON body with the token in the
    #: header is a request like any other (sign out, an admin's reset of a second factor)
    reads_form: bool = True


# --- the world: built once per module, a copy of its database for each test --------------------

RATE_LIMITS = ("SIGN_RATE_LIMIT", "LINK_RATE_LIMIT", "STATEMENT_RATE_LIMIT", "LOGIN_RATE_LIMIT")
UNITS = (("site", "paris", "Paris", "Paris"), ("site", "lyon", "Lyon", "Lyon"),
         ("department", "dev", "Développement", "Development"),
         ("department", "ops", "Exploitation", "Operations"))
#: viewer -> (e-mail, is admin, roles) of staff signed in through both steps in the world
STAFF = {"organizer": ("org@example.org", False, (("acme", "organizer"),)),
         "rep": ("rep@example.org", False, (("acme", "rep"),)),
         "admin": ("admin@example.org", True, ())}
#: viewer -> e-mail of an account past the password step only: "pending" enrolled its second
#: factor, "enrolling" has yet to. A pending login lasts 5 minutes: each test takes its own.
PENDING = {"pending": "recovering@example.org", "enrolling": "enrolling@example.org"}
#: the rep whom the admin pages act on (never signed in)
TARGET_USER = "target@example.org"
PRIVATE_LINK = re.compile(r"http://localhost(/s/[A-Za-z0-9_-]{43})")
SECRET_RE = re.compile(r'id="totp-secret">([A-Z2-7 ]+)</code>')
RECOVERY_RE = re.compile(r"<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code></li>")


def _password_step(client, email):
    page = client.get("/login")
    return client.post("/login", data={"email": email, "password": DEFAULT_PASSWORD,
                                       "csrf_token": csrf_token(page.text)})


def _holder(app, page, url, data):
    """A browser that submitted a form and opened the private link the answer shows."""
    client = app.test_client()
    form = client.get(page)
    done = client.post(url, data={"csrf_token": csrf_token(form.text), **data})
    link = PRIVATE_LINK.search(done.text).group(1)
    assert client.get(link).status_code == 302
    return client


def build_world(app):
    """Two campaigns with units, open petitions, a draft, an e-mail-verified petition with a
    pending signature; in each campaign a meeting note, an action, a statement waiting for
    moderation (anonymous: opening it audits nothing) and a tally release taken two hours ago; a
    signer and an author holding private-link sessions; an organizer, a rep and an admin signed
    in; a rep the admin pages act on; an account that enrolled its second factor through the
    pages (its secret and recovery codes kept, the first code used) and one yet to enrol (past
    its password step once, so its pending secret exists); a pending invitation.
    Returns (ids, the viewers' browsers)."""
    from campaign.models.base import utcnow
    from campaign.models.statements import PUBLIC_ANONYMOUS
    from campaign.models.tallies import RELEASE_ON_DEMAND
    from campaign.services import accounts, campaigns, meetings, statements, tallies
    from campaign.services import actions as action_service

    ids = {}
    with app.app_context():
        for slug in ("acme", "other"):
            campaign = campaigns.create_campaign(
                slug, actor=None, title_fr=f"Campagne {slug}", title_en=f"Campaign {slug}",
                summary_fr="Résumé en français.", summary_en="Summary in English.",
                employer="Example Corp", employer_domains="example-corp.example",
                status="active")
            for kind, code, fr, en in UNITS:
                campaigns.add_unit(campaign, kind, code, actor=None, name_fr=fr, name_en=en)
        acme, other = get_by_slug("acme"), get_by_slug("other")
        petition_service.create_petition(acme, "end-it", actor=None, title_en="Stop it",
                                         title_fr="Arrêtez", status="open", refresh_minutes=60)
        petition_service.create_petition(acme, "draft", actor=None, title_en="Draft",
                                         status="draft")
        petition_service.create_petition(acme, "verify", actor=None, title_en="Verified",
                                         status="open", verification="email")
        petition_service.create_petition(other, "theirs", actor=None, title_en="Theirs",
                                         status="open")
        for email, is_admin, roles in [*STAFF.values(), (TARGET_USER, False, (("acme", "rep"),))]:
            user = accounts.create_user(email, email.split("@")[0], password=DEFAULT_PASSWORD,
                                        is_admin=is_admin)
            for slug, role in roles:
                accounts.grant(user, get_by_slug(slug), role, actor=None)
            accounts.set_totp_secret(user, TOTP_SECRET)
            user.totp_enrolled_at = utcnow()
        for email in PENDING.values():
            accounts.create_user(email, email.split("@")[0], password=DEFAULT_PASSWORD)
        _invitee, ids["invitation"] = accounts.invite("invitee@example.org", "Invitee",
                                                      actor=None)
        two_hours_ago = utcnow() - timedelta(hours=2)
        for campaign, petition, prefix in ((acme, "end-it", ""), (other, "theirs", "other_")):
            ids[prefix + "note"] = meetings.create_note(
                campaign, actor=None, title="Works council", held_on=date(2026, 11, 20),
                kind="works_council", visibility="reps_and_organizers").public_id
            ids[prefix + "action"] = action_service.create_action(
                campaign, actor=None, kind="rally", happens_on=date(2026, 12, 1),
                title_en="Rally", visibility="internal").public_id
            statement, _token = statements.submit(campaign, statements.StatementInput(
                text="The contract is wrong.", language="en", publication=PUBLIC_ANONYMOUS,
                locale="en"), link_for=lambda token: f"http://localhost/s/{token}")
            ids[prefix + "statement"] = statement.public_id
            ids[prefix + "release"] = tallies.take_release(
                petition_service.get(campaign, petition), kind=RELEASE_ON_DEMAND,
                now=two_hours_ago).release.public_id
        db.session.commit()
        ids.update(
            acme_units={(u.kind, u.code): u.id for u in acme.units},
            other_units=[u.id for u in other.units],
            petitions={p.slug: p.public_id for p in
                       db.session.execute(select(Petition)).scalars()},
            target=accounts.get_user_by_email(TARGET_USER).public_id,
        )
    # A signer of the e-mail-verified petition (pending confirmation), holding their private page.
    clients = {"signer": _holder(app, "/c/acme/p/verify", "/c/acme/p/verify/sign", {
        "name": "Pending Pat", "email": "pending@personal.example", "version_public_name": "1",
        "version_share_with_reps": "1", "version_contact": "1"})}
    clients["author"] = _holder(app, "/c/acme/statements/new", "/c/acme/statements/new", {
        "text": "My words.", "language": "en", "publication": "reps_only",
        "version_publish": "1", "version_publish_named": "1", "version_share_with_reps": "1"})
    for viewer, (email, _is_admin, _roles) in STAFF.items():
        clients[viewer] = app.test_client()
        assert login(clients[viewer], email).status_code == 302
    # Enrolled through the pages, then signed in once with its first recovery code.
    enrolment = app.test_client()
    assert _password_step(enrolment, PENDING["pending"]).status_code == 302
    page = enrolment.get("/login/enrol")
    ids["pending_secret"] = SECRET_RE.search(page.text).group(1).replace(" ", "")
    done = enrolment.post("/login/enrol", data={
        "code": totp_code(app, PENDING["pending"], ids["pending_secret"]),
        "csrf_token": csrf_token(page.text)})
    ids["recovery_codes"] = RECOVERY_RE.findall(done.text)
    assert len(ids["recovery_codes"]) == 10, done.status_code
    recovering = app.test_client()
    assert _password_step(recovering, PENDING["pending"]).status_code == 302
    assert submit_code(recovering, ids["recovery_codes"][0]).status_code == 302
    assert _password_step(app.test_client(), PENDING["enrolling"]).status_code == 302
    with app.app_context():
        ids["enrolling_secret"] = accounts.totp_secret(
            accounts.get_user_by_email(PENDING["enrolling"]))
        # The author's statement, kept for the reps: not theirs to publish.
        ids["reps_only_statement"] = db.session.execute(
            select(Statement.public_id).order_by(Statement.id.desc()).limit(1)).scalar_one()
        db.session.remove()
    return ids, clients


class WorldTemplate(TemplateDatabase):
    """The world, built once per module; `.ids` and the viewers' session cookies are kept."""

    def __init__(self, folder):
        super().__init__(folder, "hostile_world", self._build,
                         **{key: "1000000 per minute" for key in RATE_LIMITS})

    def _build(self, app):
        self.ids, clients = build_world(app)
        self.cookie = app.config["SESSION_COOKIE_NAME"]
        self.cookies = {viewer: client.get_cookie(self.cookie).value
                        for viewer, client in clients.items()}


class Browsers(dict):
    """Each viewer's browser on a copy of the world, made when first asked for: the cookie the
    viewer held in the world, or for a pending login a fresh password step."""

    def __init__(self, app, template):
        super().__init__()
        self.app, self.template = app, template

    def __missing__(self, viewer):
        client = self.app.test_client()
        if viewer in self.template.cookies:
            client.set_cookie(self.template.cookie, self.template.cookies[viewer])
        elif viewer in PENDING:
            assert _password_step(client, PENDING[viewer]).status_code == 302
        else:
            assert viewer == "public", viewer
        self[viewer] = client
        return client


@pytest.fixture(scope="module")
def world_template(tmp_path_factory):
    template = WorldTemplate(tmp_path_factory.mktemp("hostile"))
    yield template
    template.close()


@pytest.fixture
def world(world_template):
    """A copy of the world for this test: its app, ids and the viewers' browsers."""
    with world_template.copy() as app:
        yield {"app": app, "ids": world_template.ids, "clients": Browsers(app, world_template)}


def targets(ids):
    units, foreign, petitions = ids["acme_units"], ids["other_units"], ids["petitions"]
    site, department = units[("site", "paris")], units[("department", "dev")]
    versions = {"version_public_name": "1", "version_share_with_reps": "1",
                "version_contact": "1"}
    # Versions that str.isdigit() takes for digits but int() refuses ("\u00b2", more than 4300
    # digits) or that SQLite cannot hold (2**63 and more) once gave a 500.
    bad_version = st.sampled_from(["abc", "999", "-1", "1.0", " 1", "\x00", "{{7*7}}",
                                   "\u00b2", "1" * 5000, "9" * 20])
    staff_petition = "/staff/campaigns/acme/petitions/end-it"
    forged_token = st.sampled_from([MISSING, "", "forged", "{{7*7}}"])
    invitation = f"/invitation/{ids['invitation']}"
    admin_user = f"/admin/users/{ids['target']}"
    tallies = staff_petition + "/tallies/"
    statement = f"/staff/campaigns/acme/statements/{ids['statement']}"
    notes, actions = "/staff/campaigns/acme/notes/", "/staff/campaigns/acme/actions"
    note_fields = {"title": "Works council", "held_on": "2026-11-20", "kind": "works_council",
                   "attendees": "", "body": "Agreed: **nothing**.", "decisions": "",
                   "follow_ups": "", "visibility": "reps_and_organizers"}
    action_fields = {"kind": "rally", "happens_on": "2026-12-01", "title_fr": "",
                     "title_en": "Rally", "description_fr": "", "description_en": "",
                     "participant_count": "", "visibility": "internal"}

    def other_statements(button):
        """Another campaign's statement through this campaign's address, this campaign's
        through the other's, an unknown one (and for publishing, one kept for the reps)."""
        return ((f"/staff/campaigns/acme/statements/{ids['other_statement']}/{button}",
                 f"/staff/campaigns/other/statements/{ids['statement']}/{button}",
                 f"/staff/campaigns/acme/statements/nothing/{button}")
                + ((f"/staff/campaigns/acme/statements/{ids['reps_only_statement']}/publish",)
                   if button == "publish" else ()))

    return {t.name: t for t in [
        Target(
            "sign", "public", "/c/acme/p/end-it", "/c/acme/p/end-it/sign",
            valid={"name": "Valid Name", "email": "valid@personal.example",
                   "site": str(site), "department": str(department),
                   "consent_public_name": "y", **versions},
            breakers={"name": st.one_of(st.sampled_from(["", "   ", "\t\n", MISSING]),
                                        huge(120)),
                      "email": st.one_of(bad_email, st.just(MISSING)),
                      "site": not_a_unit(foreign), "department": not_a_unit(foreign),
                      "version_public_name": bad_version, "version_contact": bad_version,
                      "csrf_token": st.sampled_from([MISSING, "", "forged", "{{7*7}}"])},
            honeypot="website",
            other_urls=("/c/acme/p/draft/sign", "/c/acme/p/nothing/sign",
                        "/c/nothing/p/end-it/sign")),
        Target(
            "lost_link", "public", "/lost-link", "/lost-link",
            valid={"email": "valid@personal.example", "petition": petitions["end-it"]},
            breakers={"email": st.one_of(bad_email, st.just(MISSING)),
                      "petition": st.one_of(st.sampled_from([petitions["draft"], MISSING]),
                                            hostile_text),
                      "csrf_token": st.sampled_from([MISSING, "forged"])}),
        Target(
            "confirm", "public", "/c/acme/p/verify", "/confirm/{token}",
            valid={}, breakers={"__token__": st.one_of(
                st.sampled_from(["a" * 43, "0" * 43, "", "..", "%2e%2e"]),
                hostile_text.map(lambda v: v[:2000]))}, redirects=True),
        Target(
            "statement", "public", "/c/acme/statements/new", "/c/acme/statements/new",
            valid={"text": "The contract is wrong.", "language": "en", "name": "",
                   "email": "", "publication": "reps_only", "site": "", "department": "",
                   "version_publish": "1", "version_publish_named": "1",
                   "version_share_with_reps": "1"},
            breakers={"text": st.one_of(st.sampled_from(["", "  \n ", MISSING]),
                                        huge(10_000)),
                      "publication": st.one_of(st.sampled_from(["public", "", "all"]),
                                               hostile_text),
                      "email": bad_email.filter(lambda v: v.strip() != ""),
                      "name": huge(120),
                      "site": not_a_unit(foreign),
                      "version_publish": bad_version, "version_share_with_reps": bad_version,
                      "csrf_token": st.sampled_from([MISSING, "forged"])},
            honeypot="website", extra={"named_without_name": True},
            other_urls=("/c/nothing/statements/new",)),
        Target(
            "signer_consent", "signer", "/me", "/me/consent",
            valid={"purpose": "contact", "granted": "1"},
            breakers={"purpose": st.one_of(st.sampled_from(["", MISSING, "publish", "contacts",
                                                            "CONTACT"]), hostile_text),
                      "granted": st.sampled_from(["", MISSING]),
                      "csrf_token": st.sampled_from([MISSING, "forged"])}),
        Target(
            "author_choices", "author", "/my-statement", "/my-statement/choices",
            valid={"publication": "public_anonymous", "consent_share_with_reps": "y",
                   "version_publish": "1", "version_publish_named": "1",
                   "version_share_with_reps": "1"},
            breakers={"publication": st.one_of(st.sampled_from(["", MISSING, "public"]),
                                               hostile_text),
                      "version_publish": bad_version,
                      "csrf_token": st.sampled_from([MISSING, "forged"])}),
        Target(
            "login", "public", "/login", "/login",
            valid={"email": "org@example.org", "password": "correct horse battery staple"},
            breakers={"password": st.one_of(st.sampled_from(["", MISSING, "x" * 129]),
                                            hostile_text)},
            ignore_tables=("audit_events",)),  # a failed sign-in is audited, by design
        Target(
            "campaign_edit", "organizer", "/staff/campaigns/acme/edit",
            "/staff/campaigns/acme/edit",
            valid={"title_fr": "Campagne", "title_en": "Campaign", "summary_fr": "",
                   "summary_en": "", "employer": "Example Corp",
                   "employer_domains": "example-corp.example", "status": "active",
                   "retention_days": "180", "tally_threshold": "10"},
            # (A field left out keeps the campaign's value: not a breaker for this form.)
            breakers={"employer": st.one_of(st.sampled_from(["", "  "]), huge(200)),
                      "retention_days": st.sampled_from(["", "abc", "-1", "0", "3651", "1e3",
                                                         "' OR 1=1 --"]),
                      "tally_threshold": st.sampled_from(["4", "0", "abc", "1001", "-5"]),
                      "status": st.one_of(st.sampled_from(["", "deleted"]), hostile_text),
                      "summary_fr": huge(5_000),
                      "employer_domains": st.sampled_from(["nodot", "a b.example", "x" * 254]),
                      "csrf_token": st.sampled_from([MISSING, "forged"])},
            other_urls=("/staff/campaigns/other/edit",)),
        Target(
            "unit_add", "organizer", "/staff/campaigns/acme", "/staff/campaigns/acme/units",
            valid={"kind": "site", "code": "nantes", "name_fr": "Nantes", "name_en": "Nantes",
                   "headcount": "12"},
            breakers={"code": st.one_of(st.sampled_from(["", "UPPER", "a b", "-x", "x-",
                                                         "paris", "x" * 33, MISSING]),
                                        hostile_text),
                      "kind": st.one_of(st.sampled_from(["", "room"]), hostile_text),
                      "headcount": st.sampled_from(["-1", "abc", "1000001", "1.5", "{{7*7}}"]),
                      "csrf_token": st.sampled_from([MISSING, "forged"])},
            extra={"no_names": True}, other_urls=("/staff/campaigns/other/units",)),
        Target(
            "petition_edit", "organizer", staff_petition + "/edit", staff_petition + "/edit",
            valid={"title_fr": "Arrêtez", "title_en": "Stop it", "text_fr": "", "text_en": "",
                   "addressee": "", "goal": "100", "opens_on": "", "closes_on": "",
                   "status": "open", "verification": "none", "ask_site": "y",
                   "ask_department": "y", "refresh_minutes": "60"},
            breakers={"goal": st.sampled_from(["0", "-5", "abc", "10000001", "1e9"]),
                      "opens_on": st.sampled_from(["2026-02-30", "abc", "31/12/2026",
                                                   "{{7*7}}"]),
                      "status": st.one_of(st.sampled_from(["", "deleted"]), hostile_text),
                      "verification": st.sampled_from(["", "sms", "{{7*7}}"]),
                      "refresh_minutes": st.sampled_from(["0", "1441", "", "x"]),
                      "text_fr": huge(20_000), "addressee": huge(200),
                      "csrf_token": st.sampled_from([MISSING, "forged"])},
            extra={"no_titles": True, "closes_before_opens": True},
            other_urls=("/staff/campaigns/other/petitions/theirs/edit",)),
        Target(
            "paper_entry", "rep", staff_petition + "/paper", staff_petition + "/paper",
            valid={"name": "Paper Paula", "email": "", "site": str(site),
                   "department": str(department), "consent_contact": "y", "version": "1",
                   "batch_label": ""},
            breakers={"name": st.one_of(st.sampled_from(["", "  ", MISSING]), huge(120)),
                      "email": bad_email.filter(lambda v: v.strip() != ""),
                      "site": not_a_unit(foreign), "department": not_a_unit(foreign),
                      # (Left out, the version is the form's default, 1: not a breaker.)
                      "version": st.sampled_from(["0", "1001", "abc", "999", ""]),
                      "batch_label": huge(120),
                      "csrf_token": st.sampled_from([MISSING, "forged"])},
            other_urls=("/staff/campaigns/other/petitions/theirs/paper",)),
        Target(
            "paper_batch", "rep", staff_petition + "/paper", staff_petition + "/paper/batch",
            valid={"batch-batch_label": "Assembly", "batch-version": "1"},
            breakers={"batch-batch_label": st.one_of(st.sampled_from(["", " ", MISSING]),
                                                     huge(120)),
                      "batch-version": st.sampled_from(["0", "1001", "abc", "999", ""]),
                      "batch-file": st.just(MISSING),
                      "csrf_token": st.sampled_from([MISSING, "forged"])},
            file_field="batch-file",
            other_urls=("/staff/campaigns/other/petitions/theirs/paper/batch",)),
        # --- the private pages' buttons ------------------------------------------------------
        *[Target(f"signer_{button}", "signer", "/me", f"/me/{button}", valid={},
                 breakers={"csrf_token": forged_token}, kept_page="/me",
                 ends_session=button in ("erase", "leave"), stores=button != "leave")
          for button in ("withdraw", "erase", "leave")],
        *[Target(f"author_{button}", "author", "/my-statement", f"/my-statement/{button}",
                 valid={}, breakers={"csrf_token": forged_token}, kept_page="/my-statement",
                 ends_session=button == "erase")
          for button in ("withdraw", "erase")],
        # --- signing in: the code pages, the invitation, signing out ---------------------------
        Target(
            "second_factor", "pending", "/login/code", "/login/code",
            valid={"code": "placeholder"},  # a right code is made when sending: `fresh`
            breakers={"code": st.one_of(malformed_code, wrong_totp(ids["pending_secret"]),
                                        st.sampled_from(ids["recovery_codes"][:1])),
                      "csrf_token": forged_token},
            fresh=lambda app, ids: {"code": totp_code(app, PENDING["pending"],
                                                      ids["pending_secret"])},
            # A wrong code is audited (second_factor_failed) and committed, by design.
            ignore_tables=("audit_events",)),
        Target(
            "recovery_code", "pending", "/login/code", "/login/code",
            valid={"code": ids["recovery_codes"][1]},
            breakers={"code": st.one_of(
                malformed_code,
                # the code used when the world was built; a code with one character changed
                st.just(ids["recovery_codes"][0]),
                st.sampled_from(ids["recovery_codes"][1:]).map(
                    lambda c: c[:-1] + ("2" if c[-1] != "2" else "3")),
                st.from_regex(r"\A[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}\Z")
                .filter(lambda c: c not in ids["recovery_codes"])),
                "csrf_token": forged_token},
            # A wrong code is audited (second_factor_failed) and committed, by design.
            ignore_tables=("audit_events",)),
        Target(
            "enrol", "enrolling", "/login/enrol", "/login/enrol",
            valid={"code": "placeholder"},
            breakers={"code": st.one_of(malformed_code, wrong_totp(ids["enrolling_secret"]),
                                        st.just(ids["recovery_codes"][1])),
                      "csrf_token": forged_token},
            fresh=lambda app, ids: {"code": totp_code(app, PENDING["enrolling"],
                                                      ids["enrolling_secret"])},
            # A wrong first code is audited (second_factor_failed) and committed, by design.
            ignore_tables=("audit_events",)),
        Target(
            "accept_invitation", "public", invitation, invitation,
            valid={"password": "a brand new passphrase", "confirm": "a brand new passphrase"},
            breakers={"password": bad_password,
                      "confirm": st.sampled_from(["", "another passphrase", MISSING]),
                      "csrf_token": forged_token},
            other_urls=("/invitation/" + "a" * 43, "/invitation/nothing",
                        invitation + "x", invitation[:-1])),
        Target("logout", "organizer", "/staff/", "/logout", valid={},
               breakers={"csrf_token": forged_token}, kept_page="/staff/", ends_session=True,
               reads_form=False),
        # --- one's own account ------------------------------------------------------------------
        Target(
            "account", "organizer", "/account", "/account",
            valid={"display_name": "Org Renamed", "locale": "fr"},
            # (A field left out keeps the account's value: not a breaker for this form.)
            breakers={"display_name": st.one_of(st.sampled_from(["", "  ", "\x00"]), huge(120)),
                      "locale": st.one_of(st.sampled_from(["", "de", "FR", "fr_FR"]),
                                          hostile_text),
                      "csrf_token": forged_token}),
        Target(
            "change_password", "organizer", "/account", "/account/password",
            valid={"pw-current": DEFAULT_PASSWORD, "pw-password": "a brand new passphrase",
                   "pw-confirm": "a brand new passphrase"},
            breakers={"pw-current": st.sampled_from(["", "not the password", MISSING,
                                                     DEFAULT_PASSWORD.upper(), "x" * 129]),
                      "pw-password": bad_password,
                      "pw-confirm": st.sampled_from(["", "another passphrase", MISSING]),
                      "csrf_token": forged_token},
            kept_page="/staff/"),
        # --- admins -----------------------------------------------------------------------------
        Target(
            "admin_invite", "admin", "/admin/users/invite", "/admin/users/invite",
            valid={"email": "newcomer@example.org", "display_name": "Newcomer", "locale": "fr"},
            breakers={"email": st.one_of(bad_email, st.sampled_from(
                          [MISSING, "org@example.org", "ORG@Example.org", " rep@example.org "])),
                      "display_name": st.one_of(st.sampled_from(["", "  ", MISSING]),
                                                huge(120)),
                      "locale": st.one_of(st.sampled_from(["", "de", MISSING]), hostile_text),
                      "csrf_token": forged_token}),
        Target(
            "admin_grant", "admin", admin_user, admin_user + "/memberships",
            valid={"campaign": "other", "role": "organizer"},
            breakers={"campaign": st.one_of(st.sampled_from(["", "nothing", "ACME", MISSING]),
                                            hostile_text),
                      "role": st.one_of(st.sampled_from(["", "admin", "Organizer", MISSING]),
                                        hostile_text),
                      "csrf_token": forged_token},
            other_urls=("/admin/users/nobody/memberships",)),
        Target(
            "admin_revoke", "admin", admin_user, admin_user + "/memberships/acme/rep/revoke",
            valid={}, breakers={"csrf_token": forged_token},
            other_urls=(admin_user + "/memberships/nothing/rep/revoke",
                        admin_user + "/memberships/acme/admin/revoke",
                        "/admin/users/nobody/memberships/acme/rep/revoke")),
        Target(
            "admin_set_active", "admin", admin_user, admin_user + "/active",
            valid={"active": "0"}, breakers={"csrf_token": forged_token},
            other_urls=("/admin/users/nobody/active",)),
        Target(
            "admin_delete_user", "admin", admin_user, admin_user + "/delete",
            valid={"email": TARGET_USER},
            # another account's address, the admin's own, or no address at all: nothing goes
            breakers={"email": st.one_of(bad_email, st.sampled_from(
                          ["", MISSING, "org@example.org", "admin@example.org",
                           "target@example.com", "target"])),
                      "csrf_token": forged_token},
            other_urls=("/admin/users/nobody/delete",)),
        Target(
            "admin_reset_second_factor", "admin", admin_user,
            admin_user + "/second-factor/reset", valid={},
            breakers={"csrf_token": forged_token},
            other_urls=("/admin/users/nobody/second-factor/reset",), reads_form=False),
        Target(
            "admin_consent_texts", "admin", "/admin/consent-texts", "/admin/consent-texts",
            valid={"purpose": "contact", "text_fr": "Me contacter.", "text_en": "Contact me."},
            breakers={"purpose": st.one_of(st.sampled_from(["", "contacts", "CONTACT",
                                                            MISSING]), hostile_text),
                      "text_fr": st.one_of(st.sampled_from(["", " \n ", MISSING]), huge(2000)),
                      "text_en": st.one_of(st.sampled_from(["", MISSING]), huge(2000)),
                      "csrf_token": forged_token}),
        # --- campaigns, units, petitions (organizers) -------------------------------------------
        Target(
            "campaign_new", "organizer", "/staff/campaigns/new", "/staff/campaigns/new",
            valid={"slug": "brand-new", "title_fr": "", "title_en": "New campaign",
                   "summary_fr": "", "summary_en": "", "employer": "Example Corp",
                   "employer_domains": "", "status": "draft", "retention_days": "180",
                   "tally_threshold": "10"},
            # "new" would hide the campaign's page behind this form's address.
            breakers={"slug": st.one_of(st.sampled_from(["", "new", "acme", "other", "UPPER", "a b",
                                                         "-x", "x-", "x" * 65, "é", MISSING]),
                                        hostile_text),
                      "employer": st.one_of(st.sampled_from(["", "  ", MISSING]), huge(200)),
                      "retention_days": st.sampled_from(["", "abc", "-1", "3651", "1e3"]),
                      "tally_threshold": st.sampled_from(["4", "0", "abc", "1001"]),
                      "status": st.one_of(st.sampled_from(["", "deleted"]), hostile_text),
                      "csrf_token": forged_token},
            extra={"no_titles": True}),
        Target(
            "unit_edit", "organizer", "/staff/campaigns/acme/units/site/paris",
            "/staff/campaigns/acme/units/site/paris",
            valid={"name_fr": "Paris", "name_en": "Paris", "headcount": "42", "position": "3",
                   "is_active": "y"},
            breakers={"headcount": st.sampled_from(["-1", "abc", "1000001", "1.5", "{{7*7}}"]),
                      "position": st.sampled_from(["-1", "10001", "abc", "1e3", "99999999999"]),
                      "name_fr": huge(120), "name_en": huge(120),
                      "csrf_token": forged_token},
            extra={"no_names": True},
            other_urls=("/staff/campaigns/other/units/site/paris",
                        "/staff/campaigns/acme/units/site/nowhere",
                        "/staff/campaigns/acme/units/room/paris",
                        "/staff/campaigns/acme/units/department/paris")),
        Target(
            "petition_new", "organizer", "/staff/campaigns/acme/petitions/new",
            "/staff/campaigns/acme/petitions/new",
            valid={"slug": "new-one", "title_fr": "", "title_en": "New one", "text_fr": "",
                   "text_en": "", "addressee": "", "goal": "", "opens_on": "", "closes_on": "",
                   "status": "draft", "verification": "none", "ask_site": "y",
                   "refresh_minutes": "15"},
            # "new" would hide the petition's staff page behind this form's address.
            breakers={"slug": st.one_of(st.sampled_from(["", "new", "end-it", "draft", "Bad Slug",
                                                         "x" * 65, MISSING]), hostile_text),
                      "goal": st.sampled_from(["0", "-5", "abc", "10000001"]),
                      "closes_on": bad_date.filter(lambda v: v not in ("", MISSING)),
                      "status": st.one_of(st.sampled_from(["", "archived"]), hostile_text),
                      "verification": st.sampled_from(["", "sms", MISSING]),
                      "refresh_minutes": st.sampled_from(["0", "1441", "", "x", MISSING]),
                      "text_en": huge(20_000),
                      "csrf_token": forged_token},
            extra={"no_titles": True, "closes_before_opens": True},
            other_urls=("/staff/campaigns/other/petitions/new",
                        "/staff/campaigns/nothing/petitions/new")),
        # --- tallies ----------------------------------------------------------------------------
        Target(
            "tally_export", "rep", tallies, tallies + "export",
            valid={"release": ids["release"], "by": "", "period": "week", "format": "csv",
                   "language": "fr"},
            breakers={"by": st.one_of(st.sampled_from(["site,site", "unit", "department,site",
                                                       MISSING]), hostile_text),
                      "period": st.sampled_from(["", "day", "year", MISSING]),
                      "format": st.sampled_from(["", "xlsx", "pdf", "CSV", MISSING]),
                      "language": st.sampled_from(["", "de", MISSING]),
                      "csrf_token": forged_token},
            other_urls=("/staff/campaigns/other/petitions/theirs/tallies/export",
                        "/staff/campaigns/other/petitions/end-it/tallies/export",
                        "/staff/campaigns/acme/petitions/theirs/tallies/export")),
            # (A petition without a release, e.g. the draft, sends back to the dashboard with
            # a message: a 302 that exports and stores nothing, not a refusal of the form.)
        Target(
            "tally_take_release", "organizer", tallies, tallies + "releases",
            valid={"new_series": ""}, breakers={"csrf_token": forged_token},
            other_urls=("/staff/campaigns/other/petitions/theirs/tallies/releases",
                        "/staff/campaigns/acme/petitions/theirs/tallies/releases")),
        Target(
            "tally_publish", "organizer", tallies, tallies + f"releases/{ids['release']}/publish",
            valid={}, breakers={"csrf_token": forged_token},
            other_urls=(tallies + f"releases/{ids['other_release']}/publish",
                        tallies + "releases/nothing/publish",
                        "/staff/campaigns/other/petitions/theirs/tallies/releases/"
                        f"{ids['other_release']}/publish",
                        f"/staff/campaigns/other/petitions/end-it/tallies/releases/"
                        f"{ids['release']}/publish")),
        # --- statements: moderation (reps) ------------------------------------------------------
        Target(
            "statement_publish", "rep", statement, statement + "/publish",
            valid={"redacted_text": "The contract is wrong (redacted)."},
            breakers={"redacted_text": st.one_of(st.sampled_from(["", " \n ", MISSING]),
                                                 huge(10_000)),
                      # published with a name the author neither gave nor allowed
                      "named": st.sampled_from(["y", "1", "on", "true"]),
                      "csrf_token": forged_token},
            other_urls=other_statements("publish")),
        Target(
            "statement_reject", "rep", statement, statement + "/reject",
            valid={"reject-reason": "off_topic", "reject-note": ""},
            breakers={"reject-reason": st.one_of(st.sampled_from(["", "spam", "Off_topic",
                                                                  MISSING]), hostile_text),
                      "reject-note": huge(1_000),
                      "csrf_token": forged_token},
            other_urls=other_statements("reject")),
        Target(
            "statement_translate", "rep", statement, statement + "/translation",
            valid={"translation-translation": "Le contrat est injuste."},
            breakers={"translation-translation": huge(10_000), "csrf_token": forged_token},
            other_urls=other_statements("translation")),
        # --- meeting notes (reps) and actions (reps and organizers) ---------------------------
        Target(
            "note_new", "rep", notes + "new", notes + "new",
            valid=note_fields,
            breakers={"title": st.one_of(st.sampled_from(["", "  ", MISSING]), huge(200)),
                      "held_on": bad_date,
                      "kind": st.one_of(st.sampled_from(["", "rally", MISSING]), hostile_text),
                      "visibility": st.one_of(st.sampled_from(["", "public", "internal",
                                                               MISSING]), hostile_text),
                      "attendees": huge(2_000), "body": huge(50_000),
                      "csrf_token": forged_token},
            other_urls=("/staff/campaigns/other/notes/new",)),
        Target(
            "note_edit", "rep", notes + f"{ids['note']}/edit", notes + f"{ids['note']}/edit",
            valid={**note_fields, "title": "Works council, renamed"},
            # (A field left out keeps the note's value: not a breaker for this form.)
            breakers={"title": st.one_of(st.sampled_from(["", "  "]), huge(200)),
                      "held_on": bad_date.filter(lambda v: v is not MISSING),
                      "kind": st.one_of(st.sampled_from(["", "rally"]), hostile_text),
                      "visibility": st.one_of(st.sampled_from(["", "public"]), hostile_text),
                      "decisions": huge(50_000), "csrf_token": forged_token},
            other_urls=(notes + f"{ids['other_note']}/edit",
                        f"/staff/campaigns/other/notes/{ids['note']}/edit",
                        f"/staff/campaigns/other/notes/{ids['other_note']}/edit",
                        notes + "nothing/edit")),
        Target(
            "action_new", "organizer", actions + "/new", actions + "/new",
            valid=action_fields,
            breakers={"kind": st.one_of(st.sampled_from(["", "works_council", MISSING]),
                                        hostile_text),
                      "happens_on": bad_date,
                      "participant_count": st.sampled_from(["-1", "abc", "10000001", "1.5",
                                                            "1e3", "99999999999999999999"]),
                      "visibility": st.one_of(st.sampled_from(["", "reps_only", "secret"]),
                                              hostile_text),
                      "description_en": huge(10_000), "title_fr": huge(200),
                      "csrf_token": forged_token},
            extra={"no_titles": True},
            other_urls=("/staff/campaigns/other/actions/new",)),
        Target(
            "action_edit", "rep", actions + f"/{ids['action']}/edit",
            actions + f"/{ids['action']}/edit",
            valid={**action_fields, "title_en": "Rally, renamed"},
            # (A field left out keeps the action's value: not a breaker for this form.)
            breakers={"kind": st.one_of(st.sampled_from(["", "works_council"]), hostile_text),
                      "happens_on": bad_date.filter(lambda v: v is not MISSING),
                      "participant_count": st.sampled_from(["-1", "abc", "10000001"]),
                      "visibility": st.sampled_from(["", "reps_only"]),
                      "description_fr": huge(10_000), "csrf_token": forged_token},
            extra={"no_titles": True},
            other_urls=(actions + f"/{ids['other_action']}/edit",
                        f"/staff/campaigns/other/actions/{ids['action']}/edit",
                        actions + "/nothing/edit")),
        Target(
            "action_delete", "rep", actions, actions + f"/{ids['action']}/delete",
            valid={}, breakers={"csrf_token": forged_token},
            other_urls=(actions + f"/{ids['other_action']}/delete",
                        f"/staff/campaigns/other/actions/{ids['action']}/delete",
                        actions + "/nothing/delete")),
    ]}


# --- building a hostile submission ---------------------------------------------------------------

CSV_COLUMNS = ["name", "email", "site", "department", "public_name", "share_with_reps",
               "contact"]
csv_cell = st.one_of(st.sampled_from(["", "Ann", "yes", "no", "paris", "dev"]), hostile_text.map(
    lambda v: v[:200]))
bad_csv_row = st.sampled_from([
    ["", "x@personal.example", "", "", "", "", ""],  # missing name
    ["Ann", "", "atlantis", "", "", "", ""],  # unknown site
    ["Ann", "", "", "moon", "", "", ""],  # unknown department
    ["Ann", "not-an-address", "", "", "", "", ""],  # bad e-mail
    ["Ann", "", "", "", "maybe", "", ""],  # not yes or no
    ["x" * 121, "", "", "", "", "", ""],  # too long
    ["Ann", "", "", "", "", "", "", "extra cell"],  # more cells than columns
])


@st.composite
def csv_file(draw):
    """CSV bytes that the batch must refuse as a whole: hostile rows plus at least one bad one."""
    kind = draw(st.sampled_from(["bad_row", "bad_row", "bad_row", "encoding", "no_name_column",
                                 "empty", "duplicate"]))
    if kind == "encoding":
        return "name\nAnn\n".encode() + draw(invalid_utf8) + b"\n"
    if kind == "no_name_column":
        return ("email,site\n" + draw(csv_cell).replace("\n", " ") + ",paris\n").encode()
    if kind == "empty":
        return draw(st.sampled_from([b"", b"name\n", "name\n\n\n".encode()]))
    rows = draw(st.lists(st.lists(csv_cell, min_size=7, max_size=7), max_size=5))
    if kind == "duplicate":
        rows += [["Dup Licate", "dup@personal.example"] + [""] * 5] * 2
    else:
        rows.insert(draw(st.integers(0, len(rows))), draw(bad_csv_row))
    out = io.StringIO()
    writer = csv_module.writer(out, delimiter=draw(st.sampled_from([",", ";"])))
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


@dataclass
class Submission:
    url: str
    fields: dict
    encoding: str  # urlencoded, invalid_utf8, multipart_wrong_type, duplicate_keys, json
    description: str


@st.composite
def submissions(draw, target, token):
    fields = dict(target.valid)
    fields["csrf_token"] = token
    url = target.url
    # Hostile values in fields that are not the breaker (they may or may not be valid).
    for name in list(fields):
        if name != "csrf_token" and draw(st.booleans()):
            fields[name] = draw(hostile_text)
    # Mass assignment: fields the form does not have.
    for name in draw(st.lists(st.sampled_from(sorted(EXTRA_FIELDS)), max_size=3, unique=True)):
        fields[name] = EXTRA_FIELDS[name]
    if target.honeypot and draw(st.booleans()):
        fields[target.honeypot] = draw(hostile_text)
    # At least one breaker: what must get the submission refused.
    choices = sorted(target.breakers) + [f"__{k}__" for k, on in target.extra.items() if on]
    if target.other_urls:
        choices.append("__other_url__")
    broken = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3, unique=True))
    locked = set()  # the fields the breakers set: later steps leave them alone
    for name in broken:
        if name == "__other_url__":
            url = draw(st.sampled_from(target.other_urls))
        elif name == "__token__":
            url = target.url.format(token=quote(draw(target.breakers[name]), safe=""))
        elif name == "__named_without_name__":
            fields.update(publication="public_named", name="")
            locked |= {"publication", "name"}
        elif name == "__no_names__":
            fields.update(name_fr="", name_en="")
            locked |= {"name_fr", "name_en"}
        elif name == "__no_titles__":
            fields.update(title_fr="", title_en="")
            locked |= {"title_fr", "title_en"}
        elif name == "__closes_before_opens__":
            fields.update(opens_on="2026-05-02", closes_on="2026-05-01")
            locked |= {"opens_on", "closes_on"}
        else:
            fields[name] = draw(target.breakers[name])
            locked.add(name)
    if "{token}" in url:
        url = url.format(token=quote("a" * 43))
    if target.file_field and fields.get(target.file_field, None) is not MISSING:
        fields[target.file_field] = (draw(csv_file()), "batch.csv")
    fields = {k: v for k, v in fields.items() if v is not MISSING}
    encoding = draw(st.sampled_from(["urlencoded"] * 4 + [
        "invalid_utf8", "multipart_wrong_type", "duplicate_keys", "json"]))
    if target.file_field and encoding in ("urlencoded", "invalid_utf8", "duplicate_keys"):
        encoding = "multipart"
    free = sorted(k for k, v in fields.items() if k not in locked and k != "csrf_token"
                  and isinstance(v, str))
    if encoding == "invalid_utf8" and free:
        name = draw(st.sampled_from(free))
        fields[name] = fields[name].encode("utf-8", "surrogatepass") + draw(invalid_utf8)
    elif encoding == "duplicate_keys" and free:
        name = draw(st.sampled_from(free))
        fields[name] = [fields[name], draw(hostile_text)]
    elif encoding == "json" and free:
        # Wrong types: numbers, lists, objects and null where strings belong.
        for name in draw(st.lists(st.sampled_from(free), max_size=3, unique=True)):
            fields[name] = draw(json_value)
    elif encoding == "multipart_wrong_type":
        text_fields = free
        if text_fields:
            name = draw(st.sampled_from(sorted(text_fields)))
            fields[name] = (fields[name].encode("utf-8", "surrogatepass"), "value.txt")
    summary = {k: (_short(v) if not isinstance(v, tuple) else f"<file {len(v[0])} bytes>")
               for k, v in fields.items()}
    return Submission(url, fields, encoding,
                      f"{encoding} POST {_short(url)} breaking {broken}: {summary}")


def _short(value, limit=120):
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def post(client, url, data, content_type, headers):
    """POST a body built in memory (the test client would spool a large multipart body to a
    temporary file and leave it open)."""
    if content_type == "multipart/form-data":
        boundary, data = encode_multipart({
            name: FileStorage(stream=value[0], filename=value[1]) if isinstance(value, tuple)
            else value for name, value in data.items()})
        content_type = f"multipart/form-data; boundary={boundary}"
    return client.post(url, data=data, content_type=content_type, headers=headers)


def send(client, submission):
    fields, encoding = submission.fields, submission.encoding
    headers = {"Accept-Language": "fr"}
    if encoding == "json":
        # A JSON body with the token in the header Flask-WTF reads: values keep their JSON type.
        body = json.dumps({k: v for k, v in fields.items() if not isinstance(v, (tuple, bytes))})
        token = fields.get("csrf_token")
        if isinstance(token, str):
            headers["X-CSRFToken"] = token
        return post(client, submission.url, data=body, content_type="application/json",
                    headers=headers)
    if encoding in ("multipart", "multipart_wrong_type"):
        data = {}
        for name, value in fields.items():
            if isinstance(value, tuple):
                data[name] = (io.BytesIO(value[0]), value[1])
            elif isinstance(value, bytes):
                data[name] = value.decode("utf-8", "replace")
            else:
                data[name] = value
        return post(client, submission.url, data=data, content_type="multipart/form-data",
                    headers=headers)
    pairs = []
    for name, value in fields.items():
        for item in (value if isinstance(value, list) else [value]):
            raw = item if isinstance(item, bytes) else str(item).encode("utf-8", "surrogatepass")
            pairs.append((name, raw))
    body = urlencode(pairs)
    return post(client, submission.url, data=body,
                content_type="application/x-www-form-urlencoded", headers=headers)


# --- what the database holds ---------------------------------------------------------------------

def database_state(app, ignore=()):
    """Every row of every table, so that any insert, update or delete shows."""
    state = {}
    with app.app_context():
        for table in db.metadata.sorted_tables:
            if table.name in ignore:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            state[table.name] = [tuple(row) for row in
                                 db.session.execute(select(table).order_by(*order)).all()]
        db.session.remove()
    return state


def changed_tables(before, after):
    return sorted(name for name in before if before[name] != after[name])


# --- what the answer says, and in which language ------------------------------------------------

@lru_cache(maxsize=1)
def english_only_messages():
    """A pattern matching any message of the app's catalog, or of WTForms' own, whose French
    differs from the English: such a text on a page asked for in French is untranslated."""
    with open(catalogs.TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        found = [read_po(handle)]
    with open(os.path.join(messages_path(), "fr", "LC_MESSAGES", "wtforms.mo"), "rb") as handle:
        found.append(read_mo(handle))
    patterns = set()
    for catalog in found:
        for message in catalog:
            if not message.id or not message.string:
                continue
            english = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
            french = (message.string if isinstance(message.string, (list, tuple))
                      else (message.string,))
            for msgid in english:
                if msgid not in french:
                    parts = re.split(r"%\(\w+\)[sdifr]|%[sdif]", msgid)
                    patterns.add(".+?".join(re.escape(" ".join(p.split())) for p in parts))
    return re.compile("|".join(f"(?:{p})" for p in sorted(patterns, key=len, reverse=True)))


#: where a refusal speaks: a field's message, the error summary, the error page's title and text
SHOWN_ERRORS = re.compile(
    r'<p class="error"[^>]*>(.*?)</p>|<div class="error-summary"[^>]*>(.*?)</div>'
    r'|<h1>(.*?)</h1>\s*<p>(.*?)</p>\s*<p class="muted">', re.S)


def shown_errors(page):
    """The texts of a refusal, each also cut at ": " (a summary reads "Label: message")."""
    texts = []
    for match in SHOWN_ERRORS.finditer(page):
        for chunk in (g for g in match.groups() if g):
            for item in re.split(r"</li>|</h2>", chunk):
                words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split())
                parts = [p.strip() for p in words.split(": ") if p.strip()]
                texts += [words] + (parts if len(parts) > 1 else [])
    return [t for t in dict.fromkeys(texts) if t]


def assert_french(response, description=""):
    """A refusal asked for in French is in French: the page's language, and no message of the
    catalog left in English."""
    if response.mimetype != "text/html":
        return
    page = response.get_data(as_text=True)
    assert '<html lang="fr">' in page, f"not French: {response.status_code} {description}"
    english = english_only_messages()
    untranslated = [t for t in shown_errors(page) if english.fullmatch(t)]
    assert not untranslated, f"English in a French answer: {untranslated} {description}"


def check_answer(target, submission, response):
    status = response.status_code
    event(f"{target.name}: {status}")
    text = response.get_data(as_text=True)
    assert status < 500, f"{status} for {submission.description}"
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} in the answer to {submission.description}"
    honeypot = target.honeypot and str(submission.fields.get(target.honeypot, "")).strip()
    if status == 200:
        assert honeypot or any(marker in text for marker in ERROR_MARKERS), (
            f"200 without an error message for {submission.description}")
    elif target.redirects and status in (301, 308):
        assert response.headers["Location"].startswith(("/", "http://localhost/"))
    else:
        assert status in target.error_statuses + (413,), (
            f"{status} for {submission.description}")
    if status >= 400 or (status == 200 and not honeypot):
        # Every submission asks for French (Accept-Language: fr): so does the refusal speak.
        assert_french(response, submission.description)


# --- the targets: every form, every button --------------------------------------------------

FORM_NAMES = [
    # public, and the private pages' forms
    "sign", "lost_link", "confirm", "statement", "signer_consent", "author_choices",
    # signing in, one's account, the admin's forms
    "login", "second_factor", "recovery_code", "enrol", "accept_invitation", "account",
    "change_password", "admin_invite", "admin_grant", "admin_delete_user", "admin_consent_texts",
    # campaigns, units, petitions, paper, tallies
    "campaign_new", "campaign_edit", "unit_add", "unit_edit", "petition_new", "petition_edit",
    "paper_entry", "paper_batch", "tally_export",
    # statements, meeting notes, actions
    "statement_publish", "statement_reject", "statement_translate", "note_new", "note_edit",
    "action_new", "action_edit",
]
#: forms without a field of their own: only the token and the address can be wrong
BUTTON_NAMES = [
    "signer_withdraw", "signer_erase", "signer_leave", "author_withdraw", "author_erase",
    "logout", "admin_revoke", "admin_set_active", "admin_reset_second_factor",
    "tally_take_release", "tally_publish", "action_delete",
]
TARGET_NAMES = FORM_NAMES + BUTTON_NAMES


def test_every_post_endpoint_is_a_target(world):
    """Every endpoint that accepts a POST has a target here (a new form fails this test until it
    gets one), and every target's address is routed to one."""
    app = world["app"]
    adapter = app.url_map.bind("localhost")
    covered = set()
    for target in targets(world["ids"]).values():
        url = target.url.format(token="a" * 43) if "{token}" in target.url else target.url
        endpoint, _args = adapter.match(url, method="POST")
        covered.add(endpoint)
    posting = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods}
    assert sorted(posting - covered) == []
    assert sorted(targets(world["ids"])) == sorted(TARGET_NAMES)


def attack(world, name, data):
    app = world["app"]
    target = targets(world["ids"])[name]
    client = world["clients"][target.viewer]
    page = client.get(target.page)
    assert page.status_code == 200, f"{target.page}: {page.status_code}"
    submission = data.draw(submissions(target, csrf_token(page.text)), label="submission")
    note(submission.description)
    before = database_state(app, target.ignore_tables)
    response = send(client, submission)
    check_answer(target, submission, response)
    after = database_state(app, target.ignore_tables)
    assert changed_tables(before, after) == [], submission.description
    if target.kept_page:
        # Not signed out, not dropped from the private page.
        kept = client.get(target.kept_page)
        assert kept.status_code == 200, (target.kept_page, kept.status_code,
                                         submission.description)
    if name == "login":
        # A refused sign-in leaves no session behind.
        assert client.get("/staff/").status_code == 302


@pytest.mark.parametrize("name", FORM_NAMES)
@FORM_DRAWS
@given(data=st.data())
def test_hostile_submissions_are_refused_without_500_or_a_stored_record(world, name, data):
    """Tried: the valid submission with one to three breakers, the other fields hostile, extra
    fields, sent urlencoded, with invalid UTF-8, duplicated keys, a file for a text, as JSON."""
    attack(world, name, data)


@pytest.mark.parametrize("name", BUTTON_NAMES)
@BUTTON_DRAWS
@given(data=st.data())
def test_hostile_button_presses_are_refused_without_500_or_a_change(world, name, data):
    """Tried: each button pressed without its token or with a forged one, or aimed at another
    campaign's record (or none), with extra fields and in every encoding above."""
    attack(world, name, data)


VALID_CSV = b"name,email,site,public_name\nPaper Pam,,paris,yes\n"


@pytest.mark.parametrize("name", [n for n in TARGET_NAMES if n not in ("confirm", "login")])
def test_each_valid_submission_is_accepted_so_a_refusal_comes_from_the_breaker(world, name):
    """The valid submission each property test starts from is accepted as it stands and changes
    the database (or, for leaving a private page, ends it): so the refusals above come from the
    breakers, and "nothing stored" can fail."""
    app = world["app"]
    target = targets(world["ids"])[name]
    client = world["clients"][target.viewer]
    page = client.get(target.page)
    assert page.status_code == 200, (target.page, page.status_code)
    data = {**target.valid, "csrf_token": csrf_token(page.text)}
    if target.fresh:
        data.update(target.fresh(app, world["ids"]))
    if target.file_field:
        data[target.file_field] = (io.BytesIO(VALID_CSV), "batch.csv")
    before = database_state(app)
    response = client.post(target.url, data=data)
    assert response.status_code in (200, 302), (name, response.status_code)
    assert "aria-invalid" not in response.text and 'class="error"' not in response.text
    if target.stores:
        assert changed_tables(before, database_state(app)) != [], name
    if target.kept_page:
        still_open = client.get(target.kept_page).status_code == 200
        assert still_open != target.ends_session, (name, target.kept_page)


def _text_fields(target):
    return [k for k in target.valid if k != "csrf_token"]


def _refused(response):
    """A 4xx, or the form again with an error message."""
    if response.status_code == 200:
        return any(marker in response.get_data(as_text=True) for marker in ERROR_MARKERS)
    return 400 <= response.status_code < 500


@pytest.mark.parametrize("name", [n for n in FORM_NAMES if n != "confirm"])
def test_a_file_posted_where_text_belongs_is_refused_without_500(world, name):
    """Tried: for each field of each form in turn, the valid submission sent as multipart with
    that field as an uploaded file (and the CSV batch's file sent as text). Never a 5xx; a
    refusal stores nothing (an optional field that is not text may simply count as absent)."""
    app = world["app"]
    target = targets(world["ids"])[name]
    client = world["clients"][target.viewer]
    url = target.url.format(token="a" * 43) if "{token}" in target.url else target.url
    tried = _text_fields(target) + ([target.file_field] if target.file_field else [])
    for field_name in tried:
        page = client.get(target.page)
        data = {**target.valid, "csrf_token": csrf_token(page.text)}
        if target.file_field and field_name != target.file_field:
            data[target.file_field] = (io.BytesIO(VALID_CSV), "batch.csv")
        if field_name == target.file_field:
            data[field_name] = "name\nAnn\n"  # text where a file belongs
        else:
            data[field_name] = (str(data.get(field_name, "")).encode(), "value.txt")
        before = database_state(app, target.ignore_tables)
        response = post(client, url, data, "multipart/form-data", {"Accept-Language": "fr"})
        assert response.status_code < 500, (name, field_name, response.status_code)
        if _refused(response):
            assert_french(response, f"{name} with {field_name} as a file")
            assert changed_tables(before, database_state(app, target.ignore_tables)) == [], (
                name, field_name)
        # Else the field was optional and, not being text, simply absent: accepted without it.


JSON_VALUES = {"int": 7, "float": 1.5, "bool": True, "null": None, "list": ["a", "b"],
               "object": {"a": 1}}


# (Signing out and an admin's reset of a second factor read no form: a JSON body carrying the
# CSRF token in its header is a legitimate request to them, accepted.)
@pytest.mark.parametrize("name", [n for n in TARGET_NAMES
                                  if n not in ("logout", "admin_reset_second_factor")])
def test_a_json_body_of_wrong_types_is_refused_without_500(world, name):
    """Tried: each form's fields sent as a JSON object, every value of one wrong JSON type in
    turn (int, float, bool, null, list, object), with the CSRF token in the header Flask-WTF
    reads (so only the body's shape is wrong); a button gets an empty object."""
    app = world["app"]
    target = targets(world["ids"])[name]
    assert target.reads_form
    client = world["clients"][target.viewer]
    url = target.url.format(token="a" * 43) if "{token}" in target.url else target.url
    for kind, value in (JSON_VALUES.items() if target.valid else [("empty", None)]):
        page = client.get(target.page)
        body = json.dumps({k: value for k in target.valid})
        before = database_state(app, target.ignore_tables)
        response = post(client, url, body, "application/json",
                        {"Accept-Language": "fr", "X-CSRFToken": csrf_token(page.text)})
        assert response.status_code < 500, (kind, response.status_code)
        assert _refused(response), (kind, response.status_code)
        assert_french(response, f"{name}, JSON {kind}")
        assert changed_tables(before, database_state(app, target.ignore_tables)) == [], kind


# --- hostile but valid: stored as typed, shown escaped -------------------------------------------

@HOSTILE
@given(name=st.one_of(st.sampled_from(INJECTIONS), hostile_text.map(lambda v: v[:120]))
       .map(str.strip).filter(bool))
def test_injection_strings_as_names_are_stored_verbatim_and_shown_escaped(world, name):
    """A signer may be called '{{7*7}}' or "' OR 1=1 --": signed, stored as typed (decrypted
    back exactly), shown escaped on their private page, never evaluated."""
    note(f"name {name!r}")
    app = world["app"]
    client = app.test_client()
    page = client.get("/c/acme/p/end-it")
    email = f"n{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}@personal.example"
    response = client.post("/c/acme/p/end-it/sign", data={
        "csrf_token": csrf_token(page.text), "name": name, "email": email,
        "consent_public_name": "y", "version_public_name": "1", "version_share_with_reps": "1",
        "version_contact": "1"})
    petition = world["ids"]["petitions"]["end-it"]
    if response.status_code == 400:
        # Refused as a name (e.g. nothing but control characters): nothing stored for it.
        event("refused")
        with app.app_context():
            found = db.session.execute(select(Petition).where(
                Petition.public_id == petition)).scalar_one()
            key = signature_service.signer_key(found, email)
            assert db.session.execute(select(Signature).where(
                Signature.signer_key == key)).first() is None
            db.session.remove()
        return
    assert response.status_code == 200
    assert EVALUATED_MARK not in response.text
    link = re.search(r"http://localhost(/s/[A-Za-z0-9_-]{43})", response.text).group(1)
    client.get(link)
    me = client.get("/me")
    assert me.status_code == 200
    assert EVALUATED_MARK not in me.text
    if "<" in name:
        assert name not in me.text  # escaped, not raw HTML
    with app.app_context():
        signature = db.session.execute(
            select(Signature).where(Signature.signer_key == signature_service.signer_key(
                db.session.execute(select(Petition).where(Petition.slug == "end-it"))
                .scalar_one(), email))).scalar_one_or_none()
        if signature is not None:  # a repeated address is a shadow; the first one is checked
            stored_name, _email = signature_service.identity(signature)
            assert stored_name == name
        db.session.remove()


def test_statement_with_template_and_sql_injection_is_kept_verbatim_and_escaped(world):
    """Tried: a statement whose words are every injection string above, read back by its author
    and by a rep of the campaign."""
    app = world["app"]
    words = "\n".join(INJECTIONS).replace("\x00", "")
    client = app.test_client()
    page = client.get("/c/acme/statements/new")
    response = client.post("/c/acme/statements/new", data={
        "csrf_token": csrf_token(page.text), "text": words, "language": "en",
        "publication": "reps_only", "version_publish": "1", "version_publish_named": "1",
        "version_share_with_reps": "1"})
    assert response.status_code == 200
    link = re.search(r"http://localhost(/s/[A-Za-z0-9_-]{43})", response.text).group(1)
    client.get(link)
    mine = client.get("/my-statement").text
    with app.app_context():
        statement = db.session.execute(
            select(Statement).order_by(Statement.id.desc()).limit(1)).scalar_one()
        assert statement.text == words.strip()
        public_id = statement.public_id
        db.session.remove()
    rep = world["clients"]["rep"]
    seen = rep.get(f"/staff/campaigns/acme/statements/{public_id}").text
    for text in (mine, seen):
        assert EVALUATED_MARK not in text
        assert "<script>alert(1)</script>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


# --- too large ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", TARGET_NAMES)
def test_a_body_over_the_size_limit_gets_413_and_stores_nothing(world, name):
    """Tried: each form posted with one field (the CSV file for the batch) one byte over
    MAX_CONTENT_LENGTH."""
    app = world["app"]
    target = targets(world["ids"])[name]
    client = world["clients"][target.viewer]
    page = client.get(target.page)
    fields = {**target.valid, "csrf_token": csrf_token(page.text)}
    limit = app.config["MAX_CONTENT_LENGTH"]
    url = target.url.format(token="a" * 43) if "{token}" in target.url else target.url
    before = database_state(app, target.ignore_tables)
    if target.file_field:
        data = {**fields, target.file_field: (io.BytesIO(b"name\n" + b"A" * limit), "big.csv")}
        response = post(client, url, data=data, content_type="multipart/form-data",
                        headers={"Accept-Language": "fr"})
    else:
        fields["filler"] = "A" * (limit + 1)
        response = post(client, url, urlencode(fields), "application/x-www-form-urlencoded",
                        {"Accept-Language": "fr"})
    assert response.status_code == 413
    assert_french(response, name)
    assert changed_tables(before, database_state(app, target.ignore_tables)) == []


def test_units_are_scoped_to_their_campaign(world):
    """The forged ids above are real: the other campaign's units exist, with ids of their own."""
    app = world["app"]
    with app.app_context():
        other = {u.id for u in db.session.execute(
            select(Unit).where(Unit.campaign_id == get_by_slug("other").id)).scalars()}
    assert other and other == set(world["ids"]["other_units"])
    assert not other & set(world["ids"]["acme_units"].values())


def test_a_unit_saved_with_an_empty_position_keeps_its_place(world):
    """Tried: the unit form with its optional position left empty (it once stored NULL in a
    NOT NULL column: a 500). The unit is saved and keeps its position."""
    from campaign.models import Unit

    app, client = world["app"], world["clients"]["organizer"]
    url = "/staff/campaigns/acme/units/site/paris"
    with app.app_context():
        before = db.session.execute(select(Unit.position).where(Unit.code == "paris")).scalars().all()
        db.session.remove()
    page = client.get(url)
    response = post(client, url, {"csrf_token": csrf_token(page.text), "name_fr": "Paris",
                                  "name_en": "Paris (centre)", "headcount": "", "position": "",
                                  "is_active": "y"}, "application/x-www-form-urlencoded", {})
    assert response.status_code == 302
    with app.app_context():
        rows = db.session.execute(select(Unit.position, Unit.name_en)
                                  .where(Unit.code == "paris")).all()
        db.session.remove()
    assert sorted(r.position for r in rows) == sorted(before)
    assert "Paris (centre)" in [r.name_en for r in rows]
