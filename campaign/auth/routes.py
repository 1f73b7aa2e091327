"""Thin views for staff authentication."""

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import access, sessions
from ..extensions import db, limiter
from ..public.routes import _safe_next
from ..services import accounts
from . import bp
from .forms import AccountForm, ChangePasswordForm, ChoosePasswordForm, LoginForm


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@access.public
def login():
    if access.is_staff(current_user):
        return redirect(url_for("campaigns.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            sessions.begin(user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")) if request.args.get("next")
                            else url_for("campaigns.home"))
        db.session.commit()  # keeps the audit event of the failed attempt
        # Same words whether the e-mail is unknown or the password wrong.
        form.password.errors.append(_("The e-mail or the password is not right."))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@access.public
def logout():
    sessions.end()
    db.session.commit()
    response = redirect(url_for("public.home"))
    response.headers["Clear-Site-Data"] = '"cookies", "storage"'
    return response


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@access.public
def accept_invitation(token):
    invitation = accounts.find_invitation(token)
    if invitation is None:
        return render_template("auth/invitation_invalid.html"), 404
    form = ChoosePasswordForm()
    if form.validate_on_submit():
        user = accounts.accept_invitation(invitation, form.password.data)
        sessions.begin(user)
        db.session.commit()
        flash(_("Your password is set. Welcome."), "success")
        return redirect(url_for("campaigns.home"))
    return render_template("auth/invitation.html", form=form, user=invitation.user)


@bp.route("/account", methods=["GET", "POST"])
@access.staff
def account():
    form = AccountForm(obj=current_user)
    password_form = ChangePasswordForm(prefix="pw")
    if form.validate_on_submit():
        current_user.display_name = form.display_name.data
        current_user.locale = form.locale.data
        session.pop("locale", None)  # the saved preference now decides
        db.session.commit()
        flash(_("Your settings are saved."), "success")
        return redirect(url_for("auth.account"))
    return render_template("auth/account.html", form=form, password_form=password_form)


@bp.post("/account/password")
@access.staff
def change_password():
    form = AccountForm(obj=current_user)
    password_form = ChangePasswordForm(prefix="pw")
    if password_form.validate_on_submit():
        try:
            accounts.change_password(current_user, password_form.current.data,
                                     password_form.password.data)
        except accounts.AccountError:
            password_form.current.errors.append(_("The current password is not right."))
        else:
            user = current_user._get_current_object()
            sessions.begin(user)  # every other session ended; this one starts afresh
            db.session.commit()
            flash(_("Your password is changed. Other sessions were signed out."), "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", form=form, password_form=password_form), 400
