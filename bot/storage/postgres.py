"""PostgreSQL storage (DATABASE_URL=postgresql://...), for several workers sharing state.

asyncpg with a connection pool; the same migrations as SQLite (bot/storage/migrations.py),
applied under an advisory lock so workers starting together do not race. `claim_due`
uses FOR UPDATE SKIP LOCKED: concurrent workers each take different reminders without
waiting for one another, and none is taken twice.

Query parameters of the DSN that asyncpg does not know are passed as server settings,
e.g. `?search_path=staging` keeps the tables in another schema (the tests use this).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import asyncpg

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
from bot.storage.migrations import apply_postgres

# Errors that mean "the server is not there" rather than "the server said no".
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


def _count(status: str) -> int:
    """Rows affected, from asyncpg's command tag ("DELETE 3", "UPDATE 1")."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except (ValueError, AttributeError):
        return 0


def describe_dsn(dsn: str) -> str:
    """host:port/database of a DSN, without the user's password."""
    try:
        parts = urlsplit(dsn)
        host = parts.hostname or "localhost"
        port = parts.port or 5432
        database = parts.path.lstrip("/") or parts.username or "postgres"
    except ValueError:
        return "the PostgreSQL server in DATABASE_URL"
    return f"{host}:{port}/{database}"


_PLACEHOLDER = re.compile(r"\?")


def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's $1, $2... (the shared queries use `?`)."""
    counter = iter(range(1, 1000))
    return _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)


class _PostgresDb:
    """The `Db` of bot/storage/cases.py over one asyncpg transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    @staticmethod
    def _params(params: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(as_utc(p) if isinstance(p, dt.datetime) else p for p in params)

    async def fetch(self, sql: str, *params: Any) -> list[Sequence[Any]]:
        return [tuple(r) for r in await self.conn.fetch(numbered(sql), *self._params(params))]

    async def execute(self, sql: str, *params: Any) -> int:
        return _count(await self.conn.execute(numbered(sql), *self._params(params)))


class PostgresStorage(CaseQueries, ClaimQueries, Storage):
    def __init__(
        self,
        dsn: str,
        *,
        clock: Clock = utcnow,
        stale_after: dt.timedelta = STALE_CLAIM,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 10.0,
    ) -> None:
        self.dsn = dsn
        self.where = describe_dsn(dsn)
        self._clock = clock
        self._stale_after = stale_after
        self._min_size = min_size
        self._max_size = max_size
        self._timeout = connect_timeout
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:
        return f"PostgresStorage({self.where!r})"

    def _unavailable(self, exc: BaseException) -> StorageUnavailable:
        return StorageUnavailable(
            f"cannot reach PostgreSQL at {self.where} ({type(exc).__name__}: {exc}); check "
            "that the server is running and accepts connections from this host, and the "
            "user, password and database name in DATABASE_URL"
        )

    # -- lifecycle
    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self._min_size,
                max_size=self._max_size,
                timeout=self._timeout,
                command_timeout=60,
            )
        except asyncpg.InvalidCatalogNameError as exc:
            raise StorageUnavailable(
                f"the database in DATABASE_URL does not exist on {self.where}: {exc}; create "
                "it (createdb) or fix the name"
            ) from exc
        except (
            asyncpg.InvalidAuthorizationSpecificationError,
            asyncpg.InvalidPasswordError,
        ) as exc:
            raise StorageUnavailable(
                f"PostgreSQL at {self.where} refused the login: {exc}; check the user and "
                "password in DATABASE_URL and pg_hba.conf"
            ) from exc
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        except asyncpg.PostgresError as exc:
            raise StorageError(f"PostgreSQL at {self.where} refused to connect: {exc}") from exc
        try:
            async with pool.acquire() as conn:
                await apply_postgres(conn, self.where)
        except StorageError:
            await pool.close()
            raise
        except _UNAVAILABLE as exc:
            await pool.close()
            raise self._unavailable(exc) from exc
        except asyncpg.PostgresError as exc:
            await pool.close()
            raise StorageError(
                f"cannot prepare the schema in PostgreSQL at {self.where}: {exc}; check that "
                "the user may create tables there"
            ) from exc
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @contextlib.asynccontextmanager
    async def _db(self) -> AsyncIterator[_PostgresDb]:
        async with self._conn() as conn:
            yield _PostgresDb(conn)

    @contextlib.asynccontextmanager
    async def _conn(self, transaction: bool = True) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is None:
            raise StorageError(f"{self!r} is not open; call open() first")
        try:
            async with self._pool.acquire() as conn:
                if transaction:
                    async with conn.transaction():
                        yield conn
                else:
                    yield conn
        except _UNAVAILABLE as exc:
            raise self._unavailable(exc) from exc
        except asyncpg.PostgresError as exc:
            raise StorageError(f"PostgreSQL at {self.where} refused: {exc}") from exc

    # -- interface language
    async def get_language(self, user_key: str) -> str | None:
        async with self._conn(transaction=False) as conn:
            return await conn.fetchval("SELECT lang FROM languages WHERE user_key = $1", user_key)

    async def set_language(self, user_key: str, lang: str) -> None:
        async with self._conn(transaction=False) as conn:
            await conn.execute(
                "INSERT INTO languages (user_key, lang, updated_at) VALUES ($1, $2, $3) "
                "ON CONFLICT (user_key) DO UPDATE SET lang = excluded.lang, "
                "updated_at = excluded.updated_at",
                user_key,
                lang,
                as_utc(self._clock()),
            )

    # -- anonymised analytics
    async def log_event(self, decision: str, lang: str, entry_id: str | None) -> None:
        async with self._conn(transaction=False) as conn:
            await conn.execute(
                "INSERT INTO events (bucket, decision, lang, entry_id, n) "
                "VALUES ($1, $2, $3, $4, 1) ON CONFLICT (bucket, decision, lang, entry_id) "
                "DO UPDATE SET n = events.n + 1",
                hour_bucket(self._clock()),
                decision,
                lang,
                entry_id or "",
            )

    async def add_feedback(
        self, user_key: str, entry_id: str, lang: str, helpful: bool, question: str | None
    ) -> None:
        now = as_utc(self._clock())
        text = clean_gap_text(question) if question and not helpful else ""
        async with self._conn() as conn:
            await conn.execute(
                "INSERT INTO feedback (user_key, entry_id, lang, helpful, created_at) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_key, entry_id) DO UPDATE SET "
                "lang = excluded.lang, helpful = excluded.helpful, "
                "created_at = excluded.created_at",
                user_key,
                entry_id,
                lang,
                bool(helpful),
                now,
            )
            if text:
                await conn.execute(
                    "INSERT INTO gaps (user_key, text, lang, reason, created_at) "
                    "VALUES ($1, $2, $3, 'downvote', $4)",
                    user_key,
                    text,
                    lang,
                    now,
                )

    async def log_gap(self, user_key: str, text: str, lang: str, reason: str) -> None:
        check_reason(reason)
        text = clean_gap_text(text)
        if not text:
            return
        async with self._conn(transaction=False) as conn:
            await conn.execute(
                "INSERT INTO gaps (user_key, text, lang, reason, created_at) "
                "VALUES ($1, $2, $3, $4, $5)",
                user_key,
                text,
                lang,
                reason,
                as_utc(self._clock()),
            )

    async def stats(self, since: dt.datetime) -> Stats:
        by_decision: dict[str, int] = {}
        by_lang: dict[str, int] = {}
        by_entry: dict[str, int] = {}
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT decision, lang, entry_id, SUM(n) AS n FROM events WHERE bucket >= $1 "
                "GROUP BY decision, lang, entry_id",
                hour_bucket(since),
            )
            votes = await conn.fetchrow(
                "SELECT COUNT(*) FILTER (WHERE helpful) AS up, "
                "COUNT(*) FILTER (WHERE NOT helpful) AS down FROM feedback "
                "WHERE created_at >= $1",
                as_utc(since),
            )
        for row in rows:
            n = int(row["n"])
            by_decision[row["decision"]] = by_decision.get(row["decision"], 0) + n
            by_lang[row["lang"]] = by_lang.get(row["lang"], 0) + n
            if row["entry_id"]:
                by_entry[row["entry_id"]] = by_entry.get(row["entry_id"], 0) + n
        return Stats(
            since=as_utc(since),
            by_decision=by_decision,
            by_lang=by_lang,
            by_entry=by_entry,
            helpful=int(votes["up"]),
            unhelpful=int(votes["down"]),
        )

    async def gaps(self, since: dt.datetime, limit: int = 20) -> list[Gap]:
        async with self._conn(transaction=False) as conn:
            rows = await conn.fetch(
                "SELECT text, lang, reason, COUNT(*) AS n, MAX(created_at) AS last "
                "FROM gaps WHERE created_at >= $1 GROUP BY text, lang, reason "
                "ORDER BY n DESC, last DESC, text LIMIT $2",
                as_utc(since),
                max(0, int(limit)),
            )
        return [
            Gap(
                text=row["text"],
                lang=row["lang"],
                reason=row["reason"],
                count=int(row["n"]),
                last_seen=as_utc(row["last"]),
            )
            for row in rows
        ]

    async def purge(self, older_than: dt.datetime) -> int:
        """Feedback and gaps older than the cut-off, and finished reminders (sent,
        cancelled, blocked) created before it: their chat ids are no longer needed."""
        cutoff = as_utc(older_than)
        deleted = 0
        async with self._conn() as conn:
            for sql in (
                "DELETE FROM feedback WHERE created_at < $1",
                "DELETE FROM gaps WHERE created_at < $1",
                "DELETE FROM reminders WHERE status IN ('sent', 'cancelled', 'blocked') "
                "AND created_at < $1",
            ):
                deleted += _count(await conn.execute(sql, cutoff))
        return deleted

    # -- reminders
    async def add_reminder(
        self, user_key: str, chat_id: int, kind: str, due: dt.date, remind_on: dt.date, lang: str
    ) -> Reminder:
        """A new pending reminder; the same user, kind and deadline again updates the
        pending one (new remind_on, language, chat) instead of adding a duplicate."""
        check_reminder(kind, due, remind_on, lang)
        async with self._conn() as conn:
            row = await conn.fetchrow(
                "INSERT INTO reminders (user_key, chat_id, kind, due, remind_on, lang, status, "
                "created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) "
                "ON CONFLICT (user_key, kind, due) WHERE status IN ('pending', 'sending') "
                "DO UPDATE SET remind_on = excluded.remind_on, lang = excluded.lang, "
                "chat_id = excluded.chat_id WHERE reminders.status = 'pending' "
                f"RETURNING {REMINDER_COLUMNS}",
                user_key,
                int(chat_id),
                kind,
                due,
                remind_on,
                lang,
                as_utc(self._clock()),
            )
            if row is None:  # the same reminder is being delivered right now
                row = await conn.fetchrow(
                    f"SELECT {REMINDER_COLUMNS} FROM reminders WHERE user_key = $1 "
                    "AND kind = $2 AND due = $3 AND status IN ('pending', 'sending')",
                    user_key,
                    kind,
                    due,
                )
        return reminder_from_row(row)

    async def reminders(self, user_key: str) -> list[Reminder]:
        async with self._conn(transaction=False) as conn:
            rows = await conn.fetch(
                f"SELECT {REMINDER_COLUMNS} FROM reminders WHERE user_key = $1 "
                "AND status IN ('pending', 'sending') ORDER BY remind_on, id",
                user_key,
            )
        return [reminder_from_row(row) for row in rows]

    async def cancel_reminder(self, user_key: str, reminder_id: int) -> bool:
        async with self._conn(transaction=False) as conn:
            status = await conn.execute(
                "UPDATE reminders SET status = 'cancelled', claimed_by = NULL, "
                "claimed_at = NULL WHERE id = $1 AND user_key = $2 "
                "AND status IN ('pending', 'sending')",
                int(reminder_id),
                user_key,
            )
        return _count(status) > 0

    async def claim_due(self, today: dt.date, worker: str, limit: int = 50) -> list[Reminder]:
        now = as_utc(self._clock())
        async with self._conn() as conn:
            # Claims of a worker that died mid-delivery go back to the queue first.
            await conn.execute(
                "UPDATE reminders SET claimed_by = NULL, claimed_at = NULL, status = CASE "
                f"WHEN attempts >= {MAX_ATTEMPTS} THEN 'sent' ELSE 'pending' END "
                "WHERE status = 'sending' AND claimed_at < $1",
                now - self._stale_after,
            )
            rows = await conn.fetch(
                "UPDATE reminders SET status = 'sending', claimed_by = $1, claimed_at = $2 "
                "WHERE status = 'pending' AND id IN (SELECT id FROM reminders "
                "WHERE status = 'pending' AND remind_on <= $3 ORDER BY remind_on, id "
                f"LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING {REMINDER_COLUMNS}",
                worker,
                now,
                today,
                max(0, int(limit)),
            )
        return sorted((reminder_from_row(row) for row in rows), key=lambda r: (r.remind_on, r.id))

    async def mark_sent(self, reminder_id: int) -> None:
        async with self._conn(transaction=False) as conn:
            await conn.execute(
                "UPDATE reminders SET status = 'sent', sent_at = $1 "
                "WHERE id = $2 AND status = 'sending'",
                as_utc(self._clock()),
                int(reminder_id),
            )

    async def release(self, reminder_id: int) -> None:
        async with self._conn(transaction=False) as conn:
            await conn.execute(
                "UPDATE reminders SET status = 'pending', claimed_by = NULL, claimed_at = NULL "
                "WHERE id = $1 AND status = 'sending'",
                int(reminder_id),
            )

    async def mark_blocked(self, chat_id: int) -> int:
        async with self._conn(transaction=False) as conn:
            status = await conn.execute(
                "UPDATE reminders SET status = 'blocked', claimed_by = NULL, claimed_at = NULL "
                "WHERE chat_id = $1 AND status IN ('pending', 'sending')",
                int(chat_id),
            )
        return _count(status)

    # -- privacy
    async def forget(self, user_key: str, chat_id: int) -> int:
        deleted = 0
        async with self._conn() as conn:
            deleted += await self._forget_cases(_PostgresDb(conn), user_key, chat_id)
            deleted += _count(
                await conn.execute("DELETE FROM languages WHERE user_key = $1", user_key)
            )
            deleted += _count(
                await conn.execute("DELETE FROM feedback WHERE user_key = $1", user_key)
            )
            deleted += _count(await conn.execute("DELETE FROM gaps WHERE user_key = $1", user_key))
            deleted += _count(
                await conn.execute(
                    "DELETE FROM reminders WHERE user_key = $1 OR chat_id = $2",
                    user_key,
                    int(chat_id),
                )
            )
        return deleted
