"""The statement form and the author's choices form; consent labels come from the consent texts."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional

from ..forms import Form, empty_to_none, strip, version_number
from ..i18n import LOCALE_LABELS, LOCALES, localized
from ..models.consent import STATEMENT_PURPOSES
from ..models.statements import PUBLICATION_CHOICES, REPS_ONLY
from ..petitions.forms import NO_UNIT, _coerce_unit
from .labels import PUBLICATION_LABELS

TEXT_MAX = 10_000


def _publication_choices():
    return [SelectChoice(c, PUBLICATION_LABELS[c]) for c in PUBLICATION_CHOICES]


class _ConsentVersions:
    """Hidden fields naming the consent-text version shown for each purpose."""

    def fill_versions(self, texts):
        for purpose in STATEMENT_PURPOSES:
            if not self[f"version_{purpose}"].data:
                self[f"version_{purpose}"].data = str(texts[purpose].version)

    def shown_versions(self):
        versions = {}
        for purpose in STATEMENT_PURPOSES:
            versions[purpose] = version_number(self[f"version_{purpose}"].data)
        return versions


class StatementForm(_ConsentVersions, Form):
    text = TextAreaField(
        _l("Your statement"), validators=[DataRequired(), Length(max=TEXT_MAX)], filters=[strip],
        description=_l("Why do you object? Details such as dates, team or project names, places "
                       "or events only a few people attended can identify you, even without your "
                       "name. Leave them out if you want to stay anonymous."))
    language = SelectField(_l("Language of your statement"),
                           choices=[SelectChoice(code, LOCALE_LABELS[code]) for code in LOCALES])
    name = StringField(_l("Your name (optional)"), validators=[Optional(), Length(max=120)],
                       filters=[empty_to_none], render_kw={"autocomplete": "name"},
                       description=_l("Needed only if you want your statement published with "
                                      "your name."))
    email = EmailField(
        _l("Your personal e-mail address (optional)"),
        validators=[Optional(), Email(message=_l("Enter a valid e-mail address.")),
                    Length(max=254)],
        filters=[empty_to_none], render_kw={"autocomplete": "email", "inputmode": "email"},
        description=_l("Only to send you your private link and tell you the reps' decision. "
                       "Prefer a personal address: your employer can read work mail."))
    site = SelectField(_l("Your site (optional)"), coerce=_coerce_unit, validate_choice=False)
    department = SelectField(_l("Your department (optional)"), coerce=_coerce_unit,
                             validate_choice=False)
    publication = RadioField(_l("Who may read your statement"), default=REPS_ONLY,
                             choices=_publication_choices())
    consent_share_with_reps = BooleanField()
    version_publish = HiddenField()
    version_publish_named = HiddenField()
    version_share_with_reps = HiddenField()
    # Honeypot: people never see it; bots fill it in.
    website = StringField(_l("Leave this field empty"), validators=[Optional(), Length(max=200)])

    def setup(self, campaign, texts, locale):
        self.site.choices = [(NO_UNIT, _l("Prefer not to say"))] + [
            (u.id, localized(u, "name", locale).text) for u in campaign.sites()]
        self.department.choices = [(NO_UNIT, _l("Prefer not to say"))] + [
            (u.id, localized(u, "name", locale).text) for u in campaign.departments()]
        if not self.language.data or self.language.data not in LOCALES:
            self.language.data = locale
        self.consent_share_with_reps.label.text = texts["share_with_reps"].text(locale)
        self.fill_versions(texts)
        return self


class ChoicesForm(_ConsentVersions, Form):
    """The author changes what may happen to their statement."""

    publication = RadioField(_l("Who may read your statement"),
                             choices=_publication_choices(),
                             validators=[DataRequired()])
    consent_share_with_reps = BooleanField()
    version_publish = HiddenField()
    version_publish_named = HiddenField()
    version_share_with_reps = HiddenField()

    def setup(self, texts, locale):
        self.consent_share_with_reps.label.text = texts["share_with_reps"].text(locale)
        self.fill_versions(texts)
        return self


class ButtonForm(Form):
    """A button that acts by POST (with its CSRF token)."""
