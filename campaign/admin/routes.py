"""Thin views for administrators (and organizers for their campaign's audit log)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from .. import access, audit, mail
from ..extensions import db
from ..forms import choice_list
from ..models import AuditEvent, Campaign, ConsentText, User
from ..services import accounts, consent
from ..services.campaigns import get_by_slug
from . import bp
from .forms import (
    PURPOSE_LABELS,
    ROLE_LABELS,
    ConfirmForm,
    ConsentTextForm,
    DeleteUserForm,
    InviteForm,
    MembershipForm,
)

PAGE_SIZE = 100


def _user_or_404(public_id):
    user = db.session.execute(select(User).where(User.public_id == public_id)).scalar_one_or_none()
    if user is None:
        abort(404)
    return user


def _membership_form():
    form = MembershipForm()
    campaigns = db.session.execute(select(Campaign).order_by(Campaign.slug)).scalars()
    form.campaign.choices = choice_list((c.slug, c.slug) for c in campaigns)
    return form


@bp.get("/users")
@access.staff
def users():
    access.authorize(access.can_manage_users(current_user))
    everyone = db.session.execute(select(User).order_by(User.email)).scalars().all()
    return render_template("admin/users.html", users=everyone)


@bp.route("/users/invite", methods=["GET", "POST"])
@access.staff
def invite():
    access.authorize(access.can_manage_users(current_user))
    form = InviteForm()
    if form.validate_on_submit():
        try:
            user, token = accounts.invite(form.email.data, form.display_name.data,
                                          actor=current_user, is_admin=form.is_admin.data,
                                          locale=form.locale.data)
        except accounts.AccountError:
            form.email.errors.append(_("An account with this e-mail already exists."))
        else:
            link = url_for("auth.accept_invitation", token=token, _external=True)
            mail.queue_template(user.email, "invitation", locale=user.locale, link=link,
                                name=user.display_name)
            db.session.commit()
            flash(_("The invitation is sent. You can also give this link in person; it is shown only once."), "success")
            return render_template("admin/invited.html", user=user, link=link)
    return render_template("admin/invite.html", form=form)


@bp.get("/users/<public_id>")
@access.staff
def user(public_id):
    access.authorize(access.can_manage_users(current_user))
    return _user_page(_user_or_404(public_id))


def _user_page(found, delete_form=None, status=200):
    return render_template("admin/user.html", user=found, membership_form=_membership_form(),
                           confirm=ConfirmForm(), delete_form=delete_form or DeleteUserForm(),
                           role_labels=ROLE_LABELS), status


@bp.post("/users/<public_id>/active")
@access.staff
def set_active(public_id):
    access.authorize(access.can_manage_users(current_user))
    found = _user_or_404(public_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    make_active = request.form.get("active") == "1"
    if found.id == current_user.id and not make_active:
        flash(_("You cannot deactivate your own account."), "error")
    else:
        accounts.set_active(found, make_active, actor=current_user)
        db.session.commit()
        flash(_("The account is active.") if make_active else
              _("The account is deactivated and its sessions are ended."), "success")
    return redirect(url_for("admin.user", public_id=found.public_id))


@bp.post("/users/<public_id>/delete")
@access.staff
def delete_user(public_id):
    access.authorize(access.can_manage_users(current_user))
    found = _user_or_404(public_id)
    form = DeleteUserForm()
    valid = form.validate_on_submit()
    if form.csrf_token.errors:
        abort(400)
    if valid and accounts.normalize_email(form.email.data) != found.email:
        form.email.errors.append(_("The e-mail typed is not this account's: nothing was deleted."))
        valid = False
    if not valid:  # the page again, the error beside the field
        return _user_page(found, form, status=400)
    if not access.can_delete_user(current_user, found):
        flash(_("You cannot delete your own account."), "error")
    else:
        try:
            accounts.delete_user(found, actor=current_user)
        except accounts.AccountError:
            flash(_("The last active administrator cannot be deleted."), "error")
        else:
            db.session.commit()
            flash(_("The account is deleted."), "success")
            return redirect(url_for("admin.users"))
    return redirect(url_for("admin.user", public_id=found.public_id))


@bp.post("/users/<public_id>/memberships")
@access.staff
def grant(public_id):
    access.authorize(access.can_manage_memberships(current_user))
    found = _user_or_404(public_id)
    form = _membership_form()
    if not form.validate_on_submit():
        abort(400)
    target = get_by_slug(form.campaign.data)
    if target is None:
        abort(404)
    accounts.grant(found, target, form.role.data, actor=current_user)
    db.session.commit()
    flash(_("The role is granted."), "success")
    return redirect(url_for("admin.user", public_id=found.public_id))


@bp.post("/users/<public_id>/memberships/<slug>/<role>/revoke")
@access.staff
def revoke(public_id, slug, role):
    access.authorize(access.can_manage_memberships(current_user))
    found = _user_or_404(public_id)
    target = get_by_slug(slug)
    if target is None or role not in ROLE_LABELS or not ConfirmForm().validate_on_submit():
        abort(404 if target is None else 400)
    if accounts.revoke(found, target, role, actor=current_user):
        db.session.commit()
        flash(_("The role is removed and the person's sessions are ended."), "success")
    else:
        flash(_("This person does not hold that role: nothing changed."), "info")
    return redirect(url_for("admin.user", public_id=found.public_id))


@bp.get("/audit")
@access.staff
def audit_log():
    slug = request.args.get("campaign")
    target = access.staff_campaign(slug, current_user) if slug else None
    access.authorize(access.can_view_audit_log(current_user, target))
    query = (select(AuditEvent).where(AuditEvent.action.not_in(audit.SELF_SERVICE_ACTIONS))
             .order_by(AuditEvent.id.desc()).limit(PAGE_SIZE))
    day = func.date(AuditEvent.created_at)
    per_day = (select(day.label("day"), AuditEvent.action, func.count().label("count"))
               .where(AuditEvent.action.in_(audit.SELF_SERVICE_ACTIONS))
               .group_by(day, AuditEvent.action)
               .order_by(day.desc(), AuditEvent.action)
               .limit(PAGE_SIZE))
    if target is not None:
        query = query.where(AuditEvent.campaign_id == target.id)
        per_day = per_day.where(AuditEvent.campaign_id == target.id)
    events = db.session.execute(query).scalars().all()
    self_service = db.session.execute(per_day).all()
    # Walking the whole chain is costly: only when an admin asks for it.
    wants_check = request.args.get("verify") == "1" and access.is_admin(current_user)
    count, broken = audit.verify() if wants_check else (None, None)
    return render_template("admin/audit.html", events=events, campaign=target,
                           self_service=self_service, chain_count=count, broken=broken)


@bp.route("/consent-texts", methods=["GET", "POST"])
@access.staff
def consent_texts():
    """Versioned consent wording: a used text is never edited; a change is a new version."""
    access.authorize(access.can_manage_consent_texts(current_user))
    form = ConsentTextForm()
    if form.validate_on_submit():
        text = consent.add_version(form.purpose.data, form.text_fr.data, form.text_en.data)
        audit.record("consent_text_added", actor=current_user, target_type="consent_texts",
                     target_id=f"{text.purpose}:{text.version}",
                     details={"purpose": text.purpose, "version": text.version})
        db.session.commit()
        flash(_("Version %(v)d of this text is now shown to new signers.", v=text.version), "success")
        return redirect(url_for("admin.consent_texts"))
    texts = db.session.execute(
        select(ConsentText).order_by(ConsentText.purpose, ConsentText.version.desc())
    ).scalars().all()
    return render_template("admin/consent_texts.html", form=form, texts=texts,
                           purpose_labels=PURPOSE_LABELS)
