"""Reading a short message as a follow-up of the previous answer (bot/retrieval/followups.py)."""

from __future__ import annotations

import pytest

from bot.knowledge.validation import load_kb
from bot.retrieval.countries import mentioned_countries, named_as_people
from bot.retrieval.followups import (
    Context,
    context_of,
    context_of_choice,
    contextualise,
    is_followup,
)

STAY_KK = Context("ru-stay-limit", "Ресейде визасыз қанша уақыт болуға болады", "kk", at=100.0)
PATENT_RU = Context("ru-patent-pay", "Оплата патента (ежемесячный НДФЛ)", "ru", at=100.0)
GET_PATENT_RU = Context("ru-patent-get", "Как получить патент в России", "ru", at=100.0)
STAY_KZ_RU = Context("kz-stay-limit", "Сколько можно находиться в Казахстане", "ru", at=100.0)


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


@pytest.mark.parametrize(
    ("text", "people"),
    [
        ("а россиянам?", {"ru"}),
        ("a rossiyanam?", {"ru"}),  # Russian in Latin letters
        ("a kazaham?", {"kz"}),
        ("a v kazahstane?", set()),
        ("а гражданам казахстана?", {"kz"}),
        ("Qozog'iston fuqarolari uchun-chi?", {"kz"}),  # the word for citizens comes after
        ("and for kazakhs", {"kz"}),
        ("казактарга канша?", {"kz"}),
        ("казахстанцам тоже?", {"kz"}),
        ("а в казахстане?", set()),  # a place
        ("гражданин казахстана работает в казахстане", set()),  # named as a place too
        ("а для таджиков?", set()),  # not a country of stay: mentioned_countries has it
    ],
)
def test_people_of_a_country_of_stay_are_told_from_the_place(text, people):
    assert named_as_people(text) == people


@pytest.mark.parametrize(
    ("text", "previous", "kept", "dropped"),
    [
        # Russians in Kazakhstan, not the stay limit in Russia
        ("а россиянам", STAY_KZ_RU, "Казахстане", None),
        # citizens of Kazakhstan working in Russia, not a work permit in Kazakhstan
        ("а гражданам казахстана?", GET_PATENT_RU, "России", None),
        # a place replaces the previous one
        ("а в казахстане?", GET_PATENT_RU, "казахстане", "России"),
        ("в казани?", STAY_KZ_RU, "казани", "Казахстане"),  # a city names its country
    ],
)
def test_a_citizenship_keeps_the_country_of_stay_and_a_place_replaces_it(
    text, previous, kept, dropped
):
    searched = contextualise(text, previous, 110.0, 600)
    assert searched is not None and searched.endswith(text)
    assert kept in searched
    if dropped:
        assert dropped not in searched


@pytest.mark.parametrize(
    "text",
    ["дар русия чанд руз?", "неча кун ичида?", "in kazan?", "алматыда ше", "дар алмаато чи?"],
)
def test_how_many_days_and_named_cities_are_follow_ups(text):
    assert is_followup(text)


def test_a_question_of_its_own_is_not_a_follow_up():
    assert not is_followup("как получить патент в россии если я из таджикистана")
    assert mentioned_countries("самарали иш") == set()  # Uzbek "effective", not Samara


def test_a_country_switch_searches_the_counterpart_staff_named(kb_dir):
    # a patent in Russia, a stay in Kazakhstan: titles that share no words
    path = kb_dir / "patent-payment.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("related:", "counterparts: [kz-stay]\nrelated:", 1), "utf-8")
    kb = load_kb(kb_dir)
    there = kb["kz-stay"].text["ru"].title
    previous = context_of(kb["patent-payment"], "ru", 100.0, kb)
    assert previous.title == kb["patent-payment"].text["ru"].title
    assert contextualise("а в казахстане?", previous, 110.0, 600) == f"{there} а в казахстане?"
    # not for a citizenship, nor for the country it is already about
    assert there not in (contextualise("а гражданам казахстана?", previous, 110.0, 600) or "")
    assert there not in (contextualise("а в москве?", previous, 110.0, 600) or "")
    # without counterparts: the previous title without its country, as before
    plain = context_of(kb["registration-deadline"], "ru", 100.0, kb)
    assert plain.elsewhere == {}


def test_after_a_choice_of_topics_only_a_move_to_the_other_country_continues(kb_dir):
    for name in ("patent-payment", "registration-deadline"):
        path = kb_dir / f"{name}.yaml"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("related:", "counterparts: [kz-stay]\nrelated:", 1), "utf-8")
    kb = load_kb(kb_dir)
    offered = [kb["patent-payment"], kb["registration-deadline"]]
    choice = context_of_choice(offered, "ru", 100.0, kb)
    there = kb["kz-stay"].text["ru"].title
    assert choice.elsewhere == {"kz": there}  # the same counterpart once
    assert contextualise("а в казахстане?", choice, 110.0, 600) == f"{there} а в казахстане?"
    # which of the offered topics "how much" is about is not known: searched alone
    assert contextualise("а сколько стоит?", choice, 110.0, 600) is None
    assert contextualise("а для таджиков?", choice, 110.0, 600) is None
    assert contextualise("а регистрация?", choice, 110.0, 600) is None
