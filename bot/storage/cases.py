"""The queries of consultant handoff, written once for both backends.

Each backend provides `_db()`, one transaction whose `fetch`/`execute` take SQL with
`?` placeholders and datetimes as parameters; the mixin below holds the SQL. The rules
that keep several workers honest live in the schema (migration 2): one open case per
user (a partial unique index), one record per relayed Telegram message (a unique index
on its chat and message id: a redelivered update is recognised and never relayed
twice), and closing is a conditional UPDATE, so only one worker tells the user.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import statistics
from collections.abc import Sequence
from typing import Any, Protocol

from bot.privacy import mask_personal
from bot.storage import Case, CaseStats, Gap, Suggestion
from bot.storage.common import Clock, as_utc

ORIGINS = ("user", "staff")
CLOSED_BY = ("user", "staff", "blocked", "withdrawn")
CASE_COLUMNS = (
    "id, chat_id, lang, cyrillic, status, relaying, question, staff_chat, post_message, "
    "thread_id, created_at, first_reply_at, closed_by, rating"
)
MAX_CASE_TEXT = 4000  # characters kept of one message (Telegram's limit is 4096)


class Db(Protocol):
    async def fetch(self, sql: str, *params: Any) -> list[Sequence[Any]]: ...

    async def execute(self, sql: str, *params: Any) -> int: ...


def as_datetime(value: Any) -> dt.datetime | None:
    """A timestamp column: PostgreSQL gives datetimes, SQLite gives text."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return as_utc(value)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC)


def case_from_row(row: Sequence[Any]) -> Case:
    (id_, chat_id, lang, cyrillic, status, relaying, question, staff_chat, post, thread,
     created, first_reply, closed_by, rating) = row  # fmt: skip
    created_at = as_datetime(created)
    assert created_at is not None
    return Case(
        id=int(id_),
        chat_id=int(chat_id),
        lang=lang,
        cyrillic=bool(cyrillic),
        status=status,
        relaying=bool(relaying),
        question=question,
        staff_chat=None if staff_chat is None else int(staff_chat),
        post_message=None if post is None else int(post),
        thread_id=None if thread is None else int(thread),
        created_at=created_at,
        first_reply_at=as_datetime(first_reply),
        closed_by=closed_by,
        rating=None if rating is None else int(rating),
    )


def clean_case_text(text: str) -> str:
    """Masked again here (idempotent): a case must never hold contacts or document
    numbers even if a caller forgets."""
    return mask_personal(text)[:MAX_CASE_TEXT]


class CaseQueries(abc.ABC):
    """Mixed into SQLiteStorage and PostgresStorage; implements the case methods of
    `Storage` on top of `_db()`."""

    _clock: Clock

    @abc.abstractmethod
    def _db(self) -> contextlib.AbstractAsyncContextManager[Db]: ...

    async def _case(self, db: Db, where: str, *params: Any) -> Case | None:
        rows = await db.fetch(f"SELECT {CASE_COLUMNS} FROM cases WHERE {where}", *params)
        return case_from_row(rows[0]) if rows else None

    async def open_case(
        self, user_key: str, chat_id: int, lang: str, cyrillic: bool, question: str, source: int
    ) -> tuple[Case, bool]:
        now = self._clock()
        text = clean_case_text(question)
        if not text:
            raise ValueError("a case needs a question")
        async with self._db() as db:
            rows = await db.fetch(
                "INSERT INTO cases (user_key, chat_id, lang, cyrillic, question, created_at, "
                "last_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (user_key) WHERE status = 'open' DO NOTHING RETURNING id",
                user_key,
                int(chat_id),
                lang,
                int(bool(cyrillic)),
                text,
                now,
                now,
            )
            if not rows:  # one open case per user (the partial unique index)
                existing = await self._case(db, "user_key = ? AND status = 'open'", user_key)
                assert existing is not None
                return existing, False
            case_id = int(rows[0][0])
            await db.execute(
                "INSERT INTO case_messages (case_id, origin, source_chat, source_message, "
                "text, created_at) VALUES (?, 'user', ?, ?, ?, ?)",
                case_id,
                int(chat_id),
                int(source),
                text,
                now,
            )
            case = await self._case(db, "id = ?", case_id)
        assert case is not None
        return case, True

    async def attach_post(
        self, case_id: int, staff_chat: int, post_message: int, thread_id: int | None
    ) -> None:
        async with self._db() as db:
            await db.execute(
                "UPDATE cases SET staff_chat = ?, post_message = ?, thread_id = ? WHERE id = ?",
                int(staff_chat),
                int(post_message),
                None if thread_id is None else int(thread_id),
                int(case_id),
            )

    async def drop_case(self, case_id: int) -> None:
        async with self._db() as db:
            await db.execute("DELETE FROM case_messages WHERE case_id = ?", int(case_id))
            await db.execute("DELETE FROM cases WHERE id = ?", int(case_id))

    async def open_case_of(self, user_key: str) -> Case | None:
        async with self._db() as db:
            return await self._case(db, "user_key = ? AND status = 'open'", user_key)

    async def case_of(self, user_key: str, case_id: int) -> Case | None:
        async with self._db() as db:
            return await self._case(db, "id = ? AND user_key = ?", int(case_id), user_key)

    async def set_relaying(self, case_id: int, relaying: bool) -> None:
        async with self._db() as db:
            await db.execute(
                "UPDATE cases SET relaying = ? WHERE id = ?", int(bool(relaying)), int(case_id)
            )

    async def add_case_message(
        self, case_id: int, origin: str, source_chat: int, source: int, text: str
    ) -> bool:
        if origin not in ORIGINS:
            raise ValueError(f"unknown origin {origin!r}; expected one of {ORIGINS}")
        now = self._clock()
        async with self._db() as db:
            rows = await db.fetch(
                "INSERT INTO case_messages (case_id, origin, source_chat, source_message, "
                "text, created_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (source_chat, source_message) DO NOTHING RETURNING id",
                int(case_id),
                origin,
                int(source_chat),
                int(source),
                clean_case_text(text) or "…",
                now,
            )
            if not rows:
                return False
            await db.execute("UPDATE cases SET last_at = ? WHERE id = ?", now, int(case_id))
            if origin == "staff":
                await db.execute(
                    "UPDATE cases SET first_reply_at = ? WHERE id = ? AND first_reply_at IS NULL",
                    now,
                    int(case_id),
                )
        return True

    async def link_staff_message(self, case_id: int, staff_message: int) -> None:
        """Recorded as a message of origin 'staff' with no text of its own would muddle
        the counts, so the link is kept on the user's latest message instead."""
        async with self._db() as db:
            await db.execute(
                "UPDATE case_messages SET staff_message = ? WHERE id = (SELECT MAX(id) FROM "
                "case_messages WHERE case_id = ? AND origin = 'user')",
                int(staff_message),
                int(case_id),
            )

    async def case_for_staff_message(self, staff_chat: int, message_id: int) -> Case | None:
        async with self._db() as db:
            found = await self._case(
                db, "staff_chat = ? AND post_message = ?", int(staff_chat), int(message_id)
            )
            if found is not None:
                return found
            return await self._case(
                db,
                "staff_chat = ? AND id IN (SELECT case_id FROM case_messages WHERE "
                "staff_message = ?)",
                int(staff_chat),
                int(message_id),
            )

    async def case_for_thread(self, staff_chat: int, thread_id: int) -> Case | None:
        async with self._db() as db:
            return await self._case(
                db, "staff_chat = ? AND thread_id = ?", int(staff_chat), int(thread_id)
            )

    async def close_case(self, case_id: int, by: str) -> Case | None:
        if by not in CLOSED_BY:
            raise ValueError(f"unknown closer {by!r}; expected one of {CLOSED_BY}")
        async with self._db() as db:
            changed = await db.execute(
                "UPDATE cases SET status = 'closed', closed_by = ?, closed_at = ?, "
                "relaying = 0 WHERE id = ? AND status = 'open'",
                by,
                self._clock(),
                int(case_id),
            )
            return await self._case(db, "id = ?", int(case_id)) if changed else None

    async def rate_case(self, user_key: str, case_id: int, helpful: bool) -> bool:
        async with self._db() as db:
            changed = await db.execute(
                "UPDATE cases SET rating = ? WHERE id = ? AND user_key = ? AND status = 'closed'",
                int(bool(helpful)),
                int(case_id),
                user_key,
            )
        return changed > 0

    async def case_messages_since(self, case_id: int, origin: str, since: dt.datetime) -> int:
        async with self._db() as db:
            rows = await db.fetch(
                "SELECT COUNT(*) FROM case_messages WHERE case_id = ? AND origin = ? "
                "AND created_at >= ?",
                int(case_id),
                origin,
                since,
            )
        return int(rows[0][0])

    async def cases_opened_since(self, user_key: str, since: dt.datetime) -> int:
        async with self._db() as db:
            rows = await db.fetch(
                "SELECT COUNT(*) FROM cases WHERE user_key = ? AND created_at >= ?",
                user_key,
                since,
            )
        return int(rows[0][0])

    async def case_stats(self, since: dt.datetime) -> CaseStats:
        async with self._db() as db:
            open_rows = await db.fetch("SELECT COUNT(*) FROM cases WHERE status = 'open'")
            rows = await db.fetch(
                "SELECT lang, created_at, first_reply_at FROM cases WHERE created_at >= ?", since
            )
        by_lang: dict[str, int] = {}
        waits = []
        for lang, created, first_reply in rows:
            by_lang[lang] = by_lang.get(lang, 0) + 1
            start, reply = as_datetime(created), as_datetime(first_reply)
            if start is not None and reply is not None:
                waits.append((reply - start).total_seconds())
        median = dt.timedelta(seconds=statistics.median(waits)) if waits else None
        return CaseStats(
            open=int(open_rows[0][0]), opened=len(rows), first_reply_median=median, by_lang=by_lang
        )

    async def purge_cases(self, older_than: dt.datetime) -> int:
        async with self._db() as db:
            old = "SELECT id FROM cases WHERE last_at < ?"
            await db.execute(f"DELETE FROM case_messages WHERE case_id IN ({old})", older_than)
            removed = await db.execute("DELETE FROM cases WHERE last_at < ?", older_than)
            await db.execute("DELETE FROM suggestions WHERE created_at < ?", older_than)
        return removed

    async def add_suggestion(self, entry_id: str, lang: str, text: str) -> int:
        async with self._db() as db:
            rows = await db.fetch(
                "INSERT INTO suggestions (entry_id, lang, text, created_at) "
                "VALUES (?, ?, ?, ?) RETURNING id",
                entry_id,
                lang,
                clean_case_text(text),
                self._clock(),
            )
        return int(rows[0][0])

    async def suggestions(self, limit: int = 100) -> list[Suggestion]:
        async with self._db() as db:
            rows = await db.fetch(
                "SELECT id, entry_id, lang, text, created_at FROM suggestions "
                "WHERE status = 'new' ORDER BY created_at, id LIMIT ?",
                max(0, int(limit)),
            )
        found = []
        for id_, entry_id, lang, text, created in rows:
            created_at = as_datetime(created)
            assert created_at is not None
            found.append(Suggestion(int(id_), entry_id, lang, text, created_at))
        return found

    async def dismiss_suggestion(self, suggestion_id: int) -> bool:
        async with self._db() as db:
            changed = await db.execute(
                "UPDATE suggestions SET status = 'done' WHERE id = ? AND status = 'new'",
                int(suggestion_id),
            )
        return changed > 0

    # The gaps log as the staff console reads it (here because these queries, too, are
    # written once for both backends).
    async def gap_log(self, since: dt.datetime, limit: int = 5000) -> list[Gap]:
        async with self._db() as db:
            rows = await db.fetch(
                "SELECT text, lang, reason, created_at FROM gaps WHERE created_at >= ? "
                "ORDER BY created_at DESC, id DESC LIMIT ?",
                since,
                max(0, int(limit)),
            )
        found = []
        for text, lang, reason, created in rows:
            at = as_datetime(created)
            assert at is not None
            found.append(Gap(text=text, lang=lang, reason=reason, count=1, last_seen=at))
        return found

    async def drop_gap(self, text: str, lang: str) -> int:
        async with self._db() as db:
            return await db.execute("DELETE FROM gaps WHERE text = ? AND lang = ?", text, lang)

    @staticmethod
    async def _forget_cases(db: Db, user_key: str, chat_id: int) -> int:
        mine = "SELECT id FROM cases WHERE user_key = ? OR chat_id = ?"
        deleted = await db.execute(
            f"DELETE FROM case_messages WHERE case_id IN ({mine})", user_key, int(chat_id)
        )
        deleted += await db.execute(
            "DELETE FROM cases WHERE user_key = ? OR chat_id = ?", user_key, int(chat_id)
        )
        return deleted
