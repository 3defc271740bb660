"""Each Telegram update handled once, and none lost when the process stops.

Telegram delivers an update again when it was not confirmed: in polling mode until the
next getUpdates moves the offset past it, in webhook mode until it gets a 200. aiogram
confirms at once (the offset moves on as soon as updates arrive; the webhook answers
200 before handling), so a restart or a crash loses what was in flight. Here:

- `UpdateOnce` (an outer middleware on every update) claims the update id in the shared
  database before handling and marks it done after, so a redelivery (a webhook retry,
  another worker, a restart in polling mode) is not answered twice;
- `poll` is long polling that confirms an update only when it and every earlier one
  are handled, and on stop takes no new updates, lets the ones in flight finish (up to
  SHUTDOWN_GRACE seconds) and confirms them before the session and storage close;
- webhook mode answers 200 after handling (bot/telegram/webhook.py), and aiohttp's
  shutdown lets requests in flight finish.

Under overload `poll` keeps reading: a question beyond what the worker should queue
(`OverloadMiddleware.refuses`) is shed with an apology before it costs any database
work, instead of the poller pausing while the newest questions wait unseen at Telegram.

When the database is down the claim is skipped: answering twice is better than not
answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.methods import GetUpdates
from aiogram.types import TelegramObject, Update

from bot.storage import Storage, StorageError
from bot.telegram.common import bounded
from bot.telegram.metrics import Metrics
from bot.telegram.overload import OverloadMiddleware, question_in

log = logging.getLogger(__name__)
# A claim older than this belongs to a worker that stopped mid-way (webhook mode; in
# polling mode the one poller releases its previous run's claims at start).
STALE_CLAIM = dt.timedelta(minutes=2)
CLAIM_TIMEOUT = 0.5  # seconds the claim may take before handling goes on without it
# Seconds a batch may take to enter the inbox. Measured with bench/faults.py on 2 cores
# (2026-12-03): sharing the reply path's 0.5 s limit and breaker, the inbox was skipped
# under overload (40 questions/s) and 64% of users heard anything within 5 s; with its
# own breaker, 0.5 s: 64% again, a frozen database p95 1.05 s; 1.5 s: 97%, p95 4.5 s,
# but a frozen database p95 2.1 s (one such wait per BREAK_SECONDS). Kept 1.5 s.
ACCEPT_TIMEOUT = 1.5
# Seconds an update waits for its batch to enter the inbox before being handled anyway
# (the inbox write then goes on beside it): with a normal database it has entered by
# then, so a redelivery of something handled before is recognised. bench/faults.py,
# frozen PostgreSQL: reply p95 1.0 s with 0.3 here, 0.82 s with 0.1 (2.1 s when every
# batch waited for the inbox).
ENTRY_WAIT = 0.1
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0)  # seconds between getUpdates retries after errors
CONFIRM_WAIT = 1  # seconds of long polling while handled updates wait to be confirmed


class _AlreadyClaimed(Exception):
    pass


class _Inbox:
    """Stands for the polling inbox in `bounded`'s breaker (apart from the storage's)."""


class UpdateOnce(BaseMiddleware):
    def __init__(self, storage: Storage, metrics: Metrics | None = None) -> None:
        self.storage = storage
        self.metrics = metrics

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        accepted = bool(data.get("accepted"))  # claimed by the poller, kept in the inbox
        claimed = True
        try:
            if accepted:
                raise _AlreadyClaimed
            claimed = await bounded(
                self.storage.claim_update(event.update_id, STALE_CLAIM), CLAIM_TIMEOUT, self.storage
            )
        except _AlreadyClaimed:
            pass
        except (StorageError, TimeoutError) as exc:
            log.warning("update claim skipped (%s): handling anyway", type(exc).__name__)
        if not claimed:
            if self.metrics is not None:
                self.metrics.redelivered.inc()
            log.info("update %s delivered again: already handled", event.update_id)
            return None
        try:
            result = await handler(event, data)
        except asyncio.CancelledError:
            # Cut off (a stop whose grace period ran out): not done. An update in the
            # inbox is handled by the next start; otherwise the claim goes, and
            # Telegram's redelivery after the restart is handled.
            if accepted:
                raise
            with contextlib.suppress(StorageError, TimeoutError, asyncio.CancelledError):
                await bounded(
                    self.storage.release_update(event.update_id), CLAIM_TIMEOUT, self.storage
                )
            raise
        with contextlib.suppress(StorageError, TimeoutError):
            await bounded(self.storage.finish_update(event.update_id), CLAIM_TIMEOUT, self.storage)
        return result


async def poll(
    dp: Dispatcher,
    bot: Bot,
    stop: asyncio.Event,
    *,
    allowed_updates: list[str] | None = None,
    timeout: int = 30,
    grace: float = 20.0,
    max_in_flight: int = 1024,
) -> None:
    """Long polling that loses nothing: an update is confirmed to Telegram once it is
    accepted into the inbox (its claim and JSON in the database: a crash leaves it
    there for the next start) or, when the database cannot take it, once it and every
    earlier one are handled. On `stop`, drains what is in flight (up to `grace`
    seconds) and confirms it.

    Questions the dispatcher's `overload` refuses are shed as they arrive (confirmed
    once the apology is sent); reading pauses only when `max_in_flight` updates are
    running, which questions alone cannot reach while OVERLOAD_QUEUE is below it."""
    storage: Storage | None = dp.get("storage")
    overload: OverloadMiddleware | None = dp.get("overload")
    inbox = _Inbox()  # the owner of the inbox's breaker
    recovered: list[Update] = []
    if storage is not None:
        with contextlib.suppress(StorageError):
            released = await storage.release_updates()
            for uid, payload in await storage.unfinished_updates():
                try:
                    recovered.append(Update.model_validate_json(payload, context={"bot": bot}))
                except ValueError:
                    log.warning("update %s in the inbox cannot be read; dropped", uid)
                    await storage.finish_update(uid)
            if released or recovered:
                log.info(
                    "previous run: %s update(s) to be delivered again, %s taken from the inbox",
                    released,
                    len(recovered),
                )
    workflow = {"dispatcher": dp, "bots": [bot], **dp.workflow_data}
    workflow.pop("bot", None)
    await dp.emit_startup(bot=bot, **workflow)
    in_flight: dict[int, asyncio.Task[Any]] = {}
    handled: set[int] = set()  # handled but not yet confirmed (an earlier one still runs)
    accepted: set[int] = set()  # in the inbox: confirmable while still running
    cut_off: set[int] = set()  # stopped before handled and not in the inbox: never confirm
    questions: set[int] = set()  # questions admitted and running (what OVERLOAD_QUEUE bounds)
    shedding: dict[int, asyncio.Task[Any]] = {}  # apologies being sent: confirmed when sent
    offset: int | None = None
    errors = 0

    def confirmable() -> int | None:
        """The offset that confirms everything accepted or handled without skipping an
        update that is neither."""
        unsafe = [u for u in in_flight if u not in accepted] + [*cut_off, *shedding]
        pending = min(unsafe) if unsafe else None
        done = [u for u in handled | accepted if pending is None or u < pending]
        if not done:
            return offset
        return max(max(done) + 1, offset or 0)  # never back: confirmed ids are forgotten

    async def accept(batch: list[Update]) -> set[int] | None:
        """Into the inbox, in one transaction: the ids taken (the others were handled
        already); None when the database cannot take them now."""
        if storage is None or not batch:
            return None
        items = [(u.update_id, u.model_dump_json(exclude_none=True)) for u in batch]
        try:
            # A breaker of its own, not the reply path's (which trips often under load):
            # without the inbox every later update waits behind the earliest one.
            return await bounded(storage.accept_updates(items, STALE_CLAIM), ACCEPT_TIMEOUT, inbox)
        except (StorageError, TimeoutError):
            return None

    def _finished(uid: int, task: asyncio.Task[Any]) -> None:
        in_flight.pop(uid, None)
        questions.discard(uid)
        if task.cancelled() and uid not in accepted:
            cut_off.add(uid)  # not in the inbox: Telegram must deliver it again
        else:
            handled.add(uid)
        accepted.discard(uid)

    async def handle(
        update: Update, entry: asyncio.Future[set[int] | None] | None, received: float
    ) -> None:
        """Handle `update` while its batch enters the inbox (`entry`): a slow database
        delays the answer by at most ENTRY_WAIT, and an update the inbox says was
        handled already is skipped when it says so in time."""
        if entry is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(entry), ENTRY_WAIT)
            if entry.done() and not entry.cancelled():
                taken = entry.result()
                if taken is not None and update.update_id not in taken:
                    return  # handled by an earlier run
        try:
            await dp.feed_update(
                bot, update, accepted=entry is not None, admitted=True, received=received
            )
        except Exception:  # the error handlers already ran; never lose the poller
            log.exception("update %s failed", update.update_id)
        if entry is not None and not entry.done() and storage is not None:
            # Answered before its batch entered the inbox: once it has, mark it done
            # there too, or the next start would answer it again.
            with contextlib.suppress(TimeoutError, StorageError):
                taken = await asyncio.wait_for(asyncio.shield(entry), ACCEPT_TIMEOUT + 5)
                if taken and update.update_id in taken:
                    await asyncio.wait_for(storage.finish_update(update.update_id), 5)

    def start(update: Update, entry: asyncio.Future[set[int] | None] | None) -> None:
        uid = update.update_id
        task = asyncio.create_task(handle(update, entry, time.monotonic()))
        in_flight[uid] = task
        task.add_done_callback(functools.partial(_finished, uid))

    def _shed_sent(uid: int, task: asyncio.Task[Any]) -> None:
        shedding.pop(uid, None)
        if task.cancelled():
            cut_off.add(uid)  # apology not sent: Telegram must deliver the question again
        else:
            handled.add(uid)

    def admit(batch: list[Update]) -> list[Update]:
        """The updates to handle; each question beyond what `overload` lets this worker
        queue gets its apology now (no inbox, no claim: if the process dies first,
        Telegram delivers it again)."""
        if overload is None:
            return batch
        taken = []
        for update in batch:
            message = question_in(update)
            if message is not None:
                if overload.refuses(len(questions)):
                    task = asyncio.create_task(overload.shed(bot, message))
                    shedding[update.update_id] = task
                    task.add_done_callback(functools.partial(_shed_sent, update.update_id))
                    continue
                questions.add(update.update_id)
            taken.append(update)
        return taken

    def entered(future: asyncio.Future[set[int] | None]) -> None:
        """The batch is in the inbox: its updates may be confirmed while they run."""
        if not future.cancelled() and future.exception() is None:
            accepted.update(u for u in (future.result() or ()) if u in in_flight)

    recovered_entry: asyncio.Future[set[int] | None] = asyncio.get_running_loop().create_future()
    recovered_entry.set_result({u.update_id for u in recovered})
    for update in recovered:  # confirmed to Telegram long ago: only the inbox has them
        accepted.add(update.update_id)
        start(update, recovered_entry)

    try:
        while not stop.is_set():
            if len(in_flight) >= max_in_flight:
                await asyncio.wait(in_flight.values(), return_when=asyncio.FIRST_COMPLETED)
            # While something is unconfirmed, ask again soon: the next getUpdates is what
            # confirms the updates just handled, and until then a crash would bring them
            # back (UpdateOnce would skip them, unless the crash also beat its record).
            unconfirmed = handled or shedding or any(u not in accepted for u in in_flight)
            wait = CONFIRM_WAIT if unconfirmed else timeout
            fetch = asyncio.ensure_future(
                bot(
                    GetUpdates(offset=confirmable(), timeout=wait, allowed_updates=allowed_updates),
                    request_timeout=int((bot.session.timeout or 60) + wait),
                )
            )
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if fetch not in done:
                fetch.cancel()
                with contextlib.suppress(BaseException):
                    await fetch
                break
            try:
                updates = fetch.result()
                errors = 0
            except Exception as exc:
                delay = RETRY_DELAYS[min(errors, len(RETRY_DELAYS) - 1)]
                errors += 1
                log.error("getUpdates failed (%s); retrying in %.0f s", type(exc).__name__, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                continue
            # Updates already running come back until confirmed: skip those.
            batch: list[Update] = []
            seen: set[int] = set()
            for u in updates:
                uid = u.update_id
                if not (uid in in_flight or uid in shedding or uid in handled or uid in seen):
                    batch.append(u)  # the first of an id repeated in one response wins
                    seen.add(uid)
            fresh = len(batch)
            batch = admit(batch)
            if batch:
                # Into the inbox and handled at once, side by side: the answer never
                # waits for the database more than ENTRY_WAIT; the batch is confirmed
                # when it has entered (or, failing that, once handled).
                entry = asyncio.ensure_future(accept(batch))
                for update in batch:
                    start(update, entry)
                entry.add_done_callback(entered)
            if updates and not fresh and in_flight:
                # Only updates already running came back: wait a little for one to
                # finish instead of asking Telegram again at once (not long: a new
                # question from someone else must not wait behind a slow one).
                await asyncio.wait(
                    [*in_flight.values()], timeout=CONFIRM_WAIT, return_when=asyncio.FIRST_COMPLETED
                )
            new_offset = confirmable()
            if new_offset is not None:
                handled.difference_update([u for u in handled if u < new_offset])
                offset = new_offset
    finally:
        if shedding:
            await asyncio.wait([*shedding.values()], timeout=5)
        if in_flight:
            log.info(
                "stopping: %s update(s) in flight, waiting up to %.0f s", len(in_flight), grace
            )
            await asyncio.wait([*in_flight.values()], timeout=grace)
            running = [*in_flight.values()]
            for task in running:
                task.cancel()  # those in the inbox are handled by the next start
            if running:
                await asyncio.wait(running, timeout=5)
        final = confirmable()
        if final is not None:  # confirm what was handled, so a restart does not redo it
            with contextlib.suppress(Exception):
                await bot(
                    GetUpdates(offset=final, timeout=0, limit=1, allowed_updates=allowed_updates)
                )
        await dp.emit_shutdown(bot=bot, **workflow)
