"""FSM storage: a two-step conversation survives moving between workers when Redis is
shared, keeps no raw ids in Redis, and degrades without breaking questions when Redis is
down. Real Dispatchers, the Bot API stand-in over HTTP, the real Redis at 127.0.0.1:6379."""

from __future__ import annotations

import itertools
import logging
import time
import uuid

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import Message, Update
from redis.asyncio import Redis

from bot.telegram.fsm import (
    FailSoftStorage,
    RedisUnreachable,
    check_redis,
    make_fsm_storage,
    redact_url,
)
from tests.support.standin import BotAPIStandIn

REDIS_URL = "redis://127.0.0.1:6379/0"
DOWN_URL = "redis://127.0.0.1:1/0"
_ids = itertools.count(1)


class Deadlines(StatesGroup):
    arrival = State()


class Worker:
    """One bot process with a /deadlines-like two-step conversation."""

    def __init__(self, api: BotAPIStandIn, storage) -> None:
        self.log: list[str] = []
        self.bot = Bot(
            api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        )
        self.dp = Dispatcher(storage=storage)
        router = Router()

        @router.message(Command("deadlines"))
        async def start(message: Message, state: FSMContext) -> None:
            await state.set_state(Deadlines.arrival)
            await state.update_data(kind="registration")
            self.log.append("asked")
            await message.answer("When did you arrive?")

        @router.message(Deadlines.arrival, F.text)
        async def arrival(message: Message, state: FSMContext) -> None:
            data = await state.get_data()
            await state.clear()
            self.log.append(f"{data.get('kind')}:{message.text}")
            await message.answer(f"{data.get('kind')} from {message.text}")

        @router.message(F.text)
        async def question(message: Message) -> None:
            self.log.append(f"question:{message.text}")
            await message.answer("an answer")

        self.dp.include_router(router)

    async def send(self, user_id: int, text: str) -> None:
        message = {
            "message_id": next(_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "U"},
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
        update = Update.model_validate({"update_id": next(_ids), "message": message})
        await self.dp.feed_update(self.bot, update)

    async def close(self) -> None:
        await self.bot.session.close()
        await self.dp.storage.close()


@pytest.fixture
async def api():
    async with BotAPIStandIn() as server:
        yield server


@pytest.fixture
async def prefix():
    value = f"test:fsm:{uuid.uuid4().hex}"
    yield value
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{value}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def workers(api):
    made: list[Worker] = []

    def make(storage) -> Worker:
        worker = Worker(api, storage)
        made.append(worker)
        return worker

    yield make
    for worker in made:
        await worker.close()


def test_memory_storage_without_redis(make_settings):
    assert isinstance(make_fsm_storage(make_settings()), MemoryStorage)


async def test_conversation_moves_between_workers_with_redis(make_settings, workers, prefix):
    settings = make_settings(redis_url=REDIS_URL, user_hash_salt="fsm-salt")
    first = workers(make_fsm_storage(settings, prefix=prefix))
    second = workers(make_fsm_storage(settings, prefix=prefix))
    await first.send(1001, "/deadlines")
    await second.send(1001, "2026-11-20")  # the next step lands on the other worker
    assert first.log == ["asked"]
    assert second.log == ["registration:2026-11-20"]
    await first.send(1001, "after the conversation")
    assert first.log[-1] == "question:after the conversation"


async def test_separate_memory_storages_lose_the_conversation(workers):
    # The control: without a shared storage the second worker knows nothing.
    first = workers(MemoryStorage())
    second = workers(MemoryStorage())
    await first.send(1002, "/deadlines")
    await second.send(1002, "2026-11-20")
    assert second.log == ["question:2026-11-20"]


async def test_redis_keys_are_hashed_prefixed_and_expire(make_settings, workers, prefix):
    user_id = 55512345
    settings = make_settings(redis_url=REDIS_URL, user_hash_salt="fsm-salt")
    worker = workers(make_fsm_storage(settings, ttl=600, prefix=prefix))
    await worker.send(user_id, "/deadlines")
    client = Redis.from_url(REDIS_URL)
    try:
        keys = sorted([key.decode() async for key in client.scan_iter(match=f"{prefix}:*")])
        ttls = [await client.ttl(key) for key in keys]
    finally:
        await client.aclose()
    assert [key.rsplit(":", 1)[1] for key in keys] == ["data", "state"]
    assert all(str(user_id) not in key for key in keys)
    assert all(0 < ttl <= 600 for ttl in ttls)


async def test_other_salt_other_keys(make_settings, workers, prefix):
    # Two deployments (or a rotated salt) never read each other's conversations.
    one = make_settings(redis_url=REDIS_URL, user_hash_salt="salt-one")
    two = make_settings(redis_url=REDIS_URL, user_hash_salt="salt-two")
    first = workers(make_fsm_storage(one, prefix=prefix))
    second = workers(make_fsm_storage(two, prefix=prefix))
    await first.send(1003, "/deadlines")
    await second.send(1003, "2026-11-20")
    assert second.log == ["question:2026-11-20"]


async def test_redis_down_questions_still_answered(make_settings, workers, api, caplog):
    settings = make_settings(redis_url=DOWN_URL, user_hash_salt="fsm-salt")
    storage = make_fsm_storage(settings)
    assert isinstance(storage, FailSoftStorage)
    worker = workers(storage)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="bot.telegram.fsm"):
        await worker.send(1004, "how long can I stay")
        await worker.send(1004, "/deadlines")
        await worker.send(1004, "2026-11-20")
    assert worker.log == ["question:how long can I stay", "asked", "question:2026-11-20"]
    answers = [c.text for c in api.calls if c.method == "sendMessage"]
    assert answers == ["an answer", "When did you arrive?", "an answer"]
    assert time.monotonic() - started < 3
    warnings = [r for r in caplog.records if r.name == "bot.telegram.fsm"]
    assert len(warnings) == 1
    assert "1004" not in warnings[0].getMessage()


async def test_check_redis_accepts_a_live_server():
    await check_redis(REDIS_URL)
    await check_redis("")  # single-worker mode: nothing to check


async def test_check_redis_names_the_problem():
    with pytest.raises(RedisUnreachable) as info:
        await check_redis("redis://:s3cret-pw@127.0.0.1:1/0", timeout=1.0)
    message = str(info.value)
    assert "127.0.0.1:1" in message and "REDIS_URL" in message
    assert "single-worker" in message
    assert "s3cret-pw" not in message


async def test_check_redis_rejects_a_non_redis_url():
    with pytest.raises(RedisUnreachable, match="not a Redis URL"):
        await check_redis("http://127.0.0.1:6379")


def test_redact_url():
    assert redact_url("redis://user:pw@host:6379/0") == "redis://user:***@host:6379/0"
    assert redact_url("redis://:pw@host/1") == "redis://:***@host/1"
    assert redact_url("redis://host:6379/0") == "redis://host:6379/0"
