"""Forms for moderating statements, writing meeting notes and logging actions."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..campaigns.forms import one_language_required
from ..forms import Form, empty_to_none, strip
from ..models.actions import KINDS as ACTION_KINDS
from ..models.actions import VISIBILITIES as ACTION_VISIBILITIES
from ..models.meetings import KINDS as NOTE_KINDS
from ..models.meetings import VISIBILITIES as NOTE_VISIBILITIES
from ..models.statements import REJECTION_REASONS
from ..statements.labels import (
    ACTION_KIND_LABELS,
    ACTION_VISIBILITY_LABELS,
    NOTE_KIND_LABELS,
    NOTE_VISIBILITY_LABELS,
    REJECTION_REASON_LABELS,
)

TEXT_MAX = 10_000
NOTE_TEXT_MAX = 50_000


def _choices(labels, values):
    return [SelectChoice(value, labels[value]) for value in values]


# --- statements --------------------------------------------------------------------------------

class PublishForm(Form):
    redacted_text = TextAreaField(
        _l("Text to publish"), validators=[DataRequired(), Length(max=TEXT_MAX)], filters=[strip],
        description=_l("Remove what could identify the author (dates, team or project names, "
                       "places). Only this version is published; the original stays visible to "
                       "the reps only."))
    named = BooleanField(_l("Publish with the author's name"))


class RejectForm(Form):
    reason = SelectField(_l("Reason"), choices=_choices(REJECTION_REASON_LABELS, REJECTION_REASONS))
    note = TextAreaField(_l("A word for the author (optional)"),
                         validators=[Optional(), Length(max=1000)], filters=[empty_to_none],
                         description=_l("Shown on the author's private page. Do not name anyone."))


class TranslationForm(Form):
    translation = TextAreaField(
        _l("Translation"), validators=[Optional(), Length(max=TEXT_MAX)], filters=[empty_to_none],
        description=_l("A translation of the published text into the other language. Leave "
                       "empty to remove it."))


# --- meeting notes -----------------------------------------------------------------------------

MARKDOWN_HELP = _l("Markdown: **bold**, *italic*, lists with -, links to https:// and mailto: "
                   "addresses. Images and HTML are not shown.")


class NoteForm(Form):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)],
                        filters=[strip])
    held_on = DateField(_l("Date of the meeting"), validators=[DataRequired()])
    kind = SelectField(_l("Kind of meeting"),
                       choices=_choices(NOTE_KIND_LABELS, NOTE_KINDS))
    attendees = TextAreaField(_l("Attendees"), validators=[Optional(), Length(max=2000)],
                              filters=[empty_to_none])
    body = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=NOTE_TEXT_MAX)],
                         filters=[empty_to_none], description=MARKDOWN_HELP)
    decisions = TextAreaField(_l("Decisions"), validators=[Optional(), Length(max=NOTE_TEXT_MAX)],
                              filters=[empty_to_none], description=MARKDOWN_HELP)
    follow_ups = TextAreaField(_l("Follow-ups"),
                               validators=[Optional(), Length(max=NOTE_TEXT_MAX)],
                               filters=[empty_to_none], description=MARKDOWN_HELP)
    visibility = SelectField(_l("Who may read it"),
                             choices=_choices(NOTE_VISIBILITY_LABELS, NOTE_VISIBILITIES))


ALL_KINDS = ""


class NoteFilterForm(Form):
    """Filters of the notes list, read from the query string (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])
    kind = SelectField(_l("Kind of meeting"),
                       choices=[SelectChoice(ALL_KINDS, _l("All kinds"))]
                       + [SelectChoice(k, NOTE_KIND_LABELS[k]) for k in NOTE_KINDS],
                       validators=[Optional()])


# --- actions -----------------------------------------------------------------------------------

class ActionForm(Form):
    kind = SelectField(_l("Kind of action"),
                       choices=_choices(ACTION_KIND_LABELS, ACTION_KINDS))
    happens_on = DateField(_l("Date"), validators=[DataRequired()])
    title_fr = StringField(_l("Title in French"), validators=[Length(max=200)],
                           filters=[empty_to_none])
    title_en = StringField(_l("Title in English"),
                           validators=[Length(max=200),
                                       one_language_required("title_fr", "title_en")],
                           filters=[empty_to_none])
    description_fr = TextAreaField(_l("Description in French"),
                                   validators=[Length(max=TEXT_MAX)], filters=[empty_to_none])
    description_en = TextAreaField(_l("Description in English"),
                                   validators=[Length(max=TEXT_MAX)], filters=[empty_to_none])
    participant_count = IntegerField(_l("Number of participants (optional)"),
                                     validators=[Optional(), NumberRange(min=0, max=10_000_000)])
    visibility = SelectField(
        _l("Visibility"), choices=_choices(ACTION_VISIBILITY_LABELS, ACTION_VISIBILITIES),
        default="internal")


class ButtonForm(Form):
    """A button that acts by POST (with its CSRF token)."""
