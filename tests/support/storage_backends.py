"""Test helpers for the two storage backends: a private PostgreSQL schema per test and
a way to read every table straight from the database catalog.

PostgreSQL runs at 127.0.0.1:5432 (trust auth). Each test gets its own schema
(`mbt_<epoch>_<pid>_<random>`, selected with `?search_path=` in the DSN) that is
dropped afterwards, so parallel runs and leftovers of killed runs never meet; schemas of
this pattern older than two hours are dropped on the way.

If PostgreSQL is not reachable the PostgreSQL tests FAIL, so that CI notices; set
MIGRANT_BOT_SKIP_PG=1 to skip them instead on a machine without a server.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import time
from pathlib import Path

import asyncpg
import pytest

PG_DSN = os.environ.get("MIGRANT_BOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SCHEMA_PREFIX = "mbt_"
_OLD = 2 * 3600


def skip_pg() -> bool:
    return os.environ.get("MIGRANT_BOT_SKIP_PG") == "1"


async def pg_admin() -> asyncpg.Connection:
    """A connection to the test database, or a failure (skip with MIGRANT_BOT_SKIP_PG=1)."""
    try:
        return await asyncpg.connect(PG_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        message = (
            f"PostgreSQL test database {PG_DSN} is not reachable ({type(exc).__name__}: "
            f"{exc}); start it, set MIGRANT_BOT_TEST_PG, or MIGRANT_BOT_SKIP_PG=1 to skip"
        )
        if skip_pg():
            pytest.skip(message)
        pytest.fail(message)


def with_search_path(dsn: str, schema: str) -> str:
    return f"{dsn}{'&' if '?' in dsn else '?'}search_path={schema}"


async def _drop_old_schemas(conn: asyncpg.Connection) -> None:
    names = await conn.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", SCHEMA_PREFIX + "%"
    )
    now = time.time()
    for (name,) in names:
        match = re.fullmatch(rf"{SCHEMA_PREFIX}(\d+)_\w+", name)
        if match and now - int(match.group(1)) > _OLD:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


class PgSchema:
    """A private schema; `dsn` selects it."""

    def __init__(self, conn: asyncpg.Connection, name: str) -> None:
        self.conn = conn
        self.name = name
        self.dsn = with_search_path(PG_DSN, name)

    @classmethod
    async def create(cls) -> PgSchema:
        conn = await pg_admin()
        await _drop_old_schemas(conn)
        name = f"{SCHEMA_PREFIX}{int(time.time())}_{os.getpid()}_{secrets.token_hex(4)}"
        await conn.execute(f'CREATE SCHEMA "{name}"')
        return cls(conn, name)

    async def drop(self) -> None:
        try:
            await self.conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
        finally:
            await self.conn.close()

    async def tables(self) -> dict[str, list[tuple]]:
        """Every table of the schema (from the catalog) with all its rows."""
        names = await self.conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 "
            "AND table_type = 'BASE TABLE' ORDER BY table_name",
            self.name,
        )
        out: dict[str, list[tuple]] = {}
        for (table,) in names:
            rows = await self.conn.fetch(f'SELECT * FROM "{self.name}"."{table}"')
            out[table] = [tuple(row.values()) for row in rows]
        return out

    async def execute(self, sql: str, *args) -> str:
        return await self.conn.execute(sql.replace("{schema}", f'"{self.name}"'), *args)


def sqlite_tables(path: Path) -> dict[str, list[tuple]]:
    """Every table of the SQLite file (from sqlite_master) with all its rows."""
    conn = sqlite3.connect(path)
    try:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {name: conn.execute(f'SELECT * FROM "{name}"').fetchall() for name in names}
    finally:
        conn.close()


class Backend:
    """Opens storages of one kind on one test database and cleans up after the test."""

    name: str

    def __init__(self) -> None:
        self._opened: list = []

    def make(self, **options):
        raise NotImplementedError

    async def open(self, **options):
        storage = self.make(**options)
        await storage.open()
        self._opened.append(storage)
        return storage

    async def tables(self) -> dict[str, list[tuple]]:
        raise NotImplementedError

    async def cleanup(self) -> None:
        for storage in self._opened:
            await storage.close()


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def make(self, **options):
        from bot.storage.sqlite import SQLiteStorage

        return SQLiteStorage(self.path, **options)

    async def tables(self) -> dict[str, list[tuple]]:
        return sqlite_tables(self.path)


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self, schema: PgSchema) -> None:
        super().__init__()
        self.schema = schema

    def make(self, **options):
        from bot.storage.postgres import PostgresStorage

        options.setdefault("max_size", 4)
        return PostgresStorage(self.schema.dsn, **options)

    async def tables(self) -> dict[str, list[tuple]]:
        return await self.schema.tables()

    async def cleanup(self) -> None:
        try:
            await super().cleanup()
        finally:
            await self.schema.drop()


async def make_backend(kind: str, tmp_path: Path) -> Backend:
    if kind == "sqlite":
        return SQLiteBackend(tmp_path / "db" / "bot.sqlite")
    return PostgresBackend(await PgSchema.create())


class Clock:
    """A settable clock for storages and schedulers (aware UTC)."""

    def __init__(self, now) -> None:
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, **delta) -> None:
        import datetime as dt

        self.now = self.now + dt.timedelta(**delta)
