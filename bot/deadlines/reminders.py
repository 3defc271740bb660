"""Deadline reminders: the texts, and the scheduler that delivers them exactly once.

The core knows nothing of Telegram: a `Sender` delivers a text to a chat and reports
what went wrong with three exceptions defined here (bot/telegram/sender.py adapts
aiogram to it). The scheduler claims due reminders from the storage atomically
(`Storage.claim_due`), so any number of workers, in one process or many, can run it
against one database without delivering a reminder twice:

- sent: `mark_sent`;
- RecipientBlocked: the user blocked the bot or the chat is gone: `mark_blocked` stops
  every reminder of that chat (no point trying, and it respects the user's choice);
- RetryLater(seconds): flood control: this reminder and the rest of the batch are given
  back (`release`), the worker pauses as asked and they go out on a later run;
- DeliveryFailed: Telegram or the network is down: same as RetryLater without a pause
  (the next run tries again); a permanent failure (`permanent=True`) counts as blocked.

A worker that dies mid-batch leaves claims behind; the storage hands them back to the
queue after ten minutes (in that case one reminder may arrive twice; none is lost).

Logs name reminder ids only, never chat ids (in a private chat the chat id is the
user's Telegram id).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.errors import MigrantBotError
from bot.i18n import format_day, gettext_for
from bot.storage import Reminder, Storage, StorageError, StorageUnavailable

log = logging.getLogger(__name__)
# Seconds between refreshes of a worker's reminder claims; a claim not refreshed for
# STALE_CLAIM (a minute, bot/storage/common.py) belonged to a crashed worker.
HEARTBEAT_EVERY = 15.0

# Telegram allows about 30 messages per second to different chats per bot; stay below.
DEFAULT_RATE = 25.0
# The longest pause a RetryLater can impose on a worker (the claims are released first,
# so a longer wish only delays, it never loses anything).
MAX_PAUSE = 300.0
# Reminders for a day go out from this local time on (nobody wants one at 3 a.m.).
DEFAULT_TZ = "Europe/Moscow"
DEFAULT_DAY_START = dt.time(9, 0)


class RecipientBlocked(MigrantBotError):
    """The user blocked the bot, or the chat no longer exists."""


class RetryLater(MigrantBotError):
    """Flood control: try again after `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = float(seconds)


class DeliveryFailed(MigrantBotError):
    """Delivery failed; `permanent` when retrying cannot help (e.g. a bad request)."""

    def __init__(self, message: str = "delivery failed", *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Sender(Protocol):
    async def send(
        self, chat_id: int, text: str, reminder_id: int, *, button: str = "Unsubscribe"
    ) -> None:
        """Deliver `text` with an unsubscribe button labelled `button` (in the user's
        language); raise RecipientBlocked, RetryLater or DeliveryFailed."""


# -- texts --------------------------------------------------------------------------


def reminder_text(reminder: Reminder) -> str:
    """The reminder in the user's language, with a line saying how to unsubscribe."""
    _ = gettext_for(reminder.lang)
    day = format_day(reminder.due, reminder.lang)
    if reminder.kind == "patent":
        body = _(
            "Reminder: your patent payment is due on {date}. Pay before that day: a late "
            "payment voids the patent."
        )
    elif reminder.kind == "registration":
        # Sent before the deadline to register, to someone who may not be registered
        # yet: "register by", never "extend".
        body = _(
            "Reminder: {date} is the last day to register at your place of stay. If you "
            "are not registered yet, make sure your host files the notice of arrival "
            "before that day."
        )
    elif reminder.kind == "stay":
        body = _(
            "Reminder: the period you are allowed to stay ends on {date}. Before that day, "
            "leave or make sure you have a document that lets you stay longer."
        )
    else:
        body = _("Reminder: your deadline is {date}.")
    footer = _("You asked for this reminder. To stop it, press “{button}” below.")
    button = unsubscribe_label(reminder.lang)
    return _fill(body, date=day) + "\n\n" + _fill(footer, button=button)


def _fill(template: str, **values: str) -> str:
    """str.format that survives a translation with a broken placeholder (the reminder
    must still go out, so the placeholders are dropped rather than the message)."""
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        log.error("translation with a broken placeholder: %r", template[:60])
        for name, value in values.items():
            template = template.replace("{" + name + "}", value)
        return template


def unsubscribe_label(lang: str) -> str:
    """The label of the button under a reminder that cancels it."""
    _ = gettext_for(lang)
    return _("Unsubscribe")


# -- scheduler ----------------------------------------------------------------------


@dataclass
class RunReport:
    """What one run did (counts of reminders)."""

    claimed: int = 0
    sent: int = 0
    blocked: int = 0  # reminders stopped because their chat blocked the bot
    released: int = 0  # given back for a later run (flood control, outage)
    failed: int = 0  # send attempts that failed (temporarily or for good)
    paused: float = 0.0  # seconds waited on RetryLater
    # claimed again after a crash cut off an earlier delivery: the user may get it twice
    maybe_duplicate: int = 0
    sent_ids: list[int] = field(default_factory=list)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _RateLimiter:
    """At most `rate` sends per second: a fixed minimum spacing, no bursts."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self._next > now:
            await asyncio.sleep(self._next - now)
            now = time.monotonic()
        self._next = max(now, self._next) + self.interval


class ReminderScheduler:
    def __init__(
        self,
        storage: Storage,
        sender: Sender,
        worker_id: str,
        clock: Callable[[], dt.datetime] = _utcnow,
        *,
        rate: float = DEFAULT_RATE,
        batch_size: int = 50,
        timezone: str = DEFAULT_TZ,
        day_starts_at: dt.time = DEFAULT_DAY_START,
        max_pause: float = MAX_PAUSE,
    ) -> None:
        """`worker_id` names this worker in the claims (e.g. host:pid)."""
        self.storage = storage
        self.sender = sender
        self.worker_id = worker_id
        self.clock = clock
        self.batch_size = batch_size
        self.tz = ZoneInfo(timezone)
        self.day_starts_at = day_starts_at
        self.max_pause = max_pause
        self._limiter = _RateLimiter(rate)

    def today(self) -> dt.date:
        """The local day whose reminders are due now (yesterday's until the day starts)."""
        now = self.clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=dt.UTC)
        local = now.astimezone(self.tz)
        if local.time() < self.day_starts_at:
            return local.date() - dt.timedelta(days=1)
        return local.date()

    async def run_once(self) -> RunReport:
        """Claim the due reminders (one batch) and deliver them."""
        report = RunReport()
        batch = await self.storage.claim_due(self.today(), self.worker_id, self.batch_size)
        report.claimed = len(batch)
        blocked_chats: set[int] = set()
        for position, reminder in enumerate(batch):
            if reminder.chat_id in blocked_chats:
                continue  # mark_blocked already stopped it
            await self._limiter.wait()
            if reminder.attempts:
                report.maybe_duplicate += 1
                log.warning(
                    "reminder %s: an earlier delivery was cut off; sending again (may be a "
                    "duplicate, never a third time)",
                    reminder.id,
                )
            try:
                await self.storage.mark_attempt(reminder.id)  # before: a crash may follow
                await self.sender.send(
                    reminder.chat_id,
                    reminder_text(reminder),
                    reminder.id,
                    button=unsubscribe_label(reminder.lang),
                )
            except RecipientBlocked:
                stopped = await self.storage.mark_blocked(reminder.chat_id)
                blocked_chats.add(reminder.chat_id)
                report.blocked += stopped
                log.info("reminder %s: recipient blocked the bot; %d stopped", reminder.id, stopped)
            except RetryLater as exc:
                report.released += await self._release(batch[position:], blocked_chats)
                pause = max(0.0, min(exc.seconds, self.max_pause))
                log.warning(
                    "reminder %s: flood control, %d given back, pausing %.1f s",
                    reminder.id,
                    len(batch) - position,
                    pause,
                )
                report.paused = pause
                await asyncio.sleep(pause)
                break
            except DeliveryFailed as exc:
                report.failed += 1
                if exc.permanent:
                    stopped = await self.storage.mark_blocked(reminder.chat_id)
                    blocked_chats.add(reminder.chat_id)
                    report.blocked += stopped
                    log.warning(
                        "reminder %s: cannot be delivered (%s); %d stopped",
                        reminder.id,
                        exc,
                        stopped,
                    )
                    continue
                report.released += await self._release(batch[position:], blocked_chats)
                log.warning(
                    "reminder %s: delivery failed (%s); %d given back for the next run",
                    reminder.id,
                    exc,
                    len(batch) - position,
                )
                break
            except StorageError:
                raise
            except Exception:
                # A bug in the sender: give this one back, keep the rest going.
                report.failed += 1
                log.exception("reminder %s: unexpected error while sending", reminder.id)
                await self.storage.release(reminder.id)
                report.released += 1
            else:
                await self.storage.mark_sent(reminder.id)
                report.sent += 1
                report.sent_ids.append(reminder.id)
        return report

    async def _release(self, reminders: list[Reminder], skip: set[int]) -> int:
        released = 0
        for reminder in reminders:
            if reminder.chat_id not in skip:
                await self.storage.release(reminder.id)
                released += 1
        return released

    async def run_forever(
        self, interval: float, on_report: Callable[[RunReport], None] | None = None
    ) -> None:
        """Run until cancelled. A full batch is followed at once by the next; storage
        outages are logged and retried after `interval` (the bot keeps answering).
        `on_report` gets every run's counts (metrics). The worker's claims get a
        heartbeat every HEARTBEAT_EVERY seconds, however long a run takes."""
        beat = asyncio.create_task(self._heartbeat_forever())
        try:
            await self._run_forever(interval, on_report)
        finally:
            beat.cancel()

    async def _heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY)
            try:
                await self.storage.heartbeat(self.worker_id)
            except StorageError as exc:
                log.warning("reminder claims not refreshed: %s", exc)

    async def _run_forever(
        self, interval: float, on_report: Callable[[RunReport], None] | None
    ) -> None:
        while True:
            full = False
            try:
                report = await self.run_once()
                if on_report is not None:
                    on_report(report)
                full = report.claimed >= self.batch_size and not report.released
                if report.claimed:
                    log.info(
                        "reminders: %d claimed, %d sent, %d blocked, %d given back",
                        report.claimed,
                        report.sent,
                        report.blocked,
                        report.released,
                    )
            except StorageUnavailable as exc:
                log.warning("reminders paused, storage unavailable: %s", exc)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reminder run failed; retrying in %.0f s", interval)
            if not full:
                await asyncio.sleep(interval)
