#!/usr/bin/env python3
"""Fault runs against the real bot process: figures printed, never asserted in tests.

    .venv/bin/python bench/faults.py [scenario ...]   (default: all)

Scenarios (issue 16), each with `migrant-bot run` started as its own process, talking
to the local Bot API stand-in (tests/support/standin.py), the real model and index:
- sigterm:    30 questions in flight, SIGTERM, restart: lost and duplicated answers;
- kill9:      the same with SIGKILL (a crash);
- duplicates: webhook mode, every update posted twice at once: duplicated answers;
- zero-index: the version in service has its vectors zero-filled behind an intact
              header: is it refused, and are answers right after the start;
- frozen-db:  PostgreSQL started by this script, frozen with SIGSTOP for 20 s while
              questions arrive: reply latency p50/p95;
- overload:   questions at 2x what the machine answers for 30 s: how many users got a
              reply or a notice within 5 s, p95 of that first message.
A "notice" is the overload message; an "answer" is any other reply. Writes
bench/results/faults.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: bench/ and tests/ live beside bot/

import httpx  # noqa: E402

from tests.support.standin import BotAPIStandIn  # noqa: E402

QUESTIONS = [
    "как оплатить патент",
    "сколько дней можно находиться в россии без визы",
    "qancha kunda roʻyxatdan oʻtish kerak",
    "патент канча турат",
    "how do i check if i have an entry ban",
    "қазақстанда тіркеуге қанча күн бар",
]


def distinct_questions() -> list[str]:
    """Every question of the evaluation sets, once: repeated texts would be answered
    from the cache and measure nothing."""
    seen: dict[str, None] = {}
    for name in ("dev", "holdout", "fresh"):
        path = ROOT / "tests" / "data" / f"{name}.jsonl"
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    seen.setdefault(json.loads(line)["text"], None)
    return list(seen) or QUESTIONS


SHED = ("too many questions", "слишком много")  # the apology instead of an answer
NOTICE = ("Many questions", "Сейчас много вопросов", *SHED)
SECRET = "faults-secret_1"
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_notice(text: str) -> bool:
    return any(n in text for n in NOTICE)


class Bot:
    """`migrant-bot run` as a child process, pointed at the stand-in."""

    def __init__(self, api: BotAPIStandIn, work: Path, **env: str) -> None:
        self.api, self.work = api, work
        self.env = {
            **os.environ,
            "BOT_TOKEN": api.token,
            "TELEGRAM_API_URL": api.base_url,
            "KB_DIR": str(ROOT / "knowledge"),
            "DATA_DIR": env.pop("DATA_DIR", str(ROOT / "var")),
            "DATABASE_URL": f"sqlite:///{work / 'bot.sqlite'}",
            "USER_HASH_SALT": "faults-salt",
            "THROTTLE_RATE": "1000",
            "BURST_WINDOW": "0",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        self.proc: subprocess.Popen | None = None
        self.log = work / "bot.log"

    async def start(self, ready: str = "deleteWebhook", timeout: float = 300) -> float:
        mark = self.api.mark()
        started = time.monotonic()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run"], env=self.env, cwd=ROOT,
                stdout=log, stderr=log,
            )  # fmt: skip
        await self.api.wait_for(ready, since=mark, timeout=timeout)
        await asyncio.sleep(0.5)
        return time.monotonic() - started

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, timeout: float = 60) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait()


def replies(api: BotAPIStandIn, since: int, users: list[int]) -> dict[int, list[tuple[float, str]]]:
    out: dict[int, list[tuple[float, str]]] = {u: [] for u in users}
    for call in api.since("sendMessage", since):
        chat = int(call.params.get("chat_id", 0))
        if chat in out and "_error" not in call.params:
            out[chat].append((call.at, call.shown))
    return out


def lost_and_duplicated(by_user: dict[int, list[tuple[float, str]]]) -> tuple[int, int]:
    answers = {u: [t for _, t in msgs if not is_notice(t)] for u, msgs in by_user.items()}
    lost = sum(1 for a in answers.values() if not a)
    duplicated = sum(1 for a in answers.values() if len(a) > 1)
    return lost, duplicated


async def wait_answered(api, since, users, timeout=90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = replies(api, since, users)
        if all(any(not is_notice(t) for _, t in m) for m in got.values()):
            break
        await asyncio.sleep(0.3)
    await asyncio.sleep(2.0)  # time for a duplicate to show up


async def restart_under_load(sig: int) -> dict:
    """30 questions, the signal while they are being handled, then a restart."""
    work = Path(tempfile.mkdtemp(prefix="faults-"))
    async with BotAPIStandIn() as api:
        bot = Bot(api, work, SHUTDOWN_GRACE="20")
        await bot.start()
        mark = api.mark()
        users = list(range(9000, 9030))
        texts = distinct_questions()[:30]
        for user, text in zip(users, texts, strict=True):
            await api.send_text(user, text, "ru")
        await asyncio.sleep(0.15)  # fetched, in flight
        in_flight = len(users) - len(
            {int(c.params["chat_id"]) for c in api.since("sendMessage", mark)}
        )
        bot.signal(sig)
        code = await bot.wait()
        before_restart = sum(1 for m in replies(api, mark, users).values() if m)
        await bot.start()
        await wait_answered(api, mark, users)
        await bot.wait_stop()
        lost, duplicated = lost_and_duplicated(replies(api, mark, users))
    shutil.rmtree(work, ignore_errors=True)
    return {
        "questions": len(users),
        "in_flight_at_signal": in_flight,
        "answered_before_restart": before_restart,
        "exit_code": code,
        "lost": lost,
        "duplicated": duplicated,
    }


async def _stop(self: Bot) -> None:
    self.signal(signal.SIGTERM)
    await self.wait()


Bot.wait_stop = _stop  # type: ignore[attr-defined]


async def duplicates() -> dict:
    """Webhook mode; every update posted twice at once (Telegram retrying)."""
    work = Path(tempfile.mkdtemp(prefix="faults-"))
    port = free_port()
    async with BotAPIStandIn() as api, httpx.AsyncClient(timeout=60) as http:
        bot = Bot(
            api, work, BOT_MODE="webhook", WEBHOOK_URL="https://bot.example.org",
            WEBHOOK_SECRET=SECRET, WEBHOOK_PORT=str(port),
        )  # fmt: skip
        await bot.start(ready="setWebhook")
        url = f"http://127.0.0.1:{port}/telegram/webhook"
        mark = api.mark()
        users = list(range(9100, 9140))

        async def post_twice(n: int, user: int) -> list[int]:
            update = {
                "update_id": 500_000 + n,
                "message": {
                    "message_id": 700 + n, "date": int(time.time()),
                    "chat": {"id": user, "type": "private"},
                    "from": {"id": user, "is_bot": False, "first_name": "U", "language_code": "ru"},
                    "text": QUESTIONS[n % len(QUESTIONS)],
                },
            }  # fmt: skip
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            posts = [http.post(url, json=update, headers=headers) for _ in range(2)]
            return [r.status_code for r in await asyncio.gather(*posts)]

        codes = await asyncio.gather(*(post_twice(n, u) for n, u in enumerate(users)))
        await wait_answered(api, mark, users)
        lost, duplicated = lost_and_duplicated(replies(api, mark, users))
        await bot.wait_stop()
    shutil.rmtree(work, ignore_errors=True)
    return {
        "updates": len(users),
        "posts": 2 * len(users),
        "http_codes": sorted({c for pair in codes for c in pair}),
        "lost": lost,
        "duplicated": duplicated,
    }


async def zero_index() -> dict:
    """The version in service zero-filled behind an intact header."""
    import faiss
    import numpy as np

    work = Path(tempfile.mkdtemp(prefix="faults-"))
    data = work / "var"
    shutil.copytree(ROOT / "var", data, ignore=shutil.ignore_patterns("bot.sqlite*", "salt"))
    current = (data / "index" / "CURRENT").read_text().strip()
    path = data / "index" / current / "index.faiss"
    index = faiss.read_index(str(path))
    zeroed = faiss.IndexFlatIP(index.d)
    zeroed.add(np.zeros((index.ntotal, index.d), dtype="float32"))
    faiss.write_index(zeroed, str(path))
    async with BotAPIStandIn() as api:
        bot = Bot(api, work, DATA_DIR=str(data))
        seconds = await bot.start()
        mark = api.mark()
        users = list(range(9200, 9200 + len(QUESTIONS)))
        for user, question in zip(users, QUESTIONS, strict=True):
            await api.send_text(user, question, "ru")
        await wait_answered(api, mark, users, timeout=60)
        got = replies(api, mark, users)
        await bot.wait_stop()
    serving = (data / "index" / "CURRENT").read_text().strip()
    log = bot.log.read_text(errors="replace")
    shutil.rmtree(work, ignore_errors=True)
    answered = sum(
        1 for msgs in got.values() if any("Источники" in t or "Sources" in t for _, t in msgs)
    )
    return {
        "damaged_version": current,
        "served_after_start": serving,
        "damaged_refused": serving != current,
        "start_seconds": round(seconds, 1),
        "questions": len(users),
        "answered_with_sources": answered,
        "log_says": [line for line in log.splitlines() if "index" in line.lower()][:3],
    }


def _start_postgres(work: Path) -> tuple[subprocess.Popen, int]:
    """A PostgreSQL of our own (so that freezing it touches nothing else)."""
    pgdata = work / "pgdata"
    pgdata.mkdir()
    as_pg = {}
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
        shutil.chown(pgdata, "postgres")
        as_pg = {"user": "postgres"}
    subprocess.run(
        ["initdb", "-D", str(pgdata), "-A", "trust", "-U", "bot"],
        check=True, capture_output=True, **as_pg,
    )  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        ["postgres", "-D", str(pgdata), "-p", str(port), "-k", str(work), "-h", "127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, **as_pg,
    )  # fmt: skip
    return proc, port


def _signal_cluster(postmaster: int, sig: int) -> None:
    """`sig` to the postmaster and every backend (each runs in its own session, so a
    process-group signal would miss them)."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True
    ).stdout
    for pid in [postmaster, *(int(x) for x in out.split())]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


async def frozen_db(freeze: float = 20.0) -> dict:
    work = Path(tempfile.mkdtemp(prefix="faults-"))
    pg, port = _start_postgres(work)
    try:
        dsn = f"postgresql://bot@127.0.0.1:{port}/postgres"
        for _ in range(100):
            with contextlib.suppress(Exception):
                import asyncpg

                conn = await asyncpg.connect(dsn)
                await conn.close()
                break
            await asyncio.sleep(0.2)
        async with BotAPIStandIn() as api:
            bot = Bot(api, work, DATABASE_URL=dsn)
            await bot.start()
            for i, user in enumerate(range(9290, 9296)):  # warm: languages stored
                await api.send_text(user, QUESTIONS[i], "ru")
            await asyncio.sleep(3)
            _signal_cluster(pg.pid, signal.SIGSTOP)
            frozen_at = time.monotonic()
            users = list(range(9300, 9340))
            sent: dict[int, float] = {}
            mark = api.mark()
            texts = distinct_questions()[100:]
            for i, user in enumerate(users):
                sent[user] = time.monotonic()
                await api.send_text(user, texts[i], "ru")
                await asyncio.sleep(freeze * 0.8 / len(users))
            await asyncio.sleep(max(0.0, freeze - (time.monotonic() - frozen_at)))
            _signal_cluster(pg.pid, signal.SIGCONT)
            await wait_answered(api, mark, users, timeout=60)
            got = replies(api, mark, users)
            await bot.wait_stop()
        latencies = []
        for user, msgs in got.items():
            if msgs:
                # call.at is the stand-in's monotonic clock, the same as ours
                latencies.append(min(at for at, _ in msgs) - sent[user])
        lost, duplicated = lost_and_duplicated(got)
        log = bot.log.read_text(errors="replace")
        slow = sum(
            1 for line in log.splitlines() if "too slow" in line or "not read within" in line
        )
    finally:
        _signal_cluster(pg.pid, signal.SIGCONT)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pg.pid, signal.SIGTERM)
        pg.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    return {
        "frozen_seconds": freeze,
        "storage_waits_given_up": slow,
        "questions": len(users),
        "lost": lost,
        "duplicated": duplicated,
        "p50_s": round(statistics.median(latencies), 2),
        "p95_s": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 2),
        "max_s": round(max(latencies), 2),
    }


async def overload(rate: float = 80.0, seconds: float = 30.0) -> dict:
    """Open-loop arrivals at `rate`/s for `seconds`: about 2x what 2 cores answer
    (`migrant-bot bench`, 2026-12-04: 30 to 41 answers/s; the 40/s used until then
    was no longer an overload). The sender itself reaches about 70/s here."""
    work = Path(tempfile.mkdtemp(prefix="faults-"))
    async with BotAPIStandIn() as api:
        bot = Bot(api, work)
        await bot.start()
        mark = api.mark()
        sent: dict[int, float] = {}
        texts = distinct_questions()
        user = 20_000
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            user += 1
            sent[user] = time.monotonic()
            # a unique tail: no question is answered from the cache
            await api.send_text(user, f"{texts[user % len(texts)]} ({user})", "ru")
            await asyncio.sleep(1 / rate)
        users = list(sent)
        sending = time.monotonic() - started
        await wait_answered(api, mark, users, timeout=120)
        got = replies(api, mark, users)
        await bot.wait_stop()
    log = bot.log.read_text(errors="replace")
    slow = sum(1 for line in log.splitlines() if "too slow" in line or "not read within" in line)
    shutil.rmtree(work, ignore_errors=True)
    first = [min(at for at, _ in msgs) - sent[u] for u, msgs in got.items() if msgs]
    answer = [
        min(at for at, t in msgs if not is_notice(t)) - sent[u]
        for u, msgs in got.items()
        if any(not is_notice(t) for _, t in msgs)
    ]
    notices = sum(1 for msgs in got.values() if any(is_notice(t) for _, t in msgs))
    shed = sum(1 for msgs in got.values() if any(a in t for _, t in msgs for a in SHED))
    return {
        "rate_per_s": rate,
        "sent_per_s": round(len(users) / sending, 1),
        "seconds": seconds,
        "storage_waits_given_up": slow,
        "questions": len(users),
        "silent": len(users) - len(first),
        "first_message_within_5s": round(sum(1 for f in first if f <= 5) / len(users), 3),
        "first_message_p95_s": round(sorted(first)[int(0.95 * (len(first) - 1))], 2),
        "with_notice_or_apology": notices,
        "shed_with_apology": shed,
        "answered": len(answer),
        "answer_p50_s": round(statistics.median(answer), 2) if answer else None,
        "answer_p95_s": round(sorted(answer)[int(0.95 * (len(answer) - 1))], 2) if answer else None,
    }


SCENARIOS = {
    "sigterm": lambda: restart_under_load(signal.SIGTERM),
    "kill9": lambda: restart_under_load(signal.SIGKILL),
    "duplicates": duplicates,
    "zero-index": zero_index,
    "frozen-db": frozen_db,
    "overload": overload,
}


async def main(names: list[str]) -> None:
    results = {}
    for name in names or list(SCENARIOS):
        if name not in SCENARIOS:
            raise SystemExit(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
        print(f"--- {name}", flush=True)
        results[name] = await SCENARIOS[name]()
        print(json.dumps(results[name], ensure_ascii=False, indent=1), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "faults.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
