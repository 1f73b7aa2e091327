"""Forms of the tally dashboard: take or publish a release (organizers), export one (staff)."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectField

from ..forms import Form, choice_list
from ..i18n import LOCALE_LABELS, LOCALES
from ..services import tallies as service

DIMENSION_LABELS = {
    "site": _l("By site"),
    "department": _l("By department"),
    "site,department": _l("By site and department"),
    "": _l("Total only"),
}
PERIOD_LABELS = {"week": _l("Week by week"), "month": _l("Month by month")}
FORMAT_LABELS = {"csv": _l("CSV (spreadsheet)"), "json": _l("JSON (for programs)")}


class TakeReleaseForm(Form):
    new_series = HiddenField(default="")


class PublishForm(Form):
    pass


class ExportForm(Form):
    release = HiddenField()
    by = SelectField(_l("Breakdown"))
    period = SelectField(_l("Signatures over time"),
                         choices=choice_list(PERIOD_LABELS.items()))
    format = SelectField(_l("Format"), choices=choice_list(FORMAT_LABELS.items()))
    language = SelectField(_l("Language of the headers"),
                           choices=choice_list((code, LOCALE_LABELS[code]) for code in LOCALES))
    french_csv = BooleanField(_l("For a spreadsheet in French (“;” separators, UTF-8 with BOM)"))

    def setup(self, release, locale):
        """Offer the breakdowns the release has; default to its language and all dimensions."""
        dims = release.dimension_list if release is not None else ()
        options = [",".join(dims)] if dims else [""]
        options += [d for d in dims if len(dims) > 1]
        if dims:
            options.append("")
        self.by.choices = choice_list((value, DIMENSION_LABELS[value]) for value in options)
        if not self.is_submitted():
            self.by.data = options[0]
            self.language.data = locale
            self.release.data = release.public_id if release is not None else ""
        return self

    def chosen_dimensions(self):
        return service.parse_dimensions(self.by.data or "")

