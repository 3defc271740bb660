"""Scaled mode: two webhook workers, each a real `migrant-bot run` process with
BOT_MODE=webhook, sharing PostgreSQL (languages, reminders) and Redis (conversation
state, throttling) as docs/deployment.md deploys them. Updates are posted alternately to
the two workers' webhook servers with httpx, the way a load balancer spreads Telegram's
requests; both workers reply through the Bot API stand-in. Real model, real FAISS, real
PostgreSQL at 127.0.0.1:5432, real Redis at 127.0.0.1:6379."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.i18n import gettext_for
from bot.privacy import user_key
from bot.storage.postgres import PostgresStorage
from bot.telegram.callbacks import DeadlineCb, HumanCb, LangCb
from tests.support.standin import BotAPIStandIn
from tests.support.storage_backends import PgSchema
from tests.telegram.tg_constants import STAFF_CHAT, WEBHOOK_SECRET

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_ids = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, api: BotAPIStandIn, urls: list[str], http, dsn: str, salt: str):
        self.api, self.urls, self.http, self.dsn, self.salt = api, urls, http, dsn, salt

    async def post(self, worker: int, update: dict, secret: str = WEBHOOK_SECRET) -> int:
        update = {"update_id": next(_ids), **update}
        response = await self.http.post(
            self.urls[worker], json=update, headers={SECRET_HEADER: secret}
        )
        return response.status_code

    @staticmethod
    def _user(user: int, lang: str) -> dict:
        return {"id": user, "is_bot": False, "first_name": "U", "language_code": lang}

    async def say(self, worker: int, user: int, text: str, lang: str = "ru"):
        mark = self.api.mark()
        message = {
            "message_id": next(_ids),
            "date": int(time.time()),
            "chat": {"id": user, "type": "private"},
            "from": self._user(user, lang),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
            ]
        assert await self.post(worker, {"message": message}) == 200
        [reply] = await self.api.wait_for("sendMessage", since=mark, timeout=30)
        return reply

    async def tap(self, worker: int, user: int, data: str, call, lang: str = "ru"):
        mark = self.api.mark()
        query = {
            "id": str(next(_ids)),
            "from": self._user(user, lang),
            "chat_instance": "scaled",
            "message": self.api.message_of(call),
            "data": data,
        }
        assert await self.post(worker, {"callback_query": query}) == 200
        [sent] = await self.api.wait_for("sendMessage", since=mark, timeout=30)
        return sent


async def _healthy(http: httpx.AsyncClient, port: int, proc, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            err = (await proc.stderr.read()).decode()
            raise AssertionError(f"worker exited with {proc.returncode}: {err}")
        try:
            response = await http.get(f"http://127.0.0.1:{port}/healthz")
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.3)
    raise AssertionError(f"worker on port {port} did not become healthy")


@pytest.fixture
async def cluster(bot_settings):
    # The /deadlines handlers read the rules beside the knowledge entries.
    shutil.copytree(REPO / "knowledge" / "rules", bot_settings.kb_dir / "rules")
    schema = await PgSchema.create()
    salt = "scaled-" + secrets.token_hex(8)  # fresh keys in Redis for every run
    procs = []
    async with BotAPIStandIn() as api, httpx.AsyncClient(timeout=30) as http:
        api.add_group(STAFF_CHAT)  # the consultants' group (handoff)
        try:
            ports = [free_port(), free_port()]
            for port in ports:
                env = {
                    **os.environ,
                    "BOT_TOKEN": api.token,
                    "TELEGRAM_API_URL": api.base_url,
                    "BOT_MODE": "webhook",
                    "WEBHOOK_URL": "https://bot.example.org",
                    "WEBHOOK_SECRET": WEBHOOK_SECRET,
                    "WEBHOOK_HOST": "127.0.0.1",
                    "WEBHOOK_PORT": str(port),
                    "DATABASE_URL": schema.dsn,
                    "REDIS_URL": REDIS_URL,
                    "USER_HASH_SALT": salt,
                    "KB_DIR": str(bot_settings.kb_dir),
                    "DATA_DIR": str(bot_settings.data_dir),  # one index, shared
                    "REMINDER_POLL_INTERVAL": "0.3",
                    "THROTTLE_RATE": "1000",
                    "STAFF_CHAT_ID": str(STAFF_CHAT),
                    "STAFF_LANGUAGE": "en",
                }
                procs.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "bot.cli",
                        "run",
                        env=env,
                        stderr=asyncio.subprocess.PIPE,
                        cwd=REPO,
                    )
                )
            deadline = time.monotonic() + 120
            for port, proc in zip(ports, procs, strict=True):
                await _healthy(http, port, proc, deadline)
            urls = [f"http://127.0.0.1:{p}{bot_settings.webhook_path}" for p in ports]
            yield Cluster(api, urls, http, schema.dsn, salt)
        finally:
            codes = []
            for proc in procs:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs:
                codes.append(await asyncio.wait_for(proc.wait(), 30))
            await schema.drop()
    assert codes == [0, 0], "a worker did not stop cleanly on SIGTERM"


def dl(action: str, value: str = "") -> str:
    return DeadlineCb(action=action, value=value).pack()


async def test_both_workers_registered_the_same_webhook(cluster):
    calls = cluster.api.since("setWebhook", since=0)
    assert len(calls) == 2
    assert {c.params["url"] for c in calls} == {"https://bot.example.org/telegram/webhook"}
    assert {c.params["secret_token"] for c in calls} == {WEBHOOK_SECRET}


async def test_language_chosen_on_one_worker_is_used_by_the_other(cluster):
    start = await cluster.say(0, 7001, "/start", lang="ru")
    await cluster.tap(0, 7001, LangCb(code="en").pack(), start)
    help_reply = await cluster.say(1, 7001, "/help", lang="ru")  # the app still says ru
    assert gettext_for("en")("How to use this assistant") in help_reply.text
    assert gettext_for("ru")("How to use this assistant") not in help_reply.text


async def test_a_conversation_moves_between_workers_and_its_reminder_is_shared(cluster):
    user = 7002
    menu = await cluster.say(0, user, "/deadlines")
    ask_country = await cluster.tap(1, user, dl("kind", "registration"), menu)
    ask_cit = await cluster.tap(0, user, dl("country", "ru"), ask_country)
    await cluster.tap(1, user, dl("cit", "uz"), ask_cit)
    arrived = dt.date.today() - dt.timedelta(days=1)
    result = await cluster.say(0, user, arrived.strftime("%d.%m.%Y"))
    # the registration result, computed from the state worker 1 kept
    assert gettext_for("ru")("Registration deadline: {date}").split("{")[0] in result.text
    [remind] = result.buttons
    await cluster.tap(1, user, remind["callback_data"], result)

    storage = PostgresStorage(cluster.dsn)
    await storage.open()
    try:
        [reminder] = await storage.reminders(user_key(user, cluster.salt))
    finally:
        await storage.close()
    assert reminder.kind == "registration" and reminder.due > arrived


async def test_each_reminder_goes_out_once_with_two_workers(cluster):
    storage = PostgresStorage(cluster.dsn)
    await storage.open()
    today = dt.date.today()
    chats = list(range(8000, 8030))
    mark = cluster.api.mark()
    try:
        for chat in chats:  # due two days ago: whatever the time zone, they are due now
            await storage.add_reminder(
                user_key(chat, cluster.salt),
                chat,
                "patent",
                today + dt.timedelta(days=3),
                today - dt.timedelta(days=2),
                "ru",
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(cluster.api.since("sendMessage", since=mark)) >= len(chats):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)  # several more polling rounds of both schedulers
        sent = [int(c.params["chat_id"]) for c in cluster.api.since("sendMessage", since=mark)]
        assert sorted(sent) == chats  # every one, none twice
        for chat in chats:
            assert await storage.reminders(user_key(chat, cluster.salt)) == []
    finally:
        await storage.close()


async def test_wrong_or_missing_secret_is_refused_by_every_worker(cluster):
    mark = cluster.api.mark()
    update = {"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}
    for worker in range(2):
        assert await cluster.post(worker, update, secret="not-the-secret") in (401, 403)
        assert await cluster.post(worker, update, secret="") in (401, 403)
    await asyncio.sleep(0.5)
    assert cluster.api.since(since=mark) == []


async def test_a_case_moves_between_workers_and_a_redelivered_reply_reaches_the_user_once(
    cluster,
):
    user = 7003
    consent = await cluster.say(0, user, "/human", lang="en")
    go = HumanCb(action="go", lang="en").pack()
    await cluster.tap(1, user, go, consent)  # the consent, on the other worker
    mark = cluster.api.mark()
    question = {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": {"id": user, "type": "private"},
        "from": cluster._user(user, "en"),
        "text": "my employer keeps my passport",
    }
    assert await cluster.post(0, {"message": question}) == 200
    sent = await cluster.api.wait_for("sendMessage", count=2, since=mark, timeout=30)
    [post] = [c for c in sent if int(c.params["chat_id"]) == STAFF_CHAT]
    assert "my employer keeps my passport" in post.shown

    # a staff reply delivered to both workers (Telegram retrying after a timeout)
    mark = cluster.api.mark()
    reply = {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": {"id": STAFF_CHAT, "type": "supergroup", "title": "Staff"},
        "from": {"id": 5, "is_bot": False, "first_name": "Consultant", "language_code": "en"},
        "text": "Write a statement to the police.",
        "reply_to_message": cluster.api.message_of(post),
    }
    codes = await asyncio.gather(
        cluster.post(0, {"message": reply}), cluster.post(1, {"message": reply})
    )
    assert codes == [200, 200]
    await cluster.api.wait_for("sendMessage", count=2, since=mark, timeout=30)
    await asyncio.sleep(1.5)  # time for a duplicate to show up
    to_user = [
        c for c in cluster.api.since("sendMessage", since=mark) if int(c.params["chat_id"]) == user
    ]
    assert len(to_user) == 1 and "statement to the police" in to_user[0].shown
    to_staff = [
        c
        for c in cluster.api.since("sendMessage", since=mark)
        if int(c.params["chat_id"]) == STAFF_CHAT
    ]
    assert len(to_staff) == 1  # one "sent" note, not two
