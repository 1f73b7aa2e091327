"""Thin views for staff authentication: password, then second factor (or enrolment), then a
server-side session."""

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from .. import access, sessions
from ..extensions import db, limiter
from ..public.routes import _safe_next
from ..services import accounts
from . import bp
from .forms import (
    AccountForm,
    ChangePasswordForm,
    ChoosePasswordForm,
    EnrolForm,
    LoginForm,
    SecondFactorForm,
)


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _second_factor_limits(view):
    """Code checks are rate limited twice: per address (like the password) and per account
    being signed in, shared by the code and enrolment pages."""
    view = limiter.shared_limit(_login_limit, scope="second-factor",
                                key_func=sessions.pending_rate_key, methods=["POST"])(view)
    return limiter.limit(_login_limit, methods=["POST"])(view)


def _pending_user_or_restart():
    """(user, None) for a live pending login, else (None, a redirect to the sign-in page)."""
    had_pending = sessions.has_pending()
    user = sessions.pending_user()
    if user is not None:
        return user, None
    sessions.clear_pending()
    if had_pending:
        flash(_("Your sign-in took too long. Please start again."), "info")
    return None, redirect(url_for("auth.login"))


def _after_sign_in():
    target = sessions.pending_next()
    return _safe_next(target) if target else url_for("campaigns.home")


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
            # No staff session yet: only a pending login, until the second factor.
            enrolled = user.is_second_factor_enrolled
            if not enrolled:
                accounts.prepare_enrolment(user)
            next_url = request.args.get("next")
            sessions.begin_pending(user, _safe_next(next_url) if next_url else None)
            db.session.commit()
            return redirect(url_for("auth.second_factor" if enrolled else "auth.enrol"))
        db.session.commit()  # keeps the audit event of the failed attempt
        # Same words whether the e-mail is unknown or the password wrong.
        form.password.errors.append(_("The e-mail or the password is not right."))
    return render_template("auth/login.html", form=form)


@bp.route("/login/code", methods=["GET", "POST"])
@_second_factor_limits
@access.public
def second_factor():
    if access.is_staff(current_user):
        return redirect(url_for("campaigns.home"))
    user, restart = _pending_user_or_restart()
    if user is None:
        return restart
    if not user.is_second_factor_enrolled:
        return redirect(url_for("auth.enrol"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        method = accounts.check_second_factor(user, form.code.data)
        if method is not None:
            target = _after_sign_in()
            sessions.begin(user)
            if method == "recovery_code":
                left = accounts.recovery_codes_left(user)
                flash(ngettext("You used a recovery code. %(num)d recovery code is left.",
                               "You used a recovery code. %(num)d recovery codes are left.",
                               left), "info")
            db.session.commit()
            return redirect(target)
        db.session.commit()  # keeps the audit event of the failed attempt
        form.code.errors.append(_("This code is not right, or it was already used."))
    return render_template("auth/second_factor.html", form=form)


@bp.route("/login/enrol", methods=["GET", "POST"])
@_second_factor_limits
@access.public
def enrol():
    if access.is_staff(current_user):
        return redirect(url_for("campaigns.home"))
    user, restart = _pending_user_or_restart()
    if user is None:
        return restart
    if user.is_second_factor_enrolled:
        return redirect(url_for("auth.second_factor"))
    secret = accounts.totp_secret(user)
    if secret is None:  # reset by an admin after the password step: start again
        sessions.clear_pending()
        return redirect(url_for("auth.login"))
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = accounts.confirm_enrolment(user, form.code.data)
        except accounts.AccountError:
            db.session.commit()  # keeps the audit event of the failed attempt
            form.code.errors.append(
                _("This code is not right. Check that the clock of your phone is on time and "
                  "type the code the app shows now."))
        else:
            target = _after_sign_in()
            sessions.begin(user)
            db.session.commit()
            # Shown in this response only: the codes are stored hashed and never shown again.
            return render_template("auth/recovery_codes.html", codes=codes, next_url=target)
    return render_template("auth/enrol.html", form=form,
                           secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                           uri=accounts.provisioning_uri(user, secret))


@bp.post("/admin/users/<public_id>/second-factor/reset")
@access.staff
def reset_second_factor(public_id):
    access.authorize(access.can_reset_second_factor(current_user))
    found = accounts.get_user(public_id)
    if found is None:
        abort(404)
    accounts.reset_second_factor(found, actor=current_user)
    db.session.commit()
    flash(_("The second factor is reset and the person's sessions are ended. They will set up a "
            "new one when they next sign in."), "success")
    return redirect(url_for("admin.user", public_id=found.public_id))


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
        # The password is one step; the session starts once the second factor is set up.
        accounts.prepare_enrolment(user)
        sessions.begin_pending(user)
        db.session.commit()
        flash(_("Your password is set. Now set up the second step of sign-in."), "success")
        return redirect(url_for("auth.enrol"))
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
    return render_template("auth/account.html", form=form, password_form=password_form,
                           recovery_left=accounts.recovery_codes_left(current_user))


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
    return render_template("auth/account.html", form=form, password_form=password_form,
                           recovery_left=accounts.recovery_codes_left(current_user)), 400
