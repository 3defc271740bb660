"""Per-user throttling through a real aiogram Dispatcher, talking HTTP to the Bot API
stand-in; the Redis backend against the real Redis at 127.0.0.1:6379 (one key prefix
per test, deleted afterwards)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message, Update
from aiogram.utils.i18n import ConstI18nMiddleware, I18n
from babel.messages.pofile import read_po
from redis.asyncio import Redis

from bot.telegram.throttle import (
    MemoryThrottleBackend,
    RedisThrottleBackend,
    ThrottlingMiddleware,
    Verdict,
    make_throttle_backend,
    redis_client,
)
from tests.support.standin import BotAPIStandIn

REDIS_URL = "redis://127.0.0.1:6379/0"
LOCALES = Path(__file__).resolve().parents[2] / "locales"
POLITE = "You are sending messages too fast. Please wait a few seconds."
SALT = "throttle-test-salt"
_ids = itertools.count(1)


class Worker:
    """One bot process: a Dispatcher with i18n and throttling, handlers that count."""

    def __init__(
        self, api: BotAPIStandIn, backend, rate: int, period: float, locale: str = "en"
    ) -> None:
        self.handled: list[int] = []
        self.pressed: list[str] = []
        self.bot = Bot(
            api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        )
        self.dp = Dispatcher()
        ConstI18nMiddleware(locale, I18n(path=LOCALES, default_locale="en")).setup(self.dp)
        throttle = ThrottlingMiddleware(backend, rate=rate, period=period)
        self.dp.message.outer_middleware(throttle)
        self.dp.callback_query.outer_middleware(throttle)
        router = Router()

        @router.message(F.text)
        async def on_text(message: Message) -> None:
            self.handled.append(message.from_user.id)
            await message.answer(f"answer to {message.text}")

        @router.callback_query()
        async def on_press(query: CallbackQuery) -> None:
            self.pressed.append(query.data)
            await query.answer()

        self.dp.include_router(router)

    async def message(self, user_id: int, text: str = "hi") -> None:
        update = {
            "update_id": next(_ids),
            "message": {
                "message_id": next(_ids),
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": user_id, "is_bot": False, "first_name": "U"},
                "text": text,
            },
        }
        await self.dp.feed_update(self.bot, Update.model_validate(update))

    async def press(self, user_id: int, data: str = "topic:1") -> str:
        query_id = f"q{next(_ids)}"
        update = {
            "update_id": next(_ids),
            "callback_query": {
                "id": query_id,
                "from": {"id": user_id, "is_bot": False, "first_name": "U"},
                "chat_instance": "ci",
                "data": data,
            },
        }
        await self.dp.feed_update(self.bot, Update.model_validate(update))
        return query_id

    async def close(self) -> None:
        await self.bot.session.close()


def refusals(api: BotAPIStandIn) -> list:
    return [c for c in api.calls if c.method == "sendMessage" and c.text == POLITE]


@pytest.fixture
async def api():
    async with BotAPIStandIn() as server:
        yield server


@pytest.fixture
async def workers(api):
    made: list[Worker] = []

    def make(backend, rate: int = 3, period: float = 10.0, locale: str = "en") -> Worker:
        worker = Worker(api, backend, rate, period, locale)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        await worker.close()


@pytest.fixture
async def redis_prefix():
    """A unique key prefix; every key under it is deleted after the test."""
    prefix = f"test:throttle:{uuid.uuid4().hex}"
    yield prefix
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_backends(redis_prefix):
    made: list[RedisThrottleBackend] = []

    def make(url: str = REDIS_URL, **kwargs) -> RedisThrottleBackend:
        backend = RedisThrottleBackend(redis_client(url), SALT, prefix=redis_prefix, **kwargs)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.close()


# -- in memory ----------------------------------------------------------------------


async def test_memory_over_the_limit_one_polite_reply_then_silence(api, workers):
    worker = workers(MemoryThrottleBackend(), rate=3, period=10)
    for n in range(8):
        await worker.message(101, f"q{n}")
    assert worker.handled == [101, 101, 101]
    assert len(refusals(api)) == 1
    assert refusals(api)[0].params["chat_id"] == 101
    answers = [c for c in api.calls if c.method == "sendMessage" and c.text != POLITE]
    assert len(answers) == 3


async def test_the_polite_reply_is_in_the_users_language(api, workers):
    with open(LOCALES / "ru" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        expected = read_po(handle).get(POLITE).string
    assert expected and expected != POLITE
    worker = workers(MemoryThrottleBackend(), rate=1, period=10, locale="ru")
    await worker.message(102)
    await worker.message(102)
    replies = [c.text for c in api.calls if c.method == "sendMessage"]
    assert replies == ["answer to hi", expected]


async def test_memory_limits_are_per_user(api, workers):
    worker = workers(MemoryThrottleBackend(), rate=2, period=10)
    for _ in range(4):
        await worker.message(201)
        await worker.message(202)
    assert worker.handled.count(201) == 2
    assert worker.handled.count(202) == 2
    assert sorted(c.params["chat_id"] for c in refusals(api)) == [201, 202]


async def test_memory_window_slides(api, workers):
    worker = workers(MemoryThrottleBackend(), rate=2, period=0.4)
    for _ in range(3):
        await worker.message(301)
    assert len(worker.handled) == 2
    await asyncio.sleep(0.45)
    for _ in range(3):
        await worker.message(301)
    assert len(worker.handled) == 4
    assert len(refusals(api)) == 2  # one per period


async def test_callback_queries_over_the_limit_are_answered(api, workers):
    worker = workers(MemoryThrottleBackend(), rate=2, period=10)
    ids = [await worker.press(401, f"topic:{n}") for n in range(5)]
    assert worker.pressed == ["topic:0", "topic:1"]
    answers = {
        c.params["callback_query_id"]: c for c in api.calls if c.method == "answerCallbackQuery"
    }
    assert set(answers) == set(ids)  # every press is answered: no spinning buttons
    over = [answers[i] for i in ids[2:]]
    assert all(c.params.get("text") == POLITE for c in over)
    assert all("text" not in answers[i].params for i in ids[:2])


async def test_messages_and_presses_share_one_limit(api, workers):
    worker = workers(MemoryThrottleBackend(), rate=3, period=10)
    await worker.message(501)
    await worker.press(501)
    await worker.message(501)
    await worker.message(501)
    await worker.press(501)
    assert len(worker.handled) + len(worker.pressed) == 3


async def test_memory_backend_evicts_idle_users():
    backend = MemoryThrottleBackend()
    for user in range(1000):
        assert await backend.hit(user, 5, 0.2) is Verdict.ALLOW
    assert len(backend) == 1000
    await asyncio.sleep(0.25)
    await backend.hit(5000, 5, 0.2)
    assert len(backend) == 1


async def test_memory_backend_is_bounded_under_a_flood_of_senders():
    backend = MemoryThrottleBackend(max_users=50)
    for user in range(2000):
        await backend.hit(user, 5, 60)
    assert len(backend) == 50
    # The most recent senders are the ones still tracked: 1999 has 1 hit, 4 more fill
    # its window of 5, the next one is refused.
    for _ in range(4):
        await backend.hit(1999, 5, 60)
    assert await backend.hit(1999, 5, 60) is Verdict.WARN


def test_settings_choose_the_backend(make_settings):
    assert isinstance(make_throttle_backend(make_settings()), MemoryThrottleBackend)
    backend = make_throttle_backend(make_settings(redis_url=REDIS_URL, user_hash_salt="s"))
    assert isinstance(backend, RedisThrottleBackend)


# -- Redis --------------------------------------------------------------------------


async def test_redis_over_the_limit_one_polite_reply(api, workers, redis_backends):
    worker = workers(redis_backends(), rate=3, period=10)
    for _ in range(7):
        await worker.message(601)
    assert worker.handled == [601] * 3
    assert len(refusals(api)) == 1


async def test_redis_keys_hold_no_raw_user_id(workers, redis_backends, redis_prefix):
    user_id = 987654321
    worker = workers(redis_backends(), rate=2, period=10)
    for _ in range(3):
        await worker.message(user_id)
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key.decode() async for key in client.scan_iter(match=f"{redis_prefix}:*")]
        ttl = await client.pttl(keys[0])
    finally:
        await client.aclose()
    assert len(keys) == 2  # the window and the "warned" flag
    assert all(str(user_id) not in key for key in keys)
    assert 0 < ttl <= 10_000  # expires with the period: nothing kept about idle users


async def test_two_workers_share_one_limit(api, workers, redis_backends):
    # Two processes: two Dispatchers, two middlewares, two Redis clients.
    first = workers(redis_backends(), rate=4, period=10)
    second = workers(redis_backends(), rate=4, period=10)
    for n in range(10):
        await (first if n % 2 else second).message(701)
    assert len(first.handled) + len(second.handled) == 4
    assert first.handled and second.handled
    assert len(refusals(api)) == 1  # one polite reply in all, not one per worker


async def test_two_workers_concurrently(api, workers, redis_backends):
    first = workers(redis_backends(), rate=5, period=10)
    second = workers(redis_backends(), rate=5, period=10)
    await asyncio.gather(*[(first, second)[n % 2].message(702) for n in range(20)])
    assert len(first.handled) + len(second.handled) == 5
    assert len(refusals(api)) == 1


async def test_redis_window_slides(api, workers, redis_backends):
    worker = workers(redis_backends(), rate=2, period=0.4)
    for _ in range(3):
        await worker.message(801)
    await asyncio.sleep(0.45)
    for _ in range(3):
        await worker.message(801)
    assert len(worker.handled) == 4


async def test_redis_down_fails_open_and_warns_once(api, workers, redis_backends, caplog):
    backend = redis_backends("redis://127.0.0.1:1/0", retry_interval=0.0)
    worker = workers(backend, rate=2, period=10)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="bot.telegram.throttle"):
        for _ in range(6):
            await worker.message(901)
    assert worker.handled == [901] * 6  # every message answered
    assert refusals(api) == []
    assert time.monotonic() - started < 3
    warnings = [r for r in caplog.records if r.name == "bot.telegram.throttle"]
    assert len(warnings) == 1 and "fail open" in warnings[0].getMessage()
    assert "901" not in warnings[0].getMessage()


async def test_redis_down_is_not_retried_on_every_message(redis_backends):
    backend = redis_backends("redis://127.0.0.1:1/0", retry_interval=60.0)
    assert await backend.hit(1, 1, 10) is Verdict.ALLOW
    started = time.monotonic()
    for _ in range(100):
        assert await backend.hit(1, 1, 10) is Verdict.ALLOW
    assert time.monotonic() - started < 0.1  # no connection attempts while marked down
