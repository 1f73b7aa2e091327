"""Thin views: parse, load (404), authorize (403), call a service, commit once, redirect."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from .. import access
from ..extensions import db
from ..models import Campaign, Unit
from ..services import campaigns as service
from . import bp
from .forms import CampaignForm, EditUnitForm, NewCampaignForm, UnitForm

ERRORS = {
    "bad_slug": lambda: _("This short name is not valid."),
    "slug_taken": lambda: _("This short name is already used by another campaign."),
    "bad_code": lambda: _("This code is not valid."),
    "code_taken": lambda: _("This code is already used in this campaign."),
    "bad_status": lambda: _("This status is not valid."),
}


def _values(form, fields):
    return {name: form[name].data for name in fields if name in form}


@bp.get("/")
@access.staff
def home():
    everything = db.session.execute(select(Campaign).order_by(Campaign.created_at.desc())).scalars()
    return render_template("campaigns/home.html",
                           campaigns=access.visible_campaigns(current_user, everything))


@bp.route("/campaigns/new", methods=["GET", "POST"])
@access.staff
def new():
    access.authorize(access.can_create_campaign(current_user))
    form = NewCampaignForm()
    if form.validate_on_submit():
        try:
            created = service.create_campaign(
                form.slug.data, actor=current_user,
                **_values(form, service.CAMPAIGN_FIELDS))
        except service.CampaignError as error:
            form.slug.errors.append(ERRORS[str(error)]())
        else:
            db.session.commit()
            flash(_("The campaign is created. Add its sites and departments."), "success")
            return redirect(url_for("campaigns.detail", slug=created.slug))
    return render_template("campaigns/form.html", form=form, campaign=None)


@bp.get("/campaigns/<slug>")
@access.staff
def detail(slug):
    found = access.staff_campaign(slug, current_user)
    return render_template("campaigns/detail.html", campaign=found, unit_form=UnitForm())


@bp.route("/campaigns/<slug>/edit", methods=["GET", "POST"])
@access.staff
def edit(slug):
    found = access.staff_campaign(slug, current_user)
    access.authorize(access.can_edit_campaign(current_user, found))
    form = CampaignForm(obj=found)
    if form.validate_on_submit():
        service.update_campaign(found, actor=current_user, **_values(form, service.CAMPAIGN_FIELDS))
        db.session.commit()
        flash(_("The campaign is saved."), "success")
        return redirect(url_for("campaigns.detail", slug=found.slug))
    return render_template("campaigns/form.html", form=form, campaign=found)


@bp.post("/campaigns/<slug>/units")
@access.staff
def add_unit(slug):
    found = access.staff_campaign(slug, current_user)
    access.authorize(access.can_edit_campaign(current_user, found))
    form = UnitForm()
    if form.validate_on_submit():
        try:
            service.add_unit(found, form.kind.data, form.code.data, actor=current_user,
                             **_values(form, ("name_fr", "name_en", "headcount")))
        except service.CampaignError as error:
            form.code.errors.append(ERRORS[str(error)]())
        else:
            db.session.commit()
            flash(_("The unit is added."), "success")
            return redirect(url_for("campaigns.detail", slug=found.slug))
    return render_template("campaigns/detail.html", campaign=found, unit_form=form), 400


@bp.route("/campaigns/<slug>/units/<kind>/<code>", methods=["GET", "POST"])
@access.staff
def edit_unit(slug, kind, code):
    found = access.staff_campaign(slug, current_user)
    access.authorize(access.can_edit_campaign(current_user, found))
    unit = db.session.execute(
        select(Unit).where(Unit.campaign_id == found.id, Unit.kind == kind, Unit.code == code)
    ).scalar_one_or_none()
    if unit is None:
        abort(404)
    form = EditUnitForm(obj=unit)
    if form.validate_on_submit():
        service.update_unit(unit, actor=current_user, **_values(form, service.UNIT_FIELDS))
        db.session.commit()
        flash(_("The unit is saved."), "success")
        return redirect(url_for("campaigns.detail", slug=found.slug))
    return render_template("campaigns/unit_form.html", form=form, campaign=found, unit=unit)
