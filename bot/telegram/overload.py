"""Load shedding: above what the machine can answer, tell people at once instead of
letting the queue and the wait grow without bound.

The fault run of issue 16 found no limit: at 33 questions/s (capacity about 20/s on 2
cores) the median wait reached 22 s after one minute, and nobody was told why. The
`LoadMeter` counts messages in flight (from the moment the update arrives: the wait
starts there, before any middleware reads the database) and the rate at which they
were answered in the last WINDOW seconds; their ratio is the wait a new question can expect. Above
OVERLOAD_NOTICE_SECONDS the user gets "many questions right now, I will answer in about
N seconds" at once and the answer follows; above OVERLOAD_SHED_SECONDS, or with
OVERLOAD_QUEUE questions already waiting, the question is not queued and the user is
asked to send it again in a minute.

In polling mode the poller (bot/telegram/delivery.py) asks `OverloadMiddleware.refuses`
before anything else happens to an update, so a shed question costs one sendMessage and
no database work; the middleware then only counts and notifies. In webhook mode every
request is already running, and the middleware decides.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import SendChatAction, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import Message, TelegramObject, Update

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
# A question still unanswered this share of OVERLOAD_NOTICE_SECONDS after it arrived is
# told to wait then, whatever the estimate said: the notice must reach the user within
# the 5 s, and under overload a message takes up to about a second to go out.
LATE_NOTICE = 0.75


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


def question_in(event: TelegramObject) -> Message | None:
    """The message when `event` is a question (a private text message, not a command):
    the only kind of update that is counted, told to wait or shed. Commands, buttons and
    staff chats are cheap and always handled."""
    message = event.message if isinstance(event, Update) else None
    if (
        message is None
        or message.chat.type != "private"
        or not message.text
        or message.text.startswith("/")
    ):
        return None
    return message


class OverloadMiddleware(BaseMiddleware):
    """First on every update: a question is counted in flight until handled, and told
    at once when the expected wait is long; replies are in the language of the user's
    Telegram app (the stored choice would need the database, which may be what is
    slow). An update the poller has already admitted (`admitted` in the handler data)
    is not judged again."""

    def __init__(self, meter: LoadMeter, settings: Settings, metrics: Metrics) -> None:
        self.meter, self.settings, self.metrics = meter, settings, metrics
        self._asking: collections.Counter[int] = collections.Counter()  # chat: questions
        self._replied: dict[int, float] = {}  # chat: when it was last sent something
        self._tasks: set[asyncio.Task[None]] = set()  # late notices being sent
        self._replies = ReplyWatch(self)

    def refuses(self, queued: int) -> bool:
        """Whether a new question is shed with `queued` questions already waiting."""
        return (
            queued >= self.settings.overload_queue
            or self.meter.expected_wait() > self.settings.overload_shed_seconds
        )

    async def shed(self, bot: Bot, message: Message) -> None:
        """The apology instead of an answer (never raises: the user may have blocked us,
        or the Bot API may be what is failing)."""
        self.metrics.overload.labels("shed").inc()
        lang = telegram_language(message.from_user.language_code if message.from_user else None)
        _ = gettext_for(lang or FALLBACK_LANGUAGE)
        with contextlib.suppress(TelegramAPIError):
            await bot.send_message(
                message.chat.id,
                _(
                    "Sorry, I have too many questions right now and cannot take yours. "
                    "Please send it again in a minute."
                ),
            )

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        message = question_in(event)
        if message is None:
            return await handler(event, data)
        bot: Bot = data["bot"]
        if self._replies not in bot.session.middleware:
            bot.session.middleware(self._replies)  # the first question on this session
        if not data.get("admitted") and self.refuses(self.meter.in_flight):
            await self.shed(bot, message)
            return None
        arrived = float(data.get("received") or time.monotonic())  # the poller's reading
        wait = self.meter.expected_wait()
        chat = message.chat.id
        lang = telegram_language(message.from_user.language_code if message.from_user else None)
        _ = gettext_for(lang or FALLBACK_LANGUAGE)
        self.meter.started()  # before any await: messages arriving together see each other
        self.metrics.in_flight.inc()
        self._asking[chat] += 1
        late: asyncio.TimerHandle | None = None
        try:
            if wait > self.settings.overload_notice_seconds:
                await self._notify(bot, chat, _, wait, "notice")
            else:
                when = arrived + LATE_NOTICE * self.settings.overload_notice_seconds
                late = asyncio.get_running_loop().call_at(
                    asyncio.get_running_loop().time() + max(0.0, when - time.monotonic()),
                    self._notify_late, bot, chat, _, arrived,
                )  # fmt: skip
            return await handler(event, data)
        finally:
            if late is not None:
                late.cancel()
            self._asking[chat] -= 1
            if self._asking[chat] <= 0:
                del self._asking[chat]
                self._replied.pop(chat, None)
            took = time.monotonic() - arrived
            self.meter.finished(took)
            self.metrics.in_flight.dec()
            self.metrics.latency.observe(took)

    async def _notify(
        self, bot: Bot, chat: int, _: Callable[[str], str], wait: float, kind: str
    ) -> None:
        self.metrics.overload.labels(kind).inc()
        with contextlib.suppress(TelegramAPIError):
            await bot.send_message(
                chat,
                _("Many questions right now: I will answer in about {seconds} seconds.")
                .format(seconds=max(5, int(math.ceil(wait / 5) * 5))),
            )  # fmt: skip

    def _notify_late(self, bot: Bot, chat: int, _: Callable[[str], str], arrived: float) -> None:
        """Timer: the question is still unanswered, though the wait looked short when it
        came (the estimate lags when the answer rate drops): tell them now."""
        if self._replied.get(chat, -math.inf) >= arrived:
            return  # something was sent meanwhile (an answer, a clarifying question)
        task = asyncio.create_task(
            self._notify(bot, chat, _, self.meter.expected_wait(), "late_notice")
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def replied(self, chat: int) -> None:
        """A message went to `chat` (called by `ReplyWatch` for chats with a question)."""
        if chat in self._asking:
            self._replied[chat] = time.monotonic()


class ReplyWatch(BaseRequestMiddleware):
    """On the bot's session: tells `OverloadMiddleware` which chats were sent something,
    so a late notice never follows the answer."""

    def __init__(self, overload: OverloadMiddleware) -> None:
        self.overload = overload

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        response = await make_request(bot, method)
        chat = getattr(method, "chat_id", None)
        if isinstance(chat, int) and not isinstance(method, SendChatAction):
            self.overload.replied(chat)
        return response
