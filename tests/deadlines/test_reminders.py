"""The reminder scheduler against real SQLite and PostgreSQL: exactly-once delivery with
concurrent workers, blocked chats, flood control, outages and restarts.

`RecordingSender` stands in for Telegram (bot/telegram/sender.py is the real adapter):
it records what would have been delivered and fails on request the way Telegram does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

import pytest

from bot.deadlines.reminders import (
    DeliveryFailed,
    RecipientBlocked,
    ReminderScheduler,
    RetryLater,
    reminder_text,
    unsubscribe_label,
)
from bot.domain import LANGUAGES
from bot.i18n import format_day
from bot.storage import Reminder, StorageUnavailable
from bot.storage.sqlite import SQLiteStorage
from tests.support.storage_backends import Clock, make_backend

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)  # 12:30 in Moscow
TODAY = NOW.date()
DAY = dt.timedelta(days=1)


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request, tmp_path):
    made = await make_backend(request.param, tmp_path)
    yield made
    await made.cleanup()


class Crash(BaseException):
    """The worker process dies (nothing in the scheduler may catch this)."""


class RecordingSender:
    """Records deliveries; fails for chosen chats or reminders like Telegram would."""

    def __init__(
        self,
        *,
        blocked: set[int] = frozenset(),
        retry_once: dict[int, float] | None = None,
        fail_once: set[int] = frozenset(),
        bad_chats: set[int] = frozenset(),
        crash_on: int | None = None,
    ) -> None:
        self.blocked = set(blocked)
        self.retry_once = dict(retry_once or {})
        self.fail_once = set(fail_once)
        self.bad_chats = set(bad_chats)
        self.crash_on = crash_on
        self.attempts: list[int] = []
        self.delivered: list[tuple[int, int, str, str]] = []  # reminder, chat, text, button

    async def send(
        self, chat_id: int, text: str, reminder_id: int, *, button: str = "Unsubscribe"
    ) -> None:
        self.attempts.append(reminder_id)
        await asyncio.sleep(0)  # let a concurrent worker run in between
        if reminder_id == self.crash_on:
            raise Crash
        if chat_id in self.blocked:
            raise RecipientBlocked("Forbidden")
        if chat_id in self.bad_chats:
            raise DeliveryFailed("chat not found", permanent=True)
        if reminder_id in self.retry_once:
            raise RetryLater(self.retry_once.pop(reminder_id))
        if reminder_id in self.fail_once:
            self.fail_once.discard(reminder_id)
            raise DeliveryFailed("TelegramNetworkError")
        self.delivered.append((reminder_id, chat_id, text, button))

    @property
    def ids(self) -> list[int]:
        return [item[0] for item in self.delivered]


async def _add(storage, n, *, chat=None, kind="patent", start=0) -> list[Reminder]:
    return [
        await storage.add_reminder(
            f"user{start + i}",
            chat if chat is not None else 5000 + start + i,
            kind,
            TODAY + 3 * DAY,
            TODAY - (i % 3) * DAY,
            "ru",
        )
        for i in range(n)
    ]


async def _claim_order(storage) -> list[int]:
    """The ids in the order a worker will claim them (claimed and given back)."""
    order = [r.id for r in await storage.claim_due(TODAY, "peek", limit=1000)]
    for rid in order:
        await storage.release(rid)
    return order


async def _drain(scheduler: ReminderScheduler) -> int:
    runs = 0
    while (await scheduler.run_once()).claimed:
        runs += 1
    return runs


def _scheduler(storage, sender, worker="w1", clock=None, **options) -> ReminderScheduler:
    options.setdefault("rate", 0)
    return ReminderScheduler(storage, sender, worker, clock=clock or Clock(NOW), **options)


# -- texts --------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kind", ["patent", "registration", "stay"])
def test_reminder_text_names_the_date_and_how_to_unsubscribe(lang, kind):
    due = dt.date(2026, 4, 15)
    reminder = Reminder(1, 42, kind, due, due - 3 * DAY, lang)
    text = reminder_text(reminder)
    assert format_day(due, lang) in text
    assert unsubscribe_label(lang) in text.splitlines()[-1]
    assert "{" not in text
    assert ".." not in text  # a date ending in "г." must not end a sentence


def test_english_texts_say_what_is_due():
    due = dt.date(2026, 4, 15)
    patent = reminder_text(Reminder(1, 42, "patent", due, due, "en"))
    assert "patent payment is due on April 15, 2026" in patent
    registration = reminder_text(Reminder(1, 42, "registration", due, due, "en"))
    assert "April 15, 2026 is the last day to register" in registration
    assert "stay" in reminder_text(Reminder(1, 42, "stay", due, due, "en"))


@pytest.mark.parametrize(("lang", "extend"), [("en", "extend"), ("ru", "продл"), ("uz", "uzayt")])
def test_a_registration_reminder_says_register_by_never_extend(lang, extend):
    # Sent before the registration deadline to someone who may not be registered yet:
    # "extend your registration" would tell them something they do not have.
    due = dt.date(2026, 4, 15)
    text = reminder_text(Reminder(1, 42, "registration", due, due, lang))
    assert extend not in text.casefold()
    assert format_day(due, lang) in text
    if lang != "en":
        assert "last day to register" not in text  # translated, not the English source


# -- delivery -----------------------------------------------------------------------


async def test_two_workers_deliver_each_reminder_exactly_once(backend):
    """200 due reminders, two schedulers with their own connections on one database."""
    setup = await backend.open()
    reminders = await _add(setup, 200)
    sender = RecordingSender()
    workers = [
        _scheduler(await backend.open(), sender, worker=f"worker-{n}", batch_size=9) for n in (1, 2)
    ]
    await asyncio.gather(*(_drain(w) for w in workers))

    assert sorted(sender.ids) == sorted(r.id for r in reminders)
    assert len(sender.ids) == len(set(sender.ids)) == 200
    assert sender.attempts == sender.ids  # nothing attempted twice either
    rows = (await backend.tables())["reminders"]
    assert all("sent" in row for row in rows)
    owners = {row[8] for row in rows}  # claimed_by
    assert owners <= {"worker-1", "worker-2"}
    if backend.name == "postgres":
        # SKIP LOCKED lets both work side by side. (SQLite's lock is not fair: one
        # worker may take every batch while the other waits, which is still correct.)
        assert owners == {"worker-1", "worker-2"}, "both workers should have taken a share"
    assert (await workers[0].run_once()).claimed == 0


async def test_sent_reminders_carry_text_and_button_in_the_users_language(backend):
    storage = await backend.open()
    reminder = await storage.add_reminder("u", 77, "registration", TODAY + DAY, TODAY, "uz")
    sender = RecordingSender()
    report = await _scheduler(storage, sender).run_once()
    assert (report.claimed, report.sent, report.sent_ids) == (1, 1, [reminder.id])
    [(rid, chat, text, button)] = sender.delivered
    assert (rid, chat) == (reminder.id, 77)
    assert text == reminder_text(reminder)
    assert button == unsubscribe_label("uz")


async def test_only_due_reminders_go_out_and_not_before_the_day_starts(backend):
    storage = await backend.open()
    tomorrow = await storage.add_reminder("u1", 1, "patent", TODAY + 5 * DAY, TODAY + DAY, "ru")
    today = await storage.add_reminder("u2", 2, "patent", TODAY + 5 * DAY, TODAY, "ru")
    sender = RecordingSender()
    early = Clock(dt.datetime(2026, 3, 10, 5, 30, tzinfo=dt.UTC))  # 08:30 in Moscow
    scheduler = _scheduler(storage, sender, clock=early)
    assert scheduler.today() == TODAY - DAY
    await _drain(scheduler)
    assert sender.ids == []
    early.advance(minutes=30)  # 09:00 in Moscow
    await _drain(scheduler)
    assert sender.ids == [today.id]
    early.advance(days=1)
    await _drain(scheduler)
    assert sender.ids == [today.id, tomorrow.id]


async def test_a_blocked_chat_stops_its_other_reminders(backend):
    storage = await backend.open()
    theirs = [
        await storage.add_reminder("blocker", 66, kind, TODAY + 4 * DAY, TODAY, "ru")
        for kind in ("patent", "registration", "stay")
    ]
    later = await storage.add_reminder("blocker", 66, "stay", TODAY + 20 * DAY, TODAY + DAY, "ru")
    others = await _add(storage, 3)
    sender = RecordingSender(blocked={66})
    report = await _scheduler(storage, sender).run_once()

    assert sorted(sender.ids) == sorted(r.id for r in others)
    assert sum(1 for rid in sender.attempts if rid in {r.id for r in theirs}) == 1
    assert report.blocked == 4 and report.sent == 3
    assert await storage.reminders("blocker") == []
    assert later.id not in [r.id for r in await storage.claim_due(TODAY + 30 * DAY, "x")]


async def test_a_permanent_failure_stops_the_chat_like_a_block(backend):
    storage = await backend.open()
    await storage.add_reminder("gone", 67, "patent", TODAY + 4 * DAY, TODAY, "ru")
    ok = await storage.add_reminder("here", 68, "patent", TODAY + 4 * DAY, TODAY, "ru")
    sender = RecordingSender(bad_chats={67})
    scheduler = _scheduler(storage, sender)
    await _drain(scheduler)
    assert sender.ids == [ok.id]
    assert await storage.reminders("gone") == []


async def test_retry_later_gives_the_batch_back_pauses_and_sends_on_a_later_run(backend):
    storage = await backend.open()
    reminders = await _add(storage, 4)
    order = await _claim_order(storage)
    sender = RecordingSender(retry_once={order[1]: 0.2})
    scheduler = _scheduler(storage, sender)

    started = time.monotonic()
    first = await scheduler.run_once()
    assert time.monotonic() - started >= 0.2
    assert (first.sent, first.released, first.paused) == (1, 3, 0.2)
    assert sender.ids == [order[0]]
    owner = {r.id: f"user{i}" for i, r in enumerate(reminders)}
    for rid in order[1:]:  # given back: pending again, not stuck in "sending"
        assert [r.status for r in await storage.reminders(owner[rid])] == ["pending"]

    second = await scheduler.run_once()
    assert second.sent == 3
    assert sorted(sender.ids) == sorted(order)
    assert len(sender.ids) == len(set(sender.ids))


async def test_a_long_retry_later_is_capped(backend):
    storage = await backend.open()
    [reminder] = await _add(storage, 1)
    sender = RecordingSender(retry_once={reminder.id: 3600})
    report = await _scheduler(storage, sender, max_pause=0.01).run_once()
    assert report.paused == 0.01 and report.released == 1
    await _drain(_scheduler(storage, sender))
    assert sender.ids == [reminder.id]


async def test_a_network_failure_releases_and_a_later_run_delivers(backend):
    storage = await backend.open()
    reminders = await _add(storage, 3)
    ids = sorted(r.id for r in reminders)
    sender = RecordingSender(fail_once={(await _claim_order(storage))[0]})
    scheduler = _scheduler(storage, sender)
    report = await scheduler.run_once()
    assert report.failed == 1 and report.sent == 0 and report.released == 3
    await _drain(scheduler)
    assert sorted(sender.ids) == ids and len(sender.ids) == 3


async def test_restart_resends_nothing_sent_and_picks_up_stale_claims(backend):
    clock = Clock(NOW)
    crashed_storage = await backend.open(clock=clock)
    reminders = await _add(crashed_storage, 6)
    ids = sorted(r.id for r in reminders)
    first_batch = (await _claim_order(crashed_storage))[:4]
    dying = RecordingSender(crash_on=first_batch[2])
    with pytest.raises(Crash):
        await _scheduler(crashed_storage, dying, "dying", clock, batch_size=4).run_once()
    assert dying.ids == first_batch[:2]
    await crashed_storage.close()

    clock.advance(seconds=30)  # the dead worker's claims are still fresh
    sender = RecordingSender()
    restarted = _scheduler(await backend.open(clock=clock), sender, "restarted", clock)
    await _drain(restarted)
    assert sorted(sender.ids) == sorted(set(ids) - set(first_batch))

    clock.advance(seconds=31)  # a minute without a heartbeat: back to the queue
    report = await restarted.run_once()
    assert report.maybe_duplicate == 1  # the one cut off mid-send: counted
    await _drain(restarted)
    assert sorted(sender.ids) == sorted(set(ids) - set(first_batch[:2]))
    assert len(sender.ids) == len(set(sender.ids))
    assert not set(sender.ids) & set(dying.ids)


async def test_rate_limit_spaces_the_messages(tmp_path):
    storage = SQLiteStorage(tmp_path / "bot.sqlite")
    await storage.open()
    await _add(storage, 11)
    sender = RecordingSender()
    scheduler = ReminderScheduler(storage, sender, "w", clock=Clock(NOW), rate=50)
    started = time.monotonic()
    report = await scheduler.run_once()
    assert report.sent == 11
    assert time.monotonic() - started >= 10 / 50 * 0.95
    await storage.close()


async def test_logs_name_reminders_never_chats(backend, caplog):
    storage = await backend.open()
    await storage.add_reminder("a", 918_273_645, "patent", TODAY + DAY, TODAY, "ru")
    await storage.add_reminder("b", 918_273_646, "patent", TODAY + DAY, TODAY, "ru")
    await storage.add_reminder("c", 918_273_647, "patent", TODAY + DAY, TODAY, "ru")
    sender = RecordingSender(blocked={918_273_645}, bad_chats={918_273_646})
    with caplog.at_level(logging.DEBUG):
        await _drain(_scheduler(storage, sender))
    assert caplog.records
    assert "918273" not in caplog.text


async def test_run_forever_survives_a_storage_outage(tmp_path, caplog):
    storage = _FlakySQLite(tmp_path / "bot.sqlite", failures=2)
    await storage.open()
    try:
        reminder = await storage.add_reminder("u", 9, "patent", TODAY + DAY, TODAY, "ru")
        sender = RecordingSender()
        scheduler = _scheduler(storage, sender)
        with caplog.at_level(logging.WARNING, logger="bot.deadlines.reminders"):
            task = asyncio.create_task(scheduler.run_forever(0.01))
            for _ in range(500):
                if sender.ids:
                    break
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert sender.ids == [reminder.id]
        assert storage.failures == 0
        assert caplog.text.count("storage unavailable") == 2
    finally:
        await storage.close()


class _FlakySQLite(SQLiteStorage):
    """A real SQLite storage whose first `failures` claims find the database down."""

    def __init__(self, path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    async def claim_due(self, today, worker, limit=50):
        if self.failures:
            self.failures -= 1
            raise StorageUnavailable("test: database down")
        return await super().claim_due(today, worker, limit)


# -- the Telegram adapter, over real HTTP ---------------------------------------------


@pytest.fixture
async def failing_api():
    """A Bot API stand-in that answers sendMessage the way Telegram answers when the
    user blocked the bot (chat 403), under flood control (429), on a server error
    (500) and for an unknown chat (400); other chats get a normal message."""
    from aiohttp import web

    calls: list[dict] = []

    async def handle(request: web.Request) -> web.Response:
        params = dict(await request.post())
        calls.append(params)
        chat = int(params.get("chat_id", 0))
        errors = {
            403: (403, "Forbidden: bot was blocked by the user", None),
            429: (429, "Too Many Requests: retry after 7", {"retry_after": 7}),
            500: (500, "Internal Server Error", None),
            400: (400, "Bad Request: chat not found", None),
        }
        if chat in errors:
            code, description, parameters = errors[chat]
            body = {"ok": False, "error_code": code, "description": description}
            if parameters:
                body["parameters"] = parameters
            return web.json_response(body, status=code)
        message = {
            "message_id": len(calls),
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private"},
            "text": params.get("text", ""),
        }
        return web.json_response({"ok": True, "result": message})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", calls
    await runner.cleanup()


def _bot(base_url: str):
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    session = AiohttpSession(api=TelegramAPIServer.from_base(base_url))
    return Bot("42:stand-in-token", session=session)


async def test_telegram_sender_maps_telegram_errors(failing_api):
    import json

    from bot.telegram.sender import TelegramSender

    base_url, calls = failing_api
    bot = _bot(base_url)
    sender = TelegramSender(bot)
    try:
        await sender.send(12, "hello", 31, button="Bekor qilish")
        markup = json.loads(calls[-1]["reply_markup"])
        assert markup["inline_keyboard"] == [
            [{"text": "Bekor qilish", "callback_data": "rem:off:31"}]
        ]
        assert calls[-1]["text"] == "hello"
        with pytest.raises(RecipientBlocked):
            await sender.send(403, "x", 1)
        with pytest.raises(RetryLater) as retry:
            await sender.send(429, "x", 1)
        assert retry.value.seconds == 7
        with pytest.raises(DeliveryFailed) as failed:
            await sender.send(500, "x", 1)
        assert not failed.value.permanent
        with pytest.raises(DeliveryFailed) as failed:
            await sender.send(400, "x", 1)
        assert failed.value.permanent
        assert "400" not in str(failed.value)  # no chat id in the message
    finally:
        await bot.session.close()


async def test_scheduler_delivers_through_aiogram_to_the_bot_api_standin(tmp_path):
    from bot.telegram.sender import TelegramSender
    from tests.support.standin import BotAPIStandIn

    storage = SQLiteStorage(tmp_path / "bot.sqlite")
    await storage.open()
    async with BotAPIStandIn() as api:
        bot = _bot(api.base_url)
        try:
            reminder = await storage.add_reminder("u", 555, "patent", TODAY + DAY, TODAY, "en")
            report = await _scheduler(storage, TelegramSender(bot)).run_once()
        finally:
            await bot.session.close()
        assert report.sent == 1
        [call] = api.since("sendMessage")
        assert int(call.params["chat_id"]) == 555
        assert call.text == reminder_text(reminder)
        assert call.buttons == [
            {"text": unsubscribe_label("en"), "callback_data": f"rem:off:{reminder.id}"}
        ]
    assert await storage.reminders("u") == []
    await storage.close()
