"""Load shedding: above what the machine can answer, tell people at once instead of
letting the queue and the wait grow without bound.

The fault run of issue 16 found no limit: at 33 questions/s (capacity about 20/s on 2
cores) the median wait reached 22 s after one minute, and nobody was told why. The
`LoadMeter` counts messages in flight (from the moment the update arrives: the wait
starts there, before any middleware reads the database) and the rate at which they
were answered in the last WINDOW seconds; their ratio is the wait a new question can expect. Above
OVERLOAD_NOTICE_SECONDS the user gets "many questions right now, I will answer in about
N seconds" at once and the answer follows; above OVERLOAD_SHED_SECONDS the question is
not queued and the user is asked to send it again in a minute.
"""

from __future__ import annotations

import collections
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update

from bot.domain import FALLBACK_LANGUAGE
from bot.i18n import gettext_for
from bot.settings import Settings
from bot.telegram.metrics import Metrics
from bot.telegram.middlewares import telegram_language

WINDOW = 10.0  # seconds of answered questions that make the rate
# The rate assumed at least: answered-per-second is only the machine's capacity when it
# is saturated (at low load it is the arrival rate), so a burst after a quiet spell must
# not look like a long queue. The slowest bench run in issue 14 answered 22.6/s on 2
# cores; a quarter of that is safely below capacity.
FLOOR_RATE = 5.0


class LoadMeter:
    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self.in_flight = 0
        self._answered: collections.deque[tuple[float, float]] = collections.deque()

    def started(self) -> None:
        self.in_flight += 1

    def finished(self, seconds: float = 0.0) -> None:
        """One message handled, `seconds` after it arrived."""
        self.in_flight = max(0, self.in_flight - 1)
        self._answered.append((self._clock(), seconds))

    def rate(self) -> float:
        """Messages handled per second over the last WINDOW seconds."""
        now = self._clock()
        while self._answered and now - self._answered[0][0] > WINDOW:
            self._answered.popleft()
        return len(self._answered) / WINDOW

    def expected_wait(self) -> float:
        """Seconds a message arriving now can expect to wait: what is in flight over the
        rate it drains at (Little's law). (Taking the larger of this and what recent
        messages took sent more notices, later: 39% of users told within 5 s against
        76% in the same bench/faults.py overload run, 2026-12-03.)"""
        return self.in_flight / max(self.rate(), FLOOR_RATE)


class OverloadMiddleware(BaseMiddleware):
    """First on every update: a private text message (not a command) is counted in
    flight until handled, and told at once when the expected wait is long; replies are
    in the language of the user's Telegram app (the stored choice would need the
    database, which may be what is slow)."""

    def __init__(self, meter: LoadMeter, settings: Settings, metrics: Metrics) -> None:
        self.meter, self.settings, self.metrics = meter, settings, metrics

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        message = event.message if isinstance(event, Update) else None
        if (
            message is None
            or message.chat.type != "private"
            or not message.text
            or message.text.startswith("/")
        ):
            return await handler(event, data)
        wait = self.meter.expected_wait()
        lang = telegram_language(message.from_user.language_code if message.from_user else None)
        _ = gettext_for(lang or FALLBACK_LANGUAGE)
        bot = data["bot"]
        if wait > self.settings.overload_shed_seconds:
            self.metrics.overload.labels("shed").inc()
            with contextlib.suppress(TelegramAPIError):
                await bot.send_message(
                    message.chat.id,
                    _(
                        "Sorry, I have too many questions right now and cannot take yours. "
                        "Please send it again in a minute."
                    ),
                )
            return None
        started = time.monotonic()
        self.meter.started()  # before any await: messages arriving together see each other
        self.metrics.in_flight.inc()
        try:
            if wait > self.settings.overload_notice_seconds:
                self.metrics.overload.labels("notice").inc()
                with contextlib.suppress(TelegramAPIError):
                    await bot.send_message(
                        message.chat.id,
                        _("Many questions right now: I will answer in about {seconds} seconds.")
                        .format(seconds=max(5, int(math.ceil(wait / 5) * 5))),
                    )  # fmt: skip
            return await handler(event, data)
        finally:
            took = time.monotonic() - started
            self.meter.finished(took)
            self.metrics.in_flight.dec()
            self.metrics.latency.observe(took)
