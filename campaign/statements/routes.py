"""Thin views: submit a statement, read published ones, the author's private page, the calendar.

The author's private link is served by `/s/<token>` (petitions blueprint) for every registered
kind of record: it is exchanged for a short session and the browser lands on `/my-statement`.
The page after submitting is the same whatever happens (honeypot included).
"""

from urllib.parse import urlsplit

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from .. import access, private_links
from ..extensions import db, limiter
from ..i18n import LOCALES, current_locale
from ..models.consent import STATEMENT_PURPOSES
from ..services import actions as action_service
from ..services import consent
from ..services import statements as service
from ..services.campaigns import get_by_slug
from . import bp
from .forms import ButtonForm, ChoicesForm, StatementForm

KIND = "statement"

private_links.register(KIND, find_by_hash=service.find_by_hash,
                       find_by_public_id=service.get_by_public_id, endpoint="statements.me")

ERRORS = {
    "bad_unit": lambda: _("Choose a site and a department from the lists."),
    "closed": lambda: _("This campaign does not take statements at the moment."),
    "missing": lambda: _("Write your statement."),
    "too_long": lambda: _("Your statement is too long."),
    "bad_language": lambda: _("Choose the language of your statement."),
    "bad_choice": lambda: _("Choose who may read your statement."),
    "no_name": lambda: _("To publish your statement with your name, give your name."),
    "withdrawn": lambda: _("This statement is withdrawn."),
    "bad_version": lambda: _("The consent texts changed while you were filling in the form. "
                             "Please check your choices again."),
}


def _submit_limit():
    return current_app.config.get("STATEMENT_RATE_LIMIT",
                                  current_app.config.get("SIGN_RATE_LIMIT",
                                                         "30 per minute;500 per hour"))


def _campaign_or_404(slug):
    campaign = get_by_slug(slug)
    access.authorize(access.can_view_public_campaign(campaign), hide=True)
    return campaign


def _link_for(token):
    return url_for("petitions.open_link", token=token, _external=True)


def _chosen_texts(form):
    """The consent texts in the versions the form showed, or None if one no longer exists."""
    chosen = {}
    for purpose, version in form.shown_versions().items():
        text = consent.get_text(purpose, version) if version else None
        if text is None:
            return None
        chosen[purpose] = text
    return chosen


def campaign_voices(campaign):
    """What the public campaign page shows of statements and actions (a template global)."""
    return {
        "statements": service.public_statements(campaign, limit=5),
        "actions": [a for a in action_service.public_timeline(campaign)
                    if access.is_action_public(a)],
        "can_submit": access.can_submit_statement(campaign),
    }


bp.add_app_template_global(campaign_voices, "campaign_voices")


@bp.get("/c/<slug>/statements")
@access.public
def published(slug):
    campaign = _campaign_or_404(slug)
    return render_template("statements/list.html", campaign=campaign,
                           statements=service.public_statements(campaign),
                           can_submit=access.can_submit_statement(campaign))


@bp.route("/c/<slug>/statements/new", methods=["GET", "POST"])
@limiter.limit(_submit_limit, methods=["POST"])
@access.public
def submit(slug):
    campaign = _campaign_or_404(slug)
    access.authorize(access.can_submit_statement(campaign), hide=True)
    texts = consent.current_texts(STATEMENT_PURPOSES)
    form = StatementForm().setup(campaign, texts, current_locale())
    if request.method == "GET":
        return _form_page(campaign, form, texts)
    if not form.validate_on_submit():
        return _form_page(campaign, form, texts, status=400)
    if form.website.data:
        # A bot filled the honeypot: answer like a success, store nothing.
        return _submitted_page(campaign, _link_for("0" * 43))
    chosen = _chosen_texts(form)
    if chosen is None:
        form.form_errors.append(ERRORS["bad_version"]())
        return _form_page(campaign, form, texts, status=400)
    data = service.StatementInput(
        text=form.text.data, language=form.language.data, name=form.name.data,
        email=form.email.data, site_id=form.site.data, department_id=form.department.data,
        publication=form.publication.data, share_with_reps=form.consent_share_with_reps.data,
        locale=current_locale())
    try:
        _statement, token = service.submit(campaign, data, link_for=_link_for, texts=chosen)
    except service.StatementError as error:
        db.session.rollback()
        form.form_errors.append(ERRORS.get(str(error), ERRORS["missing"])())
        return _form_page(campaign, form, texts, status=400)
    db.session.commit()
    return _submitted_page(campaign, _link_for(token))


def _form_page(campaign, form, texts, status=200):
    return render_template("statements/new.html", campaign=campaign, form=form,
                           texts=texts), status


def _submitted_page(campaign, link):
    return render_template("statements/submitted.html", campaign=campaign, link=link)


@bp.get("/c/<slug>/actions.ics")
@access.public
def calendar(slug):
    """Upcoming public actions, for calendar apps to subscribe to (?lang=fr or en)."""
    campaign = _campaign_or_404(slug)
    access.authorize(access.can_view_public_actions(campaign), hide=True)
    locale = request.args.get("lang")
    if locale not in LOCALES:
        locale = current_locale()
    actions = [a for a in action_service.upcoming_public(campaign)
               if access.is_action_public(a)]
    body = action_service.to_ical(
        campaign, actions, locale=locale, host=urlsplit(request.host_url).hostname or "localhost",
        url=url_for("public.campaign", slug=campaign.slug, _external=True))
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'inline; filename="{campaign.slug}-actions.ics"'
    return response


# --- the author's private page ---------------------------------------------------------------

def _statement_or_expired():
    statement = private_links.held(KIND)
    if statement is None or not access.can_manage_own_statement(statement.public_id, statement):
        abort(make_response(render_template("statements/session_expired.html"), 403))
    return statement


def _me_page(statement, choices_form=None, status=200):
    name, email = service.identity(statement)
    effective = service.effective(statement)
    texts = consent.current_texts(STATEMENT_PURPOSES)
    if choices_form is None:
        choices_form = ChoicesForm(formdata=None).setup(texts, current_locale())
        choices_form.publication.data = service.choice_of(effective)
        choices_form.consent_share_with_reps.data = bool(effective.get("share_with_reps"))
    return render_template(
        "statements/me.html", statement=statement, campaign=statement.campaign, name=name,
        email=email, effective=effective, texts=texts,
        history=consent.history(statement_id=statement.id), form=choices_form,
        is_public=access.is_statement_public(statement, effective),
        shows_name=access.can_show_statement_author_publicly(statement, effective)), status


@bp.get("/my-statement")
@access.public
def me():
    return _me_page(_statement_or_expired())


@bp.post("/my-statement/choices")
@access.public
def change_choices():
    statement = _statement_or_expired()
    texts = consent.current_texts(STATEMENT_PURPOSES)
    form = ChoicesForm().setup(texts, current_locale())
    if not form.validate_on_submit():
        return _me_page(statement, form, status=400)
    chosen = _chosen_texts(form)
    if chosen is None:
        form.form_errors.append(ERRORS["bad_version"]())
        return _me_page(statement, form, status=400)
    try:
        service.change_choices(statement, form.publication.data,
                               form.consent_share_with_reps.data, texts=chosen)
    except service.StatementError as error:
        db.session.rollback()
        form.form_errors.append(ERRORS.get(str(error), ERRORS["bad_choice"])())
        return _me_page(statement, form, status=400)
    db.session.commit()
    flash(_("Your choices are saved. They apply everywhere from now on."), "success")
    return redirect(url_for("statements.me"))


@bp.post("/my-statement/withdraw")
@access.public
def withdraw():
    statement = _statement_or_expired()
    if not ButtonForm().validate_on_submit():
        abort(400)
    service.withdraw(statement)
    db.session.commit()
    flash(_("Your statement is withdrawn: it is shown nowhere and its text, your name and your "
            "e-mail address are erased."), "success")
    return redirect(url_for("statements.me"))


@bp.get("/my-statement/data.json")
@access.public
def download():
    statement = _statement_or_expired()
    return private_links.own_data_download(service.export_own(statement), "my-statement.json")


@bp.post("/my-statement/erase")
@access.public
def erase():
    statement = _statement_or_expired()
    if not ButtonForm().validate_on_submit():
        abort(400)
    service.erase(statement)
    db.session.commit()
    private_links.end()
    return render_template("statements/erased.html")
