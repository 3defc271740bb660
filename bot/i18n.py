"""Interface texts in the user's language, from gettext catalogues in `locales/`.

Catalogues are managed with Babel (`pybabel extract/update/compile`, see babel.cfg and
the Makefile); the compiled .mo files are built by the set-up, never committed. A
missing catalogue falls back to the English source strings rather than failing.
"""

from __future__ import annotations

import datetime as dt
import gettext
from functools import cache
from pathlib import Path

from babel.dates import format_date

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"

# CLDR locale per interface language (Uzbek answers are in Latin script).
BABEL_LOCALES = {"ru": "ru", "kk": "kk", "uz": "uz_Latn", "ky": "ky", "tg": "tg", "en": "en"}


@cache
def translations(lang: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, localedir=LOCALES_DIR, languages=[lang], fallback=True)


def gettext_for(lang: str):
    return translations(lang).gettext


def format_day(day: dt.date, lang: str) -> str:
    """A date as people of that language write it (CLDR data via Babel)."""
    return format_date(day, format="long", locale=BABEL_LOCALES.get(lang, "ru"))


def language_name(lang: str) -> str:
    """The language's own name for itself, e.g. 'o'zbek' (from CLDR)."""
    from babel import Locale

    return Locale.parse(BABEL_LOCALES.get(lang, lang)).get_display_name() or lang
