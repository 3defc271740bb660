"""Benchmarks: figures printed and written as JSON, never asserted in tests.

- `throughput`: answered messages per second and latency through the real aiogram
  dispatcher, N simulated users on a local Bot API stand-in, the project against a
  naive bot (one handler that embeds each message inline on the event loop and sends
  the FAISS top-1 answer), in the same run on the same questions; plus the raw batch
  throughput of the embedding model, the ceiling both approach.
- `reindex`: full build with a cold embedding cache, and a one-paraphrase change.
- `soak`: many updates through one worker, memory growth measured.

Each simulated user sends a question, waits for the bot's reply, then sends the next
(a closed loop, as people do), so latency is what a person would see.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import options
from bot.retrieval.embed import Embedder, make_embedder
from bot.retrieval.index import build_index
from bot.settings import Settings

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "knowledge" / "training" / "questions.jsonl"


@dataclass
class Figures:
    rps: float
    p50_ms: float
    p95_ms: float
    answered: int
    seconds: float
    # CPU time per answer, of the whole process and of the event loop's thread (the
    # rest is the model, the ranking and the storage threads). The stand-in and the
    # simulated users share the loop, so its figure includes them.
    cpu_ms: float = 0.0
    loop_cpu_ms: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "rps": round(self.rps, 2),
            "p50_ms": round(self.p50_ms, 1),
            "p95_ms": round(self.p95_ms, 1),
            "answered": self.answered,
            "seconds": round(self.seconds, 2),
            "cpu_ms_per_answer": round(self.cpu_ms, 1),
            "loop_cpu_ms_per_answer": round(self.loop_cpu_ms, 1),
        }

    def cpu_bound_rps(self, cores: int) -> float:
        """Answers per second this CPU cost per answer would allow with every core busy:
        an upper bound no batching or scheduling can pass."""
        return cores * 1000 / self.cpu_ms if self.cpu_ms else 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 1024 / 1024


def load_questions(path: Path = QUESTIONS) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# ------------------------------------------------------------------ the stand-in side


_UPDATE_IDS = itertools.count(1)


def _standin_class():
    from tests.support.standin import BotAPIStandIn

    class RecordingStandIn(BotAPIStandIn):
        """Resolves a waiter per chat when the bot sends that chat a message, and keeps
        no call log (a soak would otherwise measure the log's growth)."""

        def __init__(self) -> None:
            super().__init__()
            self.waiters: dict[int, asyncio.Future] = {}
            self.keep_calls = False
            # Update ids go on across the stand-ins of one run, as Telegram's do: the
            # bot remembers the ids it handled (bot.telegram.delivery) and would drop a
            # warm-up round's ids met again as redeliveries.
            self._update_ids = _UPDATE_IDS

        async def _api_sendMessage(self, params):  # noqa: N802 (Bot API method name)
            result = await super()._api_sendMessage(params)
            waiter = self.waiters.pop(int(params["chat_id"]), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(time.perf_counter())
            if not self.keep_calls:
                self.calls.clear()
                self.messages.clear()
            return result

    return RecordingStandIn


async def _drive(standin, users: int, per_user: int, questions: list[str], seed: int = 7):
    """`users` closed-loop users, each asking `per_user` questions: the run's figures
    (latencies in ms, and the CPU it cost, measured on the loop's thread)."""
    rng = random.Random(seed)
    latencies: list[float] = []
    loop = asyncio.get_running_loop()

    async def user(user_id: int) -> None:
        for _ in range(per_user):
            text = rng.choice(questions)
            waiter = loop.create_future()
            standin.waiters[user_id] = waiter
            sent = time.perf_counter()
            await standin.send_text(user_id, text, lang_code="ru")
            answered = await asyncio.wait_for(waiter, timeout=120)
            latencies.append((answered - sent) * 1000)

    started = time.perf_counter()
    cpu, loop_cpu = time.process_time(), time.thread_time()
    await asyncio.gather(*(user(100_000 + i) for i in range(users)))
    elapsed = time.perf_counter() - started
    cpu, loop_cpu = time.process_time() - cpu, time.thread_time() - loop_cpu
    return Figures(
        rps=len(latencies) / elapsed if elapsed else 0.0,
        p50_ms=statistics.median(latencies) if latencies else 0.0,
        p95_ms=percentile(latencies, 0.95),
        answered=len(latencies),
        seconds=elapsed,
        cpu_ms=cpu * 1000 / len(latencies) if latencies else 0.0,
        loop_cpu_ms=loop_cpu * 1000 / len(latencies) if latencies else 0.0,
    )


# ------------------------------------------------------------------ the two bots


def naive_router(assistant) -> Any:
    """The naive bot: embed inline on the event loop, FAISS top-1, send that answer."""
    from aiogram import F, Router
    from aiogram.types import Message

    from bot.retrieval.render import render_answer

    version = assistant.version
    embedder = assistant.embedder
    row_entry = [r.entry_id for r in version.rows]
    router = Router(name="naive")

    @router.message(F.text)
    async def answer(message: Message) -> None:
        vector = embedder.embed_queries([message.text])  # blocks the loop, on purpose
        _sims, ids = version.index.search(vector, 1)
        entry = version.kb[row_entry[int(ids[0][0])]]
        await message.answer(render_answer(entry, "ru", fmt="html"))

    return router


@contextlib.asynccontextmanager
async def _polling(bot, dispatcher, inbox: bool = False):
    """aiogram's polling, or with `inbox` the bot's own (`bot.telegram.delivery.poll`,
    what `migrant-bot run` uses: updates accepted into the inbox in one transaction per
    batch instead of one claim each)."""
    stop = asyncio.Event()
    if inbox:
        from bot.telegram.delivery import poll

        task = asyncio.create_task(
            poll(
                dispatcher,
                bot,
                stop,
                allowed_updates=dispatcher.resolve_used_update_types(),
                timeout=1,
            )
        )
    else:
        task = asyncio.create_task(
            dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
        )
    try:
        await asyncio.sleep(0.2)
        yield
    finally:
        if inbox:
            stop.set()
        else:
            await dispatcher.stop_polling()
        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            await asyncio.wait_for(task, timeout=10)
        await bot.session.close()


def _pointed_at(settings: Settings, standin) -> Settings:
    from pydantic import SecretStr

    return settings.model_copy(
        update={"telegram_api_url": standin.base_url, "bot_token": SecretStr(standin.token)}
    )


async def _run_project(settings: Settings, assistant, body: Callable[[Any], Awaitable]):
    from bot.storage.factory import open_storage
    from bot.telegram import build_dispatcher, create_bot

    standin = _standin_class()()
    await standin.start()
    storage = open_storage(settings)
    await storage.open()
    settings = _pointed_at(settings, standin)
    bot = create_bot(settings)
    dispatcher = build_dispatcher(settings, assistant, storage)
    try:
        async with _polling(bot, dispatcher, inbox=True):
            return await body(standin)
    finally:
        await storage.close()
        await standin.stop()


async def _run_naive(settings: Settings, assistant, body: Callable[[Any], Awaitable]):
    from aiogram import Dispatcher

    from bot.telegram import create_bot

    standin = _standin_class()()
    await standin.start()
    settings = _pointed_at(settings, standin)
    bot = create_bot(settings)
    dispatcher = Dispatcher()
    dispatcher.include_router(naive_router(assistant))
    try:
        async with _polling(bot, dispatcher):
            return await body(standin)
    finally:
        await standin.stop()


def model_batch_rps(
    embedder: Embedder, questions: list[str], batch: int = 32, streams: int = 1
) -> float:
    """Questions per second the model embeds in batches of `batch`, with `streams`
    callers at once (one per core: the ceiling of the whole machine for any bot)."""
    sample = (questions * 8)[: batch * 8]
    embedder.embed_queries(sample[:batch])  # warm up

    def stream(offset: int) -> None:
        for i in range(offset * batch, len(sample), batch * streams):
            embedder.embed_queries(sample[i : i + batch])

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=streams) as pool:
        list(pool.map(stream, range(streams)))
    return len(sample) / (time.perf_counter() - started)


def _workdir_settings(settings: Settings, workdir: Path) -> Settings:
    """Settings for a benchmark: the real knowledge base, a private data folder (the
    embedding cache is copied from the configured one when it exists, so a benchmark
    does not re-embed the whole base every run)."""
    data_dir = workdir / "var"
    data_dir.mkdir(parents=True, exist_ok=True)
    if settings.cache_path.exists():
        shutil.copy2(settings.cache_path, data_dir / "embeddings.sqlite")
    return settings.model_copy(
        update={
            "data_dir": data_dir,
            "database_url": "",
            "redis_url": "",
            "bot_token": None,
            "throttle_rate": 10**6,  # simulated users type faster than people may
        }
    )


def _prepare(settings: Settings, workdir: Path) -> tuple[Settings, Embedder]:
    """Benchmark settings in `workdir` and the real knowledge base indexed there (with
    the model in this process, as `reindex` runs it)."""
    settings = _workdir_settings(settings, workdir)
    embedder = make_embedder(settings.model_copy(update={"model_workers": 0}))
    build_index(
        settings.kb_dir, settings.index_dir, embedder, settings.cache_path, settings.kb_languages
    )
    return settings, embedder


def throughput(
    settings: Settings, users: int = 16, per_user: int = 8, questions_file: Path = QUESTIONS
) -> dict[str, Any]:
    """The project (with the model where MODEL_WORKERS puts it) against the naive bot
    (the model in its own process, on the event loop), and the model's ceiling on this
    machine: batches of 32 from one caller per core at once."""
    from bot.retrieval.assistant import Assistant

    questions = load_questions(questions_file)
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="migrant-bench-") as tmp:
        settings, local = _prepare(settings, Path(tmp))
        model = make_embedder(settings)  # worker processes when MODEL_WORKERS > 0

        async def measure(runner, embedder: Embedder) -> Figures:
            assistant = Assistant(settings, embedder)
            try:
                # one short warm-up round, not counted
                await runner(settings, assistant, lambda s: _drive(s, 2, 1, questions, seed=1))
                return await runner(
                    settings, assistant, lambda s: _drive(s, users, per_user, questions)
                )
            finally:
                assistant.close()

        project = asyncio.run(measure(_run_project, model))
        naive = asyncio.run(measure(_run_naive, local))
        one_engine = model_batch_rps(local, questions, streams=1)
        ceiling = model_batch_rps(local, questions, streams=cores)
    return {
        "users": users,
        "messages_per_user": per_user,
        "model_workers": settings.model_workers,
        "project": project.as_dict(),
        "naive": naive.as_dict(),
        "ratio_rps": round(project.rps / naive.rps, 2) if naive.rps else None,
        "model_batch_rps_one_engine": round(one_engine, 1),
        "model_batch_rps": round(ceiling, 1),
        "cores": cores,
        "project_share_of_model_batch_rps": round(project.rps / ceiling, 2) if ceiling else None,
        # what each bot's CPU per answer would allow on every core: the project is near
        # its own bound when the machine, not its scheduling, is the limit
        "project_cpu_bound_rps": round(project.cpu_bound_rps(cores), 1),
        "naive_cpu_bound_rps": round(naive.cpu_bound_rps(cores), 1),
        "note": (
            "questions are drawn with repetition from the labelled training questions, so "
            "the project's caches of normalised questions help it as they would with real "
            "traffic; the ceiling is the model alone, with one caller per core"
        ),
    }


# ------------------------------------------------------------------ reindex


def reindex(settings: Settings) -> dict[str, Any]:
    """Full build with a cold cache, then one paraphrase changed, then nothing changed."""
    embedder = make_embedder(settings)
    with tempfile.TemporaryDirectory(prefix="migrant-bench-") as tmp:
        kb_dir = Path(tmp) / "knowledge"
        shutil.copytree(settings.kb_dir, kb_dir)
        data = Path(tmp) / "var"
        args = (kb_dir, data / "index", embedder, data / "embeddings.sqlite", settings.kb_languages)
        full = build_index(*args)
        victim = sorted(kb_dir.glob("*.yaml"))[0]
        text = victim.read_text(encoding="utf-8")
        marker = "    questions:\n"
        victim.write_text(
            text.replace(marker, marker + '      - "benchmark paraphrase"\n', 1), encoding="utf-8"
        )
        one = build_index(*args)
        none = build_index(*args)
    return {
        "full": {"seconds": round(full.seconds, 2), "embedded": full.embedded, "rows": full.rows},
        "one_paraphrase": {
            "seconds": round(one.seconds, 2),
            "embedded": one.embedded,
            "cached": one.cached,
        },
        "unchanged": {"seconds": round(none.seconds, 3), "built": not none.unchanged},
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


# ------------------------------------------------------------------ soak


def soak(settings: Settings, updates: int = 50_000, users: int = 50) -> dict[str, Any]:
    """`updates` messages through one project worker; RSS sampled as it goes. The
    questions are the dev set's, so after the first few hundred most answers come from
    the cache: this measures leaks in the bot, storage and dispatcher, not the model."""
    from bot.retrieval.assistant import Assistant

    questions = load_questions()
    per_user = max(1, updates // users)
    samples: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory(prefix="migrant-bench-") as tmp:
        settings, embedder = _prepare(settings, Path(tmp))
        assistant = Assistant(settings, embedder)

        async def body(standin):
            done = 0
            started = time.perf_counter()
            rounds = 10
            for _ in range(rounds):
                await _drive(standin, users, max(1, per_user // rounds), questions, seed=done)
                done += users * max(1, per_user // rounds)
                gc.collect()
                samples.append((done, current_rss_mb()))
            return done, time.perf_counter() - started

        try:
            sent, elapsed = asyncio.run(_run_project(settings, assistant, body))
        finally:
            assistant.close()
    first = samples[0][1]
    return {
        "updates": sent,
        "seconds": round(elapsed, 1),
        "rps": round(sent / elapsed, 1),
        "rss_mb_after_first_tenth": round(first, 1),
        "rss_mb_at_end": round(samples[-1][1], 1),
        "growth_mb": round(samples[-1][1] - first, 1),
        "samples": [(n, round(mb, 1)) for n, mb in samples],
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def table(results: dict[str, Any]) -> str:
    lines = []
    if "project" in results:
        lines.append(
            f"{'bot':<9} {'msg/s':>8} {'p50 ms':>9} {'p95 ms':>9} {'answered':>9} "
            f"{'CPU ms/answer':>14} {'of it loop':>11} {'CPU bound/s':>12}"
        )
        for name in ("project", "naive"):
            f = results[name]
            lines.append(
                f"{name:<9} {f['rps']:>8.2f} {f['p50_ms']:>9.1f} {f['p95_ms']:>9.1f} "
                f"{f['answered']:>9} {f.get('cpu_ms_per_answer', 0):>14.1f} "
                f"{f.get('loop_cpu_ms_per_answer', 0):>11.1f} "
                f"{results.get(name + '_cpu_bound_rps', 0):>12.1f}"
            )
        lines.append(
            f"ratio (project/naive msg/s): {results['ratio_rps']}; model batch ceiling "
            f"{results['model_batch_rps']} q/s on {results['cores']} cores "
            f"({results['model_batch_rps_one_engine']} with one engine; project at "
            f"{results['project_share_of_model_batch_rps']} of it); {results['users']} users x "
            f"{results['messages_per_user']} messages"
        )
    for key in ("reindex", "soak"):
        if key in results:
            lines.append(f"{key}: {json.dumps(results[key], ensure_ascii=False)}")
    return "\n".join(lines)


# ------------------------------------------------------------------ command line


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmarks `args` ask for; print a table (or JSON) and write --output."""
    results: dict = {}
    if not args.skip_throughput:
        users, per_user = (8, 4) if args.quick else (args.users, args.messages)
        results.update(throughput(settings, users=users, per_user=per_user))
    if args.reindex:
        results["reindex"] = reindex(settings)
    if args.soak:
        results["soak"] = soak(settings, updates=args.soak)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=1) if args.json else table(results))
    return 0


def main(argv: list[str], output: Path | None = None) -> int:
    """The scripts' entry point: `bench/throughput.py --quick` and the like."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    options.add_arguments(parser)
    args = parser.parse_args(argv)
    if output is not None and not args.output:
        args.output = str(output)
    return run(args, Settings())
