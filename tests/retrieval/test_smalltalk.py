"""Small talk is recognised in every language, and a question with a greeting is not."""

from __future__ import annotations

import pytest

from bot.retrieval.smalltalk import classify


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Ассалому алайкум", "greeting"),
        ("Assalomu alaykum!", "greeting"),
        ("Здравствуйте", "greeting"),
        ("zdravstvuyte", "greeting"),
        ("Сәлеметсіз бе", "greeting"),
        ("Саламатсызбы", "greeting"),
        ("Рӯз ба хайр", "greeting"),
        ("hello", "greeting"),
        ("рахмат", "thanks"),
        ("Рахмат брат!!", "thanks"),
        ("Рақмет", "thanks"),
        ("ташаккур", "thanks"),
        ("spasibo", "thanks"),
        ("спасибо, пока", "thanks"),  # the stronger category decides
        ("до свидания", "bye"),
        ("xayr", "bye"),
        ("кто ты?", "who"),
        ("sen kimsan", "who"),
        ("ты бот?", "human"),
        ("are you a person", "human"),
        ("тупой бот", "insult"),
        ("ok", "ok"),
        ("tushunarli", "ok"),
        ("жақсы", "ok"),
    ],
)
def test_small_talk_in_six_languages(text, category):
    assert classify(text) == category


@pytest.mark.parametrize(
    "text",
    [
        "Salom, patent qancha?",  # a greeting, then the question
        "здравствуйте как оплатить патент",
        "patent",
        "рахмат, а сколько стоит патент",
        "",
        "👍",
        "спасибо " * 20,  # too long to be small talk
    ],
)
def test_a_question_is_never_taken_for_small_talk(text):
    assert classify(text) is None
