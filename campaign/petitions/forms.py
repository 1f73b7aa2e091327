"""Signing and private-page forms. Consent boxes are built from the current consent texts."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from ..forms import Form, choice_list, strip, version_number
from ..i18n import localized
from ..models.consent import SIGNATURE_PURPOSES

NO_UNIT = ""


def _coerce_unit(value):
    if value in (None, "", NO_UNIT):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1  # never a valid choice: validation fails with a clear message


class SignForm(Form):
    class Meta:
        # CSRFProtect checks the token of every POST before the view runs, and the page renders
        # it (csrf_token()): the form neither checks it again nor makes a new one to process.
        csrf = False

    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=120)],
                       filters=[strip], render_kw={"autocomplete": "name"})
    email = EmailField(
        _l("Your personal e-mail address"),
        validators=[DataRequired(), Email(message=_l("Enter a valid e-mail address.")),
                    Length(max=254)],
        filters=[strip], render_kw={"autocomplete": "email", "inputmode": "email"},
        description=_l("Used only to avoid double signatures and to send you your private link. "
                       "It is never shown to anyone."))
    # Choices are checked against the campaign's units by the service (validate_choice=False).
    site = SelectField(_l("Your site (optional)"), coerce=_coerce_unit, validate_choice=False)
    department = SelectField(_l("Your department (optional)"), coerce=_coerce_unit,
                             validate_choice=False)
    consent_public_name = BooleanField()
    consent_share_with_reps = BooleanField()
    consent_contact = BooleanField()
    version_public_name = HiddenField()
    version_share_with_reps = HiddenField()
    version_contact = HiddenField()
    use_work_address = BooleanField(_l("I understand; use this address anyway"))
    # Honeypot: people never see it; bots fill it in.
    website = StringField(_l("Leave this field empty"), validators=[Optional(), Length(max=200)])

    def setup(self, petition, texts, locale, *, units=True):
        """Fill the consent labels for this petition, language and texts, and the unit choices
        (a submitted form needs them only if it is shown again: `units=False` leaves them to
        `choose_units`, since the service checks the units on its own fresh rows)."""
        if units:
            self.choose_units(petition, locale)
        for purpose in SIGNATURE_PURPOSES:
            text = texts[purpose]
            self[f"consent_{purpose}"].label.text = text.text(locale)
            if not self[f"version_{purpose}"].data:
                self[f"version_{purpose}"].data = str(text.version)
        return self

    def choose_units(self, petition, locale):
        campaign = petition.campaign
        self.site.choices = choice_list([(NO_UNIT, _l("Prefer not to say"))] + [
            (u.id, localized(u, "name", locale).text) for u in campaign.sites()])
        self.department.choices = choice_list([(NO_UNIT, _l("Prefer not to say"))] + [
            (u.id, localized(u, "name", locale).text) for u in campaign.departments()])
        return self

    def chosen_consents(self):
        return {p: bool(self[f"consent_{p}"].data) for p in SIGNATURE_PURPOSES}

    def shown_versions(self):
        versions = {}
        for purpose in SIGNATURE_PURPOSES:
            versions[purpose] = version_number(self[f"version_{purpose}"].data)
        return versions


class LostLinkForm(Form):
    email = EmailField(_l("The e-mail address you signed with"),
                       validators=[DataRequired(), Email(message=_l("Enter a valid e-mail address.")),
                                   Length(max=254)], filters=[strip])


class ConfirmForm(Form):
    """A button that acts by POST (with its CSRF token)."""


class ConsentForm(Form):
    purpose = HiddenField(validators=[DataRequired()])
    granted = HiddenField(validators=[DataRequired()])
