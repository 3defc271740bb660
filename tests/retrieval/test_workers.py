"""The model in worker processes: the same vectors, and answers go on when a worker dies."""

import asyncio
import os
import signal
import time

import numpy as np
import pytest

from bot.retrieval.assistant import Assistant
from bot.retrieval.workers import ModelWorkers
from tests.retrieval.test_batching import QUESTIONS, _summary
from tests.retrieval.test_search import FIXTURE_THRESHOLDS


def _spec(settings):
    return (
        settings.embed_backend,
        settings.embed_model,
        settings.embed_query_prefix,
        settings.embed_passage_prefix,
    )


@pytest.fixture
def workers(settings):
    pool = ModelWorkers(_spec(settings), 2)
    yield pool
    pool.close()


def test_workers_give_the_vectors_of_the_model_in_process(workers, embedder):
    texts = ["как оплатить патент", "qayerda roʻyxatdan oʻtish kerak", "hello"]
    assert workers.model_id == embedder.model_id and workers.dim == embedder.dim
    assert np.allclose(workers.embed_queries(texts), embedder.embed_queries(texts), atol=1e-6)
    assert np.allclose(workers.embed_passages(texts), embedder.embed_passages(texts), atol=1e-6)
    assert workers.embed_queries([]).shape == (0, embedder.dim)
    assert os.getpid() not in workers.pids()


def test_answers_go_on_when_a_model_worker_is_killed(make_settings, built, workers):
    assistant = Assistant(make_settings(answer_cache_size=0, **FIXTURE_THRESHOLDS), workers)
    assert assistant.ask("как оплатить патент").entry_id == "patent-payment"
    for pid in workers.pids():
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    started = time.perf_counter()
    result = assistant.ask("kak oplatit patent")
    assert result.entry_id == "patent-payment"
    assert workers.restarts == 1
    assert time.perf_counter() - started < 30
    assert assistant.ask("сколько дней на регистрацию").decision in ("answer", "clarify")


async def test_concurrent_questions_through_workers_rank_as_in_process(
    make_settings, built, embedder, workers
):
    settings = make_settings(answer_cache_size=0, batch_max_wait_ms=20, **FIXTURE_THRESHOLDS)
    reference = Assistant(settings, embedder)
    expected = [_summary(reference.ask(text, lang=lang)) for text, lang in QUESTIONS]
    assistant = Assistant(settings, workers)
    try:
        results = await asyncio.gather(*(assistant.aask(t, lang=lang) for t, lang in QUESTIONS))
    finally:
        assistant.close()
    assert [_summary(r) for r in results] == expected
