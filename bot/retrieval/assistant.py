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
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from bot.domain import LANGUAGES
from bot.retrieval import smalltalk
from bot.retrieval.cache import LruCache
from bot.retrieval.countries import mentioned_countries, other_country
from bot.retrieval.embed import Embedder, lower_priority, make_embedder
from bot.retrieval.index import (
    IndexNotFound,
    IndexProblem,
    IndexVersion,
    current_version_name,
    list_versions,
    load_index,
)
from bot.retrieval.language import Detected, detect_language
from bot.retrieval.normalize import normalize, script_of
from bot.retrieval.queries import clause_variants, query_variants
from bot.retrieval.ranking import MAX_CANDIDATES, Ranker, decide
from bot.retrieval.results import Candidate, Question, Result
from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
# Threads that rank questions; the default embedder has one engine per core (two).
RETRIEVAL_THREADS = 2


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
        self._cache: LruCache[Result] = LruCache(settings.answer_cache_size)
        # query vectors by text, shared by every version (they depend on the model only)
        self._vectors: LruCache[np.ndarray] = LruCache(settings.answer_cache_size)
        self._ranker = self._load_at_start()
        self._last_check = time.monotonic()
        self._executor: ThreadPoolExecutor | None = None
        self._batcher: MicroBatcher | None = None

    # ------------------------------------------------------------ index versions

    def _load(self, name: str | None) -> Ranker:
        version = load_index(self.settings.index_dir, self.embedder.model_id, name)
        scorer = version.scorer if self.settings.scorer else None
        ranker = Ranker(version, self.embedder, self.settings, scorer, self._vectors)
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

    @property
    def refused_version(self) -> str | None:
        """The version CURRENT names when it was refused (damaged, another model)."""
        return self._refused

    def check_version(self) -> None:
        """Switch to a new version CURRENT names, if any (at most every
        INDEX_CHECK_INTERVAL seconds). Questions call it; so does a timer in the bot, so
        an idle worker switches too and /healthz tells the truth."""
        self._maybe_reload()

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

    def ask(
        self, text: str, lang: str | None = None, hint: str | None = None, typed: str | None = None
    ) -> Result:
        """Decide how to reply to `text`. `lang` forces the reply language; `hint` (the
        user's chosen language) only breaks ties in detection; `typed` is what the user
        typed when `text` is a follow-up with the previous topic (`Question.typed`)."""
        return self.ask_many([Question(text, lang, hint, typed)])[0]

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
        prepared: dict[tuple, tuple[str, Detected, list[str], list[str], set[str], str]] = {}
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
            own = script_of(normalize(q.typed)) if q.typed else detected.script
            script = "cyrl" if reply_lang == "uz" and own == "cyrl" else ""
            chat = smalltalk.classify(text)
            if chat is not None:  # a greeting or a thank-you is not a failed question
                results[i] = Result(
                    "smalltalk", reply_lang, 0.0, [], detected, None, ranker.version.name,
                    kb=ranker.version.kb, smalltalk=chat, script=script,
                )  # fmt: skip
                continue
            variants = query_variants(text, detected)
            parts = clause_variants(text, detected)
            key = (ranker.version.name, reply_lang, detected, script, tuple(variants), tuple(parts))
            cached = self._cache.get(key)
            if cached is not None:
                results[i] = cached
                continue
            todo.setdefault(key, []).append(i)
            named = mentioned_countries(variants[0])  # as the ranker's country feature reads it
            prepared[key] = (reply_lang, detected, variants, parts, named, script)
        if todo:
            keys = list(todo)
            rankings = ranker.rank_many(
                [prepared[k][2] for k in keys], [prepared[k][3] for k in keys]
            )
            elapsed = (time.perf_counter() - started) * 1000
            for key, ranked in zip(keys, rankings, strict=True):
                reply_lang, detected, _variants, _parts, named, script = prepared[key]
                result = self._result(
                    ranked,
                    reply_lang,
                    detected,
                    ranker,
                    {"total": elapsed, "batch": len(keys)},
                    named,
                    script,
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
        named: set[str] | None = None,
        script: str = "",
    ) -> Result:
        kb = ranker.version.kb
        if not self.settings.serve_drafts:
            ranked = [c for c in ranked if not kb[c.entry_id].is_draft]
        decision, candidates = decide(ranked, self.settings, ranker.scorer)
        named = named or set()
        off = {c.entry_id for c in ranked if other_country(kb[c.entry_id].country, named)}
        if off:
            # A question that names only Russia is never answered with, nor offered, an
            # entry about Kazakhstan (or one about Uzbekistan's agency when it names
            # Tajikistan), however sure the ranking is: "а в России?" after an answer
            # about work in Kazakhstan was answered with the Kazakh work permit at 0.998.
            # The entries about the countries it names are offered instead.
            if decision == "answer" and ranked[0].entry_id in off:
                fitting = [
                    Candidate(c.entry_id, round(c.score, 4))
                    for c in ranked
                    if c.entry_id not in off
                ][:MAX_CANDIDATES]
                decision, candidates = ("clarify", fitting) if fitting else ("abstain", [])
            else:
                candidates = [c for c in candidates if c.entry_id not in off]
                if decision == "clarify" and not candidates:
                    decision = "abstain"
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
            script=script,
        )

    async def aask(
        self, text: str, lang: str | None = None, hint: str | None = None, typed: str | None = None
    ) -> Result:
        """`ask` off the event loop. Questions that arrive together (many chats at once)
        are gathered for a few milliseconds and ranked in one batch by `MicroBatcher`."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=RETRIEVAL_THREADS,
                thread_name_prefix="retrieval",
                initializer=lower_priority,  # the event loop comes first
            )
        loop = asyncio.get_running_loop()
        if self._batcher is None or self._batcher.loop is not loop:
            self._batcher = MicroBatcher(
                self, self._executor, loop, self.settings.batch_max_size,
                self.settings.batch_max_wait_ms / 1000,
            )  # fmt: skip
        return await self._batcher.submit(Question(text, lang, hint, typed))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None


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
