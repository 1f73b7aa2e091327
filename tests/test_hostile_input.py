"""Hostile input to every public form and the main staff forms: never a 500, never a stored record.

Each property test posts generated submissions to one form: a valid submission with at least one
field made invalid (the "breaker", which must get it refused), other fields replaced by hostile
values (huge, control characters, invalid UTF-8, SQL and template injection, wrong types, extra
fields for mass assignment, duplicated keys), forged ids of the other campaign's units and
petitions, sent urlencoded, as multipart with a file where text belongs, or as JSON. Whatever is
sent, the answer is a 4xx or the form again (200) with an error message, never a 5xx; every
table of the database is the same row for row afterwards; and ``{{7*7}}`` is never rendered as 49.
Hypothesis `note()`s each submission (printed when a case fails) and counts the answers with
`event()` (`pytest --hypothesis-show-statistics`).
"""

import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from campaign.extensions import db
from campaign.models import Petition, Signature, Statement, Unit
from campaign.services import petitions as petition_service
from campaign.services import signatures as signature_service
from campaign.services.campaigns import get_by_slug
from tests.conftest import csrf_token, login

HOSTILE = settings(
    max_examples=40,
    deadline=None,
    derandomize=os.environ.get("CI") == "true",  # the same cases on every CI run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
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
                "confirmed_on": "2020-01-01", "source": "paper", "role": "organizer"}

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


@dataclass
class Target:
    """One form: where its page is, where it posts, a valid submission and what breaks it."""

    name: str
    viewer: str  # public, signer, author, organizer, rep
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
    other_urls: tuple = ()  # the same form of another campaign: must be refused
    ignore_tables: tuple = ()
    extra: dict = field(default_factory=dict)


@pytest.fixture
def world(app, make_campaign, make_user):
    """Two campaigns with units, open petitions, a draft, an e-mail-verified petition with a
    pending signature, a signer and an author holding private-link sessions, and staff."""
    for key in ("SIGN_RATE_LIMIT", "LINK_RATE_LIMIT", "STATEMENT_RATE_LIMIT",
                "LOGIN_RATE_LIMIT"):
        app.config[key] = "1000000 per minute"
    make_campaign("acme")
    make_campaign("other")
    with app.app_context():
        acme, other = get_by_slug("acme"), get_by_slug("other")
        petition_service.create_petition(acme, "end-it", actor=None, title_en="Stop it",
                                         title_fr="Arrêtez", status="open", refresh_minutes=60)
        petition_service.create_petition(acme, "draft", actor=None, title_en="Draft",
                                         status="draft")
        petition_service.create_petition(acme, "verify", actor=None, title_en="Verified",
                                         status="open", verification="email")
        petition_service.create_petition(other, "theirs", actor=None, title_en="Theirs",
                                         status="open")
        db.session.commit()
        ids = {
            "acme_units": {(u.kind, u.code): u.id for u in acme.units},
            "other_units": [u.id for u in other.units],
            "petitions": {p.slug: p.public_id for p in
                          db.session.execute(select(Petition)).scalars()},
        }
    make_user("org@example.org", roles=[("acme", "organizer")])
    make_user("rep@example.org", roles=[("acme", "rep")])
    clients = {"public": app.test_client()}
    # A signer of the e-mail-verified petition (pending confirmation), holding their private page.
    signer = app.test_client()
    page = signer.get("/c/acme/p/verify")
    done = signer.post("/c/acme/p/verify/sign", data={
        "csrf_token": csrf_token(page.text), "name": "Pending Pat",
        "email": "pending@personal.example", "version_public_name": "1",
        "version_share_with_reps": "1", "version_contact": "1"})
    link = re.search(r"http://localhost(/s/[A-Za-z0-9_-]{43})", done.text).group(1)
    assert signer.get(link).status_code == 302
    clients["signer"] = signer
    author = app.test_client()
    page = author.get("/c/acme/statements/new")
    done = author.post("/c/acme/statements/new", data={
        "csrf_token": csrf_token(page.text), "text": "My words.", "language": "en",
        "publication": "reps_only", "version_publish": "1", "version_publish_named": "1",
        "version_share_with_reps": "1"})
    link = re.search(r"http://localhost(/s/[A-Za-z0-9_-]{43})", done.text).group(1)
    assert author.get(link).status_code == 302
    clients["author"] = author
    for viewer, email in (("organizer", "org@example.org"), ("rep", "rep@example.org")):
        clients[viewer] = app.test_client()
        assert login(clients[viewer], email).status_code == 302
    return {"ids": ids, "clients": clients}


def targets(ids):
    units, foreign, petitions = ids["acme_units"], ids["other_units"], ids["petitions"]
    site, department = units[("site", "paris")], units[("department", "dev")]
    versions = {"version_public_name": "1", "version_share_with_reps": "1",
                "version_contact": "1"}
    bad_version = st.sampled_from(["abc", "999", "-1", "1.0", " 1", "\x00", "{{7*7}}"])
    staff_petition = "/staff/campaigns/acme/petitions/end-it"
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
    import csv as csv_module

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


def check_answer(target, submission, response):
    status = response.status_code
    event(f"{target.name}: {status}")
    text = response.get_data(as_text=True)
    assert status < 500, f"{status} for {submission.description}"
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} in the answer to {submission.description}"
    if status == 200:
        honeypot = target.honeypot and str(submission.fields.get(target.honeypot, "")).strip()
        assert honeypot or any(marker in text for marker in ERROR_MARKERS), (
            f"200 without an error message for {submission.description}")
    elif target.redirects and status in (301, 308):
        assert response.headers["Location"].startswith(("/", "http://localhost/"))
    else:
        assert status in target.error_statuses + (413,), (
            f"{status} for {submission.description}")


TARGET_NAMES = ["sign", "lost_link", "confirm", "statement", "signer_consent", "author_choices",
                "login", "campaign_edit", "unit_add", "petition_edit", "paper_entry",
                "paper_batch"]


@pytest.mark.parametrize("name", TARGET_NAMES)
@HOSTILE
@given(data=st.data())
def test_hostile_submissions_are_refused_without_500_or_a_stored_record(app, world, name, data):
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
    if target.viewer == "public" and name == "login":
        # A refused sign-in leaves no session behind.
        assert client.get("/staff/").status_code == 302


VALID_CSV = b"name,email,site,public_name\nPaper Pam,,paris,yes\n"


@pytest.mark.parametrize("name", [n for n in TARGET_NAMES if n not in ("confirm", "login")])
def test_each_valid_submission_is_accepted_so_a_refusal_comes_from_the_breaker(app, world, name):
    """The valid submission each property test starts from is accepted as it stands and changes
    the database: so the refusals above come from the breakers, and "nothing stored" can fail."""
    target = targets(world["ids"])[name]
    client = world["clients"][target.viewer]
    page = client.get(target.page)
    data = {**target.valid, "csrf_token": csrf_token(page.text)}
    if target.file_field:
        data[target.file_field] = (io.BytesIO(VALID_CSV), "batch.csv")
    before = database_state(app)
    response = client.post(target.url, data=data)
    assert response.status_code in (200, 302), (name, response.status_code)
    assert "aria-invalid" not in response.text and 'class="error"' not in response.text
    assert changed_tables(before, database_state(app)) != [], name


def _text_fields(target):
    return [k for k in target.valid if k != "csrf_token"]


def _refused(response):
    """A 4xx, or the form again with an error message."""
    if response.status_code == 200:
        return any(marker in response.get_data(as_text=True) for marker in ERROR_MARKERS)
    return 400 <= response.status_code < 500


@pytest.mark.parametrize("name", [n for n in TARGET_NAMES if n != "confirm"])
def test_a_file_posted_where_text_belongs_is_refused_without_500(app, world, name):
    """Tried: for each field of each form in turn, the valid submission sent as multipart with
    that field as an uploaded file (and the CSV batch's file sent as text). Never a 5xx; a
    refusal stores nothing (an optional field that is not text may simply count as absent)."""
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
            assert changed_tables(before, database_state(app, target.ignore_tables)) == [], (
                name, field_name)
        # Else the field was optional and, not being text, simply absent: accepted without it.


@pytest.mark.parametrize("value", [7, 1.5, True, None, ["a", "b"], {"a": 1}],
                         ids=["int", "float", "bool", "null", "list", "object"])
@pytest.mark.parametrize("name", TARGET_NAMES)
def test_a_json_body_of_wrong_types_is_refused_without_500(app, world, name, value):
    """Tried: each form's fields sent as a JSON object, every value of one wrong JSON type, with
    the CSRF token in the header Flask-WTF reads (so only the body's shape is wrong)."""
    target = targets(world["ids"])[name]
    client = world["clients"][target.viewer]
    url = target.url.format(token="a" * 43) if "{token}" in target.url else target.url
    page = client.get(target.page)
    body = json.dumps({k: value for k in target.valid})
    before = database_state(app, target.ignore_tables)
    response = post(client, url, body, "application/json",
                    {"Accept-Language": "fr", "X-CSRFToken": csrf_token(page.text)})
    assert response.status_code < 500
    assert _refused(response), response.status_code
    assert changed_tables(before, database_state(app, target.ignore_tables)) == []


# --- hostile but valid: stored as typed, shown escaped -------------------------------------------

@HOSTILE
@given(name=st.one_of(st.sampled_from(INJECTIONS), hostile_text.map(lambda v: v[:120]))
       .map(str.strip).filter(bool))
def test_injection_strings_as_names_are_stored_verbatim_and_shown_escaped(app, world, name):
    """A signer may be called '{{7*7}}' or "' OR 1=1 --": signed, stored as typed (decrypted
    back exactly), shown escaped on their private page, never evaluated."""
    note(f"name {name!r}")
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


def test_statement_with_template_and_sql_injection_is_kept_verbatim_and_escaped(app, world):
    """Tried: a statement whose words are every injection string above, read back by its author
    and by a rep of the campaign."""
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
def test_a_body_over_the_size_limit_gets_413_and_stores_nothing(app, world, name):
    """Tried: each form posted with one field (the CSV file for the batch) one byte over
    MAX_CONTENT_LENGTH."""
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
    assert '<html lang="fr">' in response.text
    assert changed_tables(before, database_state(app, target.ignore_tables)) == []


def test_units_are_scoped_to_their_campaign(app, world):
    """The forged ids above are real: the other campaign's units exist, with ids of their own."""
    with app.app_context():
        other = {u.id for u in db.session.execute(
            select(Unit).where(Unit.campaign_id == get_by_slug("other").id)).scalars()}
    assert other and other == set(world["ids"]["other_units"])
    assert not other & set(world["ids"]["acme_units"].values())
