"""Splitting long Telegram HTML: every part under the limit, valid on its own (checked
with the stand-in's parser, which refuses what Telegram refuses), nothing lost."""

from __future__ import annotations

import html

import pytest

from bot.telegram.text import split_html
from tests.support.standin import check_html


def long_answer(paragraphs: int = 30) -> str:
    body = "\n\n".join(
        f"<b>{i}. {html.escape('Шаг & <этап>')}</b> " + "слово " * (40 + 17 * (i % 7))
        for i in range(paragraphs)
    )
    link = '<a href="https://example.org/a?x=1&amp;y=2">' + "источник " * 600 + "</a>"
    return body + "\n\n" + link


@pytest.mark.parametrize("limit", [4096, 1000, 300])
def test_parts_are_valid_short_and_complete(limit):
    text = long_answer()
    parts = split_html(text, limit)
    assert len(parts) > 1
    for part in parts:
        assert len(part.encode("utf-16-le")) // 2 <= limit
        check_html(part)
    shown = lambda s: " ".join(check_html(s).split())  # noqa: E731
    assert " ".join(shown(p) for p in parts) == shown(text)


def test_short_text_is_one_part():
    assert split_html("<b>hi</b>") == ["<b>hi</b>"]


def test_cuts_prefer_paragraphs():
    text = "\n\n".join(["a" * 50, "b" * 50, "c" * 50])
    assert split_html(text, 110) == ["a" * 50 + "\n\n" + "b" * 50, "c" * 50]


def test_a_link_cut_in_two_stays_a_link():
    text = '<a href="https://x.org">' + "word " * 100 + "</a>"
    parts = split_html(text, 200)
    assert all(p.startswith('<a href="https://x.org">') and p.endswith("</a>") for p in parts)


def test_emoji_count_as_two():
    parts = split_html("🙂" * 3000, 4096)
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)
    assert "".join(parts) == "🙂" * 3000
