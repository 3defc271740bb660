"""The real bot, end to end: the aiogram Dispatcher in polling mode, talking HTTP to the
local Bot API stand-in (tests/support/standin.py) through TELEGRAM_API_URL, answering
from the fixture knowledge base (real model, real FAISS) and storing in a real SQLite
file in the test's DATA_DIR."""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.privacy import user_key
from bot.retrieval.assistant import Assistant
from bot.settings import Settings
from bot.storage import Storage
from bot.storage.factory import open_storage
from bot.telegram import build_dispatcher, create_bot
from tests.support.standin import BotAPIStandIn, Call
from tests.telegram.tg_constants import CONTACT, SALT, STAFF_ID, WEBHOOK_SECRET


@dataclass
class Harness:
    api: BotAPIStandIn
    settings: Settings
    assistant: Assistant
    storage: Storage
    dp: object
    bot: object
    transcript: list[tuple[str, str]] = field(default_factory=list)

    def key(self, user_id: int) -> str:
        return user_key(user_id, SALT)

    async def idle(self, timeout: float = 5.0) -> None:
        """Until the dispatcher has finished the updates it took: a handler may still
        write (the event count, say) after its reply has reached the stand-in."""
        running = list(getattr(self.dp, "_handle_update_tasks", ()))
        if running:
            await asyncio.wait(running, timeout=timeout)

    async def say(self, user_id: int, text: str, lang: str | None = "ru", count: int = 1):
        """The user sends `text`; returns the bot's `count` sendMessage calls."""
        await self.api.send_text(user_id, text, lang)
        calls = await self.api.wait_for("sendMessage", count)
        await self.idle()
        self.transcript.append((f"user[{lang}]", text))
        for c in calls:
            buttons = " | ".join(b["text"] for b in c.buttons)
            self.transcript.append(("bot", c.shown + (f"\n[{buttons}]" if buttons else "")))
        return calls

    async def tap(self, data: str, message: Call | dict, user_id: int, lang: str | None = "ru"):
        await self.api.press(data, message, user_id, lang)
        answered = await self.api.wait_for("answerCallbackQuery")
        await self.idle()
        self.transcript.append(("user taps", data))
        return answered[0]


@pytest.fixture
def bot_settings(make_settings, built) -> Settings:
    return make_settings(
        bot_token="42:stand-in-token",
        telegram_api_url="http://127.0.0.1:1",  # replaced with the stand-in's address
        staff_ids=frozenset({STAFF_ID}),
        user_hash_salt=SALT,
        help_contact=CONTACT,
        webhook_secret=WEBHOOK_SECRET,
        webhook_url="https://bot.example.org",
        operator_name="Test Resource Centre",
        throttle_rate=1000,  # throttling has its own tests (test_throttle.py)
        burst_window=0.0,  # questions typed in pieces have their own tests
        # The defaults are calibrated on the real 40-entry base; the fixture base has
        # three topics, so the e2e tests pin the ranking weights they were written for.
        lexical_weight=0.15,
    )


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, embedder, prepare=None):
    """The real bot polling a fresh stand-in; `prepare(api)` runs before the bot starts
    (to add groups, blocked users...)."""
    async with BotAPIStandIn() as api:
        if prepare is not None:
            prepare(api)
        settings = settings.model_copy(update={"telegram_api_url": api.base_url})
        assistant = Assistant(settings, embedder=embedder)
        storage = open_storage(settings)
        await storage.open()
        bot = create_bot(settings)
        dp = build_dispatcher(settings, assistant, storage)
        polling = asyncio.create_task(
            dp.start_polling(
                bot,
                handle_signals=False,
                polling_timeout=1,
                allowed_updates=dp.resolve_used_update_types(),
            )
        )
        await api.wait_for("getMe", since=0)
        harness = Harness(api, settings, assistant, storage, dp, bot)
        try:
            yield harness
        finally:
            with contextlib.suppress(RuntimeError):
                await dp.stop_polling()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(polling, 5)
            await bot.session.close()
            await storage.close()
            assistant.close()
            out = os.environ.get("E2E_TRANSCRIPT_DIR")
            if out and harness.transcript:
                Path(out).mkdir(parents=True, exist_ok=True)
                name = os.environ.get("PYTEST_CURRENT_TEST", "test").split(" ")[0]
                safe = "".join(ch if ch.isalnum() else "_" for ch in name.split("::")[-1])
                lines = [f"{who}: {text}" for who, text in harness.transcript]
                (Path(out) / f"{safe}.txt").write_text("\n\n".join(lines), encoding="utf-8")


@pytest.fixture
async def tg(bot_settings: Settings, embedder):
    async with running_bot(bot_settings, embedder) as harness:
        yield harness
