"""Webhook mode: an aiohttp server that Telegram (through your reverse proxy) posts
updates to. Requests without the right X-Telegram-Bot-Api-Secret-Token get 401 and are
never processed. GET /healthz tells a load balancer the worker is alive and which
index version it serves."""

from __future__ import annotations

import logging
import re

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.errors import ConfigError
from bot.retrieval.assistant import Assistant
from bot.settings import Settings
from bot.telegram.metrics import CONTENT_TYPE, Metrics

HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
log = logging.getLogger(__name__)


class CheckedRequestHandler(SimpleRequestHandler):
    """aiogram's handler, with a body that is not an update (broken JSON, another
    object) answered 400 before anything is handled, instead of a 500 and a traceback
    in the log. The secret is checked first, so strangers learn nothing."""

    async def handle(self, request: web.Request) -> web.Response:
        bot = await self.resolve_bot(request)
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not self.verify_secret(secret, bot):
            return web.Response(body="Unauthorized", status=401)
        try:
            Update.model_validate(
                await request.json(loads=bot.session.json_loads), context={"bot": bot}
            )
        except ValueError as exc:  # broken JSON, or JSON that is not an update
            log.warning("webhook body refused (400): %s", type(exc).__name__)
            return web.Response(text="Bad Request: not a Telegram update", status=400)
        return await super().handle(request)


class WebhookConfigError(ConfigError):
    """Webhook mode is missing a setting; the message names it."""


def webhook_target(settings: Settings) -> str:
    """The URL given to Telegram: WEBHOOK_URL as is when it has a path, else WEBHOOK_URL
    + WEBHOOK_PATH."""
    from urllib.parse import urlparse

    url = settings.webhook_url.strip()
    if not url:
        raise WebhookConfigError(
            "BOT_MODE=webhook needs WEBHOOK_URL, the public https:// address Telegram "
            "posts to (e.g. https://bot.example.org)"
        )
    if not url.startswith("https://"):
        raise WebhookConfigError(f"WEBHOOK_URL must start with https:// (got {url!r})")
    if urlparse(url).path in ("", "/"):
        url = url.rstrip("/") + "/" + settings.webhook_path.lstrip("/")
    return url


def webhook_secret(settings: Settings) -> str:
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise WebhookConfigError(
            "BOT_MODE=webhook needs WEBHOOK_SECRET (1-256 characters A-Z a-z 0-9 _ -), so "
            "that only Telegram can post updates; e.g. `openssl rand -hex 32`"
        )
    return secret


def make_app(
    dp: Dispatcher, bot: Bot, settings: Settings, assistant: Assistant, lifecycle: bool = True
) -> web.Application:
    """The aiohttp application. With `lifecycle`, the dispatcher's startup/shutdown hooks
    run with the app's (as in production); tests that already run the dispatcher turn
    it off."""
    app = web.Application()
    # 200 only after the update is handled (aiogram answers at once by default): an
    # update a worker did not finish (a crash, a deploy) is delivered again by Telegram,
    # and UpdateOnce keeps a redelivery from being answered twice.
    CheckedRequestHandler(
        dispatcher=dp, bot=bot, secret_token=webhook_secret(settings), handle_in_background=False
    ).register(app, path=settings.webhook_path)

    add_health(app, dp, assistant)
    if lifecycle:
        setup_application(app, dp, bot=bot)
    return app


def add_health(app: web.Application, dp: Dispatcher, assistant: Assistant) -> None:
    """GET /healthz (alive, the index version in service and any refused one) and GET
    /metrics (the Prometheus text format, see bot/telegram/metrics.py)."""

    async def health(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "index_version": assistant.version.name,
                "refused_version": assistant.refused_version,
            }
        )

    app.router.add_get(HEALTH_PATH, health)
    metrics: Metrics | None = dp.get("metrics")
    if metrics is None:
        return

    async def render(_request: web.Request) -> web.Response:
        body = metrics.render(assistant.version.name)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get(METRICS_PATH, render)


def health_app(dp: Dispatcher, assistant: Assistant) -> web.Application:
    """Polling mode's small server (METRICS_PORT): /healthz and /metrics only."""
    app = web.Application()
    add_health(app, dp, assistant)
    return app


async def start_server(
    app: web.Application, host: str, port: int, grace: float = 20.0
) -> tuple[web.AppRunner, int]:
    """Start serving `app`; port 0 picks a free port. Returns the runner and the port.
    On cleanup, requests in flight get `grace` seconds to finish."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=grace)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    # aiohttp keeps the listening server private; with port 0 it is the only way to
    # learn which port the system picked.
    sockets = getattr(site._server, "sockets", None) or []
    return runner, sockets[0].getsockname()[1] if sockets else port
