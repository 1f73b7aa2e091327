"""THE place that decides who may see or do what: role x consent, as pure `can_*` functions.

Views, templates (as the `access` global), exports and the CLI ask these functions; none of them
repeats a rule. Every endpoint is classified: `@public` views anyone may reach (the policy
functions still decide what they show), `@staff` views need a signed-in, active staff account and
then ask a `can_*` function. An endpoint that is neither is refused by `enforce_classification`.
"""

from flask import abort, current_app, request
from flask_login import current_user

from .models.campaigns import PUBLIC_STATUSES
from .models.users import ROLE_ORGANIZER, ROLE_REP

PUBLIC = "public"
STAFF = "staff"
#: endpoints Flask itself registers
BUILTIN_PUBLIC_ENDPOINTS = frozenset({"static"})


# --- classification ----------------------------------------------------------------------------

def public(view):
    """Anyone may reach this view; it must not show anything the policies below do not allow."""
    view.access_rule = PUBLIC
    return view


def staff(view):
    """Only a signed-in, active staff account may reach this view."""
    view.access_rule = STAFF
    return view


def classification(app, endpoint):
    if endpoint in BUILTIN_PUBLIC_ENDPOINTS:
        return PUBLIC
    view = app.view_functions.get(endpoint)
    return getattr(view, "access_rule", None)


def unclassified_endpoints(app):
    return sorted(
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if classification(app, rule.endpoint) is None
    )


def enforce_classification():
    """before_request hook: deny by default."""
    endpoint = request.endpoint
    if endpoint is None:
        return None  # routing failed: Flask answers 404/405 itself
    rule = classification(current_app, endpoint)
    if rule == PUBLIC:
        return None
    if rule == STAFF:
        if not is_staff(current_user):
            return current_app.login_manager.unauthorized()
        return None
    current_app.logger.error("refused unclassified endpoint %s", endpoint)
    abort(403)


def authorize(allowed, *, hide=False):
    """Abort unless allowed: 404 where existence itself would leak, 403 otherwise."""
    if not allowed:
        abort(404 if hide else 403)


# --- roles ---------------------------------------------------------------------------------------

def is_staff(user):
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def is_admin(user):
    return is_staff(user) and bool(user.is_admin)


def roles(user, campaign):
    if not is_staff(user) or campaign is None:
        return set()
    return user.roles_in(campaign)


def is_organizer(user, campaign):
    return ROLE_ORGANIZER in roles(user, campaign)


def is_rep(user, campaign):
    return ROLE_REP in roles(user, campaign)


def is_member(user, campaign):
    return bool(roles(user, campaign))


# --- campaigns -----------------------------------------------------------------------------------

def can_view_public_campaign(campaign):
    return campaign is not None and campaign.status in PUBLIC_STATUSES


def can_create_campaign(user):
    if is_admin(user):
        return True
    return is_staff(user) and any(m.role == ROLE_ORGANIZER for m in user.memberships)


def can_edit_campaign(user, campaign):
    return is_organizer(user, campaign)


def can_view_campaign_staff_page(user, campaign):
    """The campaign's staff overview (settings, units, members): its members, and admins."""
    return is_member(user, campaign) or is_admin(user)


def staff_campaign(slug, user):
    """The campaign `slug` for one of its staff pages. To anyone outside it (neither a member
    nor an admin) it is as unknown as a missing one: 404 for both."""
    from .services.campaigns import get_by_slug

    found = get_by_slug(slug) if slug else None
    authorize(found is not None and can_view_campaign_staff_page(user, found), hide=True)
    return found


# --- accounts and audit --------------------------------------------------------------------------

def can_manage_users(user):
    return is_admin(user)


def can_delete_user(user, account):
    """Delete `account` for good: an admin, and never their own account (another admin does
    that; the service also keeps the last active administrator)."""
    return can_manage_users(user) and account.id != user.id


def can_manage_memberships(user):
    return is_admin(user)


def can_manage_consent_texts(user):
    return is_admin(user)


def can_view_audit_log(user, campaign=None):
    """Admins see the whole log; an organizer sees their own campaign's events."""
    if is_admin(user):
        return True
    return campaign is not None and is_organizer(user, campaign)


def can_view_staff_home(user):
    return is_staff(user)


def visible_campaigns(user, campaigns):
    """The campaigns a staff member may open from their home page."""
    return [c for c in campaigns if can_view_campaign_staff_page(user, c)]


# --- petitions and signatures --------------------------------------------------------------------
# Who sees a signer's identity (DESIGN.md section 4):
#   public:     the name, only with `public_name`
#   rep:        name, site and department, only with `share_with_reps`, only in their campaign
#   organizer:  counts only;  admin: nothing
#   the signer: everything about themselves, through their private link

from .models.consent import CONTACT, PUBLIC_NAME, SHARE_WITH_REPS  # noqa: E402


def can_view_public_petition(petition):
    from .models.petitions import PETITION_CLOSED, PETITION_OPEN

    return (
        petition is not None
        and petition.status in (PETITION_OPEN, PETITION_CLOSED)
        and can_view_public_campaign(petition.campaign)
    )


def can_manage_petitions(user, campaign):
    return is_organizer(user, campaign)


def can_view_petition_counts(user, campaign):
    """Totals and progress (no identity): the campaign's members and admins."""
    return is_member(user, campaign) or is_admin(user)


def can_list_signers(user, campaign):
    """The rep's list of signers who chose to share their identity with reps."""
    return is_rep(user, campaign)


def can_enter_paper_signatures(user, campaign):
    return is_rep(user, campaign)


def signer_purpose_visible_to_reps():
    """The consent purpose that lets a rep see a signer's name, site and department."""
    return SHARE_WITH_REPS


def signer_purpose_public():
    return PUBLIC_NAME


def signer_purpose_contact():
    return CONTACT


def can_see_signer_name(user, campaign, consents, *, public_view=False):
    """One signer's name: in public with `public_name`; to a rep with `share_with_reps`."""
    if public_view:
        return bool(consents.get(PUBLIC_NAME))
    return is_rep(user, campaign) and bool(consents.get(SHARE_WITH_REPS))


def can_manage_own_signature(holder_public_id, signature):
    """The holder of a private link (exchanged for a short session) acts on that signature only."""
    return signature is not None and holder_public_id == signature.public_id


# --- statements, meeting notes and actions ---
# DESIGN.md section 4, for what employees write and what the campaign does:
#   statement text:   public when published (and its author still allows `publish`); rep: all of
#                     the campaign's; organizer: published ones; admin: none; author: own
#   author name:      public only with `publish_named` AND the reps' decision to publish it named;
#                     rep with `share_with_reps`, or with `publish_named` (an author who lets
#                     everyone read their name lets the reps who must check it read it too);
#                     organizer and admin: never
#   author site/dept: rep with `share_with_reps` only; nobody else
#   meeting notes:    rep: all; organizer: those whose visibility is reps_and_organizers; admin: no
#   actions:          public ones to everyone; rep and organizer: all; admin: no
# Consent is read from the ledger at render time (`consents`: {purpose: bool}), never cached.

from .models.consent import PUBLISH, PUBLISH_NAMED  # noqa: E402


def can_submit_statement(campaign):
    """Anyone may submit a statement to an active public campaign (no account)."""
    return campaign is not None and campaign.status == "active"


def can_view_public_statements(campaign):
    return can_view_public_campaign(campaign)


def publication_allowed(consents, *, named=False):
    """What the author allows right now: publishing at all, and publishing with their name."""
    if not consents.get(PUBLISH):
        return False
    return bool(consents.get(PUBLISH_NAMED)) if named else True


def is_statement_public(statement, consents):
    """Shown on public pages: published by the reps and still allowed by its author."""
    return (
        statement is not None
        and statement.status == "published"
        and can_view_public_campaign(statement.campaign)
        and publication_allowed(consents)
    )


def can_show_statement_author_publicly(statement, consents):
    return (
        is_statement_public(statement, consents)
        and bool(statement.published_named)
        and publication_allowed(consents, named=True)
    )


def can_list_statements(user, campaign):
    """The staff list of statements: reps (all of them) and organizers (published ones)."""
    return is_rep(user, campaign) or is_organizer(user, campaign)


def can_view_unpublished_statements(user, campaign):
    """Pending, rejected and reps-only statements, and the original of a redacted one."""
    return is_rep(user, campaign)


def can_moderate_statements(user, campaign):
    """Publish, reject, redact, translate: the campaign's reps."""
    return is_rep(user, campaign)


def can_see_statement_author_name(user, campaign, consents):
    return is_rep(user, campaign) and bool(
        consents.get(SHARE_WITH_REPS) or consents.get(PUBLISH_NAMED))


def can_see_statement_units(user, campaign, consents):
    return is_rep(user, campaign) and bool(consents.get(SHARE_WITH_REPS))


def statement_purpose_visible_to_reps():
    return SHARE_WITH_REPS


def can_manage_own_statement(holder_public_id, statement):
    """The holder of a statement's private link acts on that statement only."""
    return statement is not None and holder_public_id == statement.public_id


def can_list_meeting_notes(user, campaign):
    return is_rep(user, campaign) or is_organizer(user, campaign)


def can_write_meeting_notes(user, campaign):
    return is_rep(user, campaign)


def meeting_note_visibilities(user, campaign):
    """The visibilities of the notes this user may open in this campaign."""
    from .models.meetings import VISIBILITIES, VISIBILITY_REPS_AND_ORGANIZERS

    if is_rep(user, campaign):
        return VISIBILITIES
    if is_organizer(user, campaign):
        return (VISIBILITY_REPS_AND_ORGANIZERS,)
    return ()


def can_view_meeting_note(user, note):
    return note is not None and note.visibility in meeting_note_visibilities(user, note.campaign)


def can_edit_meeting_note(user, note):
    return note is not None and can_write_meeting_notes(user, note.campaign)


def can_view_meeting_note_history(user, note):
    """Earlier revisions may hold what was reps-only at the time: reps only."""
    return note is not None and is_rep(user, note.campaign)


def can_view_actions(user, campaign):
    """Every action of the campaign, internal ones included."""
    return is_rep(user, campaign) or is_organizer(user, campaign)


def can_log_actions(user, campaign):
    return is_rep(user, campaign) or is_organizer(user, campaign)


def is_action_public(action):
    return (
        action is not None
        and action.visibility == "public"
        and can_view_public_campaign(action.campaign)
    )


def can_view_public_actions(campaign):
    return can_view_public_campaign(campaign)


# --- two-factor ---

def can_reset_second_factor(user):
    """Forget someone's second factor (lost phone): admins, who also end that person's sessions."""
    return is_admin(user)


# --- tallies ---
# DESIGN.md section 4, "tallies and exports": public summary for everyone; the dashboard and the
# exports for the campaign's reps and organizers; nothing for admins (they see no signer data,
# and a unit's count is signer data once it is small). Organizers decide what is released and
# published. The figures themselves are always the suppressed ones (campaign.services.tallies).

def can_view_tallies(user, campaign):
    """The tally dashboard of a campaign's petitions: its reps and organizers."""
    return is_rep(user, campaign) or is_organizer(user, campaign)


def can_export_tallies(user, campaign):
    return is_rep(user, campaign) or is_organizer(user, campaign)


def can_take_tally_release(user, campaign):
    """Take a snapshot into the release ledger now (besides the scheduled ones)."""
    return is_organizer(user, campaign)


def can_publish_tally_release(user, campaign):
    return is_organizer(user, campaign)


def can_view_public_tally(release):
    """A release is public once an organizer published it, on a petition the public may see."""
    return (
        release is not None
        and bool(release.is_published)
        and not release.is_deferred
        and can_view_public_petition(release.petition)
    )
