"""Forms for administering staff accounts and memberships."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from ..forms import Form, choice_list, strip
from ..i18n import LOCALE_LABELS

ROLE_LABELS = {"organizer": _l("Organizer"), "rep": _l("Union representative")}


class InviteForm(Form):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)],
                       filters=[strip])
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=120)],
                               filters=[strip])
    locale = SelectField(_l("Language of the invitation"),
                         choices=choice_list(LOCALE_LABELS.items()))
    is_admin = BooleanField(_l("Administrator"))


class MembershipForm(Form):
    campaign = SelectField(_l("Campaign"), choices=[])
    role = SelectField(_l("Role"), choices=choice_list(ROLE_LABELS.items()))


class ConfirmForm(Form):
    """An empty form: a button that acts, protected by the CSRF token."""


class DeleteUserForm(Form):
    """Deleting an account for good: its e-mail typed again, so that it is never one click."""

    email = EmailField(_l("The account's e-mail, to confirm"),
                       validators=[DataRequired(), Length(max=254)], filters=[strip])


PURPOSE_LABELS = {
    "public_name": _l("Name on the public page"),
    "share_with_reps": _l("Name shared with the reps"),
    "contact": _l("Contact about the campaign"),
    "publish": _l("Statement published without name"),
    "publish_named": _l("Statement published with name"),
}


class ConsentTextForm(Form):
    purpose = SelectField(_l("Purpose"), choices=choice_list(PURPOSE_LABELS.items()))
    text_fr = TextAreaField(_l("Wording in French"), validators=[DataRequired(), Length(max=2000)],
                            filters=[strip])
    text_en = TextAreaField(_l("Wording in English"), validators=[DataRequired(), Length(max=2000)],
                            filters=[strip])
