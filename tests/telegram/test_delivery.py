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
async def running(request, bot_settings, embedder):
    """The bot polling a stand-in; indirect parameters are settings to change."""
    async with BotAPIStandIn() as api:
        changes = getattr(request, "param", {})
        settings = bot_settings.model_copy(update={"telegram_api_url": api.base_url, **changes})
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

        @slow.message(F.text == "quick question")
        async def quick_question(message: Message) -> None:
            await message.answer("quick answer")
            await asyncio.sleep(1.0)  # work after the answer (events, the gaps log)

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


@pytest.mark.parametrize("running", [{"overload_queue": 2}], indirect=True)
async def test_questions_beyond_the_queue_are_shed_at_once_without_touching_the_inbox(running):
    api = running.api
    running.start()
    for user in (6040, 6041):  # the queue is full while these wait
        await api.send_text(user, "slow question", "en")
    await asyncio.sleep(0.8)
    for user in (6042, 6043, 6044):
        await api.send_text(user, QUESTION, "en")
    await api.send_text(6045, "/help", "en")  # commands are never shed
    calls = await api.wait_for("sendMessage", count=4, since=0, timeout=30)
    by_chat = {int(c.params["chat_id"]): c.text for c in calls}
    for user in (6042, 6043, 6044):
        assert "too many questions right now" in by_chat[user], by_chat
    assert "too many questions" not in by_chat[6045]
    await wait_confirmed(running)
    assert running.pending_ids() == []  # the shed ones confirmed once their apology went
    inbox = [payload for _, payload in await running.storage.unfinished_updates()]
    assert len(inbox) == 2 and all("slow question" in p for p in inbox)  # no shed one
    running.gate.set()
    await api.wait_for("sendMessage", count=6, since=0, timeout=30)
    await asyncio.sleep(0.5)  # the slow handlers return after their answers
    mark = api.mark()
    await api.send_text(6046, QUESTION, "en")  # room again: answered
    [answer] = await api.wait_for("sendMessage", since=mark, timeout=30)
    assert "patent" in answer.text.lower() and "too many" not in answer.text
    rendered = running.dp["metrics"].render("v").decode()
    assert 'migrant_bot_overload_replies_total{kind="shed"} 3.0' in rendered
    await running.halt()
    shed = [c for c in api.since("sendMessage", since=0) if int(c.params["chat_id"]) in by_chat]
    assert len(shed) == 4  # an apology each (and the /help reply), nothing more


@pytest.mark.parametrize("running", [{"overload_notice_seconds": 0.4}], indirect=True)
async def test_a_question_still_unanswered_late_gets_the_notice_and_an_answered_one_never(
    running,
):
    # Nothing else is in flight, so the estimate says no wait: only the timer can tell
    # the slow one (0.75 x 0.4 s after it arrived); the quick one is answered at once
    # and its handler goes on for a second, past the timer, without a notice.
    api = running.api
    running.start()
    await api.send_text(6050, "slow question", "en")
    await api.send_text(6051, "quick question", "en")
    calls = await api.wait_for("sendMessage", count=2, since=0, timeout=30)
    await asyncio.sleep(1.5)
    running.gate.set()
    await api.wait_for("sendMessage", count=3, since=0, timeout=30)
    await api.settle(0.5)
    calls = api.since("sendMessage", since=0)
    slow = [c.text for c in calls if int(c.params["chat_id"]) == 6050]
    quick = [c.text for c in calls if int(c.params["chat_id"]) == 6051]
    assert len(slow) == 2 and "Many questions right now" in slow[0], slow
    assert slow[1] == "slow answer"
    assert quick == ["quick answer"]
    rendered = running.dp["metrics"].render("v").decode()
    assert 'migrant_bot_overload_replies_total{kind="late_notice"} 1.0' in rendered
    await running.halt()
