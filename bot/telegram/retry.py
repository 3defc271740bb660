"""Retrying Telegram Bot API calls without sending anything twice.

Why: Telegram answers 429 (flood control) and, now and then, 5xx; networks drop
connections. Without retries a reminder or an answer is simply lost. With naive retries
a user can get the same message twice, which for a deadline reminder is confusing and
for an answer looks broken. The Bot API has no idempotency key, so the rule below is
based on what we know about whether Telegram received the request:

- 429 TelegramRetryAfter: Telegram refused the call and did nothing. Sleep the
  `retry_after` it asked for and send again. If it asks for more than
  `max_retry_after` (60 s), the error propagates at once: sleeping less would only earn
  another 429, and holding a handler (or the reminder loop) for minutes is worse; the
  caller (e.g. the reminder sender) gives the item back and tries later. For the same
  reason all the waits of one call add up to at most `max_total_delay` (120 s).
- 5xx TelegramServerError: Telegram answered with a server error: the call is retried
  with exponential backoff and jitter, up to `max_attempts` attempts in all.
- Connection failed before the request was sent (aiohttp ClientConnectorError: refused,
  DNS, TLS handshake, connect timeout): nothing can have been delivered; retried like
  5xx.
- Ambiguous failures: the request may have reached Telegram but the answer did not
  reach us (read timeout, server disconnected mid-response, connection reset). For
  methods that are idempotent by nature (get*, set*, delete*, edit*: repeating them
  changes nothing) they are retried like 5xx. For everything else (sendMessage,
  answerCallbackQuery, copyMessage...) they are retried AT MOST ONCE
  (`ambiguous_retries`): one retry recovers from the common case (the request never
  arrived) while bounding the worst case to one duplicate.
- Any other 4xx (400 bad request, 401, 404, 409, 413 entity too large) is a bug or a
  permanent condition: never retried. 403 TelegramForbiddenError (the user blocked the
  bot) propagates immediately; the reminder sender maps it to "blocked".
- getUpdates is passed through untouched: aiogram's polling loop has its own backoff.

Logs name the method and the error class only: aiogram's messages can contain the chat
id, which in a private chat is the user's Telegram id.

Wiring: `bot.session.middleware(RetryMiddleware())` (one per Bot session).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiohttp import ClientConnectorError

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod
    from aiogram.methods.base import TelegramType

log = logging.getLogger(__name__)

IDEMPOTENT_PREFIXES = ("get", "set", "delete", "edit")
PASS_THROUGH = frozenset({"getUpdates"})


def _code_of(exc: Exception) -> str:
    """The HTTP code of an aiogram error class (aiogram does not keep the number)."""
    codes = {
        "TelegramBadRequest": "400",
        "TelegramUnauthorizedError": "401",
        "TelegramForbiddenError": "403",
        "TelegramNotFound": "404",
        "TelegramConflictError": "409",
        "TelegramEntityTooLarge": "413",
        "TelegramRetryAfter": "429",
        "TelegramServerError": "5xx",
        "TelegramNetworkError": "network",
    }
    return codes.get(type(exc).__name__, type(exc).__name__)


def _not_sent(exc: TelegramNetworkError) -> bool:
    """True when the connection failed before the request could have been sent."""
    cause = exc.__cause__
    return isinstance(cause, ClientConnectorError)


class RetryMiddleware(BaseRequestMiddleware):
    """Client-session request middleware; see the module docstring for the rules."""

    def __init__(
        self,
        max_attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 10.0,
        max_retry_after: float = 60.0,
        max_total_delay: float = 120.0,
        ambiguous_retries: int = 1,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
        metrics: Any = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_retry_after = max_retry_after
        self.max_total_delay = max_total_delay
        self.ambiguous_retries = ambiguous_retries
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._metrics = metrics  # bot.telegram.metrics.Metrics: errors counted by code

    def _counting(
        self, make_request: NextRequestMiddlewareType[TelegramType]
    ) -> NextRequestMiddlewareType[TelegramType]:
        """`make_request`, counting every Bot API error by its code (metrics)."""

        async def counted(bot: Bot, method: TelegramMethod[TelegramType]):
            try:
                return await make_request(bot, method)
            except TelegramAPIError as exc:
                self._metrics.api_errors.labels(_code_of(exc)).inc()
                raise

        return counted

    def backoff(self, retry: int) -> float:
        """Delay before retry number `retry` (1-based): exponential, capped, with "equal
        jitter" (half fixed, half random) so workers retrying together spread out."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        if self._metrics is not None:
            make_request = self._counting(make_request)
        if name in PASS_THROUGH:
            return await make_request(bot, method)
        idempotent = name.startswith(IDEMPOTENT_PREFIXES)
        attempt = 0
        ambiguous = 0
        waited = 0.0
        error: Exception
        while True:
            attempt += 1
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if exc.retry_after > self.max_retry_after or attempt >= self.max_attempts:
                    raise
                delay, error = float(exc.retry_after), exc
                reason = f"flood control, retry_after={exc.retry_after}"
            except TelegramEntityTooLarge:
                raise  # a TelegramNetworkError subclass, but permanent (413)
            except TelegramServerError as exc:
                if attempt >= self.max_attempts:
                    raise
                delay, error = self.backoff(attempt), exc
                reason = type(exc).__name__
            except TelegramNetworkError as exc:
                if attempt >= self.max_attempts:
                    raise
                if not (idempotent or _not_sent(exc)):
                    ambiguous += 1
                    if ambiguous > self.ambiguous_retries:
                        raise
                delay, error = self.backoff(attempt), exc
                reason = type(exc.__cause__ or exc).__name__
            if waited + delay > self.max_total_delay:
                raise error
            waited += delay
            log.warning(
                "Telegram %s failed (%s); attempt %d of %d, retrying in %.2f s",
                name,
                reason,
                attempt,
                self.max_attempts,
                delay,
            )
            await self._sleep(delay)
