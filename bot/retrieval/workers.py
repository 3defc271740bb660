"""The embedding model in worker processes, one per core, behind the `Embedder` interface.

In one process the model shares the interpreter with the event loop and the ranking:
while a retrieval thread holds the GIL (the ranking's Python between two model calls),
the loop waits, and on two cores the model's second engine waits too. With
MODEL_WORKERS=N the model runs in N processes of its own (one engine each): the bot
process keeps the event loop, FAISS and the ranking, and sends the texts of a batch to
whichever worker is free. A worker that dies (killed, out of memory) is replaced and the
batch it had is sent again, once; the bot keeps answering meanwhile.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from bot.retrieval.embed import Embedder, EmbeddingError, lower_priority, single_embedder

log = logging.getLogger(__name__)

# What a worker needs to build the same model: backend, model, query and passage prefix.
Spec = tuple[str, str, str | None, str | None]

_MODEL: Embedder | None = None  # the model of this worker process


def _start(spec: Spec) -> None:
    global _MODEL
    lower_priority()  # the bot process's event loop comes first
    _MODEL = single_embedder(*spec, engines=1)


def _describe() -> tuple[str, int, int]:
    assert _MODEL is not None
    return _MODEL.model_id, _MODEL.dim, os.getpid()


def _embed(texts: list[str], is_query: bool) -> np.ndarray:
    assert _MODEL is not None
    return (_MODEL.embed_queries if is_query else _MODEL.embed_passages)(texts)


class ModelWorkers:
    """`Embedder` whose model runs in `count` worker processes (spawned, so that no
    thread or lock of the bot process is copied into them)."""

    def __init__(self, spec: Spec, count: int):
        if count < 1:
            raise EmbeddingError("MODEL_WORKERS must be at least 1 to use worker processes")
        self.spec = spec
        self.count = count
        self._lock = threading.Lock()
        self._pool = self._new_pool()
        self.restarts = 0
        try:
            self.model_id, self.dim, _ = self._pool.submit(_describe).result(timeout=120)
        except Exception as exc:
            self._pool.shutdown(wait=False, cancel_futures=True)
            raise EmbeddingError(f"the model worker process did not start: {exc!r}") from exc

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.count,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(self.spec,),
        )

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and the fault bench)."""
        processes = getattr(self._pool, "_processes", None) or {}
        return sorted(processes)

    def _call(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        for attempt in (1, 2):
            pool = self._pool
            try:
                return pool.submit(_embed, texts, is_query).result()
            except BrokenProcessPool:
                if attempt == 2:
                    raise
                self._replace(pool)
        raise AssertionError("unreachable")

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A new pool for a broken one (once, however many threads saw it break)."""
        with self._lock:
            if self._pool is broken:
                log.error("a model worker process died; starting new workers")
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
                self.restarts += 1

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._call(texts, True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._call(texts, False)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
