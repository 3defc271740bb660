"""Claims that keep work done once across workers and restarts, written once for both
backends (over the same `_db()` as bot/storage/cases.py):

- Telegram update ids being handled or handled (bot/telegram/delivery.py): a
  redelivered update is skipped, a claim whose worker stopped mid-way is taken over;
- the heartbeat of reminder claims and the count of deliveries started, so that a
  crashed worker's reminders return to the queue within a minute and an interrupted
  delivery is retried at most once (see STALE_CLAIM and MAX_ATTEMPTS in common.py).
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
from collections.abc import Sequence

from bot.storage.cases import Db
from bot.storage.common import Clock


class ClaimQueries(abc.ABC):
    _clock: Clock

    @abc.abstractmethod
    def _db(self) -> contextlib.AbstractAsyncContextManager[Db]: ...

    # -- updates seen
    async def claim_update(
        self, update_id: int, stale_after: dt.timedelta, payload: str | None = None
    ) -> bool:
        return update_id in await self.accept_updates([(update_id, payload)], stale_after)

    async def accept_updates(
        self, updates: Sequence[tuple[int, str | None]], stale_after: dt.timedelta
    ) -> set[int]:
        """Claim a batch of updates with their JSON in one transaction (the polling
        inbox); returns the ids taken (the others were handled or are being handled)."""
        now = self._clock()
        taken: set[int] = set()
        async with self._db() as db:
            for update_id, payload in updates:
                rows = await db.fetch(
                    "INSERT INTO updates (update_id, state, claimed_at, payload) "
                    "VALUES (?, 'handling', ?, ?) "
                    "ON CONFLICT (update_id) DO UPDATE SET claimed_at = excluded.claimed_at, "
                    "payload = excluded.payload "
                    "WHERE updates.state = 'handling' AND updates.claimed_at < ? "
                    "RETURNING update_id",
                    int(update_id),
                    now,
                    payload,
                    now - stale_after,
                )
                if rows:
                    taken.add(int(update_id))
        return taken

    async def finish_update(self, update_id: int) -> None:
        async with self._db() as db:
            await db.execute(
                "UPDATE updates SET state = 'done', claimed_at = ?, payload = NULL "
                "WHERE update_id = ?",
                self._clock(),
                int(update_id),
            )

    async def release_update(self, update_id: int) -> None:
        async with self._db() as db:
            await db.execute(
                "DELETE FROM updates WHERE update_id = ? AND state = 'handling'", int(update_id)
            )

    async def release_updates(self) -> int:
        async with self._db() as db:
            return await db.execute(
                "DELETE FROM updates WHERE state = 'handling' AND payload IS NULL"
            )

    async def unfinished_updates(self) -> list[tuple[int, str]]:
        async with self._db() as db:
            rows = await db.fetch(
                "SELECT update_id, payload FROM updates WHERE state = 'handling' "
                "AND payload IS NOT NULL ORDER BY update_id"
            )
        return [(int(uid), str(payload)) for uid, payload in rows]

    async def purge_updates(self, older_than: dt.datetime) -> int:
        async with self._db() as db:
            return await db.execute("DELETE FROM updates WHERE claimed_at < ?", older_than)

    # -- reminder claims
    async def mark_attempt(self, reminder_id: int) -> None:
        async with self._db() as db:
            await db.execute(
                "UPDATE reminders SET attempts = attempts + 1, claimed_at = ? "
                "WHERE id = ? AND status = 'sending'",
                self._clock(),
                int(reminder_id),
            )

    async def heartbeat(self, worker: str) -> int:
        async with self._db() as db:
            return await db.execute(
                "UPDATE reminders SET claimed_at = ? WHERE claimed_by = ? AND status = 'sending'",
                self._clock(),
                worker,
            )
