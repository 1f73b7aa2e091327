"""The who-sees-what table of DESIGN.md section 4, as one parametrized test over every endpoint.

MATRIX classifies every endpoint of `app.url_map`: for each, one or more requests (URL, method,
form data) and the status each kind of viewer must get. A new route that is not added here makes
`test_every_endpoint_is_in_the_matrix` fail, and a view without `@public` or `@staff` is refused by
`campaign.access.enforce_classification` (shown by `test_a_new_unclassified_route_is_refused`).

Viewers: nobody signed in; an admin with no membership; an organizer and a rep of campaign A;
a rep and an organizer of campaign B (another campaign); a signer of A's petition and the
author of a statement to A, each holding the session their private link opened (to everything
but their own private page, they are nobody). Statuses: LOGIN means a 302 to the sign-in page;
a 404 where existence itself would leak (a campaign one is not part of, a reps-only note shown
to an organizer), a 403 otherwise (a page one may know about but not use).
"""

import dataclasses
import io
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from campaign import access, sessions
from campaign.extensions import db
from campaign.models import (
    Action,
    AuditEvent,
    Campaign,
    ConsentEvent,
    ConsentText,
    MeetingNote,
    Membership,
    OutboxMessage,
    Petition,
    Signature,
    Statement,
    Unit,
    User,
)
from campaign.models.tallies import TallyRelease
from tests.conftest import csrf_token
from tests.template_database import TemplateDatabase

VIEWERS = ("anonymous", "admin", "organizer_a", "rep_a", "rep_b", "organizer_b", "signer_a",
           "author_a")
#: holders of a private link: to staff pages they are anonymous
HOLDERS = ("signer_a", "author_a")
STAFF_VIEWERS = len(VIEWERS) - len(HOLDERS)
#: a 302 to the sign-in page
LOGIN = "login"

A, B, DRAFT = "camp-a", "camp-b", "camp-draft"
PETITION, DRAFT_PETITION = "pet-a", "pet-draft"
SIGNER_EMAIL = "signer@personal.example"
AUTHOR_EMAIL = "author@personal.example"
VIEWER_ACCOUNTS = {
    "admin": ("admin@example.org", True, ()),
    "organizer_a": ("organizer-a@example.org", False, ((A, "organizer"),)),
    "rep_a": ("rep-a@example.org", False, ((A, "rep"),)),
    "rep_b": ("rep-b@example.org", False, ((B, "rep"),)),
    "organizer_b": ("organizer-b@example.org", False, ((B, "organizer"),)),
}


@dataclass
class World:
    """What the URLs of the matrix point at; filled in by `build_world`."""

    a: str = A
    b: str = B
    draft: str = DRAFT
    petition: str = PETITION  # open, in campaign A
    draft_petition: str = DRAFT_PETITION
    target: str = ""  # public id of a rep of campaign A whom admin pages act on
    invitation: str = ""  # raw token of a pending invitation
    petition_id: str = ""  # public id of the open petition
    link: str = ""  # raw private-link token of the signer's signature
    confirm: str = ""  # raw confirmation token of another, unconfirmed signature
    statement: str = ""  # public id of a pending statement to A (public, shared with reps)
    statement_link: str = ""  # raw private-link token of its author
    note: str = ""  # public id of a reps-only meeting note of A
    shared_note: str = ""  # public id of a note of A for reps and organizers
    action: str = ""  # public id of an internal action of A
    release: str = ""  # public id of a tally release of the open petition

    def format(self, text):
        return text.format(**vars(self))


# --- what a POST may change: read before and after, must change exactly when allowed ------------

def _count(model):
    return lambda: db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _mail_activity():
    """A lost-link request leaves a trace until answered, then a queued or a sent message."""
    from flask import current_app

    from campaign.models.outbox import LinkRequest

    return (_count(OutboxMessage)() + _count(LinkRequest)()
            + len(current_app.extensions.get("campaign_outbox", [])))


def _campaign_a_title():
    return db.session.execute(select(Campaign.title_en).where(Campaign.slug == A)).scalar_one()


def _unit_headcount():
    return db.session.execute(
        select(Unit.headcount).join(Campaign).where(Campaign.slug == A, Unit.code == "paris")
    ).scalar_one()


def _target_user():
    return db.session.execute(select(User).where(User.email == "target@example.org")).scalar_one()


def _target_is_active():
    return _target_user().is_active


def _petition_title():
    return db.session.execute(
        select(Petition.title_en).where(Petition.slug == PETITION)).scalar_one()


def _signer_signature():
    return db.session.execute(
        select(Signature).where(Signature.source == "online").order_by(Signature.id)
    ).scalars().first()


def _signer_withdrawn_on():
    return _signer_signature().withdrawn_on


def _confirmed_count():
    return db.session.execute(
        select(func.count()).select_from(Signature).where(Signature.confirmed_on.is_not(None))
    ).scalar_one()


def _statement_field(name):
    return lambda: db.session.execute(
        select(getattr(Statement, name)).order_by(Statement.id)).scalars().first()


def _shared_note_title():
    return db.session.execute(
        select(MeetingNote.title).where(MeetingNote.visibility == "reps_and_organizers")
    ).scalar_one()


def _action_title():
    return db.session.execute(select(Action.title_en).order_by(Action.id)).scalars().first()


def _release_published():
    return db.session.execute(
        select(TallyRelease.is_published).order_by(TallyRelease.id)).scalars().first()


def _audited(action):
    return lambda: db.session.execute(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    ).scalar_one()


def _target_roles():
    return sorted(
        (m.campaign.slug, m.role)
        for m in db.session.execute(
            select(Membership).join(User).where(User.email == "target@example.org")
        ).scalars()
    )


@dataclass(frozen=True)
class Case:
    """One request to an endpoint and the status each viewer must get.

    `expect` lists the staff-side viewers in VIEWERS order (anonymous to organizer_b); the signer
    and the author get `signer` and `author`, or what anonymous gets when None. Strings in the URL
    and the form data name fields of World in braces; a callable form value is called for each
    request (files).
    """

    url: str
    expect: tuple
    method: str = "GET"
    data: dict = field(default_factory=dict)
    label: str = ""
    signer: object = None
    author: object = None
    #: a snapshot of what the request may change (read in an app context): it must change
    #: exactly when the viewer is allowed (a status below 400), and never when `writes` is False
    stored: Callable | None = None
    writes: bool = True
    #: the request changes the client's session (a private link, the language): own world
    changes_session: bool = False

    def __post_init__(self):
        assert len(self.expect) == STAFF_VIEWERS, self

    def expected(self, viewer):
        if viewer in HOLDERS:
            own = self.signer if viewer == "signer_a" else self.author
            return self.expect[0] if own is None else own
        return self.expect[VIEWERS.index(viewer)]

    @property
    def is_read_only(self):
        """A GET that changes nothing checked: it runs in the world shared by the module."""
        return self.method == "GET" and self.stored is None and not self.changes_session

    def build_url(self, world):
        return world.format(self.url)

    def build_data(self, world):
        return {name: value() if callable(value) else
                world.format(value) if isinstance(value, str) else value
                for name, value in self.data.items()}


def everyone(status):
    return (status,) * STAFF_VIEWERS


def staff_only(status):
    return (LOGIN,) + (status,) * (STAFF_VIEWERS - 1)


def holder_only(status, holder="signer"):
    """A private page: only the holder of that private-link session gets `status`."""
    return {"expect": everyone(403), holder: status}


#: (anonymous, admin, organizer_a, rep_a, rep_b, organizer_b)
ADMIN_ONLY = (LOGIN, 200, 403, 403, 403, 403)
ADMIN_ONLY_WRITE = (LOGIN, 302, 403, 403, 403, 403)
EDIT_A = (LOGIN, 403, 200, 403, 404, 404)
EDIT_A_WRITE = (LOGIN, 403, 302, 403, 404, 404)
MEMBERS_A = (LOGIN, 200, 200, 200, 404, 404)
REP_A = (LOGIN, 403, 403, 200, 404, 404)
REP_A_WRITE = (LOGIN, 403, 403, 302, 404, 404)
PETITIONS_A = "/staff/campaigns/{a}/petitions"
TALLIES_A = PETITIONS_A + "/{petition}/tallies"
STATEMENTS_A = "/staff/campaigns/{a}/statements"
NOTES_A = "/staff/campaigns/{a}/notes"
ACTIONS_A = "/staff/campaigns/{a}/actions"
#: the campaign's reps and organizers, not admins
TEAM_A = (LOGIN, 403, 200, 200, 404, 404)
TEAM_A_WRITE = (LOGIN, 403, 302, 302, 404, 404)
ORGANIZER_A_WRITE = (LOGIN, 403, 302, 403, 404, 404)
#: what only reps may know exists (a reps-only note): hidden from the organizer too
REP_A_HIDDEN = (LOGIN, 403, 404, 200, 404, 404)

NEW_CAMPAIGN = {"slug": "camp-new", "title_en": "New campaign", "employer": "Example Corp",
                "status": "draft", "retention_days": "180", "tally_threshold": "10"}
EDITED_CAMPAIGN = {"title_en": "Campaign A renamed", "employer": "Example Corp",
                   "status": "active", "retention_days": "180", "tally_threshold": "10"}
NEW_SIGNATURE = {"name": "New Signer", "email": "new.signer@personal.example",
                 "version_public_name": "1", "version_share_with_reps": "1",
                 "version_contact": "1"}
PETITION_FIELDS = {"title_en": "Petition renamed", "status": "open", "verification": "none",
                   "refresh_minutes": "15"}
STATEMENT_VERSIONS = {"version_publish": "1", "version_publish_named": "1",
                      "version_share_with_reps": "1"}
NEW_STATEMENT = {"text": "What I want to say.", "language": "en", "publication": "reps_only",
                 **STATEMENT_VERSIONS}
NOTE_FIELDS = {"title": "Works council renamed", "held_on": "2026-11-20", "kind": "works_council",
               "visibility": "reps_and_organizers"}
ACTION_FIELDS = {"kind": "rally", "happens_on": "2026-12-01", "title_en": "Rally renamed",
                 "visibility": "internal"}
EXPORT = {"release": "{release}", "by": "site", "period": "week", "format": "csv",
          "language": "en"}

MATRIX = {
    "static": (Case("/static/css/app.css", everyone(200)),),
    "public.home": (Case("/", everyone(200)),),
    "public.campaign": (
        Case("/c/{a}", everyone(200)),
        Case("/c/{draft}", everyone(404), label="draft"),
        Case("/c/no-such-campaign", everyone(404), label="unknown"),
    ),
    "public.set_locale": (
        Case("/language/en?next=/c/{a}", everyone(302), changes_session=True),
        Case("/language/xx", everyone(404), label="unknown-locale"),
    ),
    "public.healthz": (Case("/healthz", everyone(200)),),
    "auth.login": (
        Case("/login", (200, 302, 302, 302, 302, 302)),
        Case("/login", (200, 302, 302, 302, 302, 302), method="POST",
             data={"email": "nobody@example.org", "password": "not the right password"}),
    ),
    # Without a pending sign-in (right password), the code pages send back to the sign-in page;
    # a signed-in staff member is sent home.
    "auth.second_factor": (
        Case("/login/code", (LOGIN, 302, 302, 302, 302, 302)),
        Case("/login/code", (LOGIN, 302, 302, 302, 302, 302), method="POST",
             data={"code": "123456"}),
    ),
    "auth.enrol": (
        Case("/login/enrol", (LOGIN, 302, 302, 302, 302, 302)),
        Case("/login/enrol", (LOGIN, 302, 302, 302, 302, 302), method="POST",
             data={"code": "123456"}),
    ),
    "auth.reset_second_factor": (
        Case("/admin/users/{target}/second-factor/reset", ADMIN_ONLY_WRITE, method="POST",
             stored=_audited("second_factor_reset")),
    ),
    "auth.logout": (Case("/logout", everyone(302), method="POST"),),
    "auth.accept_invitation": (
        # The token is the credential: whoever holds it may open the page.
        Case("/invitation/{invitation}", everyone(200)),
        Case("/invitation/not-a-valid-token", everyone(404), label="bad-token"),
    ),
    "auth.account": (
        Case("/account", staff_only(200)),
        Case("/account", staff_only(302), method="POST",
             data={"display_name": "Renamed", "locale": "en"}),
    ),
    "auth.change_password": (
        Case("/account/password", staff_only(400), method="POST",
             data={"pw-current": "not the current password", "pw-password": "a new long password",
                   "pw-confirm": "a new long password"}),
    ),
    "campaigns.home": (Case("/staff/", staff_only(200)),),
    "campaigns.new": (
        Case("/staff/campaigns/new", (LOGIN, 200, 200, 403, 403, 200)),
        Case("/staff/campaigns/new", (LOGIN, 302, 302, 403, 403, 302), method="POST",
             data=NEW_CAMPAIGN, stored=_count(Campaign)),
    ),
    "campaigns.detail": (
        Case("/staff/campaigns/{a}", (LOGIN, 200, 200, 200, 404, 404)),
        Case("/staff/campaigns/no-such-campaign", staff_only(404), label="unknown"),
    ),
    "campaigns.edit": (
        Case("/staff/campaigns/{a}/edit", EDIT_A),
        Case("/staff/campaigns/{a}/edit", EDIT_A_WRITE, method="POST", data=EDITED_CAMPAIGN,
             stored=_campaign_a_title),
        Case("/staff/campaigns/no-such-campaign/edit", staff_only(404), label="unknown"),
    ),
    "campaigns.add_unit": (
        Case("/staff/campaigns/{a}/units", EDIT_A_WRITE, method="POST",
             data={"kind": "site", "code": "marseille", "name_en": "Marseille"},
             stored=_count(Unit)),
    ),
    "campaigns.edit_unit": (
        Case("/staff/campaigns/{a}/units/site/paris", EDIT_A),
        Case("/staff/campaigns/{a}/units/site/paris", EDIT_A_WRITE, method="POST",
             data={"name_en": "Paris", "headcount": "42", "position": "0", "is_active": "y"},
             stored=_unit_headcount),
    ),
    "admin.users": (Case("/admin/users", ADMIN_ONLY),),
    "admin.invite": (
        Case("/admin/users/invite", ADMIN_ONLY),
        Case("/admin/users/invite", ADMIN_ONLY, method="POST",
             data={"email": "newcomer@example.org", "display_name": "Newcomer", "locale": "en"},
             stored=_count(User)),
    ),
    "admin.user": (
        Case("/admin/users/{target}", ADMIN_ONLY),
        Case("/admin/users/no-such-user", (LOGIN, 404, 403, 403, 403, 403), label="unknown"),
    ),
    "admin.set_active": (
        Case("/admin/users/{target}/active", ADMIN_ONLY_WRITE, method="POST", data={"active": "0"},
             stored=_target_is_active),
    ),
    "admin.delete_user": (
        Case("/admin/users/{target}/delete", ADMIN_ONLY_WRITE, method="POST",
             data={"email": "target@example.org"}, stored=_count(User)),
    ),
    "admin.grant": (
        Case("/admin/users/{target}/memberships", ADMIN_ONLY_WRITE, method="POST",
             data={"campaign": B, "role": "rep"}, stored=_target_roles),
    ),
    "admin.revoke": (
        Case("/admin/users/{target}/memberships/{a}/rep/revoke", ADMIN_ONLY_WRITE, method="POST",
             stored=_target_roles),
    ),
    "admin.consent_texts": (
        Case("/admin/consent-texts", ADMIN_ONLY),
        Case("/admin/consent-texts", ADMIN_ONLY_WRITE, method="POST",
             data={"purpose": "contact", "text_fr": "Me contacter.", "text_en": "Contact me."},
             stored=_count(ConsentText)),
    ),
    "admin.audit_log": (
        Case("/admin/audit", ADMIN_ONLY),
        # An organizer sees their own campaign's log; to anyone outside campaign A, A is unknown.
        Case("/admin/audit?campaign={a}", (LOGIN, 200, 200, 403, 404, 404), label="campaign-a"),
        Case("/admin/audit?campaign=no-such-campaign", staff_only(404), label="unknown"),
    ),
    # --- petitions: public pages and the signer's private page ---
    "petitions.petition": (
        Case("/c/{a}/p/{petition}", everyone(200)),
        Case("/c/{a}/p/{draft_petition}", everyone(404), label="draft"),
        Case("/c/{b}/p/{petition}", everyone(404), label="other-campaign"),
    ),
    "petitions.sign": (
        Case("/c/{a}/p/{petition}/sign", everyone(200), method="POST", data=NEW_SIGNATURE,
             stored=_count(Signature)),
        Case("/c/{a}/p/{draft_petition}/sign", everyone(404), method="POST", data=NEW_SIGNATURE,
             label="draft", stored=_count(Signature)),
    ),
    "petitions.confirm": (
        # The mailed token is the credential: whoever holds it may confirm, by POST only.
        Case("/confirm/{confirm}", everyone(200), stored=_confirmed_count, writes=False,
             label="get-changes-nothing"),
        Case("/confirm/{confirm}", everyone(200), method="POST", stored=_confirmed_count),
        Case("/confirm/not-a-valid-token", everyone(404), method="POST", label="bad-token"),
    ),
    "petitions.open_link": (
        Case("/s/{link}", everyone(302), changes_session=True),
        Case("/s/not-a-valid-token", everyone(404), label="bad-token"),
    ),
    "petitions.me": (Case("/me", **holder_only(200)),),
    "petitions.download": (Case("/me/data.json", **holder_only(200)),),
    "petitions.change_consent": (
        Case("/me/consent", method="POST", data={"purpose": "public_name", "granted": "1"},
             stored=_count(ConsentEvent), **holder_only(302)),
    ),
    "petitions.withdraw": (
        Case("/me/withdraw", method="POST", stored=_signer_withdrawn_on, **holder_only(302)),
    ),
    "petitions.erase": (
        Case("/me/erase", method="POST", stored=_count(Signature), **holder_only(200)),
    ),
    "petitions.leave": (Case("/me/leave", everyone(302), method="POST"),),
    "petitions.lost_link_page": (
        Case("/lost-link", everyone(200)),
        # The same answer for everyone; the address's owner gets the mail.
        Case("/lost-link", everyone(200), method="POST",
             data={"email": SIGNER_EMAIL, "petition": "{petition_id}"},
             stored=_mail_activity),
    ),
    # --- petitions: staff pages ---
    "petitions_staff.index": (
        Case(PETITIONS_A + "/", MEMBERS_A),
        Case("/staff/campaigns/no-such-campaign/petitions/", staff_only(404), label="unknown"),
    ),
    "petitions_staff.new": (
        Case(PETITIONS_A + "/new", EDIT_A),
        Case(PETITIONS_A + "/new", EDIT_A_WRITE, method="POST",
             data={**PETITION_FIELDS, "slug": "pet-new"}, stored=_count(Petition)),
    ),
    "petitions_staff.detail": (
        Case(PETITIONS_A + "/{petition}", MEMBERS_A),
        Case(PETITIONS_A + "/no-such-petition", (LOGIN, 404, 404, 404, 404, 404),
             label="unknown"),
    ),
    "petitions_staff.edit": (
        Case(PETITIONS_A + "/{petition}/edit", EDIT_A),
        Case(PETITIONS_A + "/{petition}/edit", EDIT_A_WRITE, method="POST", data=PETITION_FIELDS,
             stored=_petition_title),
        # A's petition through B's address: B's organizer may edit B's petitions, not this one.
        Case("/staff/campaigns/{b}/petitions/{petition}/edit", (LOGIN, 403, 404, 404, 403, 404),
             method="POST", data=PETITION_FIELDS, label="via-b", stored=_petition_title),
    ),
    "petitions_staff.signers": (
        Case(PETITIONS_A + "/{petition}/signers", REP_A, stored=_audited("identities_viewed")),
        Case("/staff/campaigns/{b}/petitions/{petition}/signers",
             (LOGIN, 403, 404, 404, 404, 403), label="via-b", stored=_audited("identities_viewed")),
    ),
    "petitions_staff.paper": (
        Case(PETITIONS_A + "/{petition}/paper", REP_A),
        Case(PETITIONS_A + "/{petition}/paper", REP_A_WRITE, method="POST",
             data={"name": "Paper Person", "version": "1"}, stored=_count(Signature)),
    ),
    "petitions_staff.paper_batch": (
        Case(PETITIONS_A + "/{petition}/paper/batch", REP_A_WRITE, method="POST",
             data={"batch-batch_label": "General assembly", "batch-version": "1",
                   "batch-file": lambda: (io.BytesIO(b"name\nPaper One\n"), "batch.csv")},
             stored=_count(Signature)),
    ),
    # --- tallies: the suppressed figures for the campaign's team; organizers release them ---
    "tallies.dashboard": (
        Case(TALLIES_A + "/", TEAM_A),
        Case("/staff/campaigns/{b}/petitions/{petition}/tallies/", (LOGIN, 403, 404, 404, 404, 404),
             label="via-b"),
    ),
    "tallies.take_release": (
        Case(TALLIES_A + "/releases", ORGANIZER_A_WRITE, method="POST",
             data={"new_series": ""}, stored=_count(TallyRelease)),
    ),
    "tallies.publish": (
        Case(TALLIES_A + "/releases/{release}/publish", ORGANIZER_A_WRITE, method="POST",
             stored=_release_published),
    ),
    "tallies.export": (
        Case(TALLIES_A + "/export", (LOGIN, 403, 200, 200, 404, 404), method="POST", data=EXPORT,
             stored=_audited("tally_exported")),
    ),
    # --- statements: public pages and the author's private page ---
    "statements.published": (
        Case("/c/{a}/statements", everyone(200)),
        Case("/c/{draft}/statements", everyone(404), label="draft"),
    ),
    "statements.submit": (
        Case("/c/{a}/statements/new", everyone(200)),
        Case("/c/{a}/statements/new", everyone(200), method="POST", data=NEW_STATEMENT,
             stored=_count(Statement)),
        Case("/c/{draft}/statements/new", everyone(404), method="POST", data=NEW_STATEMENT,
             label="draft", stored=_count(Statement)),
    ),
    "statements.calendar": (
        Case("/c/{a}/actions.ics", everyone(200)),
        Case("/c/{draft}/actions.ics", everyone(404), label="draft"),
    ),
    "statements.me": (Case("/my-statement", **holder_only(200, "author")),),
    "statements.download": (Case("/my-statement/data.json", **holder_only(200, "author")),),
    "statements.change_choices": (
        Case("/my-statement/choices", method="POST",
             data={"publication": "reps_only", **STATEMENT_VERSIONS},
             stored=_count(ConsentEvent), **holder_only(302, "author")),
    ),
    "statements.withdraw": (
        Case("/my-statement/withdraw", method="POST", stored=_statement_field("status"),
             **holder_only(302, "author")),
    ),
    "statements.erase": (
        Case("/my-statement/erase", method="POST", stored=_count(Statement),
             **holder_only(200, "author")),
    ),
    # --- statements, meeting notes and actions: staff pages ---
    "voices_staff.statements": (Case(STATEMENTS_A, TEAM_A),),
    "voices_staff.statement": (
        # Opening it shows the author's name to a rep (they shared it): audited, reps only.
        Case(STATEMENTS_A + "/{statement}", REP_A, stored=_audited("identities_viewed")),
        Case("/staff/campaigns/{b}/statements/{statement}", (LOGIN, 403, 404, 404, 404, 403),
             label="via-b", stored=_audited("identities_viewed")),
    ),
    "voices_staff.publish": (
        Case(STATEMENTS_A + "/{statement}/publish", REP_A_WRITE, method="POST",
             data={"redacted_text": "What I want to say, redacted."},
             stored=_statement_field("status")),
    ),
    "voices_staff.reject": (
        Case(STATEMENTS_A + "/{statement}/reject", REP_A_WRITE, method="POST",
             data={"reject-reason": "off_topic"}, stored=_statement_field("status")),
    ),
    "voices_staff.translate": (
        Case(STATEMENTS_A + "/{statement}/translation", REP_A_WRITE, method="POST",
             data={"translation-translation": "Ce que je veux dire."},
             stored=_statement_field("translation")),
    ),
    "voices_staff.notes": (Case(NOTES_A, TEAM_A),),
    "voices_staff.new_note": (
        Case(NOTES_A + "/new", REP_A),
        Case(NOTES_A + "/new", REP_A_WRITE, method="POST", data=NOTE_FIELDS,
             stored=_count(MeetingNote)),
    ),
    "voices_staff.note": (
        Case(NOTES_A + "/{note}", REP_A_HIDDEN),
        Case(NOTES_A + "/{shared_note}", TEAM_A, label="shared"),
    ),
    "voices_staff.edit_note": (
        Case(NOTES_A + "/{shared_note}/edit", REP_A),
        Case(NOTES_A + "/{note}/edit", REP_A_HIDDEN, label="reps-only"),
        Case(NOTES_A + "/{shared_note}/edit", REP_A_WRITE, method="POST", data=NOTE_FIELDS,
             stored=_shared_note_title),
    ),
    # Earlier revisions may hold what was reps-only at the time: reps only.
    "voices_staff.revisions": (
        Case(NOTES_A + "/{shared_note}/revisions", REP_A),
        Case(NOTES_A + "/{note}/revisions", REP_A_HIDDEN, label="reps-only"),
    ),
    "voices_staff.revision": (
        Case(NOTES_A + "/{shared_note}/revisions/0", REP_A),
        Case(NOTES_A + "/{shared_note}/revisions/7", (LOGIN, 403, 403, 404, 404, 404),
             label="unknown"),
    ),
    "voices_staff.revision_diff": (Case(NOTES_A + "/{shared_note}/revisions/0/diff", REP_A),),
    "voices_staff.actions": (Case(ACTIONS_A, TEAM_A),),
    "voices_staff.new_action": (
        Case(ACTIONS_A + "/new", TEAM_A),
        Case(ACTIONS_A + "/new", TEAM_A_WRITE, method="POST", data=ACTION_FIELDS,
             stored=_count(Action)),
    ),
    "voices_staff.edit_action": (
        Case(ACTIONS_A + "/{action}/edit", TEAM_A),
        Case(ACTIONS_A + "/{action}/edit", TEAM_A_WRITE, method="POST", data=ACTION_FIELDS,
             stored=_action_title),
        Case("/staff/campaigns/{b}/actions/{action}/edit", (LOGIN, 403, 404, 404, 404, 404),
             method="POST", data=ACTION_FIELDS, label="via-b", stored=_action_title),
    ),
    "voices_staff.delete_action": (
        Case(ACTIONS_A + "/{action}/delete", TEAM_A_WRITE, method="POST", stored=_count(Action)),
    ),
}

#: where the code does not (yet) do what DESIGN.md says: strict, so a fix makes the run fail
#: until the entry is removed. Keys are (case id, viewer).
KNOWN_GAPS = {}


def case_id(endpoint, case):
    method = "" if case.method == "GET" else f":{case.method}"
    label = f"[{case.label}]" if case.label else ""
    return f"{endpoint}{method}{label}"


def all_cases():
    for endpoint, cases in MATRIX.items():
        for case in cases:
            yield endpoint, case


def matrix_params():
    params = []
    for endpoint, case in all_cases():
        for viewer in VIEWERS:
            marks = []
            reason = KNOWN_GAPS.get((case_id(endpoint, case), viewer))
            if reason:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            params.append(pytest.param(endpoint, case, viewer, marks=marks,
                                       id=f"{case_id(endpoint, case)}-{viewer}"))
    return params


def unmatrixed_endpoints(app):
    """Endpoints of the app that MATRIX does not classify: each one is a failure."""
    return sorted({rule.endpoint for rule in app.url_map.iter_rules()} - set(MATRIX))


# --- the world the matrix runs in -------------------------------------------------------------

def build_world(app):
    """Campaigns A and B (active) and a draft one, each with a unit; in A an open and a draft
    petition, a signature whose private link the signer holds and an unconfirmed one, a tally
    release, a statement whose private link the author holds, a reps-only and a shared meeting
    note, an internal action; a target rep of A for the admin pages and a pending invitation."""
    from campaign.crypto import new_token, token_hash
    from campaign.models.base import utcnow
    from campaign.models.statements import PUBLIC_ANONYMOUS
    from campaign.models.tallies import RELEASE_ON_DEMAND
    from campaign.services import accounts, campaigns, meetings, signatures, statements, tallies
    from campaign.services import actions as action_service
    from campaign.services import petitions as petition_service

    links = signatures.Links(private=lambda token: f"http://localhost/s/{token}",
                             confirm=lambda token: f"http://localhost/confirm/{token}",
                             lost=lambda: "http://localhost/lost-link")
    world = World()
    with app.app_context():
        for slug, status in ((A, "active"), (B, "active"), (DRAFT, "draft")):
            campaign = campaigns.create_campaign(
                slug, actor=None, title_fr=f"Campagne {slug}", title_en=f"Campaign {slug}",
                employer="Example Corp", status=status)
            campaigns.add_unit(campaign, "site", "paris", actor=None, name_fr="Paris",
                               name_en="Paris")
        campaign_a = campaigns.get_by_slug(A)
        petition = petition_service.create_petition(
            campaign_a, PETITION, actor=None, title_fr="Pétition A", title_en="Petition A",
            text_fr="Texte.", text_en="Text.", status="open", refresh_minutes=1)
        petition_service.create_petition(campaign_a, DRAFT_PETITION, actor=None,
                                         title_en="Draft petition", status="draft")
        signed = signatures.sign(
            petition, signatures.SignerInput(name="Signer Person", email=SIGNER_EMAIL,
                                             locale="en"), links=links)
        pending = signatures.sign(
            petition, signatures.SignerInput(name="Pending Person",
                                             email="pending@personal.example", locale="en"),
            links=links)
        # An e-mail confirmation waiting: the mailed token is made here so the test knows it.
        world.confirm = new_token()
        pending.signature.confirm_hash = token_hash(world.confirm)
        pending.signature.confirmed_on = None
        # Taken an hour ago, so an organizer may take the next one now.
        release = tallies.take_release(petition, kind=RELEASE_ON_DEMAND,
                                       now=utcnow() - timedelta(hours=1)).release
        statement, world.statement_link = statements.submit(
            campaign_a, statements.StatementInput(
                text="What I want to say.", language="en", name="Author Person",
                email=AUTHOR_EMAIL, publication=PUBLIC_ANONYMOUS, share_with_reps=True,
                locale="en"),
            link_for=lambda token: f"http://localhost/s/{token}")
        notes = [meetings.create_note(campaign_a, actor=None, title=f"Meeting {visibility}",
                                      held_on=date(2026, 11, 20), kind="works_council",
                                      visibility=visibility)
                 for visibility in ("reps_only", "reps_and_organizers")]
        action = action_service.create_action(campaign_a, actor=None, kind="rally",
                                              happens_on=date(2026, 12, 1), title_en="Rally",
                                              visibility="internal")
        target = accounts.create_user("target@example.org", "Target")
        accounts.grant(target, campaign_a, "rep", actor=None)
        _invited, world.invitation = accounts.invite("invitee@example.org", "Invitee", actor=None)
        db.session.commit()
        world.target = target.public_id
        world.petition_id = petition.public_id
        world.link = signed.token
        world.release = release.public_id
        world.statement = statement.public_id
        world.note, world.shared_note = (note.public_id for note in notes)
        world.action = action.public_id
    return world


def sign_in(app, client, viewer, world):
    """Open a real session for the viewer: a staff session (without a password: sign-in is
    tested elsewhere), or for a signer or an author the session their private link opens."""
    if viewer == "anonymous":
        return None
    if viewer in HOLDERS:
        link = world.link if viewer == "signer_a" else world.statement_link
        assert client.get(f"/s/{link}").status_code == 302
        return SIGNER_EMAIL if viewer == "signer_a" else AUTHOR_EMAIL
    from campaign.services import accounts
    from campaign.services.campaigns import get_by_slug

    email, is_admin, roles = VIEWER_ACCOUNTS[viewer]
    with app.app_context():
        user = accounts.create_user(email, viewer, is_admin=is_admin)
        for slug, role in roles:
            accounts.grant(user, get_by_slug(slug), role, actor=None)
        raw = accounts.start_session(user)
        db.session.commit()
    with client.session_transaction() as session:
        session[sessions.SESSION_KEY] = raw
        session[sessions.SEEN_KEY] = int(time.time())
    return email


def session_csrf_token(client, viewer):
    """The CSRF token of the viewer's session, from a page that viewer may open."""
    page = client.get("/staff/" if viewer in VIEWER_ACCOUNTS else "/login")
    assert page.status_code == 200, page.status_code
    return csrf_token(page.text)


def send(client, case, world, viewer, **kwargs):
    """Make the case's request as the signed-in viewer, with a valid CSRF token on a POST."""
    url = case.build_url(world)
    if case.method == "GET":
        response = client.get(url, **kwargs)
    else:
        data = case.build_data(world)
        data["csrf_token"] = session_csrf_token(client, viewer)
        response = client.open(url, method=case.method, data=data, **kwargs)
    response.get_data()  # read and close: a static file response holds its file open
    response.close()
    return response


def snapshot(app, case):
    if case.stored is None:
        return None
    with app.app_context():
        value = case.stored()
        db.session.rollback()
        return value


# --- copies of one world: built once per module, copied for each test that needs it ----------

@pytest.fixture(scope="module")
def world_template(tmp_path_factory):
    template = TemplateDatabase(tmp_path_factory.mktemp("worlds"), "campaign_world", build_world)
    yield template
    template.close()


@pytest.fixture
def fresh_world(world_template):
    """(app, world) in a database of this test's own, before its first request."""
    with world_template.copy() as app:
        yield app, dataclasses.replace(world_template.built)


class SharedWorld:
    """One copy of the world for every read-only case of a module, and a client per viewer.

    Each viewer's client has an address of its own, so rate limits count them apart.
    """

    def __init__(self, app, world):
        self.app = app
        self.world = world
        self.clients = {}

    def client(self, viewer):
        if viewer not in self.clients:
            client = self.app.test_client()
            client.environ_base["REMOTE_ADDR"] = f"192.0.2.{VIEWERS.index(viewer) + 1}"
            sign_in(self.app, client, viewer, self.world)
            self.clients[viewer] = client
        return self.clients[viewer]


@pytest.fixture(scope="module")
def shared_world(world_template):
    with world_template.copy() as app:
        yield SharedWorld(app, dataclasses.replace(world_template.built))


# --- the tests ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("endpoint", "case", "viewer"), matrix_params())
def test_who_sees_what(request, endpoint, case, viewer):
    """Read-only cases share one world per module; a case that may write gets a fresh one."""
    if case.is_read_only:
        shared = request.getfixturevalue("shared_world")
        app, world, client = shared.app, shared.world, shared.client(viewer)
    else:
        app, world = request.getfixturevalue("fresh_world")
        client = app.test_client()
        sign_in(app, client, viewer, world)
    url = case.build_url(world)
    matched, _args = app.url_map.bind("localhost").match(urlsplit(url).path, method=case.method)
    assert matched == endpoint, f"{url} is routed to {matched}, not {endpoint}"

    before = snapshot(app, case)
    response = send(client, case, world, viewer)
    expected = case.expected(viewer)

    if expected == LOGIN:
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path == "/login"
    else:
        assert response.status_code == expected
    if case.stored is not None:
        after = snapshot(app, case)
        allowed = case.writes and expected != LOGIN and expected < 400
        assert (after != before) == allowed, f"stored value went from {before!r} to {after!r}"


def test_every_endpoint_is_in_the_matrix(app):
    assert unmatrixed_endpoints(app) == []


def test_the_matrix_has_no_row_for_a_removed_endpoint(app):
    assert sorted(set(MATRIX) - {rule.endpoint for rule in app.url_map.iter_rules()}) == []


def test_every_endpoint_is_classified_public_or_staff(app):
    assert access.unclassified_endpoints(app) == []


def test_a_new_unclassified_route_is_refused(app, client):
    """A route added without @public or @staff is refused, even to an admin, and flagged here."""

    def forgotten():
        return "secret page"

    before = set(unmatrixed_endpoints(app))
    app.add_url_rule("/forgotten", "forgotten", forgotten)
    assert "forgotten" in access.unclassified_endpoints(app)
    assert set(unmatrixed_endpoints(app)) - before == {"forgotten"}

    assert client.get("/forgotten").status_code == 403
    sign_in(app, client, "admin", build_world(app))
    assert client.get("/staff/").status_code == 200  # the admin is signed in
    refused = client.get("/forgotten")
    assert refused.status_code == 403
    assert "secret page" not in refused.text


def test_a_new_classified_route_is_still_flagged_until_added_to_the_matrix(app, client):
    def newcomer():
        return "hello"

    before = set(unmatrixed_endpoints(app))
    app.add_url_rule("/newcomer", "newcomer", access.public(newcomer))
    assert "newcomer" not in access.unclassified_endpoints(app)
    assert set(unmatrixed_endpoints(app)) - before == {"newcomer"}
    assert client.get("/newcomer").status_code == 200
