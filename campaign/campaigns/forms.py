"""Forms for campaigns and units; every content field exists in both languages."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from ..forms import Form, choice_list, empty_to_none, not_reserved, strip
from ..models.campaigns import MIN_TALLY_THRESHOLD, UNIT_KINDS

SLUG_HELP = _l("Lower-case letters, digits and hyphens; it appears in the campaign's address.")

STATUS_LABELS = {
    "draft": _l("Draft (not public)"),
    "active": _l("Active (public)"),
    "closed": _l("Closed (public, no more signatures)"),
    "archived": _l("Archived (not public)"),
}
UNIT_KIND_LABELS = {"site": _l("Site"), "department": _l("Department")}


def one_language_required(field_a, field_b):
    def check(form, field):
        if not (form[field_a].data or form[field_b].data):
            raise ValidationError(_l("Fill in at least one language."))
    return check


def domain_list(form, field):
    for item in (field.data or "").split(","):
        item = item.strip().lstrip("@")
        if item and ("." not in item or " " in item or len(item) > 253):
            raise ValidationError(_l("Give domains such as example.com, separated by commas."))


class CampaignForm(Form):
    title_fr = StringField(_l("Title in French"), validators=[Length(max=200)], filters=[empty_to_none])
    title_en = StringField(_l("Title in English"),
                           validators=[Length(max=200), one_language_required("title_fr", "title_en")],
                           filters=[empty_to_none])
    summary_fr = TextAreaField(_l("Summary in French"), validators=[Length(max=5000)], filters=[empty_to_none])
    summary_en = TextAreaField(_l("Summary in English"), validators=[Length(max=5000)], filters=[empty_to_none])
    employer = StringField(_l("Employer"), validators=[DataRequired(), Length(max=200)], filters=[strip])
    employer_domains = StringField(
        _l("Employer's e-mail domains"), validators=[Length(max=500), domain_list],
        filters=[empty_to_none],
        description=_l("Signers who type an address at one of these domains are warned that the employer can read it."))
    status = SelectField(_l("Status"), choices=choice_list(STATUS_LABELS.items()))
    retention_days = IntegerField(
        _l("Retention after closing (days)"), validators=[DataRequired(), NumberRange(min=0, max=3650)],
        default=180,
        description=_l("Names and e-mail addresses are erased this many days after the campaign closes; counts stay."))
    tally_threshold = IntegerField(
        _l("Smallest published count (k)"),
        validators=[DataRequired(), NumberRange(min=MIN_TALLY_THRESHOLD, max=1000)], default=10,
        description=_l("Counts below this number are never published in tallies (at least 5)."))


class NewCampaignForm(CampaignForm):
    slug = StringField(_l("Short name"), validators=[
        DataRequired(), Length(max=64),
        Regexp(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$", message=SLUG_HELP), not_reserved],
        filters=[strip], description=SLUG_HELP)


class UnitForm(Form):
    kind = SelectField(_l("Kind"), choices=choice_list((k, UNIT_KIND_LABELS[k]) for k in UNIT_KINDS))
    code = StringField(_l("Code"), validators=[
        DataRequired(), Length(max=32),
        Regexp(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$", message=SLUG_HELP)], filters=[strip])
    name_fr = StringField(_l("Name in French"), validators=[Length(max=120)], filters=[empty_to_none])
    name_en = StringField(_l("Name in English"),
                          validators=[Length(max=120), one_language_required("name_fr", "name_en")],
                          filters=[empty_to_none])
    headcount = IntegerField(_l("Estimated headcount"), validators=[Optional(), NumberRange(min=0, max=1_000_000)],
                             description=_l("Your own estimate; never imported from the employer."))


class EditUnitForm(Form):
    name_fr = StringField(_l("Name in French"), validators=[Length(max=120)], filters=[empty_to_none])
    name_en = StringField(_l("Name in English"),
                          validators=[Length(max=120), one_language_required("name_fr", "name_en")],
                          filters=[empty_to_none])
    headcount = IntegerField(_l("Estimated headcount"), validators=[Optional(), NumberRange(min=0, max=1_000_000)])
    position = IntegerField(_l("Order"), validators=[Optional(), NumberRange(min=0, max=10_000)])
    is_active = BooleanField(_l("Offered to signers"))
