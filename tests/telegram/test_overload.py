"""Overload, end to end: questions arriving together beyond what the bot should queue
get a notice at once or are shed with an apology; nobody waits in silence. Metrics and
the health server over real HTTP."""

from __future__ import annotations

import asyncio

import httpx

from bot.telegram.webhook import health_app, start_server
from tests.telegram.conftest import running_bot

QUESTION = "how do i pay for the patent"
SHED = "too many questions right now"
NOTICE = "Many questions right now"


async def test_a_burst_beyond_the_limits_gets_notices_and_apologies_never_silence(
    bot_settings, embedder
):
    # Limits scaled down so that a dozen questions at once is an overload: at the
    # meter's floor rate (5/s) two in flight mean 0.4 s of wait, six mean 1.2 s.
    settings = bot_settings.model_copy(
        update={"overload_notice_seconds": 0.3, "overload_shed_seconds": 1.0}
    )
    users = list(range(7100, 7112))
    async with running_bot(settings, embedder) as h:
        for user in users:
            await h.api.send_text(user, QUESTION, "en")
        await asyncio.sleep(0.5)
        deadline = asyncio.get_running_loop().time() + 60
        while asyncio.get_running_loop().time() < deadline:
            got = {int(c.params["chat_id"]) for c in h.api.since("sendMessage", since=0)}
            if got >= set(users):
                break
            await asyncio.sleep(0.2)
        await h.api.settle(2.0)  # the answers behind the notices
        by_user: dict[int, list[str]] = {u: [] for u in users}
        for call in h.api.since("sendMessage", since=0):
            by_user[int(call.params["chat_id"])].append(call.shown)
        shed = [u for u, texts in by_user.items() if any(SHED in t for t in texts)]
        noticed = [u for u, texts in by_user.items() if any(NOTICE in t for t in texts)]
        assert shed and noticed, by_user
        for user, texts in by_user.items():
            assert texts, f"user {user} got nothing"
            answered = any(
                "patent" in t.lower() and SHED not in t and NOTICE not in t for t in texts
            )
            assert answered == (user not in shed), (user, texts)  # shed: apology only
        rendered = h.dp["metrics"].render(h.assistant.version.name).decode()
        assert f'migrant_bot_overload_replies_total{{kind="shed"}} {float(len(shed))}' in rendered
        assert 'migrant_bot_questions_total{decision="answer",lang="en"}' in rendered
        assert "migrant_bot_reply_seconds_count" in rendered


async def test_health_server_serves_health_and_metrics(tg):
    await tg.say(7200, QUESTION, "en")
    runner, port = await start_server(health_app(tg.dp, tg.assistant), "127.0.0.1", 0)
    try:
        async with httpx.AsyncClient() as http:
            health = (await http.get(f"http://127.0.0.1:{port}/healthz")).json()
            metrics = await http.get(f"http://127.0.0.1:{port}/metrics")
    finally:
        await runner.cleanup()
    assert health["index_version"] == tg.assistant.version.name
    assert metrics.status_code == 200 and "text/plain" in metrics.headers["content-type"]
    assert f'migrant_bot_index_version{{version="{tg.assistant.version.name}"}} 1.0' in metrics.text
    assert 'migrant_bot_questions_total{decision="answer",lang="en"} 1.0' in metrics.text
