"""Hostile input against the core with the real model: whatever people (or attackers)
type, the assistant decides without raising, and the HTML it renders is HTML that
Telegram accepts, with the input shown as text, never as markup.

The Telegram layer has its own hostile-input tests through the dispatcher; these cover
the core that every channel (bot, CLI, benchmarks) shares."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain import DECISIONS
from bot.retrieval.assistant import Assistant
from bot.retrieval.render import render
from bot.settings import Settings
from tests.retrieval.test_search import FIXTURE_THRESHOLDS
from tests.support.paths import FIXTURE_KB
from tests.support.standin import check_html

CORPUS = [
    "<b>патент</b> <script>alert(1)</script>",
    "</b></i><a href='javascript:alert(1)'>x</a> & &amp; &#0; &lt",
    "*bold* _italic_ `code` [link](http://example.com) ~~~ ```",
    "'; DROP TABLE reminders; -- патент",
    "1 OR 1=1; SELECT * FROM languages WHERE '1'='1",
    "\u202eтнетап\u202c как оплатить",  # right-to-left override
    "مرحبا كيف أدفع البراءة",  # Arabic, right to left
    "п\u200bа\u200bт\u200bе\u200bн\u200bт",  # zero-width spaces inside the word
    "\x00\x01\x02\x1b[31mпатент\x7f",  # control characters and an ANSI escape
    "🙂" * 500,
    "а" * 4096,
    "патент " * 700,  # 4900 characters of a real word
    "\ud800",  # a lone surrogate (invalid in UTF-8)
    "ﷺ" * 50,  # a character NFKC expands 18-fold
    "",
    "   \n\t  ",
    "/start@other_bot garbage",
]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, embedder, _prebuilt):
    import shutil

    data_dir = tmp_path_factory.mktemp("hostile") / "var"
    shutil.copytree(_prebuilt[0], data_dir)
    a = Assistant(
        Settings(_env_file=None, kb_dir=FIXTURE_KB, data_dir=data_dir, **FIXTURE_THRESHOLDS),
        embedder,
    )
    yield a
    a.close()


def _check(assistant, text):
    result = assistant.ask(text)
    assert result.decision in DECISIONS
    html = render(result, result.kb, contact="<staff & co>", fmt="html")
    shown = check_html(html)  # raises BadHTML on anything Telegram would refuse
    assert "<script>" not in html
    if result.decision == "abstain":
        assert "<staff & co>" in shown  # the contact is escaped, shown as typed
    return result


@pytest.mark.parametrize("text", CORPUS, ids=range(len(CORPUS)))
def test_corpus(assistant, text):
    _check(assistant, text)


def test_markup_in_a_question_never_reaches_the_reply_as_markup(assistant):
    result = _check(assistant, "<b>как оплатить патент</b>")
    assert result.decision == "answer"  # the words still count


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_any_text(assistant, text):
    _check(assistant, text)
