"""Wiring: the Bot (pointed at TELEGRAM_API_URL), the Dispatcher with its routers and
middlewares, and the two ways to run: long polling (one machine) or a webhook server
(one or many workers behind a reverse proxy)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import socket
import sys

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage
from aiogram.utils.i18n import I18n

from bot.deadlines.reminders import ReminderScheduler
from bot.domain import FALLBACK_LANGUAGE, LANGUAGES
from bot.errors import ConfigError
from bot.handoff.hours import HandoffConfigError
from bot.i18n import LOCALES_DIR
from bot.privacy import salt_from
from bot.retrieval.assistant import Assistant
from bot.service import open_assistant
from bot.settings import Settings
from bot.storage import Storage, StorageError, StorageUnavailable
from bot.telegram import (
    casework,
    deadlines,
    forget,
    handoff,
    other,
    questions,
    reminders,
    staff,
    start,
    topics,
)
from bot.telegram.bursts import BurstMiddleware
from bot.telegram.delivery import UpdateOnce, poll
from bot.telegram.desk import StaffDesk
from bot.telegram.fsm import RedisUnreachable, check_redis, make_fsm_storage
from bot.telegram.menu import set_default_menus
from bot.telegram.metrics import Metrics
from bot.telegram.middlewares import UserLanguageMiddleware
from bot.telegram.overload import LoadMeter, OverloadMiddleware
from bot.telegram.retry import RetryMiddleware
from bot.telegram.sender import TelegramSender
from bot.telegram.throttle import ThrottlingMiddleware, make_throttle_backend

log = logging.getLogger("bot.telegram")
PURGE_EVERY = 6 * 3600  # seconds between purges of expired feedback and gaps


class BotConfigError(ConfigError):
    """The bot cannot start with this configuration; the message says what to set."""


def create_bot(settings: Settings, metrics: Metrics | None = None) -> Bot:
    """A Bot talking to TELEGRAM_API_URL, sending HTML without link previews; Bot API
    errors are counted in `metrics`."""
    token = settings.bot_token.get_secret_value() if settings.bot_token else ""
    if not token:
        raise BotConfigError("BOT_TOKEN is not set (get one from @BotFather, see README)")
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    session.middleware(RetryMiddleware(metrics=metrics))  # 429/5xx/network, no duplicates
    try:
        return Bot(
            token,
            session=session,
            default=DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True),
        )
    except Exception as exc:  # aiogram's TokenValidationError
        raise BotConfigError(
            "BOT_TOKEN does not look like a Telegram token (digits, a colon, then letters); "
            "copy it again from @BotFather"
        ) from exc


def _attach(dp: Dispatcher, routers: list[Router]) -> None:
    """Include the feature routers, detaching them from a previous dispatcher first, so
    that build_dispatcher can be called more than once in a process (tests, benchmarks)."""
    for router in routers:
        parent = router.parent_router
        if parent is not None:
            parent.sub_routers.remove(router)
            router._parent_router = None
        dp.include_router(router)


def build_dispatcher(
    settings: Settings,
    assistant: Assistant,
    storage: Storage,
    fsm_storage: BaseStorage | None = None,
    salt: str | None = None,
    metrics: Metrics | None = None,
) -> Dispatcher:
    """The Dispatcher with every feature router. Handlers get `assistant`, `storage`,
    `settings`, `i18n` and `user_key` (salted hash of the user id) injected. FSM state
    lives in Redis when REDIS_URL is set (several workers), else in memory."""
    salt = salt or salt_from(settings)
    dp = Dispatcher(storage=fsm_storage or make_fsm_storage(settings))
    dp["assistant"] = assistant
    dp["storage"] = storage
    dp["settings"] = settings
    dp["metrics"] = metrics = metrics or Metrics()
    try:
        dp["desk"] = StaffDesk(settings, assistant)
    except HandoffConfigError as exc:
        raise BotConfigError(str(exc)) from exc
    i18n = I18n(path=LOCALES_DIR, default_locale=FALLBACK_LANGUAGE, domain="messages")
    missing = [lang for lang in LANGUAGES if lang not in i18n.available_locales]
    if missing:
        log.warning("no compiled catalogue for %s: run `make catalogues`", ", ".join(missing))
    # Overload first: the wait starts when the update arrives, and a notice must not
    # wait for the database. Then a redelivered update is dropped before anything else
    # reads the database for it.
    dp["overload"] = overload = OverloadMiddleware(LoadMeter(), settings, metrics)
    dp.update.outer_middleware(overload)
    dp.update.outer_middleware(UpdateOnce(storage, metrics))
    # i18n first, so the throttling reply is already in the user's language
    UserLanguageMiddleware(i18n, storage, salt, settings.storage_timeout).setup(dp)
    throttle = ThrottlingMiddleware(
        make_throttle_backend(settings, salt), settings.throttle_rate, settings.throttle_period
    )
    # Pieces of one question first, so the throttle counts questions, not pieces.
    dp.message.outer_middleware(BurstMiddleware(settings.burst_window))
    dp.message.outer_middleware(throttle)
    dp.callback_query.outer_middleware(throttle)
    dp.shutdown.register(throttle.backend.close)
    dp.errors.register(other.on_error)
    _attach(
        dp,
        [
            start.router,
            forget.router,
            casework.router,  # the staff chat's replies to cases, before anything else
            handoff.router,  # a user's open case takes their messages before questions
            topics.router,
            staff.router,
            deadlines.router,
            reminders.router,
            questions.router,
            other.router,
        ],
    )
    dp["i18n_core"] = i18n
    return dp


async def _purge_forever(storage: Storage, settings: Settings) -> None:
    """Delete feedback and gaps older than GAPS_RETENTION_DAYS and cases older than
    CASE_RETENTION_DAYS, now and periodically."""
    purges = (
        ("feedback and gaps", storage.purge, settings.gaps_retention_days),
        ("cases", storage.purge_cases, settings.case_retention_days),
        ("update ids", storage.purge_updates, 2),  # Telegram keeps updates 24 hours
    )
    while True:
        for what, purge, days in purges:
            try:
                removed = await purge(dt.datetime.now(dt.UTC) - dt.timedelta(days=days))
                if removed:
                    log.info("purged %s expired rows of %s", removed, what)
            except StorageError as exc:
                log.warning("purge of %s skipped: %s", what, exc)
        await asyncio.sleep(PURGE_EVERY)


async def serve(settings: Settings, assistant: Assistant, storage: Storage) -> None:
    """Run the bot until interrupted, in the configured mode."""
    metrics = Metrics()
    bot = create_bot(settings, metrics)
    dp = build_dispatcher(settings, assistant, storage, metrics=metrics)
    purge = asyncio.create_task(_purge_forever(storage, settings))
    # Every worker runs the scheduler: claims are atomic in the storage, so each
    # reminder goes out once however many workers there are.
    scheduler = ReminderScheduler(
        storage, TelegramSender(bot), f"{socket.gethostname()}:{os.getpid()}"
    )
    reminders = asyncio.create_task(
        scheduler.run_forever(settings.reminder_poll_interval, on_report=_count_reminders(metrics))
    )
    index_watch = asyncio.create_task(_watch_index(assistant, settings))
    try:
        me = await bot.get_me()
        log.info("bot @%s starting in %s mode", me.username, settings.bot_mode)
        with contextlib.suppress(Exception):
            await set_default_menus(bot, dp["i18n_core"])
        if settings.bot_mode == "webhook":
            await _serve_webhook(bot, dp, settings, assistant)
        else:
            await bot.delete_webhook(drop_pending_updates=False)
            health = await _health_server(dp, assistant, settings)
            stop = _stop_on_signals()
            await poll(
                dp,
                bot,
                stop,
                allowed_updates=dp.resolve_used_update_types(),
                grace=settings.shutdown_grace,
            )
            if health is not None:
                await health.cleanup()
    finally:
        purge.cancel()
        reminders.cancel()
        index_watch.cancel()
        await bot.session.close()


async def _health_server(dp: Dispatcher, assistant: Assistant, settings: Settings):
    """/healthz and /metrics on METRICS_PORT in polling mode (None when 0)."""
    if not settings.metrics_port:
        return None
    from bot.telegram.webhook import health_app, start_server

    runner, port = await start_server(
        health_app(dp, assistant), settings.webhook_host, settings.metrics_port
    )
    log.info("health and metrics on %s:%s", settings.webhook_host, port)
    return runner


def _count_reminders(metrics: Metrics):
    def count(report) -> None:
        for outcome in ("claimed", "sent", "blocked", "released", "failed", "maybe_duplicate"):
            value = getattr(report, outcome)
            if value:
                metrics.reminders.labels(outcome).inc(value)

    return count


async def _watch_index(assistant: Assistant, settings: Settings) -> None:
    """Look for a new index version on a timer, not only when a question arrives, so an
    idle worker switches within INDEX_CHECK_INTERVAL too (loading runs off the loop)."""
    while True:
        await asyncio.sleep(max(settings.index_check_interval, 0.5))
        try:
            await asyncio.to_thread(assistant.check_version)
        except Exception:  # never let the watcher die; the next question retries
            log.exception("index check failed")


async def _serve_webhook(bot: Bot, dp: Dispatcher, settings: Settings, assistant) -> None:
    from bot.telegram.webhook import make_app, start_server, webhook_secret, webhook_target

    url, secret = webhook_target(settings), webhook_secret(settings)
    app = make_app(dp, bot, settings, assistant)
    runner, port = await start_server(
        app, settings.webhook_host, settings.webhook_port, settings.shutdown_grace
    )
    await bot.set_webhook(url, secret_token=secret, allowed_updates=dp.resolve_used_update_types())
    log.info("webhook server on %s:%s, Telegram posts to %s", settings.webhook_host, port, url)
    stop = _stop_on_signals()
    try:
        await stop.wait()
    finally:
        # Stops taking requests, then waits for the ones in flight (each answers 200
        # only after its update is handled) before the session and storage close.
        await runner.cleanup()


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (a deploy, Ctrl+C)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


def run_bot(settings: Settings) -> int:
    """`migrant-bot run` with a token: load the index (building it the first time), open
    storage, serve. Returns the process exit code."""
    if settings.bot_mode == "webhook":
        from bot.telegram.webhook import WebhookConfigError, webhook_secret, webhook_target

        try:
            webhook_target(settings)
            webhook_secret(settings)
        except WebhookConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    try:
        create_bot(settings)  # validate the token before loading the model
        StaffDesk(settings)  # and HANDOFF_HOURS / HANDOFF_TIMEZONE
    except HandoffConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BotConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    assistant = open_assistant(settings, build_if_missing=True)

    async def main() -> None:
        from bot.storage.factory import open_storage

        await check_redis(settings.redis_url)  # fail fast when REDIS_URL points nowhere
        storage = open_storage(settings)
        try:
            await storage.open()
        except StorageUnavailable as exc:
            log.warning("database unavailable, answering without it for now: %s", exc)
        try:
            await serve(settings, assistant, storage)
        finally:
            with contextlib.suppress(StorageError):
                await storage.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    except (StorageError, RedisUnreachable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        assistant.close()
    return 0
