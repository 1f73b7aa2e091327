"""Forms for administering staff accounts and memberships."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length

from ..forms import strip
from ..i18n import LOCALE_LABELS

ROLE_LABELS = {"organizer": _l("Organizer"), "rep": _l("Union representative")}


class InviteForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)],
                       filters=[strip])
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=120)],
                               filters=[strip])
    locale = SelectField(_l("Language of the invitation"),
                         choices=[(code, label) for code, label in LOCALE_LABELS.items()])
    is_admin = BooleanField(_l("Administrator"))


class MembershipForm(FlaskForm):
    campaign = SelectField(_l("Campaign"), choices=[])
    role = SelectField(_l("Role"), choices=list(ROLE_LABELS.items()))


class ConfirmForm(FlaskForm):
    """An empty form: a button that acts, protected by the CSRF token."""
