"""Form pieces shared by several blueprints: validators with translated messages."""

from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

from .services.accounts import PASSWORD_MAX, PASSWORD_MIN, password_problem

PASSWORD_MESSAGES = {
    "too_short": _l("Use at least %(n)d characters.", n=PASSWORD_MIN),
    "too_long": _l("Use at most %(n)d characters.", n=PASSWORD_MAX),
    "too_common": _l("This password is too common. Choose another one, a sentence works well."),
}


def acceptable_password(form, field):
    problem = password_problem(field.data or "")
    if problem:
        raise ValidationError(PASSWORD_MESSAGES[problem])


def strip(value):
    return value.strip() if isinstance(value, str) else value


def empty_to_none(value):
    value = strip(value)
    return value or None


def choice_list(pairs):
    """WTForms choices from (value, label) pairs."""
    from wtforms.fields.choices import SelectChoice

    return [SelectChoice(value, label) for value, label in pairs]
