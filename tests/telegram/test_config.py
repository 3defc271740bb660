"""Configuration and the production start path: `.env.example` documents every setting;
`serve` (what `migrant-bot run` runs) sets up polling or the webhook against the
stand-in; bad webhook configuration is refused with a message."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from pathlib import Path

import httpx
import pytest

from bot.domain import LANGUAGES
from bot.i18n import gettext_for
from bot.settings import Settings
from bot.telegram import run_bot
from bot.telegram.app import serve
from bot.telegram.webhook import HEALTH_PATH, WebhookConfigError, webhook_secret, webhook_target
from tests.support.standin import BotAPIStandIn
from tests.telegram.tg_constants import WEBHOOK_SECRET

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_env_example_documents_every_setting():
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set(), "add these to .env.example"
    assert documented - fields == set(), "these are not settings any more"


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"webhook_url": "", "webhook_secret": "abc"}, "WEBHOOK_URL"),
        ({"webhook_url": "http://bot.example.org", "webhook_secret": "abc"}, "https://"),
        ({"webhook_url": "https://bot.example.org", "webhook_secret": ""}, "WEBHOOK_SECRET"),
        ({"webhook_url": "https://bot.example.org", "webhook_secret": "no spaces!"}, "A-Z"),
    ],
)
def test_webhook_configuration_problems_are_named(values, problem, capsys):
    settings = Settings(_env_file=None, bot_token="42:x", bot_mode="webhook", **values)
    with pytest.raises(WebhookConfigError, match=re.escape(problem)):
        webhook_target(settings)
        webhook_secret(settings)
    assert run_bot(settings) == 2
    assert problem in capsys.readouterr().err


def test_webhook_target_appends_the_path():
    settings = Settings(_env_file=None, webhook_url="https://bot.example.org")
    assert webhook_target(settings) == "https://bot.example.org/telegram/webhook"
    settings = Settings(_env_file=None, webhook_url="https://bot.example.org/hook/x")
    assert webhook_target(settings) == "https://bot.example.org/hook/x"


def test_bad_token_is_refused(capsys):
    assert run_bot(Settings(_env_file=None, bot_token="not a token")) == 2
    assert "BOT_TOKEN" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def serving(settings, embedder):
    from bot.retrieval.assistant import Assistant
    from bot.storage.factory import open_storage

    assistant = Assistant(settings, embedder=embedder)
    storage = open_storage(settings)
    await storage.open()
    task = asyncio.create_task(serve(settings, assistant, storage))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await storage.close()
        assistant.close()


async def test_serve_polling_sets_commands_and_answers(bot_settings, embedder):
    async with BotAPIStandIn() as api:
        settings = bot_settings.model_copy(update={"telegram_api_url": api.base_url})
        async with serving(settings, embedder):
            commands = await api.wait_for("setMyCommands", len(LANGUAGES) + 1, since=0)
            assert {c.params.get("language_code") for c in commands} == {None, *LANGUAGES}
            # /human (a route to a person) is in the menu with or without a staff group:
            # without one it says whom to contact instead
            menu = {"start", "topics", "deadlines", "human", "language", "help", "privacy"}
            menu.add("forget")
            assert all({m["command"] for m in c.params["commands"]} == menu for c in commands)
            # The default menu (an app in a language with no menu of its own) carries
            # Russian and English; Kyrgyz and Tajik come per chat once chosen
            # (tests/telegram/test_start.py).
            default = {m["command"]: m["description"] for m in api.menu_for(5, "de")}
            help_en = "how to ask"
            assert default["help"] == f"{gettext_for('ru')(help_en)} · {help_en}"
            uz_menu = {m["command"]: m["description"] for m in api.menu_for(5, "uz")}
            assert uz_menu["help"] == gettext_for("uz")(help_en)
            await api.wait_for("deleteWebhook", since=0)
            await api.send_text(1, "how do i pay for the patent", "en")
            [reply] = await api.wait_for("sendMessage")
            assert reply.params["chat_id"] == 1


async def test_serve_webhook_registers_and_serves(bot_settings, embedder):
    async with BotAPIStandIn() as api:
        port = free_port()
        settings = bot_settings.model_copy(
            update={"telegram_api_url": api.base_url, "bot_mode": "webhook", "webhook_port": port}
        )
        async with serving(settings, embedder):
            [hook] = await api.wait_for("setWebhook", since=0)
            assert hook.params["url"] == "https://bot.example.org/telegram/webhook"
            assert hook.params["secret_token"] == WEBHOOK_SECRET
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient() as client:
                health = await client.get(base + HEALTH_PATH)
                assert health.status_code == 200 and health.json()["status"] == "ok"
                update = {
                    "update_id": 1,
                    "message": {
                        "message_id": 1,
                        "date": 1767225600,
                        "chat": {"id": 9, "type": "private"},
                        "from": {"id": 9, "is_bot": False, "first_name": "U"},
                        "text": "/help",
                        "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
                    },
                }
                mark = api.mark()
                wrong = await client.post(
                    base + settings.webhook_path,
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                )
                assert wrong.status_code == 401
                right = await client.post(
                    base + settings.webhook_path,
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
                )
                assert right.status_code == 200
                sent = await api.wait_for("sendMessage", since=mark)
                assert len(sent) == 1 and sent[0].params["chat_id"] == 9


async def test_main_command_starts_the_bot_with_a_token(bot_settings, with_rules):
    """`migrant-bot run` (what `make run` runs) in a real process: with BOT_TOKEN it
    serves Telegram (here the stand-in) and stops cleanly on SIGTERM."""
    import os
    import signal
    import sys

    async with BotAPIStandIn() as api:
        env = {
            **os.environ,
            "BOT_TOKEN": api.token,
            "TELEGRAM_API_URL": api.base_url,
            "KB_DIR": str(bot_settings.kb_dir),
            "DATA_DIR": str(bot_settings.data_dir),
            "USER_HASH_SALT": "subprocess-salt",
            "BOT_MODE": "polling",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", env=env, stderr=asyncio.subprocess.PIPE
        )
        try:
            await api.wait_for("deleteWebhook", since=0, timeout=90)
            await api.send_text(3, "/start", "tg")
            [reply] = await api.wait_for("sendMessage", timeout=30)
            assert reply.params["chat_id"] == 3
            assert any(b["callback_data"] == "lang:tg" for b in reply.buttons)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 30)
            err = (await proc.stderr.read()).decode()
        assert code == 0, err


async def test_an_idle_worker_switches_to_a_new_index_version(bot_settings, embedder):
    # Nobody asks anything: the worker still notices a new version on its timer, so
    # /healthz and the next answer use it (before, only a question triggered the check).
    from bot.retrieval.assistant import Assistant
    from bot.retrieval.index import build_index
    from bot.storage.factory import open_storage

    async with BotAPIStandIn() as api:
        settings = bot_settings.model_copy(update={"telegram_api_url": api.base_url})
        assistant = Assistant(settings, embedder=embedder)
        storage = open_storage(settings)
        await storage.open()
        task = asyncio.create_task(serve(settings, assistant, storage))
        try:
            await api.wait_for("deleteWebhook", since=0, timeout=30)
            before = assistant.version.name
            await asyncio.to_thread(
                build_index,
                settings.kb_dir,
                settings.index_dir,
                embedder,
                settings.cache_path,
                settings.kb_languages,
                force=True,
            )
            for _ in range(60):
                if assistant.version.name != before:
                    break
                await asyncio.sleep(0.25)
            assert assistant.version.name != before
            assert api.since("sendMessage", since=0) == []  # no question was needed
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await storage.close()
            assistant.close()
