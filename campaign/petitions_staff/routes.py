"""Thin views: organizers manage petitions; reps see consenting signers and enter paper forms."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import access, audit
from ..database import writes_on_get
from ..extensions import db
from ..i18n import current_locale
from ..models import Petition, PetitionSnapshot, Signature
from ..services import consent
from ..services import paper as paper_service
from ..services import petitions as service
from ..services import signatures as signature_service
from . import bp
from .forms import BatchForm, NewPetitionForm, PaperForm, PetitionForm

ERRORS = {
    "bad_slug": lambda: _("This short name is not valid."),
    "slug_taken": lambda: _("This short name is already used in this campaign."),
    "bad_dates": lambda: _("The closing date is before the opening date."),
    "no_title": lambda: _("Fill in at least one language."),
    "bad_status": lambda: _("This status is not valid."),
    "bad_verification": lambda: _("This verification mode is not valid."),
    "bad_version": lambda: _("There is no consent text with this version."),
    "bad_unit": lambda: _("Choose a site and a department from the lists."),
}
ROW_ERRORS = {
    "bad_bool": lambda: _("write yes or no"),
    "bad_site": lambda: _("unknown site"),
    "bad_department": lambda: _("unknown department"),
    "missing_name": lambda: _("the name is missing"),
    "bad_email": lambda: _("not a valid e-mail address"),
    "too_long": lambda: _("too long"),
    "duplicate": lambda: _("the same person appears twice in the file"),
    "missing_column": lambda: _("the file has no “name” column"),
    "bad_encoding": lambda: _("the file is not UTF-8 text"),
    "too_many_rows": lambda: _("too many rows (5,000 at most per file)"),
    "extra_cells": lambda: _("more cells than columns"),
    "empty": lambda: _("the file has no rows"),
}


def _petition(campaign, petition_slug):
    found = service.get(campaign, petition_slug)
    if found is None:
        abort(404)
    return found


def _values(form):
    return {name: form[name].data for name in service.FIELDS if name in form}


def _links():
    return signature_service.Links(
        private=lambda token: url_for("petitions.open_link", token=token, _external=True),
        confirm=lambda token: url_for("petitions.confirm", token=token, _external=True),
        lost=lambda: url_for("petitions.lost_link_page", _external=True),
    )


@bp.get("/")
@access.staff
def index(slug):
    campaign = access.staff_campaign(slug, current_user)
    access.authorize(access.can_view_petition_counts(current_user, campaign))
    petitions = db.session.execute(
        select(Petition).where(Petition.campaign_id == campaign.id).order_by(Petition.created_at)
    ).scalars().all()
    snapshots = {s.petition_id: s for s in db.session.execute(
        select(PetitionSnapshot).where(PetitionSnapshot.petition_id.in_([p.id for p in petitions]))
    ).scalars()}
    return render_template("petitions_staff/index.html", campaign=campaign, petitions=petitions,
                           snapshots=snapshots)


@bp.route("/new", methods=["GET", "POST"])
@access.staff
def new(slug):
    campaign = access.staff_campaign(slug, current_user)
    access.authorize(access.can_manage_petitions(current_user, campaign))
    form = NewPetitionForm()
    if form.validate_on_submit():
        try:
            created = service.create_petition(campaign, form.slug.data, actor=current_user,
                                              **_values(form))
        except service.PetitionError as error:
            form.form_errors.append(ERRORS[str(error)]())
            db.session.rollback()
        else:
            db.session.commit()
            flash(_("The petition is created."), "success")
            return redirect(url_for("petitions_staff.detail", slug=slug,
                                    petition_slug=created.slug))
    return render_template("petitions_staff/form.html", form=form, campaign=campaign,
                           petition=None)


@bp.route("/<petition_slug>/edit", methods=["GET", "POST"])
@access.staff
def edit(slug, petition_slug):
    campaign = access.staff_campaign(slug, current_user)
    access.authorize(access.can_manage_petitions(current_user, campaign))
    petition = _petition(campaign, petition_slug)
    form = PetitionForm(obj=petition)
    if form.validate_on_submit():
        try:
            service.update_petition(petition, actor=current_user, **_values(form))
        except service.PetitionError as error:
            form.form_errors.append(ERRORS[str(error)]())
            db.session.rollback()
        else:
            db.session.commit()
            flash(_("The petition is saved."), "success")
            return redirect(url_for("petitions_staff.detail", slug=slug,
                                    petition_slug=petition.slug))
    return render_template("petitions_staff/form.html", form=form, campaign=campaign,
                           petition=petition)


@bp.get("/<petition_slug>")
@access.staff
def detail(slug, petition_slug):
    campaign = access.staff_campaign(slug, current_user)
    access.authorize(access.can_view_petition_counts(current_user, campaign))
    petition = _petition(campaign, petition_slug)
    snapshot = db.session.get(PetitionSnapshot, petition.id)
    # Staff see the batched figures too: a live count would let a rep match "+1" to a person.
    return render_template("petitions_staff/detail.html", campaign=campaign, petition=petition,
                           snapshot=snapshot)


@bp.get("/<petition_slug>/signers")
@access.staff
@writes_on_get
def signers(slug, petition_slug):
    """Signers who chose to share their identity with reps; every view is audited."""
    campaign = access.staff_campaign(slug, current_user)
    access.authorize(access.can_list_signers(current_user, campaign))
    petition = _petition(campaign, petition_slug)
    purpose = access.signer_purpose_visible_to_reps()
    rows = db.session.execute(
        select(Signature)
        .where(Signature.petition_id == petition.id, *signature_service.counted_clause(),
               consent.granted_signatures_clause(purpose))
        .order_by(Signature.id)
    ).scalars().all()
    people = []
    for signature in rows:
        if not access.can_see_signer_name(current_user, campaign, {purpose: True}):
            continue
        name, _email = signature_service.identity(signature)
        people.append({"name": name, "site": signature.site, "department": signature.department,
                       "source": signature.source, "signed_on": signature.signed_on})
    audit.record("identities_viewed", actor=current_user, target=petition, campaign=campaign,
                 details={"count": len(people), "purpose": purpose})
    db.session.commit()
    return render_template("petitions_staff/signers.html", campaign=campaign, petition=petition,
                           people=people)


@bp.route("/<petition_slug>/paper", methods=["GET", "POST"])
@access.staff
def paper(slug, petition_slug):
    campaign = access.staff_campaign(slug, current_user)
    access.authorize(access.can_enter_paper_signatures(current_user, campaign))
    petition = _petition(campaign, petition_slug)
    form = PaperForm().setup(campaign, current_locale())
    batch = BatchForm(prefix="batch")
    if form.validate_on_submit():
        row = paper_service.PaperRow(
            name=form.name.data, email=form.email.data,
            site_id=form.site.data, department_id=form.department.data,
            consents={"public_name": form.consent_public_name.data,
                      "share_with_reps": form.consent_share_with_reps.data,
                      "contact": form.consent_contact.data})
        try:
            _check_units(campaign, row)
            paper_service.enter(petition, [row], actor=current_user, version=form.version.data,
                                links=_links(), batch_label=form.batch_label.data)
        except paper_service.PaperError as error:
            db.session.rollback()
            form.form_errors.append(ERRORS[str(error)]())
        else:
            db.session.commit()
            flash(_("The paper signature is recorded."), "success")
            return redirect(url_for("petitions_staff.paper", slug=slug,
                                    petition_slug=petition.slug))
    status = 400 if request.method == "POST" else 200
    return render_template("petitions_staff/paper.html", campaign=campaign, petition=petition,
                           form=form, batch=batch, problems=None), status


def _check_units(campaign, row):
    for unit_id, kind in ((row.site_id, "site"), (row.department_id, "department")):
        if unit_id is not None and not any(
                u.id == unit_id and u.kind == kind for u in campaign.units):
            raise paper_service.PaperError("bad_unit")


@bp.post("/<petition_slug>/paper/batch")
@access.staff
def paper_batch(slug, petition_slug):
    campaign = access.staff_campaign(slug, current_user)
    access.authorize(access.can_enter_paper_signatures(current_user, campaign))
    petition = _petition(campaign, petition_slug)
    form = PaperForm(formdata=None).setup(campaign, current_locale())
    batch = BatchForm(prefix="batch")
    problems = None
    if batch.validate_on_submit():
        rows, found = paper_service.parse_batch(batch.file.data.read(), campaign)
        problems = [{"row": p.row, "column": p.column, "message": ROW_ERRORS[p.code]()}
                    for p in found]
        if not problems:
            try:
                count = paper_service.enter(petition, rows, actor=current_user,
                                            version=batch.version.data, links=_links(),
                                            batch_label=batch.batch_label.data)
            except paper_service.PaperError as error:
                db.session.rollback()
                batch.form_errors.append(ERRORS[str(error)]())
            else:
                db.session.commit()
                flash(_("%(n)d paper signatures are recorded from batch “%(label)s”.", n=count,
                        label=batch.batch_label.data), "success")
                return redirect(url_for("petitions_staff.paper", slug=slug,
                                        petition_slug=petition.slug))
    return render_template("petitions_staff/paper.html", campaign=campaign, petition=petition,
                           form=form, batch=batch, problems=problems), 400
