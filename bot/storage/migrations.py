"""Versioned schema migrations, shared by the SQLite and PostgreSQL backends.

Each step has a version, a description and the SQL for both databases. `open()` applies
the steps newer than the database's `schema_version` in ONE transaction (both databases
have transactional DDL), so a failed upgrade leaves the old schema intact. A database
whose version is newer than the code knows is refused: an older release must not write
into a schema it does not understand (roll the code forward, or use another database).

Rules for adding a step: append, never edit a released step; keep both dialects in sync;
statements are separated by ";" at the end of a line (no ";" inside literals).

What the tables hold is deliberately minimal (see bot/storage/__init__.py):
- languages: user_key -> interface language;
- events: per hour bucket, decision, language and entry, a counter (no user, no text);
- feedback: one vote per user_key and entry;
- gaps: anonymised question texts, purged after GAPS_RETENTION_DAYS;
- reminders: the chat id needed to deliver, kind, dates, language, delivery state;
- cases, case_messages: questions handed to a consultant, the user's chat id needed to
  relay replies, masked messages both ways, purged CASE_RETENTION_DAYS after the last;
- suggestions: paraphrases staff proposed from a case (entry id, language, masked text);
- updates: the ids of Telegram updates being handled or handled, so a redelivered
  update is not answered twice; kept two days (Telegram keeps 24 hours). In polling
  mode an update being handled is kept whole (payload) until it is handled, so that a
  crash loses nothing; the payload is cleared the moment it is handled.
Timestamps are UTC (SQLite: text 'YYYY-MM-DD HH:MM:SS.ffffff'; PostgreSQL: timestamptz).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.storage import StorageError


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sqlite: str
    postgres: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial schema: languages, events, feedback, gaps, reminders",
        sqlite="""
CREATE TABLE languages (
    user_key TEXT PRIMARY KEY,
    lang TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE events (
    bucket TEXT NOT NULL,
    decision TEXT NOT NULL,
    lang TEXT NOT NULL,
    entry_id TEXT NOT NULL DEFAULT '',
    n INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, decision, lang, entry_id)
);
CREATE TABLE feedback (
    user_key TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    lang TEXT NOT NULL,
    helpful INTEGER NOT NULL CHECK (helpful IN (0, 1)),
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_key, entry_id)
);
CREATE INDEX feedback_created ON feedback (created_at);
CREATE TABLE gaps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_key TEXT NOT NULL,
    text TEXT NOT NULL,
    lang TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX gaps_created ON gaps (created_at);
CREATE INDEX gaps_user ON gaps (user_key);
CREATE TABLE reminders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_key TEXT NOT NULL,
    chat_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    due TEXT NOT NULL,
    remind_on TEXT NOT NULL,
    lang TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'cancelled', 'blocked')),
    claimed_by TEXT,
    claimed_at TEXT,
    sent_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX reminders_due ON reminders (status, remind_on, id);
CREATE INDEX reminders_user ON reminders (user_key);
CREATE INDEX reminders_chat ON reminders (chat_id);
CREATE UNIQUE INDEX reminders_active ON reminders (user_key, kind, due)
    WHERE status IN ('pending', 'sending');
""",
        postgres="""
CREATE TABLE languages (
    user_key TEXT PRIMARY KEY,
    lang TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE events (
    bucket TIMESTAMPTZ NOT NULL,
    decision TEXT NOT NULL,
    lang TEXT NOT NULL,
    entry_id TEXT NOT NULL DEFAULT '',
    n BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, decision, lang, entry_id)
);
CREATE TABLE feedback (
    user_key TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    lang TEXT NOT NULL,
    helpful BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_key, entry_id)
);
CREATE INDEX feedback_created ON feedback (created_at);
CREATE TABLE gaps (
    id BIGSERIAL PRIMARY KEY,
    user_key TEXT NOT NULL,
    text TEXT NOT NULL,
    lang TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX gaps_created ON gaps (created_at);
CREATE INDEX gaps_user ON gaps (user_key);
CREATE TABLE reminders (
    id BIGSERIAL PRIMARY KEY,
    user_key TEXT NOT NULL,
    chat_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    due DATE NOT NULL,
    remind_on DATE NOT NULL,
    lang TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'cancelled', 'blocked')),
    claimed_by TEXT,
    claimed_at TIMESTAMPTZ,
    sent_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX reminders_due ON reminders (status, remind_on, id);
CREATE INDEX reminders_user ON reminders (user_key);
CREATE INDEX reminders_chat ON reminders (chat_id);
CREATE UNIQUE INDEX reminders_active ON reminders (user_key, kind, due)
    WHERE status IN ('pending', 'sending');
""",
    ),
    Migration(
        2,
        "consultant handoff: cases, case_messages, suggestions",
        sqlite="""
CREATE TABLE cases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_key TEXT NOT NULL,
    chat_id INTEGER NOT NULL,
    lang TEXT NOT NULL,
    cyrillic INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    relaying INTEGER NOT NULL DEFAULT 1,
    question TEXT NOT NULL,
    staff_chat INTEGER,
    post_message INTEGER,
    thread_id INTEGER,
    created_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    first_reply_at TEXT,
    closed_at TEXT,
    closed_by TEXT,
    rating INTEGER
);
CREATE UNIQUE INDEX cases_open ON cases (user_key) WHERE status = 'open';
CREATE INDEX cases_user ON cases (user_key);
CREATE INDEX cases_chat ON cases (chat_id);
CREATE INDEX cases_post ON cases (staff_chat, post_message);
CREATE INDEX cases_thread ON cases (staff_chat, thread_id);
CREATE INDEX cases_last ON cases (last_at);
CREATE TABLE case_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    origin TEXT NOT NULL CHECK (origin IN ('user', 'staff')),
    source_chat INTEGER NOT NULL,
    source_message INTEGER NOT NULL,
    staff_message INTEGER,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX case_messages_source ON case_messages (source_chat, source_message);
CREATE INDEX case_messages_case ON case_messages (case_id, origin, created_at);
CREATE INDEX case_messages_staff ON case_messages (staff_message);
CREATE TABLE suggestions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id TEXT NOT NULL,
    lang TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'done')),
    created_at TEXT NOT NULL
);
CREATE INDEX suggestions_status ON suggestions (status, created_at);
""",
        postgres="""
CREATE TABLE cases (
    id BIGSERIAL PRIMARY KEY,
    user_key TEXT NOT NULL,
    chat_id BIGINT NOT NULL,
    lang TEXT NOT NULL,
    cyrillic INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    relaying INTEGER NOT NULL DEFAULT 1,
    question TEXT NOT NULL,
    staff_chat BIGINT,
    post_message BIGINT,
    thread_id BIGINT,
    created_at TIMESTAMPTZ NOT NULL,
    last_at TIMESTAMPTZ NOT NULL,
    first_reply_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    closed_by TEXT,
    rating INTEGER
);
CREATE UNIQUE INDEX cases_open ON cases (user_key) WHERE status = 'open';
CREATE INDEX cases_user ON cases (user_key);
CREATE INDEX cases_chat ON cases (chat_id);
CREATE INDEX cases_post ON cases (staff_chat, post_message);
CREATE INDEX cases_thread ON cases (staff_chat, thread_id);
CREATE INDEX cases_last ON cases (last_at);
CREATE TABLE case_messages (
    id BIGSERIAL PRIMARY KEY,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    origin TEXT NOT NULL CHECK (origin IN ('user', 'staff')),
    source_chat BIGINT NOT NULL,
    source_message BIGINT NOT NULL,
    staff_message BIGINT,
    text TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX case_messages_source ON case_messages (source_chat, source_message);
CREATE INDEX case_messages_case ON case_messages (case_id, origin, created_at);
CREATE INDEX case_messages_staff ON case_messages (staff_message);
CREATE TABLE suggestions (
    id BIGSERIAL PRIMARY KEY,
    entry_id TEXT NOT NULL,
    lang TEXT NOT NULL,
    text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'done')),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX suggestions_status ON suggestions (status, created_at);
""",
    ),
    Migration(
        3,
        "updates: Telegram update ids being handled or handled (no content)",
        sqlite="""
CREATE TABLE updates (
    update_id BIGINT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('handling', 'done')),
    claimed_at TEXT NOT NULL
);
CREATE INDEX updates_claimed ON updates (state, claimed_at);
""",
        postgres="""
CREATE TABLE updates (
    update_id BIGINT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('handling', 'done')),
    claimed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX updates_claimed ON updates (state, claimed_at);
""",
    ),
    Migration(
        4,
        "reminders.attempts: deliveries started, so a crash causes at most one duplicate",
        sqlite="""
ALTER TABLE reminders ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
""",
        postgres="""
ALTER TABLE reminders ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
""",
    ),
    Migration(
        5,
        "updates.payload: an update accepted but not yet handled (the polling inbox)",
        sqlite="""
ALTER TABLE updates ADD COLUMN payload TEXT;
""",
        postgres="""
ALTER TABLE updates ADD COLUMN payload TEXT;
""",
    ),
)

LATEST: int = MIGRATIONS[-1].version

_VERSION_TABLE_SQLITE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""
_VERSION_TABLE_POSTGRES = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)"""
# Serialises concurrent upgrades of one PostgreSQL database by several workers.
_PG_LOCK_KEY = 0x6D62_5F73  # "mb_s"


def statements(sql: str) -> list[str]:
    """The SQL script split into statements (";" at the end of a line)."""
    parts = [part.strip() for part in sql.replace("\r\n", "\n").split(";\n")]
    return [part.rstrip(";").strip() for part in parts if part.strip().rstrip(";").strip()]


def pending(current: int, where: str, migrations: tuple[Migration, ...] = MIGRATIONS):
    """The steps to apply to a database at `current`; refuses a newer database."""
    latest = migrations[-1].version if migrations else 0
    if current > latest:
        raise StorageError(
            f"the database {where} has schema version {current}, newer than this release "
            f"of migrant-bot knows (up to {latest}); upgrade migrant-bot, or point "
            "DATABASE_URL at another database"
        )
    return [step for step in migrations if step.version > current]


def _check_order(migrations: tuple[Migration, ...]) -> None:
    versions = [step.version for step in migrations]
    if versions != sorted(set(versions)):
        raise AssertionError(f"migration versions must be unique and increasing: {versions}")


_check_order(MIGRATIONS)


async def apply_sqlite(
    conn: Any, where: str, migrations: tuple[Migration, ...] = MIGRATIONS
) -> list[int]:
    """Bring an aiosqlite connection (autocommit mode) to the latest version; returns
    the versions applied (empty when already up to date)."""
    await conn.execute("BEGIN IMMEDIATE")
    try:
        await conn.execute(_VERSION_TABLE_SQLITE)
        async with conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version") as cur:
            (current,) = await cur.fetchone()
        steps = pending(int(current), where, migrations)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
        for step in steps:
            for statement in statements(step.sqlite):
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (step.version, step.description, now),
            )
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    return [step.version for step in steps]


async def apply_postgres(
    conn: Any, where: str, migrations: tuple[Migration, ...] = MIGRATIONS
) -> list[int]:
    """Bring an asyncpg connection to the latest version, under an advisory lock so that
    workers starting together do not race; returns the versions applied."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _PG_LOCK_KEY)
        await conn.execute(_VERSION_TABLE_POSTGRES)
        current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        steps = pending(int(current), where, migrations)
        for step in steps:
            await conn.execute(step.postgres)
            await conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) "
                "VALUES ($1, $2, now())",
                step.version,
                step.description,
            )
    return [step.version for step in steps]
