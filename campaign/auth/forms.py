"""Forms for signing in (password, then second factor), enrolling, accepting an invitation and
managing one's own account."""

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from ..forms import Form, acceptable_password, choice_list, strip
from ..i18n import LOCALE_LABELS


def text_only(value):
    """A file posted where text is expected (multipart) counts as nothing typed, so the
    validators answer with a message instead of failing on a non-string."""
    return value if value is None or isinstance(value, str) else ""


class LoginForm(Form):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)],
                       filters=[text_only, strip], render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)],
                             filters=[text_only], render_kw={"autocomplete": "current-password"})


class SecondFactorForm(Form):
    """A 6-digit code from the authenticator app, or one of the recovery codes."""

    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=64)], filters=[text_only, strip],
                       description=_l("The 6-digit code your authenticator app shows now, or one "
                                      "of your recovery codes."),
                       render_kw={"autocomplete": "one-time-code", "autocapitalize": "none",
                                  "spellcheck": "false"})


class EnrolForm(Form):
    """The first code made from the new secret: it proves the app holds the right one."""

    code = StringField(_l("Code from the app"),
                       validators=[DataRequired(), Length(max=16),
                                   Regexp(r"^\s*[0-9]{3}\s?[0-9]{3}\s*$",
                                          message=_l("Type the 6 digits the app shows."))],
                       filters=[text_only, strip],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class ChoosePasswordForm(Form):
    password = PasswordField(_l("New password"), validators=[DataRequired(), acceptable_password],
                             filters=[text_only], render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
                            filters=[text_only], render_kw={"autocomplete": "new-password"})


class ChangePasswordForm(ChoosePasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=128)],
                            filters=[text_only], render_kw={"autocomplete": "current-password"})


class AccountForm(Form):
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=120)],
                               filters=[text_only, strip])
    locale = SelectField(_l("Preferred language"),
                         choices=choice_list(LOCALE_LABELS.items()))
