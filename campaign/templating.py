"""What templates may call: the access policies, bilingual fields, locale-aware formatting."""

from flask import request, url_for
from flask_babel import format_date, format_datetime, format_decimal

from . import access
from . import markdown as note_markdown
from .i18n import LOCALE_NAMES, LOCALES, current_locale, localized


def init_app(app):
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.tests["public_petition"] = access.can_view_public_petition
    app.jinja_env.filters["plain_text"] = note_markdown.plain_text
    app.jinja_env.globals.update(
        access=access,
        localized=localized,
        current_locale=current_locale,
        LOCALES=LOCALES,
        LOCALE_NAMES=LOCALE_NAMES,
        switch_locale_url=switch_locale_url,
        format_date=format_date,
        format_datetime=format_datetime,
        format_number=format_decimal,
        render_markdown=note_markdown.render,
        status_label=status_label,
        role_label=role_label,
        petition_status_label=petition_status_label,
        verification_label=verification_label,
        source_label=source_label,
    )


def petition_status_label(status):
    from .petitions_staff.forms import PETITION_STATUS_LABELS

    return PETITION_STATUS_LABELS.get(status, status)


def verification_label(mode):
    from .petitions_staff.forms import VERIFICATION_LABELS

    return VERIFICATION_LABELS.get(mode, mode)


def source_label(source):
    from flask_babel import gettext as _

    return {"online": _("online"), "paper": _("paper form"), "rep": _("entered by a rep")}.get(
        source, source)


def status_label(status):
    from .campaigns.forms import STATUS_LABELS

    return STATUS_LABELS.get(status, status)


def role_label(role):
    from .admin.forms import ROLE_LABELS

    return ROLE_LABELS.get(role, role)


def switch_locale_url(locale):
    target = request.full_path if request.query_string else request.path
    return url_for("public.set_locale", locale=locale, next=target)
