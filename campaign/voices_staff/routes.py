"""Thin views: reps moderate statements and write meeting notes; reps and organizers log actions.

Load (404 for a campaign one is not part of, and for what one may not even know exists, like a
reps-only note shown to an organizer), authorize through `access` (403), call a service, commit
once, redirect.
"""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import access
from ..database import writes_on_get
from ..extensions import db
from ..markdown import render as render_markdown
from ..models.consent import PUBLISH_NAMED, SHARE_WITH_REPS
from ..services import actions as action_service
from ..services import meetings as note_service
from ..services import statements as statement_service
from . import bp
from .forms import (
    ActionForm,
    ButtonForm,
    NoteFilterForm,
    NoteForm,
    PublishForm,
    RejectForm,
    TranslationForm,
)

STATEMENT_ERRORS = {
    "withdrawn": lambda: _("The author withdrew this statement."),
    "not_allowed": lambda: _("The author did not allow publication. It stays with the reps."),
    "named_not_allowed": lambda: _("The author did not allow publication with their name."),
    "no_name": lambda: _("The author gave no name."),
    "missing": lambda: _("The text to publish is empty."),
    "too_long": lambda: _("The text is too long."),
    "bad_reason": lambda: _("Choose a reason from the list."),
}
NOTE_ERRORS = {
    "no_title": lambda: _("Give the note a title."),
    "no_date": lambda: _("Give the date of the meeting."),
    "bad_kind": lambda: _("Choose a kind of meeting from the list."),
    "bad_visibility": lambda: _("Choose who may read the note."),
    "too_long": lambda: _("A field is too long."),
}
ACTION_ERRORS = {
    "bad_kind": lambda: _("Choose a kind of action from the list."),
    "bad_visibility": lambda: _("Choose a visibility from the list."),
    "no_date": lambda: _("Give the date of the action."),
    "no_title": lambda: _("Fill in at least one language."),
    "too_long": lambda: _("A field is too long."),
    "bad_count": lambda: _("The number of participants is not valid."),
}


def _values(form, names):
    return {name: form[name].data for name in names if name in form}


# --- statements --------------------------------------------------------------------------------

@bp.get("/statements")
@access.staff
def statements(slug):
    campaign = access.staff_campaign(slug, current_user)
    access.authorize(access.can_list_statements(current_user, campaign))
    if access.can_view_unpublished_statements(current_user, campaign):
        everything = statement_service.staff_statements(campaign)
        return render_template("voices_staff/statements.html", campaign=campaign,
                               queue=statement_service.moderation_queue(everything),
                               everything=everything, published=None,
                               choice_of=statement_service.choice_of)
    return render_template("voices_staff/statements.html", campaign=campaign, queue=None,
                           everything=None,
                           published=statement_service.published_statements(campaign))


def _statement(campaign, public_id):
    access.authorize(access.can_moderate_statements(current_user, campaign))
    found = statement_service.get_in_campaign(campaign, public_id)
    if found is None or found.is_withdrawn:
        abort(404)
    return found


def _statement_page(campaign, statement, *, publish_form=None, reject_form=None,
                    translation_form=None, status=200):
    """The moderation page; showing an author's name or workplace to a rep is audited."""
    consents = statement_service.effective(statement)
    name = site = department = None
    shown_by = None
    if access.can_see_statement_author_name(current_user, campaign, consents):
        name, _email = statement_service.identity(statement)
        if name:
            shown_by = SHARE_WITH_REPS if consents.get(SHARE_WITH_REPS) else PUBLISH_NAMED
    if access.can_see_statement_units(current_user, campaign, consents):
        site, department = statement.site, statement.department
        if site or department:
            shown_by = SHARE_WITH_REPS
    if shown_by:
        statement_service.record_identity_view(statement, actor=current_user, purpose=shown_by)
        db.session.commit()
    if publish_form is None:
        publish_form = PublishForm(formdata=None)
        publish_form.redacted_text.data = statement.redacted_text or statement.text
        publish_form.named.data = statement.published_named
    if reject_form is None:
        reject_form = RejectForm(formdata=None, prefix="reject")
    if translation_form is None:
        translation_form = TranslationForm(formdata=None, prefix="translation")
        translation_form.translation.data = statement.translation
    return render_template(
        "voices_staff/statement.html", campaign=campaign, statement=statement,
        consents=consents, choice_of=statement_service.choice_of, name=name, site=site,
        department=department,
        may_publish=access.publication_allowed(consents),
        may_publish_named=access.publication_allowed(consents, named=True) and bool(name),
        publish_form=publish_form, reject_form=reject_form,
        translation_form=translation_form), status


@bp.get("/statements/<public_id>")
@access.staff
@writes_on_get
def statement(slug, public_id):
    campaign = access.staff_campaign(slug, current_user)
    return _statement_page(campaign, _statement(campaign, public_id))


def _decided(campaign, found, message):
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("voices_staff.statement", slug=campaign.slug,
                            public_id=found.public_id))


@bp.post("/statements/<public_id>/publish")
@access.staff
def publish(slug, public_id):
    campaign = access.staff_campaign(slug, current_user)
    found = _statement(campaign, public_id)
    form = PublishForm()
    if form.validate_on_submit():
        try:
            statement_service.publish(found, actor=current_user,
                                      redacted_text=form.redacted_text.data,
                                      named=form.named.data)
        except statement_service.StatementError as error:
            db.session.rollback()
            form.form_errors.append(STATEMENT_ERRORS[str(error)]())
        else:
            return _decided(campaign, found, _("The statement is published."))
    return _statement_page(campaign, found, publish_form=form, status=400)


@bp.post("/statements/<public_id>/reject")
@access.staff
def reject(slug, public_id):
    campaign = access.staff_campaign(slug, current_user)
    found = _statement(campaign, public_id)
    form = RejectForm(prefix="reject")
    if form.validate_on_submit():
        try:
            statement_service.reject(found, actor=current_user, reason=form.reason.data,
                                     note=form.note.data)
        except statement_service.StatementError as error:
            db.session.rollback()
            form.form_errors.append(STATEMENT_ERRORS[str(error)]())
        else:
            return _decided(campaign, found, _("The statement will not be published."))
    return _statement_page(campaign, found, reject_form=form, status=400)


@bp.post("/statements/<public_id>/translation")
@access.staff
def translate(slug, public_id):
    campaign = access.staff_campaign(slug, current_user)
    found = _statement(campaign, public_id)
    form = TranslationForm(prefix="translation")
    if form.validate_on_submit():
        try:
            statement_service.set_translation(found, actor=current_user,
                                              translation=form.translation.data)
        except statement_service.StatementError as error:
            db.session.rollback()
            form.form_errors.append(STATEMENT_ERRORS[str(error)]())
        else:
            return _decided(campaign, found, _("The translation is saved."))
    return _statement_page(campaign, found, translation_form=form, status=400)


# --- meeting notes -----------------------------------------------------------------------------

NOTE_FIELDS = ("title", "held_on", "kind", "attendees", "body", "decisions", "follow_ups",
               "visibility")


def _note(campaign, public_id):
    """The note, or 404 for anyone who may not open it (its existence is not theirs to know)."""
    access.authorize(access.can_list_meeting_notes(current_user, campaign))
    found = note_service.get_note(campaign, public_id)
    access.authorize(access.can_view_meeting_note(current_user, found), hide=True)
    return found


def _rendered(record):
    return {name: render_markdown(getattr(record, name))
            for name in ("body", "decisions", "follow_ups")}


@bp.get("/notes")
@access.staff
def notes(slug):
    campaign = access.staff_campaign(slug, current_user)
    access.authorize(access.can_list_meeting_notes(current_user, campaign))
    filters = NoteFilterForm(formdata=request.args)
    valid = filters.validate()
    found = note_service.list_notes(
        campaign, access.meeting_note_visibilities(current_user, campaign),
        date_from=filters.date_from.data if valid else None,
        date_to=filters.date_to.data if valid else None,
        kind=filters.kind.data if valid and filters.kind.data else None)
    return render_template("voices_staff/notes.html", campaign=campaign, notes=found,
                           filters=filters), 200 if valid else 400


@bp.route("/notes/new", methods=["GET", "POST"])
@access.staff
def new_note(slug):
    campaign = access.staff_campaign(slug, current_user)
    access.authorize(access.can_write_meeting_notes(current_user, campaign))
    form = NoteForm()
    if form.validate_on_submit():
        try:
            created = note_service.create_note(campaign, actor=current_user,
                                               **_values(form, NOTE_FIELDS))
        except note_service.NoteError as error:
            db.session.rollback()
            form.form_errors.append(NOTE_ERRORS[str(error)]())
        else:
            db.session.commit()
            flash(_("The note is saved."), "success")
            return redirect(url_for("voices_staff.note", slug=slug, public_id=created.public_id))
    status = 400 if request.method == "POST" else 200
    return render_template("voices_staff/note_form.html", campaign=campaign, form=form,
                           note=None), status


@bp.get("/notes/<public_id>")
@access.staff
def note(slug, public_id):
    campaign = access.staff_campaign(slug, current_user)
    found = _note(campaign, public_id)
    return render_template("voices_staff/note.html", campaign=campaign, note=found,
                           record=found, rendered=_rendered(found), revision=None)


@bp.route("/notes/<public_id>/edit", methods=["GET", "POST"])
@access.staff
def edit_note(slug, public_id):
    campaign = access.staff_campaign(slug, current_user)
    found = _note(campaign, public_id)
    access.authorize(access.can_edit_meeting_note(current_user, found))
    form = NoteForm(obj=found)
    if form.validate_on_submit():
        try:
            revision = note_service.update_note(found, actor=current_user,
                                                **_values(form, NOTE_FIELDS))
        except note_service.NoteError as error:
            db.session.rollback()
            form.form_errors.append(NOTE_ERRORS[str(error)]())
        else:
            db.session.commit()
            flash(_("The note is saved.") if revision else _("Nothing changed."), "success")
            return redirect(url_for("voices_staff.note", slug=slug, public_id=found.public_id))
    status = 400 if request.method == "POST" else 200
    return render_template("voices_staff/note_form.html", campaign=campaign, form=form,
                           note=found), status


def _history(campaign, public_id):
    found = _note(campaign, public_id)
    access.authorize(access.can_view_meeting_note_history(current_user, found))
    return found


@bp.get("/notes/<public_id>/revisions")
@access.staff
def revisions(slug, public_id):
    campaign = access.staff_campaign(slug, current_user)
    found = _history(campaign, public_id)
    return render_template("voices_staff/revisions.html", campaign=campaign, note=found,
                           revisions=list(reversed(found.revisions)))


def _revision(found, number):
    revision = note_service.get_revision(found, number)
    if revision is None:
        abort(404)
    return revision


@bp.get("/notes/<public_id>/revisions/<int:number>")
@access.staff
def revision(slug, public_id, number):
    campaign = access.staff_campaign(slug, current_user)
    found = _history(campaign, public_id)
    shown = _revision(found, number)
    return render_template("voices_staff/note.html", campaign=campaign, note=found,
                           record=shown, rendered=_rendered(shown), revision=shown)


@bp.get("/notes/<public_id>/revisions/<int:number>/diff")
@access.staff
def revision_diff(slug, public_id, number):
    campaign = access.staff_campaign(slug, current_user)
    found = _history(campaign, public_id)
    after = _revision(found, number)
    before = note_service.get_revision(found, number - 1) if number > 0 else None
    return render_template("voices_staff/diff.html", campaign=campaign, note=found,
                           before=before, after=after,
                           changes=note_service.diff(before, after))


# --- actions -----------------------------------------------------------------------------------

ACTION_FIELDS = action_service.FIELDS


def _action(campaign, public_id):
    access.authorize(access.can_log_actions(current_user, campaign))
    found = action_service.get_action(campaign, public_id)
    if found is None:
        abort(404)
    return found


@bp.get("/actions")
@access.staff
def actions(slug):
    campaign = access.staff_campaign(slug, current_user)
    access.authorize(access.can_view_actions(current_user, campaign))
    return render_template("voices_staff/actions.html", campaign=campaign,
                           actions=action_service.staff_actions(campaign))


@bp.route("/actions/new", methods=["GET", "POST"])
@access.staff
def new_action(slug):
    campaign = access.staff_campaign(slug, current_user)
    access.authorize(access.can_log_actions(current_user, campaign))
    form = ActionForm()
    if form.validate_on_submit():
        try:
            action_service.create_action(campaign, actor=current_user,
                                         **_values(form, ACTION_FIELDS))
        except action_service.ActionError as error:
            db.session.rollback()
            form.form_errors.append(ACTION_ERRORS[str(error)]())
        else:
            db.session.commit()
            flash(_("The action is logged."), "success")
            return redirect(url_for("voices_staff.actions", slug=slug))
    status = 400 if request.method == "POST" else 200
    return render_template("voices_staff/action_form.html", campaign=campaign, form=form,
                           action=None), status


@bp.route("/actions/<public_id>/edit", methods=["GET", "POST"])
@access.staff
def edit_action(slug, public_id):
    campaign = access.staff_campaign(slug, current_user)
    found = _action(campaign, public_id)
    form = ActionForm(obj=found)
    if form.validate_on_submit():
        try:
            action_service.update_action(found, actor=current_user,
                                         **_values(form, ACTION_FIELDS))
        except action_service.ActionError as error:
            db.session.rollback()
            form.form_errors.append(ACTION_ERRORS[str(error)]())
        else:
            db.session.commit()
            flash(_("The action is saved."), "success")
            return redirect(url_for("voices_staff.actions", slug=slug))
    status = 400 if request.method == "POST" else 200
    return render_template("voices_staff/action_form.html", campaign=campaign, form=form,
                           action=found), status


@bp.post("/actions/<public_id>/delete")
@access.staff
def delete_action(slug, public_id):
    campaign = access.staff_campaign(slug, current_user)
    found = _action(campaign, public_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    action_service.delete_action(found, actor=current_user)
    db.session.commit()
    flash(_("The action is deleted."), "success")
    return redirect(url_for("voices_staff.actions", slug=slug))
