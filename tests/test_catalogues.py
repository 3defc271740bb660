"""The interface catalogues: every message translated in every language, placeholders
kept, no fuzzy entries, every catalogue compiles, and the catalogues are up to date with
the strings in the code (a new `_()` string without `make update-catalogues` fails)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.domain import LANGUAGES

REPO = Path(__file__).resolve().parent.parent
LOCALES = REPO / "locales"
PLACEHOLDER = re.compile(r"\{[a-z_]*\}")


def catalogue(lang: str):
    path = LOCALES / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=lang)


def code_messages() -> set[str]:
    """Every msgid the code passes to gettext, extracted the way `make extract-messages`
    does (babel.cfg)."""
    method_map = [("bot/**.py", "python")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(REPO), method_map=method_map
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated(lang):
    cat = catalogue(lang)
    empty = [
        m.id for m in cat if m.id and not (m.string if isinstance(m.string, str) else all(m.string))
    ]
    fuzzy = [m.id for m in cat if m.id and m.fuzzy]
    assert not empty, f"{lang}: {len(empty)} untranslated message(s), e.g. {empty[:3]}"
    assert not fuzzy, f"{lang}: fuzzy entries must be checked: {fuzzy[:3]}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_are_kept(lang):
    for m in catalogue(lang):
        if not m.id or not isinstance(m.id, str) or not m.string:
            continue
        assert sorted(PLACEHOLDER.findall(m.id)) == sorted(PLACEHOLDER.findall(m.string)), (
            f"{lang}: {m.id!r} -> {m.string!r}"
        )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogue_compiles(lang):
    buffer = io.BytesIO()
    write_mo(buffer, catalogue(lang))
    assert buffer.getvalue()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogues_cover_the_code(lang):
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(lang) if m.id}
    missing = sorted(code_messages() - ids)
    assert not missing, f"{lang}: run `make update-catalogues`; missing {missing[:3]}"
