"""Form pieces shared by several blueprints: the base form and validators with translated
messages."""

import functools

from babel import support
from flask import abort, current_app, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import CombinedMultiDict, MultiDict
from wtforms.fields import FileField
from wtforms.i18n import messages_path
from wtforms.validators import ValidationError

from .services.accounts import PASSWORD_MAX, PASSWORD_MIN, password_problem

PASSWORD_MESSAGES = {
    "too_short": _l("Use at least %(n)d characters.", n=PASSWORD_MIN),
    "too_long": _l("Use at most %(n)d characters.", n=PASSWORD_MAX),
    "too_common": _l("This password is too common. Choose another one, a sentence works well."),
}

NUL_MESSAGE = _l("This field contains a character that is not allowed.")
FORM_MIMETYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class Form(FlaskForm):
    """Every form of the project. Flask-WTF would hand a text field an uploaded file, or a JSON
    body's numbers, lists and objects, which WTForms' filters and validators do not expect.
    Here a form reads only what a browser sends: text fields from the form body, file fields
    from the uploads; anything else counts as absent and fails validation like a missing value.
    A body of another type (JSON, XML...) is refused with 415.
    """

    class Meta:
        def get_translations(self, form):
            """WTForms' own messages in the page's language. Flask-WTF reads the catalog from
            disk on every request; it never changes while the process runs, so keep it."""
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)
            return _wtforms_translations(str(get_locale()))

        def wrap_formdata(self, form, formdata):
            wrapped = super().wrap_formdata(form, formdata)
            if wrapped is formdata:  # data given explicitly
                return wrapped
            if request.mimetype and request.mimetype not in FORM_MIMETYPES:
                abort(415)
            if wrapped is None:
                return None
            file_names = {field.name for field in form if isinstance(field, FileField)}
            text = MultiDict([(key, value) for key, value in request.form.items(multi=True)
                              if key not in file_names])
            uploads = MultiDict([(key, value) for key, value in request.files.items(multi=True)
                                 if key in file_names])
            return CombinedMultiDict((uploads, text))

    def validate(self, extra_validators=None):
        """Also refuse a NUL character anywhere: no text needs one, and PostgreSQL cannot store it."""
        valid = super().validate(extra_validators)
        for field in self:
            if any(isinstance(value, str) and "\x00" in value for value in field.raw_data or ()):
                field.errors = [*field.errors, NUL_MESSAGE]
                valid = False
        return valid


@functools.lru_cache(maxsize=8)
def _wtforms_translations(locale):
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


#: slugs that would collide with a route of their own (/staff/campaigns/new, .../petitions/new)
RESERVED_SLUGS = frozenset({"new"})
RESERVED_MESSAGE = _l("This short name is reserved; choose another one.")


def not_reserved(form, field):
    if (field.data or "") in RESERVED_SLUGS:
        raise ValidationError(RESERVED_MESSAGE)


def version_number(raw):
    """A consent-text version as posted by our own hidden field (a few ASCII digits), or None."""
    raw = str(raw or "")
    return int(raw) if 0 < len(raw) <= 6 and raw.isascii() and raw.isdigit() else None


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
