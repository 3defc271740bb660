"""The default storage: one SQLite file (DATA_DIR/bot.sqlite), via aiosqlite.

One connection per process, in WAL mode (readers never wait for the writer) with a busy
timeout, so several processes may share the file. Every operation runs under one asyncio
lock, which keeps each transaction whole when many handlers call at once; writes start
with BEGIN IMMEDIATE so that two processes never both read-then-write the same rows
(this is what makes `claim_due` exactly-once across workers).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from bot.storage import Gap, Reminder, Stats, Storage, StorageError, StorageUnavailable
from bot.storage.cases import CaseQueries
from bot.storage.claims import ClaimQueries
from bot.storage.common import (
    MAX_ATTEMPTS,
    REMINDER_COLUMNS,
    STALE_CLAIM,
    Clock,
    as_utc,
    check_reason,
    check_reminder,
    clean_gap_text,
    hour_bucket,
    reminder_from_row,
    utcnow,
)
from bot.storage.migrations import apply_sqlite

BUSY_TIMEOUT_MS = 5000

# aiosqlite logs every statement WITH its parameters at DEBUG level, which would put
# chat ids into the logs of anyone who turns on debug logging: keep it at INFO unless
# somebody sets its level explicitly.
_aiosqlite_log = logging.getLogger("aiosqlite")
if _aiosqlite_log.level == logging.NOTSET:
    _aiosqlite_log.setLevel(logging.INFO)


def _ts(moment: dt.datetime) -> str:
    """UTC text that sorts like the time it stands for."""
    return as_utc(moment).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _parse_ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


class _SQLiteDb:
    """The `Db` of bot/storage/cases.py over one aiosqlite transaction."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    @staticmethod
    def _params(params: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(_ts(p) if isinstance(p, dt.datetime) else p for p in params)

    async def fetch(self, sql: str, *params: Any) -> list[Sequence[Any]]:
        async with self.conn.execute(sql, self._params(params)) as cur:
            return list(await cur.fetchall())

    async def execute(self, sql: str, *params: Any) -> int:
        cur = await self.conn.execute(sql, self._params(params))
        return cur.rowcount


class SQLiteStorage(CaseQueries, ClaimQueries, Storage):
    def __init__(
        self, path: str | Path, *, clock: Clock = utcnow, stale_after: dt.timedelta = STALE_CLAIM
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._stale_after = stale_after
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        # Reads go through a connection of their own: in WAL mode they need no lock on
        # the file, so a language lookup never queues behind the inbox's and the
        # analytics' writes (under a burst of 40 questions/s they held it up past its
        # time limit for one first message in ten).
        self._reader: aiosqlite.Connection | None = None
        self._read_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SQLiteStorage({str(self.path)!r})"

    # -- lifecycle
    async def open(self) -> None:
        if self._conn is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = await aiosqlite.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StorageUnavailable(
                f"cannot open the SQLite database {self.path}: {exc}; check that DATA_DIR "
                "exists and is writable, or set DATABASE_URL"
            ) from exc
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await apply_sqlite(conn, str(self.path))
            reader = await aiosqlite.connect(self.path, isolation_level=None)
            await reader.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        except StorageError:
            await conn.close()
            raise
        except sqlite3.Error as exc:
            await conn.close()
            raise StorageError(
                f"cannot prepare the SQLite database {self.path}: {exc}; if the file is not "
                "a migrant-bot database (or is damaged), move it away and restart"
            ) from exc
        self._conn, self._reader = conn, reader

    async def close(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            await reader.close()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    @contextlib.asynccontextmanager
    async def _tx(self, write: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """One transaction, whole, with sqlite errors turned into StorageError."""
        if self._conn is None or self._reader is None:
            raise StorageError(f"{self!r} is not open; call open() first")
        async with self._lock if write else self._read_lock:
            conn = self._conn if write else self._reader
            if conn is None:  # closed while this transaction waited for its turn
                raise StorageError(f"{self!r} was closed; the bot is shutting down")
            try:
                await conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                except BaseException:
                    await conn.execute("ROLLBACK")
                    raise
                await conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                raise StorageUnavailable(
                    f"the SQLite database {self.path} is not usable right now ({exc}); "
                    "check disk space and that no other program holds a lock on it"
                ) from exc
            except sqlite3.Error as exc:
                raise StorageError(f"the SQLite database {self.path} refused: {exc}") from exc

    @contextlib.asynccontextmanager
    async def _db(self) -> AsyncIterator[_SQLiteDb]:
        async with self._tx() as conn:
            yield _SQLiteDb(conn)

    # -- interface language
    async def get_language(self, user_key: str) -> str | None:
        async with (
            self._tx(write=False) as conn,
            conn.execute("SELECT lang FROM languages WHERE user_key = ?", (user_key,)) as cur,
        ):
            row = await cur.fetchone()
        return row[0] if row else None

    async def set_language(self, user_key: str, lang: str) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO languages (user_key, lang, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_key) DO UPDATE SET lang = excluded.lang, "
                "updated_at = excluded.updated_at",
                (user_key, lang, _ts(self._clock())),
            )

    # -- anonymised analytics
    async def log_event(self, decision: str, lang: str, entry_id: str | None) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO events (bucket, decision, lang, entry_id, n) VALUES (?, ?, ?, ?, 1) "
                "ON CONFLICT (bucket, decision, lang, entry_id) DO UPDATE SET n = n + 1",
                (_ts(hour_bucket(self._clock())), decision, lang, entry_id or ""),
            )

    async def add_feedback(
        self, user_key: str, entry_id: str, lang: str, helpful: bool, question: str | None
    ) -> None:
        now = _ts(self._clock())
        text = clean_gap_text(question) if question and not helpful else ""
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO feedback (user_key, entry_id, lang, helpful, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_key, entry_id) DO UPDATE SET "
                "lang = excluded.lang, helpful = excluded.helpful, "
                "created_at = excluded.created_at",
                (user_key, entry_id, lang, int(bool(helpful)), now),
            )
            if text:
                await conn.execute(
                    "INSERT INTO gaps (user_key, text, lang, reason, created_at) "
                    "VALUES (?, ?, ?, 'downvote', ?)",
                    (user_key, text, lang, now),
                )

    async def log_gap(self, user_key: str, text: str, lang: str, reason: str) -> None:
        check_reason(reason)
        text = clean_gap_text(text)
        if not text:
            return
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO gaps (user_key, text, lang, reason, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (user_key, text, lang, reason, _ts(self._clock())),
            )

    async def stats(self, since: dt.datetime) -> Stats:
        bucket = _ts(hour_bucket(since))
        cutoff = _ts(since)
        by_decision: dict[str, int] = {}
        by_lang: dict[str, int] = {}
        by_entry: dict[str, int] = {}
        async with self._tx(write=False) as conn:
            async with conn.execute(
                "SELECT decision, lang, entry_id, SUM(n) FROM events WHERE bucket >= ? "
                "GROUP BY decision, lang, entry_id",
                (bucket,),
            ) as cur:
                rows = await cur.fetchall()
            async with conn.execute(
                "SELECT COALESCE(SUM(helpful), 0), COALESCE(SUM(1 - helpful), 0) "
                "FROM feedback WHERE created_at >= ?",
                (cutoff,),
            ) as cur:
                totals = await cur.fetchone()
        helpful, unhelpful = totals if totals is not None else (0, 0)
        for decision, lang, entry_id, n in rows:
            by_decision[decision] = by_decision.get(decision, 0) + int(n)
            by_lang[lang] = by_lang.get(lang, 0) + int(n)
            if entry_id:
                by_entry[entry_id] = by_entry.get(entry_id, 0) + int(n)
        return Stats(
            since=as_utc(since),
            by_decision=by_decision,
            by_lang=by_lang,
            by_entry=by_entry,
            helpful=int(helpful),
            unhelpful=int(unhelpful),
        )

    async def gaps(self, since: dt.datetime, limit: int = 20) -> list[Gap]:
        async with (
            self._tx(write=False) as conn,
            conn.execute(
                "SELECT text, lang, reason, COUNT(*) AS n, MAX(created_at) AS last "
                "FROM gaps WHERE created_at >= ? GROUP BY text, lang, reason "
                "ORDER BY n DESC, last DESC, text LIMIT ?",
                (_ts(since), max(0, int(limit))),
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [
            Gap(text=t, lang=lang, reason=r, count=int(n), last_seen=_parse_ts(last))
            for t, lang, r, n, last in rows
        ]

    async def purge(self, older_than: dt.datetime) -> int:
        """Feedback and gaps older than the cut-off, and finished reminders (sent,
        cancelled, blocked) created before it: their chat ids are no longer needed."""
        cutoff = _ts(older_than)
        deleted = 0
        async with self._tx() as conn:
            for sql in (
                "DELETE FROM feedback WHERE created_at < ?",
                "DELETE FROM gaps WHERE created_at < ?",
                "DELETE FROM reminders WHERE status IN ('sent', 'cancelled', 'blocked') "
                "AND created_at < ?",
            ):
                cur = await conn.execute(sql, (cutoff,))
                deleted += cur.rowcount
        return deleted

    # -- reminders
    async def add_reminder(
        self, user_key: str, chat_id: int, kind: str, due: dt.date, remind_on: dt.date, lang: str
    ) -> Reminder:
        """A new pending reminder; the same user, kind and deadline again updates the
        pending one (new remind_on, language, chat) instead of adding a duplicate."""
        check_reminder(kind, due, remind_on, lang)
        async with self._tx() as conn:
            async with conn.execute(
                "INSERT INTO reminders (user_key, chat_id, kind, due, remind_on, lang, status, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?) "
                "ON CONFLICT (user_key, kind, due) WHERE status IN ('pending', 'sending') "
                "DO UPDATE SET remind_on = excluded.remind_on, lang = excluded.lang, "
                "chat_id = excluded.chat_id WHERE reminders.status = 'pending' "
                f"RETURNING {REMINDER_COLUMNS}",
                (
                    user_key,
                    int(chat_id),
                    kind,
                    due.isoformat(),
                    remind_on.isoformat(),
                    lang,
                    _ts(self._clock()),
                ),
            ) as cur:
                row = await cur.fetchone()
            if row is None:  # the same reminder is being delivered right now
                async with conn.execute(
                    f"SELECT {REMINDER_COLUMNS} FROM reminders WHERE user_key = ? AND kind = ? "
                    "AND due = ? AND status IN ('pending', 'sending')",
                    (user_key, kind, due.isoformat()),
                ) as cur:
                    row = await cur.fetchone()
        if row is None:
            raise StorageError("the reminder was neither stored nor found; try again")
        return reminder_from_row(row)

    async def reminders(self, user_key: str) -> list[Reminder]:
        async with (
            self._tx(write=False) as conn,
            conn.execute(
                f"SELECT {REMINDER_COLUMNS} FROM reminders WHERE user_key = ? "
                "AND status IN ('pending', 'sending') ORDER BY remind_on, id",
                (user_key,),
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [reminder_from_row(row) for row in rows]

    async def cancel_reminder(self, user_key: str, reminder_id: int) -> bool:
        async with self._tx() as conn:
            cur = await conn.execute(
                "UPDATE reminders SET status = 'cancelled', claimed_by = NULL, "
                "claimed_at = NULL WHERE id = ? AND user_key = ? "
                "AND status IN ('pending', 'sending')",
                (int(reminder_id), user_key),
            )
            return cur.rowcount > 0

    async def claim_due(self, today: dt.date, worker: str, limit: int = 50) -> list[Reminder]:
        now = self._clock()
        async with self._tx() as conn:
            # Claims of a worker that died mid-delivery go back to the queue first.
            await conn.execute(
                "UPDATE reminders SET claimed_by = NULL, claimed_at = NULL, status = CASE "
                f"WHEN attempts >= {MAX_ATTEMPTS} THEN 'sent' ELSE 'pending' END "
                "WHERE status = 'sending' AND claimed_at < ?",
                (_ts(now - self._stale_after),),
            )
            async with conn.execute(
                "UPDATE reminders SET status = 'sending', claimed_by = ?, claimed_at = ? "
                "WHERE id IN (SELECT id FROM reminders WHERE status = 'pending' "
                "AND remind_on <= ? ORDER BY remind_on, id LIMIT ?) "
                f"RETURNING {REMINDER_COLUMNS}",
                (worker, _ts(now), today.isoformat(), max(0, int(limit))),
            ) as cur:
                rows = await cur.fetchall()
        return sorted((reminder_from_row(row) for row in rows), key=lambda r: (r.remind_on, r.id))

    async def mark_sent(self, reminder_id: int) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "UPDATE reminders SET status = 'sent', sent_at = ? "
                "WHERE id = ? AND status = 'sending'",
                (_ts(self._clock()), int(reminder_id)),
            )

    async def release(self, reminder_id: int) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "UPDATE reminders SET status = 'pending', claimed_by = NULL, claimed_at = NULL "
                "WHERE id = ? AND status = 'sending'",
                (int(reminder_id),),
            )

    async def mark_blocked(self, chat_id: int) -> int:
        async with self._tx() as conn:
            cur = await conn.execute(
                "UPDATE reminders SET status = 'blocked', claimed_by = NULL, claimed_at = NULL "
                "WHERE chat_id = ? AND status IN ('pending', 'sending')",
                (int(chat_id),),
            )
            return cur.rowcount

    # -- privacy
    async def forget(self, user_key: str, chat_id: int) -> int:
        deleted = 0
        async with self._tx() as conn:
            for sql, params in (
                ("DELETE FROM languages WHERE user_key = ?", (user_key,)),
                ("DELETE FROM feedback WHERE user_key = ?", (user_key,)),
                ("DELETE FROM gaps WHERE user_key = ?", (user_key,)),
                (
                    "DELETE FROM reminders WHERE user_key = ? OR chat_id = ?",
                    (user_key, int(chat_id)),
                ),
            ):
                cur = await conn.execute(sql, params)
                deleted += cur.rowcount
            deleted += await self._forget_cases(_SQLiteDb(conn), user_key, chat_id)
        return deleted
