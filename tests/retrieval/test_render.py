"""What a user reads: the first message of every curated answer fits one phone screen,
in every language and in both Uzbek scripts; the full answer comes with "More"."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from bot.domain import LANGUAGES
from bot.i18n import gettext_for
from bot.knowledge.entries import Review
from bot.knowledge.validation import check_kb, load_kb
from bot.retrieval.render import as_shown, in_script, render_answer, render_details
from tests.support.paths import FIXTURE_KB, REPO

FIRST_MESSAGE_LIMIT = 1000  # characters a user sees before scrolling (issue 11)


def curated():
    kb, _ = check_kb(REPO / "knowledge", today=dt.date(2026, 12, 3))
    return kb


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_first_message_fits_one_screen(lang):
    kb = curated()
    assert len(kb) >= 40
    for entry in kb:
        # as a Telegram user sees it: sources are link texts (the terminal also prints
        # their addresses)
        message = render_answer(entry, lang, fmt="html")
        shown = as_shown(message)
        assert len(shown) <= FIRST_MESSAGE_LIMIT, (entry.id, lang, len(shown))
        if lang == "uz":
            cyrillic = as_shown(in_script(message, "uz", cyrillic=True, fmt="html"))
            assert len(cyrillic) <= FIRST_MESSAGE_LIMIT, (entry.id, len(cyrillic))
            short = cyrillic.split("\n\n")[1]
            assert "ʻ" not in short and re.search("[ўғқҳ]", short), entry.id


def test_first_message_has_at_most_three_sources_in_the_readers_language():
    kb = curated()
    for entry in kb:
        text = render_answer(entry, "tg")
        listed = [line for line in text.splitlines() if line.startswith("• ")]
        assert len(listed) == min(3, len(entry.sources)), entry.id
        for source in entry.sources[:3]:
            assert source.titles["tg"] in text
            assert source.title not in text  # the English citation is for staff
        details = render_details(entry, "tg")
        assert entry.text["tg"].answer.strip() in details
        assert all(s.url in details for s in entry.sources[3:])


def test_status_line_is_one_line_and_honest():
    kb = load_kb(FIXTURE_KB, today=dt.date(2026, 12, 3))
    draft = kb["registration-deadline"]
    _ = gettext_for("en")
    text = render_answer(draft, "en")
    assert text.splitlines()[-1].endswith("⚠️ " + _("draft, not yet checked by staff"))
    assert sum("draft" in line for line in text.splitlines()) == 1
    reviewed = dataclasses.replace(
        kb["kz-stay"], review=Review("lawyer", dt.date(2026, 1, 15), "https://example.org/x")
    )
    last = render_answer(reviewed, "en").splitlines()[-1]
    assert "✅" in last and "January 15, 2026" in last and "draft" not in last
