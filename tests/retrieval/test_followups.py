"""Reading a short message as a follow-up of the previous answer (bot/retrieval/followups.py)."""

from __future__ import annotations

import pytest

from bot.retrieval.followups import Context, contextualise

STAY_KK = Context("ru-stay-limit", "Ресейде визасыз қанша уақыт болуға болады", "kk", at=100.0)
PATENT_RU = Context("ru-patent-pay", "Оплата патента (ежемесячный НДФЛ)", "ru", at=100.0)


def test_a_detail_question_continues_the_whole_previous_topic():
    assert contextualise("а сколько стоит?", PATENT_RU, 110.0, 600) == (
        "Оплата патента (ежемесячный НДФЛ) а сколько стоит?"
    )


@pytest.mark.parametrize("text", ["а регистрация ше", "а штраф?", "патент керек пе"])
def test_a_new_topic_in_a_word_or_two_keeps_only_the_place(text):
    # The previous title would pull the search back to the stay limit; its place stays.
    assert contextualise(text, STAY_KK, 110.0, 600) == f"Ресейде {text}"


@pytest.mark.parametrize(
    ("text", "previous", "now"),
    [
        ("рахмет", STAY_KK, 110.0),  # thanks is small talk, not a topic
        ("а регистрация?", PATENT_RU, 110.0),  # the previous title names no place
        ("как сделать регистрацию в москве быстро", STAY_KK, 110.0),  # a question of its own
        ("а регистрация ше", STAY_KK, 1000.0),  # the previous answer is too old
        ("а регистрация в казахстане", STAY_KK, 110.0),  # names its own place
    ],
)
def test_what_is_not_a_topic_switch_is_searched_as_it_is(text, previous, now):
    result = contextualise(text, previous, now, 600)
    assert result is None or not result.startswith("Ресейде " + text)
    if previous is PATENT_RU or now == 1000.0 or text == "рахмет":
        assert result is None
