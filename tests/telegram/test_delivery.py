"""Each update handled once and none lost: the real dispatcher polling the stand-in
through `poll` (bot/telegram/delivery.py), with a real SQLite database. The stand-in
drops an update only when a getUpdates offset confirms it, as Telegram does. With the
database up, an update is confirmed once it is in the inbox; without it, only once it
and every earlier one are handled."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from aiogram import F, Router
from aiogram.types import Message

from bot.retrieval.assistant import Assistant
from bot.storage.factory import open_storage
from bot.telegram import build_dispatcher, create_bot
from bot.telegram.delivery import poll
from tests.support.standin import BotAPIStandIn

QUESTION = "how do i pay for the patent"


class Running:
    def __init__(self, api, dp, bot, storage, gate):
        self.api, self.dp, self.bot, self.storage, self.gate = api, dp, bot, storage, gate
        self.stop = asyncio.Event()
        self.task: asyncio.Task | None = None

    def start(self, grace: float = 5.0) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(
            poll(self.dp, self.bot, self.stop, timeout=1, grace=grace,
                 allowed_updates=self.dp.resolve_used_update_types())
        )  # fmt: skip

    async def halt(self) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 30)

    def pending_ids(self) -> list[int]:
        """Updates Telegram would still deliver (not confirmed by an offset)."""
        return [u["update_id"] for u in self.api._updates]


@pytest.fixture
async def running(bot_settings, embedder):
    async with BotAPIStandIn() as api:
        settings = bot_settings.model_copy(update={"telegram_api_url": api.base_url})
        assistant = Assistant(settings, embedder=embedder)
        storage = open_storage(settings)
        await storage.open()
        bot = create_bot(settings)
        dp = build_dispatcher(settings, assistant, storage)
        gate = asyncio.Event()
        slow = Router(name="slow-test-handler")  # a question that takes as long as the test wants

        @slow.message(F.text == "slow question")
        async def slow_question(message: Message) -> None:
            await gate.wait()
            await message.answer("slow answer")

        dp.include_router(slow)
        dp.sub_routers.insert(0, dp.sub_routers.pop())  # before the real routers
        run = Running(api, dp, bot, storage, gate)
        try:
            yield run
        finally:
            gate.set()
            if run.task is not None and not run.task.done():
                with contextlib.suppress(Exception):
                    await run.halt()
            await bot.session.close()
            await storage.close()
            assistant.close()


async def wait_confirmed(running, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if not running.pending_ids():
            return
        await asyncio.sleep(0.1)


async def test_a_slow_update_holds_up_nothing_and_everything_is_confirmed_from_the_inbox(
    running,
):
    api = running.api
    running.start()
    await api.send_text(6001, "slow question", "en")
    await api.send_text(6002, QUESTION, "en")
    [answer] = await api.wait_for("sendMessage", since=0, timeout=30)
    assert int(answer.params["chat_id"]) == 6002  # the later one is answered meanwhile
    await wait_confirmed(running)
    assert running.pending_ids() == []  # both confirmed: the slow one is in the inbox
    for _ in range(50):  # the answered one leaves the inbox once recorded as done
        inbox = await running.storage.unfinished_updates()
        if len(inbox) == 1:
            break
        await asyncio.sleep(0.1)
    [(_uid, payload)] = inbox
    assert "slow question" in payload
    running.gate.set()
    await api.wait_for("sendMessage", count=2, since=0, timeout=30)
    await asyncio.sleep(0.3)
    assert await running.storage.unfinished_updates() == []  # cleared once handled
    await running.halt()
    assert len(api.since("sendMessage", since=0)) == 2


async def test_without_the_database_an_update_is_confirmed_only_once_handled(running):
    api = running.api
    await running.storage.close()  # every claim fails: no inbox
    running.start()
    await api.send_text(6003, "slow question", "en")
    await api.send_text(6004, QUESTION, "en")
    [answer] = await api.wait_for("sendMessage", since=0, timeout=30)
    assert int(answer.params["chat_id"]) == 6004
    await asyncio.sleep(1.5)  # several more getUpdates rounds
    assert len(running.pending_ids()) == 2  # the slow one holds back the later one too
    running.gate.set()
    await api.wait_for("sendMessage", count=2, since=0, timeout=30)
    await wait_confirmed(running)
    assert running.pending_ids() == []
    await running.halt()
    await running.storage.open()  # for the fixture's teardown


async def test_stopping_lets_questions_in_flight_finish_and_confirms_them(running):
    api = running.api
    running.start(grace=10)
    for user in range(6010, 6016):
        await api.send_text(user, QUESTION, "en")
    await api.send_text(6016, "slow question", "en")
    await asyncio.sleep(0.8)  # fetched and being handled
    halting = asyncio.create_task(running.halt())
    await asyncio.sleep(0.3)
    running.gate.set()  # the slow one finishes within the grace period
    await halting
    chats = sorted(int(c.params["chat_id"]) for c in api.since("sendMessage", since=0))
    assert chats == list(range(6010, 6017))  # every one answered, once
    assert running.pending_ids() == []  # and confirmed before the process went away


async def test_an_update_cut_off_by_a_stop_is_handled_after_the_restart(running):
    api = running.api
    running.start(grace=0.3)
    await api.send_text(6020, "slow question", "en")
    await asyncio.sleep(0.8)
    await running.halt()  # the grace period passes: cut off, but kept in the inbox
    assert api.since("sendMessage", since=0) == []
    assert [p for _, p in await running.storage.unfinished_updates()]
    running.gate.set()
    running.start()  # the next run takes it from the inbox
    [answer] = await api.wait_for("sendMessage", since=0, timeout=30)
    assert answer.text == "slow answer" and int(answer.params["chat_id"]) == 6020
    await running.halt()


async def test_a_redelivered_update_is_answered_once(running):
    api = running.api
    running.start()
    message = await api.send_text(6030, QUESTION, "en")
    await api.wait_for("sendMessage", since=0, timeout=30)
    # Telegram delivers the same update again (a webhook retry, a lost confirmation)
    api._updates.append({"update_id": 10_000, "message": message})
    api._updates.append({"update_id": 10_000, "message": message})
    await api.settle(1.5)
    assert len(api.since("sendMessage", since=0)) == 2  # the first, and update 10000 once
    await running.halt()
