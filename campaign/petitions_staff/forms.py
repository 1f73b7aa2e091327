"""Forms for petitions (organizers) and paper signatures (reps)."""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, Regexp

from ..campaigns.forms import SLUG_HELP, one_language_required
from ..forms import Form, choice_list, empty_to_none, not_reserved, strip
from ..petitions.forms import NO_UNIT, _coerce_unit

PETITION_STATUS_LABELS = {
    "draft": _l("Draft (not public)"),
    "open": _l("Open for signatures"),
    "closed": _l("Closed (public, no more signatures)"),
}
VERIFICATION_LABELS = {
    "none": _l("None: counted at once"),
    "email": _l("E-mail confirmation: counted once confirmed"),
}


class PetitionForm(Form):
    title_fr = StringField(_l("Title in French"), validators=[Length(max=200)], filters=[empty_to_none])
    title_en = StringField(_l("Title in English"),
                           validators=[Length(max=200), one_language_required("title_fr", "title_en")],
                           filters=[empty_to_none])
    text_fr = TextAreaField(_l("Text in French"), validators=[Length(max=20000)], filters=[empty_to_none])
    text_en = TextAreaField(_l("Text in English"), validators=[Length(max=20000)], filters=[empty_to_none])
    addressee = StringField(_l("Addressed to"), validators=[Length(max=200)], filters=[empty_to_none])
    goal = IntegerField(_l("Goal (number of signatures)"), validators=[Optional(), NumberRange(min=1, max=10_000_000)])
    opens_on = DateField(_l("Opens on"), validators=[Optional()])
    closes_on = DateField(_l("Closes on"), validators=[Optional()])
    status = SelectField(_l("Status"), choices=choice_list(PETITION_STATUS_LABELS.items()))
    verification = SelectField(_l("Verification"), choices=choice_list(VERIFICATION_LABELS.items()))
    ask_site = BooleanField(_l("Ask for the site (optional for signers)"), default=True)
    ask_department = BooleanField(_l("Ask for the department (optional for signers)"), default=True)
    refresh_minutes = IntegerField(
        _l("Public count refreshed every (minutes)"), default=15,
        validators=[DataRequired(), NumberRange(min=1, max=1440)],
        description=_l("The public count and names change in batches, so nobody can tell who just signed."))


class NewPetitionForm(PetitionForm):
    slug = StringField(_l("Short name"), validators=[
        DataRequired(), Length(max=64),
        Regexp(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$", message=SLUG_HELP), not_reserved],
        filters=[strip], description=SLUG_HELP)


class PaperForm(Form):
    name = StringField(_l("Name on the form"), validators=[DataRequired(), Length(max=120)], filters=[strip])
    email = StringField(_l("E-mail on the form (optional)"),
                        validators=[Optional(), Email(message=_l("Enter a valid e-mail address.")), Length(max=254)],
                        filters=[empty_to_none],
                        description=_l("If given, the signer is sent their private link."))
    site = SelectField(_l("Site"), coerce=_coerce_unit, validate_choice=False)
    department = SelectField(_l("Department"), coerce=_coerce_unit, validate_choice=False)
    consent_public_name = BooleanField(_l("Box ticked: show my name publicly"))
    consent_share_with_reps = BooleanField(_l("Box ticked: show my name to the reps"))
    consent_contact = BooleanField(_l("Box ticked: contact me about this campaign"))
    version = IntegerField(_l("Consent-text version printed on the form"), default=1,
                           validators=[DataRequired(), NumberRange(min=1, max=1000)])
    batch_label = StringField(_l("Batch label (optional)"), validators=[Length(max=120)], filters=[empty_to_none],
                              description=_l("For example: general assembly of 12 March, Lyon."))

    def setup(self, campaign, locale):
        from ..i18n import localized

        self.site.choices = choice_list([(NO_UNIT, _l("Not given"))] + [
            (u.id, localized(u, "name", locale).text) for u in campaign.sites()])
        self.department.choices = choice_list([(NO_UNIT, _l("Not given"))] + [
            (u.id, localized(u, "name", locale).text) for u in campaign.departments()])
        return self


class BatchForm(Form):
    batch_label = StringField(_l("Batch label"), validators=[DataRequired(), Length(max=120)], filters=[strip],
                              description=_l("For example: general assembly of 12 March, Lyon."))
    version = IntegerField(_l("Consent-text version printed on the forms"), default=1,
                           validators=[DataRequired(), NumberRange(min=1, max=1000)])
    file = FileField(_l("CSV file"), validators=[FileRequired()],
                     description=_l("Columns: name, email, site, department, public_name, share_with_reps, contact. Sites and departments by code or name; boxes as yes/no."))
