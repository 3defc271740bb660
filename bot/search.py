"""The assistant core: question in, decision out (answer, clarify or abstain).

normalise -> detect language -> embed the question and its transliteration ->
FAISS top-k over every paraphrase, title and answer -> best row per entry, plus a
lexical coverage term, minus a penalty for entries about a country the question does not
name -> decide with calibrated thresholds.

Nothing here knows about Telegram; the CLI, the bot and the tests drive this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from bot.embed import Embedder, make_embedder
from bot.index import IndexProblem, IndexVersion, current_version_name, load_index
from bot.kb import Entry, KnowledgeBase
from bot.lexical import LexicalIndex
from bot.settings import LANGUAGES, Settings
from bot.text import Detected, detect_language, mentioned_countries, normalize, query_variants

log = logging.getLogger(__name__)

TOP_K_ROWS = 64
MAX_CANDIDATES = 4
MAX_QUESTION_CHARS = 1000


@dataclass(frozen=True)
class Candidate:
    entry_id: str
    score: float


@dataclass(frozen=True)
class Result:
    decision: str  # answer | clarify | abstain
    lang: str  # the question's language (detected unless given)
    score: float
    candidates: list[Candidate]
    detected: Detected
    entry: Entry | None = None  # the answer's entry, when decision == answer
    index_version: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    ranking: list[Candidate] = field(default_factory=list, repr=False)  # every entry found
    # The knowledge snapshot of the version that ranked this question: render with it,
    # so titles and answers match even if the service switches versions meanwhile.
    kb: KnowledgeBase | None = field(default=None, repr=False)

    @property
    def entry_id(self) -> str | None:
        return self.entry.id if self.entry else None


class Ranker:
    """Scores entries for a question within one index version."""

    def __init__(self, version: IndexVersion, embedder: Embedder, settings: Settings):
        self.version = version
        self.embedder = embedder
        self.lexical_weight = settings.lexical_weight
        self.country_penalty = settings.country_penalty
        self.country = {e.id: e.country for e in version.kb}
        rows = version.rows
        self.row_entry = np.array([r.entry_id for r in rows])
        docs: dict[str, list[str]] = {}
        for r in rows:
            if r.kind != "answer":
                docs.setdefault(r.entry_id, []).append(r.text)
        self.lexical = LexicalIndex(docs)

    def rank(self, variants: list[str]) -> list[Candidate]:
        """Entries by score: the best-matching row of each entry (cosine), plus the
        lexical coverage term, minus a penalty for entries about another country than
        the one the question names (when it names exactly one)."""
        vectors = self.embedder.embed_queries(variants)
        k = min(TOP_K_ROWS, self.version.index.ntotal)
        sims, ids = self.version.index.search(vectors, k)
        dense: dict[str, float] = {}
        for row_sims, row_ids in zip(sims, ids, strict=True):
            for sim, i in zip(row_sims, row_ids, strict=True):
                if i < 0:
                    continue
                entry_id = str(self.row_entry[i])
                if float(sim) > dense.get(entry_id, -1.0):
                    dense[entry_id] = float(sim)
        coverage = self.lexical.coverage(variants) if self.lexical_weight else {}
        named = mentioned_countries(variants[0]) if self.country_penalty else set()
        off = named if len(named) == 1 else set()

        def score(entry_id: str, sim: float) -> float:
            s = sim + self.lexical_weight * coverage.get(entry_id, 0.0)
            if off and self.country[entry_id] not in off | {"any"}:
                s -= self.country_penalty
            return s

        scored = [Candidate(e, score(e, s)) for e, s in dense.items()]
        scored.sort(key=lambda c: (-c.score, c.entry_id))
        return scored


def decide(ranked: list[Candidate], settings: Settings) -> tuple[str, list[Candidate]]:
    """answer / clarify / abstain from the ranking and the calibrated thresholds.

    Answer only when the best entry is both close enough and clearly ahead of the
    next one; when several are close, offer 2-4 of them; otherwise abstain, because a
    wrong confident answer is the worst outcome for the user.
    """
    top = ranked[0].score if ranked else 0.0
    second = ranked[1].score if len(ranked) > 1 else 0.0
    shown = [Candidate(c.entry_id, round(c.score, 4)) for c in ranked[:MAX_CANDIDATES]]
    if top >= settings.answer_threshold and top - second >= settings.answer_margin:
        return "answer", shown
    if top >= settings.clarify_threshold and len(ranked) > 1:
        close = [c for c in shown if c.score >= top - settings.clarify_window]
        return "clarify", close if len(close) >= 2 else shown[:2]
    return "abstain", shown


class Assistant:
    """Answers questions from the current index version; switches versions live.

    `ask` is synchronous and CPU-bound; async callers use `aask`, which runs it in a
    small thread pool so the event loop never waits on the model.
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None):
        self.settings = settings
        self.embedder = embedder or make_embedder(settings)
        self._lock = threading.Lock()
        self._ranker = self._load(None)
        self._last_check = time.monotonic()
        self._executor: ThreadPoolExecutor | None = None

    # ------------------------------------------------------------ index versions

    def _load(self, name: str | None) -> Ranker:
        version = load_index(self.settings.index_dir, self.embedder.model_id, name)
        ranker = Ranker(version, self.embedder, self.settings)
        ranker.rank(["warm up"])  # fail here, not on a user's question
        log.info("serving index version %s (%s entries)", version.name, len(version.kb))
        return ranker

    @property
    def version(self) -> IndexVersion:
        return self._ranker.version

    def reload(self) -> str:
        """Switch to the version CURRENT names now. On any problem keep serving the old
        version and raise `IndexProblem` with the reason."""
        name = current_version_name(self.settings.index_dir)
        with self._lock:
            if name == self._ranker.version.name:
                return name
            try:
                ranker = self._load(name)
            except IndexProblem:
                log.error(
                    "index version %s refused; still serving %s",
                    name,
                    self._ranker.version.name,
                    exc_info=True,
                )
                raise
            self._ranker = ranker
            return ranker.version.name

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._last_check < self.settings.index_check_interval:
            return
        self._last_check = now
        if current_version_name(self.settings.index_dir) != self._ranker.version.name:
            # a refused version is logged in reload(); the previous one keeps serving
            with contextlib.suppress(IndexProblem):
                self.reload()

    # ------------------------------------------------------------ questions

    def ask(self, text: str, lang: str | None = None, hint: str | None = None) -> Result:
        """Decide how to reply to `text`. `lang` forces the reply language; `hint` (the
        user's chosen language) only breaks ties in detection."""
        self._maybe_reload()
        ranker = self._ranker
        started = time.perf_counter()
        text = (text or "")[:MAX_QUESTION_CHARS]
        detected = detect_language(text, hint=lang or hint)
        reply_lang = lang if lang in LANGUAGES else detected.lang
        if not normalize(text) or not any(ch.isalnum() for ch in text):
            return Result(
                "abstain",
                reply_lang,
                0.0,
                [],
                detected,
                None,
                ranker.version.name,
                kb=ranker.version.kb,
            )
        ranked = ranker.rank(query_variants(text, detected))
        elapsed = (time.perf_counter() - started) * 1000
        return self._result(ranked, reply_lang, detected, ranker, {"total": elapsed})

    def _result(
        self,
        ranked: list[Candidate],
        lang: str,
        detected: Detected,
        ranker: Ranker,
        timings: dict[str, float],
    ) -> Result:
        kb = ranker.version.kb
        if not self.settings.serve_drafts:
            ranked = [c for c in ranked if not kb[c.entry_id].is_draft]
        decision, candidates = decide(ranked, self.settings)
        return Result(
            decision=decision,
            lang=lang,
            score=round(ranked[0].score, 4) if ranked else 0.0,
            candidates=candidates,
            detected=detected,
            entry=kb[ranked[0].entry_id] if decision == "answer" else None,
            index_version=ranker.version.name,
            timings_ms=timings,
            ranking=ranked,
            kb=kb,
        )

    async def aask(self, text: str, lang: str | None = None, hint: str | None = None) -> Result:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="retrieval")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.ask, text, lang, hint)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None
