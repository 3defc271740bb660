"""Webhook mode (secret token checked), the health endpoint, and everything that is not
a plain question: stickers, photos, voice, documents, locations, edits, groups."""

from __future__ import annotations

import httpx
import pytest

from bot.telegram.webhook import HEALTH_PATH, make_app, start_server
from tests.support.standin import BOT_USER
from tests.telegram.tg_constants import WEBHOOK_SECRET

GROUP = {"id": -1001, "type": "supergroup", "title": "Migrants chat"}


@pytest.fixture
async def webhook(tg):
    """The bot's webhook server on a random loopback port, sharing the dispatcher."""
    app = make_app(tg.dp, tg.bot, tg.settings, tg.assistant, lifecycle=False)
    runner, port = await start_server(app, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def update(user_id: int, text: str, update_id: int = 77) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 5,
            "date": 1767225600,
            "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "U", "language_code": "en"},
            "text": text,
        },
    }


async def test_webhook_accepts_only_the_right_secret(tg, webhook):
    url = webhook + tg.settings.webhook_path
    async with httpx.AsyncClient() as client:
        for headers in (
            {},
            {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
            {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET + "x"},
        ):
            mark = tg.api.mark()
            response = await client.post(
                url, json=update(40, "how do i pay for the patent"), headers=headers
            )
            assert response.status_code in (401, 403)
            await tg.api.settle(0.5)
            assert tg.api.since("sendMessage", since=mark) == []
        mark = tg.api.mark()
        response = await client.post(
            url,
            json=update(40, "how do i pay for the patent", 78),
            headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
        )
        assert response.status_code == 200
        [reply] = await tg.api.wait_for("sendMessage", since=mark)
        assert reply.params["chat_id"] == 40
        assert "patent" in reply.shown.lower()
        health = await client.get(webhook + HEALTH_PATH)
        assert health.status_code == 200
        assert health.json() == {
            "status": "ok",
            "index_version": tg.assistant.version.name,
            "refused_version": None,
        }


@pytest.mark.parametrize(
    "content",
    [
        {
            "sticker": {
                "file_id": "s1",
                "file_unique_id": "u1",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        },
        {"photo": [{"file_id": "p1", "file_unique_id": "u2", "width": 90, "height": 90}]},
        {"voice": {"file_id": "v1", "file_unique_id": "u3", "duration": 3}},
        {"document": {"file_id": "d1", "file_unique_id": "u4", "file_name": "passport.pdf"}},
        {"location": {"latitude": 55.75, "longitude": 37.61}},
        {"contact": {"phone_number": "+70000000000", "first_name": "X"}},
    ],
    ids=["sticker", "photo", "voice", "document", "location", "contact"],
)
async def test_non_text_gets_a_short_polite_reply(tg, content):
    await tg.api.send_message(50, "kk", **content)
    [reply] = await tg.api.wait_for("sendMessage")
    assert "_error" not in reply.params
    assert 0 < len(reply.shown) < 300
    assert reply.params["chat_id"] == 50
    # in the user's language (Kazakh here): not the English source text
    assert reply.shown != reply.shown.encode("ascii", "ignore").decode()


async def test_edited_message_gets_a_reply(tg):
    message = await tg.api.send_text(51, "how do i pay for the patent", "en")
    await tg.api.wait_for("sendMessage")
    await tg.api.edit_text(message, "how do i pay for the patent quickly")
    [reply] = await tg.api.wait_for("sendMessage")
    assert 0 < len(reply.shown) < 300


async def test_groups_silence_unless_addressed(tg):
    await tg.api.send_text(52, "как оплатить патент", "ru", chat=GROUP)
    await tg.api.send_message(
        52,
        "ru",
        chat=GROUP,
        sticker={
            "file_id": "s1",
            "file_unique_id": "u1",
            "type": "regular",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
        },
    )
    await tg.api.settle(1.0)
    assert [c for c in tg.api.calls if c.params.get("chat_id") == GROUP["id"]] == []
    await tg.api.send_text(52, f"@{BOT_USER['username']} как оплатить патент", "ru", chat=GROUP)
    [reply] = await tg.api.wait_for("sendMessage")
    assert reply.params["chat_id"] == GROUP["id"]
    assert "Оплата патента" in reply.shown


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"update_id": "x", "message": 5}', b"[1, 2, 3]", b""],
)
async def test_a_malformed_webhook_body_gets_400_and_no_traceback(tg, webhook, body, caplog):
    import logging

    url = webhook + tg.settings.webhook_path
    caplog.set_level(logging.WARNING)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            url,
            content=body,
            headers={
                "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
                "Content-Type": "application/json",
            },
        )
        assert response.status_code == 400
        assert not any(r.exc_info for r in caplog.records)  # no traceback in the log
        # the worker still answers real updates
        mark = tg.api.mark()
        ok = await client.post(
            url,
            json=update(41, "how do i pay for the patent", 79),
            headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
        )
        assert ok.status_code == 200
        await tg.api.wait_for("sendMessage", since=mark)
