"""The assistant core: question in, decision out (answer, clarify or abstain).

normalise -> detect language -> embed the question and its transliteration (and, for a
long message, each of its clauses) -> FAISS top-k over every paraphrase, title and
answer -> best row per entry, lifted by a clause that matches it better, plus a lexical
coverage term, minus a penalty for entries about a country the question does not
name -> decide with calibrated thresholds.

Nothing here knows about Telegram; the CLI, the bot and the tests drive this module.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from bot.embed import Embedder, make_embedder
from bot.index import (
    IndexNotFound,
    IndexProblem,
    IndexVersion,
    current_version_name,
    list_versions,
    load_index,
)
from bot.kb import Entry, KnowledgeBase
from bot.lexical import LexicalIndex
from bot.settings import LANGUAGES, Settings
from bot.text import (
    Detected,
    clause_variants,
    detect_language,
    mentioned_countries,
    normalize,
    other_country,
    query_variants,
)

log = logging.getLogger(__name__)

TOP_K_ROWS = 64
MAX_CANDIDATES = 4
MAX_QUESTION_CHARS = 1000
# Threads that rank questions; the default embedder has one engine per core (two).
RETRIEVAL_THREADS = 2
# How far a clause of a long message that matches an entry better than the whole message
# lifts the entry towards the clause's similarity. Not all the way: a clause alone loses
# the context ("I am from Kyrgyzstan", "in Almaty") that tells similar entries apart, and
# a story's side remarks would otherwise compete with its question. Measured on the
# development set (0.3-0.5 rank alike; 1.0, the plain maximum, ranks worse).
CLAUSE_WEIGHT = 0.4


@dataclass(frozen=True)
class Question:
    text: str
    lang: str | None = None  # force the reply language
    hint: str | None = None  # the user's chosen language: breaks ties in detection


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
        # answers are not matched word by word, but their words are not foreign to the base
        self.lexical = LexicalIndex(docs, known=[r.text for r in rows if r.kind == "answer"])

    def rank(self, variants: list[str], clauses: Sequence[str] = ()) -> list[Candidate]:
        """Entries by score: the best-matching row of each entry (cosine) over the
        question's variants, lifted by `CLAUSE_WEIGHT` of the way to its best clause's
        when a clause of a long message (`bot.text.clause_variants`) matches it better,
        plus the lexical coverage term, minus a penalty for entries about another country
        than the ones the question names (`bot.text.other_country`)."""
        return self.rank_many([variants], [list(clauses)])[0]

    def rank_many(
        self, questions: list[list[str]], clauses: list[list[str]] | None = None
    ) -> list[list[Candidate]]:
        """`rank` for several questions with one model call and one FAISS search over
        all their variants and clauses: the model is several times faster per text on a
        batch than one text at a time."""
        clauses = clauses if clauses is not None else [[] for _ in questions]
        pairs = list(zip(questions, clauses, strict=True))  # one list of clauses each
        flat = [t for variants, parts in pairs for t in (*variants, *parts)]
        vectors = self.embedder.embed_queries(flat)
        k = min(TOP_K_ROWS, self.version.index.ntotal)
        sims, ids = self.version.index.search(vectors, k)
        ranked, start = [], 0
        for variants, parts in pairs:
            mid, end = start + len(variants), start + len(variants) + len(parts)
            dense = self._best_rows(sims[start:mid], ids[start:mid])
            if parts:
                dense = self._lift(dense, self._best_rows(sims[mid:end], ids[mid:end]))
            ranked.append(self._score(variants, dense))
            start = end
        return ranked

    def _best_rows(self, sims: np.ndarray, ids: np.ndarray) -> dict[str, float]:
        """Each entry's best row similarity over the given texts' FAISS results."""
        dense: dict[str, float] = {}
        for row_sims, row_ids in zip(sims, ids, strict=True):
            for sim, i in zip(row_sims, row_ids, strict=True):
                if i < 0:
                    continue
                entry_id = str(self.row_entry[i])
                if float(sim) > dense.get(entry_id, -1.0):
                    dense[entry_id] = float(sim)
        return dense

    @staticmethod
    def _lift(whole: dict[str, float], parts: dict[str, float]) -> dict[str, float]:
        """`whole` lifted by `CLAUSE_WEIGHT` of the way to `parts` where a clause matches
        an entry better. An entry missing from one side's top-k is given that side's
        lowest similarity found (its true one is at most that)."""
        if not whole or not parts:
            return whole or parts
        floor_whole, floor_parts = min(whole.values()), min(parts.values())
        lifted = {}
        for entry_id in whole.keys() | parts.keys():
            w = whole.get(entry_id, floor_whole)
            gain = max(0.0, parts.get(entry_id, floor_parts) - w)
            lifted[entry_id] = w + CLAUSE_WEIGHT * gain
        return lifted

    def _score(self, variants: list[str], dense: dict[str, float]) -> list[Candidate]:
        coverage = self.lexical.coverage(variants) if self.lexical_weight else {}
        named = mentioned_countries(variants[0]) if self.country_penalty else set()
        lang = detect_language(variants[0]).lang if self.country_penalty else None

        def score(entry_id: str, sim: float) -> float:
            s = sim + self.lexical_weight * coverage.get(entry_id, 0.0)
            if self.country_penalty and other_country(self.country[entry_id], named, lang):
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
        self._refused: str | None = None  # a CURRENT that failed to load: not retried
        self._ranker = self._load_at_start()
        self._last_check = time.monotonic()
        self._executor: ThreadPoolExecutor | None = None
        self._cache = ResultCache(settings.answer_cache_size)
        self._batcher: MicroBatcher | None = None

    # ------------------------------------------------------------ index versions

    def _load(self, name: str | None) -> Ranker:
        version = load_index(self.settings.index_dir, self.embedder.model_id, name)
        ranker = Ranker(version, self.embedder, self.settings)
        ranker.rank(["warm up"])  # fail here, not on a user's question
        log.info("serving index version %s (%s entries)", version.name, len(version.kb))
        return ranker

    def _load_at_start(self) -> Ranker:
        """The version CURRENT names; if it is refused (damaged, another model), the
        newest older version that loads, with a log line saying why, so that a broken
        build on disk never takes the service down. `IndexNotFound` (nothing built yet)
        and a refusal with no older version to fall back to still raise."""
        name = current_version_name(self.settings.index_dir)
        try:
            return self._load(name)
        except IndexNotFound:
            raise
        except IndexProblem as problem:
            for older in reversed(list_versions(self.settings.index_dir)):
                if older == name:
                    continue
                try:
                    ranker = self._load(older)
                except IndexProblem:
                    continue
                log.error(
                    "index version %s refused (%s); serving the older version %s until a "
                    "new version is built (`migrant-bot reindex`) or chosen (`index use`)",
                    name,
                    problem,
                    older,
                )
                self._refused = name
                return ranker
            raise

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
        name = current_version_name(self.settings.index_dir)
        if name not in (self._ranker.version.name, self._refused):
            # a refused version is logged in reload() once; the previous one keeps serving
            try:
                self.reload()
            except IndexProblem:
                self._refused = name

    # ------------------------------------------------------------ questions

    def ask(self, text: str, lang: str | None = None, hint: str | None = None) -> Result:
        """Decide how to reply to `text`. `lang` forces the reply language; `hint` (the
        user's chosen language) only breaks ties in detection."""
        return self.ask_many([Question(text, lang, hint)])[0]

    def ask_many(self, questions: list[Question]) -> list[Result]:
        """`ask` for several questions at once: one model call for all of them (see
        `Ranker.rank_many`). Repeated questions come from a small cache of results,
        keyed by the normalised text and the index version, so a popular question costs
        one embedding per version."""
        self._maybe_reload()
        ranker = self._ranker
        started = time.perf_counter()
        results: list[Result | None] = [None] * len(questions)
        todo: dict[tuple, list[int]] = {}  # cache key -> positions still to rank
        prepared: dict[tuple, tuple[str, Detected, list[str], list[str]]] = {}
        for i, q in enumerate(questions):
            text = (q.text or "")[:MAX_QUESTION_CHARS]
            detected = detect_language(text, hint=q.lang or q.hint)
            reply_lang = q.lang if q.lang in LANGUAGES else detected.lang
            if not normalize(text) or not any(ch.isalnum() for ch in text):
                results[i] = Result(
                    "abstain", reply_lang, 0.0, [], detected, None, ranker.version.name,
                    kb=ranker.version.kb,
                )  # fmt: skip
                continue
            variants = query_variants(text, detected)
            parts = clause_variants(text, detected)
            key = (ranker.version.name, reply_lang, detected, tuple(variants), tuple(parts))
            cached = self._cache.get(key)
            if cached is not None:
                results[i] = cached
                continue
            todo.setdefault(key, []).append(i)
            prepared[key] = (reply_lang, detected, variants, parts)
        if todo:
            keys = list(todo)
            rankings = ranker.rank_many(
                [prepared[k][2] for k in keys], [prepared[k][3] for k in keys]
            )
            elapsed = (time.perf_counter() - started) * 1000
            for key, ranked in zip(keys, rankings, strict=True):
                reply_lang, detected, _variants, _parts = prepared[key]
                result = self._result(
                    ranked, reply_lang, detected, ranker, {"total": elapsed, "batch": len(keys)}
                )
                self._cache.put(key, result)
                for i in todo[key]:
                    results[i] = result
        return [r for r in results if r is not None]

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
        """`ask` off the event loop. Questions that arrive together (many chats at once)
        are gathered for a few milliseconds and ranked in one batch by `MicroBatcher`."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=RETRIEVAL_THREADS, thread_name_prefix="retrieval"
            )
        loop = asyncio.get_running_loop()
        if self._batcher is None or self._batcher.loop is not loop:
            self._batcher = MicroBatcher(
                self, self._executor, loop, self.settings.batch_max_size,
                self.settings.batch_max_wait_ms / 1000,
            )  # fmt: skip
        return await self._batcher.submit(Question(text, lang, hint))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None


class ResultCache:
    """A small LRU of results by (index version, language, normalised question)."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[tuple, Result] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Result | None:
        with self._lock:
            result = self._items.get(key)
            if result is not None:
                self._items.move_to_end(key)
            return result

    def put(self, key: tuple, result: Result) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = result
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class MicroBatcher:
    """Gathers questions that arrive within `max_wait` seconds of each other (up to
    `max_size`) and answers them with one `Assistant.ask_many` call in the thread pool.

    One question alone waits at most `max_wait` extra. While `parallel` batches are being
    ranked (one per retrieval thread, each on its own model engine), new questions
    gather and go as the next batch the moment one finishes (or when `max_size` is
    reached), so a burst queues instead of oversubscribing the CPU.
    """

    def __init__(
        self,
        assistant: Assistant,
        executor: ThreadPoolExecutor,
        loop: asyncio.AbstractEventLoop,
        max_size: int,
        max_wait: float,
    ):
        self.assistant = assistant
        self.executor = executor
        self.loop = loop
        self.max_size = max(1, max_size)
        self.max_wait = max(0.0, max_wait)
        self._pending: list[tuple[Question, asyncio.Future]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running = 0
        self.parallel = RETRIEVAL_THREADS  # batches in flight at once, one per thread

    def submit(self, question: Question) -> asyncio.Future:
        future = self.loop.create_future()
        self._pending.append((question, future))
        if len(self._pending) >= self.max_size:
            self._flush()
        elif self._timer is None and self._running < self.parallel:
            self._timer = self.loop.call_later(self.max_wait, self._flush)
        return future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending[: self.max_size], self._pending[self.max_size :]
        if batch:
            self._running += 1
            self.loop.create_task(self._run(batch))

    async def _run(self, batch: list[tuple[Question, asyncio.Future]]) -> None:
        questions = [q for q, _ in batch]
        try:
            results = await self.loop.run_in_executor(
                self.executor, self.assistant.ask_many, questions
            )
        except Exception as exc:  # every waiting caller learns of the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        finally:
            self._running -= 1
            if self._pending and self._running < self.parallel:
                self._flush()
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
