"""Batched ranking, the result cache and the micro-batcher, with the real model.

The batched path must rank exactly as one question at a time does: these tests compare
the two paths on the same index, so they fail if batching mixes up questions."""

import asyncio
import os
import sys
import threading

import pytest

from bot.retrieval.assistant import Assistant
from bot.retrieval.embed import MODEL_NICE
from bot.retrieval.results import Question
from tests.retrieval.test_search import FIXTURE_THRESHOLDS

QUESTIONS = [
    ("как заплатить за патент", None),
    ("kak zaplatit za patent", None),
    ("патент төлемін қалай жасаймын", None),
    ("patent pulini qanday to‘lash kerak", None),
    ("қазақстанда визасыз неше күн болуға болады", None),
    ("hozyain ne hochet delat registraciyu", None),
    ("how can i pay patent money", "tg"),
    ("what is the weather in paris", None),
    (
        "Салом. Ман аз Хуҷанд ҳастам, дар Маскав кор мекунам. Дирӯз ба Алмаато омадам ва "
        "дар хонаи ҷиянам зиндагӣ мекунам. Дар Қазоқистон бе виза чанд рӯз мондан мумкин аст?",
        None,
    ),
    (
        "Здравствуйте! Я из Самарканда, работаю в Подмосковье на складе.\n"
        "Зарплату задержали. Подскажите, как оплатить патент за следующий месяц?",
        "en",
    ),
    ("", None),
    ("🙂🙂🙂", None),
]


def _summary(result):
    return (
        result.decision,
        result.lang,
        result.entry_id,
        [(c.entry_id, round(c.score, 3)) for c in result.ranking[:4]],
    )


@pytest.fixture
def fresh(make_settings, embedder, built):
    def make(**overrides):
        return Assistant(make_settings(**FIXTURE_THRESHOLDS, **overrides), embedder)

    return make


def test_batch_ranks_like_one_at_a_time(fresh):
    single = fresh(answer_cache_size=0)
    batched = fresh(answer_cache_size=0)
    one_by_one = [_summary(single.ask(text, lang=lang)) for text, lang in QUESTIONS]
    together = batched.ask_many([Question(text, lang) for text, lang in QUESTIONS])
    assert [_summary(r) for r in together] == one_by_one


def test_long_messages_and_their_clauses_go_to_the_model_in_one_call(fresh, embedder, monkeypatch):
    assistant = fresh(answer_cache_size=0)
    calls = []
    original = embedder.embed_queries
    monkeypatch.setattr(
        embedder, "embed_queries", lambda texts: calls.append(texts) or original(texts)
    )
    results = assistant.ask_many([Question(text, lang) for text, lang in QUESTIONS])
    assert len(calls) == 1
    # each long message is embedded whole and clause by clause
    assert "я из самарканда, работаю в подмосковье на складе" in calls[0]
    assert "дар қазоқистон бе виза чанд рӯз мондан мумкин аст" in calls[0]
    assert results[9].ranking[0].entry_id == "patent-payment"  # the long Russian one


def test_repeated_question_comes_from_the_cache(fresh, embedder, monkeypatch):
    assistant = fresh()
    first = assistant.ask("как заплатить за патент")
    calls = []
    original = embedder.embed_queries
    monkeypatch.setattr(
        embedder, "embed_queries", lambda texts: calls.append(texts) or original(texts)
    )
    again = assistant.ask("  Как заплатить   за ПАТЕНТ ")  # same after normalisation
    assert again.entry_id == first.entry_id == "patent-payment"
    assert calls == []
    # another reply language is ranked anew, from the cached vector: still no model call
    english = assistant.ask("как заплатить за патент", lang="en")
    assert english.lang == "en" and english is not first and calls == []
    assistant.ask("как заплатить за патент в москве")
    assert len(calls) == 1


def test_cache_off_embeds_every_time(fresh, embedder, monkeypatch):
    assistant = fresh(answer_cache_size=0)
    calls = []
    original = embedder.embed_queries
    monkeypatch.setattr(
        embedder, "embed_queries", lambda texts: calls.append(texts) or original(texts)
    )
    assistant.ask("как заплатить за патент")
    assistant.ask("как заплатить за патент")
    assert len(calls) == 2


async def test_concurrent_questions_are_batched_and_each_gets_its_own_answer(fresh):
    reference = fresh(answer_cache_size=0)
    expected = [_summary(reference.ask(text, lang=lang)) for text, lang in QUESTIONS]
    assistant = fresh(answer_cache_size=0, batch_max_wait_ms=50)
    try:
        results = await asyncio.gather(*(assistant.aask(t, lang=lang) for t, lang in QUESTIONS))
    finally:
        assistant.close()
    assert [_summary(r) for r in results] == expected
    # the eight rankable questions went to the model together, not one by one
    assert max(r.timings_ms.get("batch", 1) for r in results) > 1


async def test_a_failing_batch_fails_its_callers_not_the_loop(fresh, embedder, monkeypatch):
    assistant = fresh(answer_cache_size=0)

    def broken(texts):
        raise RuntimeError("model crashed")

    monkeypatch.setattr(embedder, "embed_queries", broken)
    try:
        outcomes = await asyncio.gather(
            assistant.aask("как заплатить за патент"),
            assistant.aask("kak zaplatit za patent"),
            return_exceptions=True,
        )
    finally:
        assistant.close()
    assert all(isinstance(o, RuntimeError) for o in outcomes)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a nice value per thread")
async def test_the_model_threads_give_way_to_the_event_loop(fresh):
    # Under overload the loop sends every notice and apology: it must not wait for CPU
    # behind the model (bench/faults.py overload).
    loop_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assistant = fresh(answer_cache_size=0)
    try:
        await asyncio.gather(*(assistant.aask(q, lang) for q, lang in QUESTIONS[:4]))
        threads = [t for t in threading.enumerate() if t in assistant._executor._threads]
        assert threads
        for thread in threads:
            assert os.getpriority(os.PRIO_PROCESS, thread.native_id) == loop_nice + MODEL_NICE
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop_nice
    finally:
        assistant.close()
