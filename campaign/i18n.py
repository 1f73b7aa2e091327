"""Supported locales, the locale selector, and helpers for bilingual content fields."""

from dataclasses import dataclass

from flask import current_app, request, session
from flask_babel import get_locale as babel_get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .sessions import signed_in

LOCALES = ("fr", "en")
#: shown in each language's own name in the switcher
LOCALE_NAMES = {"fr": "Français", "en": "English"}
LOCALE_LABELS = {"fr": _l("French"), "en": _l("English")}


def select_locale():
    """Explicit choice (session) > user's preference > Accept-Language > configured default."""
    chosen = session.get("locale")
    if chosen in LOCALES:
        return chosen
    user_locale = getattr(current_user, "locale", None) if signed_in() else None
    if user_locale in LOCALES:
        return user_locale
    if request:
        best = request.accept_languages.best_match(LOCALES)
        if best:
            return best
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "fr")


def current_locale():
    locale = babel_get_locale()
    return locale.language if locale else current_app.config.get("BABEL_DEFAULT_LOCALE", "fr")


def other_locale(locale=None):
    locale = locale or current_locale()
    return "en" if locale == "fr" else "fr"


@dataclass(frozen=True)
class Localized:
    """A content value in the language it was found in."""

    text: str
    lang: str
    is_fallback: bool

    def __str__(self):
        return self.text

    def __bool__(self):
        return bool(self.text)


def localized(obj, field, locale=None):
    """The `field_<locale>` value of obj, falling back to the other language (marked as such)."""
    locale = locale or current_locale()
    value = getattr(obj, f"{field}_{locale}", None)
    if value:
        return Localized(value, locale, False)
    other = other_locale(locale)
    value = getattr(obj, f"{field}_{other}", None)
    if value:
        return Localized(value, other, True)
    return Localized("", locale, False)
