"""Thin views: the tally dashboard, taking and publishing releases, exports; the public summary."""

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import access
from ..database import begin_write, reads_first
from ..extensions import db
from ..i18n import current_locale
from ..models import PetitionSnapshot
from ..models.tallies import RELEASE_ON_DEMAND
from ..services import exports
from ..services import petitions as petition_service
from ..services import tallies as service
from . import bp, present
from .forms import ExportForm, PublishForm, TakeReleaseForm

ERRORS = {
    "too_soon": lambda: _("A release was taken a short while ago. Try again later: releases are "
                          "no more frequent than the public count's refresh."),
    "deferred": lambda: _("This release was deferred: it cannot be published or exported."),
    "bad_dimensions": lambda: _("This release has no such breakdown."),
}

bp.add_app_template_global(present.public_view, "tally_public_summary")


def _load(slug, petition_slug, allowed):
    """The campaign (404 to outsiders), the viewer's right (403), then the petition (404)."""
    campaign = access.staff_campaign(slug, current_user)
    access.authorize(allowed(current_user, campaign))
    petition = petition_service.get(campaign, petition_slug)
    if petition is None:
        abort(404)
    return campaign, petition


def _back(campaign, petition, **args):
    return redirect(url_for("tallies.dashboard", slug=campaign.slug, petition_slug=petition.slug,
                            **args))


@bp.get("/")
@access.staff
def dashboard(slug, petition_slug):
    campaign, petition = _load(slug, petition_slug, access.can_view_tallies)
    period = request.args.get("period")
    period = period if period in service.PERIODS else service.WEEK
    ledger = service.releases(petition)
    release = service.get_release(petition, request.args.get("release"))
    if release is None or release.is_deferred:
        release = service.latest_release(petition)
    view = present.release_view(release, period, campaign) if release is not None else None
    export_form = ExportForm(formdata=None).setup(release, current_locale())
    return render_template(
        "tallies/dashboard.html", campaign=campaign, petition=petition, period=period,
        snapshot=db.session.get(PetitionSnapshot, petition.id), ledger=list(reversed(ledger)),
        view=view, release=release, export_form=export_form, take_form=TakeReleaseForm(),
        publish_form=PublishForm(), needs_new_series=bool(ledger) and ledger[-1].is_deferred
        and ledger[-1].defer_reason == "structure_changed",
        defer_reason_text=present.defer_reason_text, kind_label=present.kind_label)


@bp.post("/releases")
@access.staff
@reads_first
def take_release(slug, petition_slug):
    campaign, petition = _load(slug, petition_slug, access.can_take_tally_release)
    form = TakeReleaseForm()
    if not form.validate_on_submit():
        abort(400)
    tally = service.compute(petition)  # counted in a read transaction: signing goes on
    begin_write()  # from here on under the write lock; the service reads the ledger again
    try:
        outcome = service.take_release(petition, kind=RELEASE_ON_DEMAND, actor=current_user,
                                       new_series=form.new_series.data == "1", tally=tally)
    except service.TallyError as error:
        db.session.rollback()
        flash(ERRORS[str(error)](), "error")
        return _back(campaign, petition)
    db.session.commit()
    if outcome.result == "released":
        flash(_("A new release is in the ledger. Check it, then publish it if you wish."),
              "success")
    else:
        flash(_("The release is deferred: %(reason)s",
                reason=present.defer_reason_text(outcome.reason, campaign.tally_threshold)),
              "error")
    return _back(campaign, petition)


@bp.post("/releases/<release_id>/publish")
@access.staff
def publish(slug, petition_slug, release_id):
    campaign, petition = _load(slug, petition_slug, access.can_publish_tally_release)
    release = service.get_release(petition, release_id)
    if release is None:
        abort(404)
    if not PublishForm().validate_on_submit():
        abort(400)
    try:
        service.publish(release, actor=current_user)
    except service.TallyError as error:
        db.session.rollback()
        flash(ERRORS[str(error)](), "error")
        return _back(campaign, petition)
    db.session.commit()
    flash(_("The release is published on the campaign's public page."), "success")
    return _back(campaign, petition, release=release.public_id)


@bp.post("/export")
@access.staff
def export(slug, petition_slug):
    campaign, petition = _load(slug, petition_slug, access.can_export_tallies)
    release = service.get_release(petition, request.form.get("release"))
    if release is None:
        release = service.latest_release(petition)
    if release is None:
        flash(_("There is no release to export yet."), "error")
        return _back(campaign, petition)
    form = ExportForm().setup(release, current_locale())
    if not form.validate_on_submit():
        abort(400)
    try:
        exported = exports.export_release(
            release, by=form.chosen_dimensions(), period=form.period.data, fmt=form.format.data,
            lang=form.language.data, french_csv=form.french_csv.data, actor=current_user)
    except service.TallyError as error:
        db.session.rollback()
        flash(ERRORS.get(str(error), ERRORS["bad_dimensions"])(), "error")
        return _back(campaign, petition)
    db.session.commit()
    response = make_response(exported.content)
    response.headers["Content-Type"] = exported.mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{exported.filename}"'
    return response
