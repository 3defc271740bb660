"""Pick the storage backend from DATABASE_URL (one place, so the bot, the scheduler and
the CLI always agree)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.storage import Storage, StorageError

if TYPE_CHECKING:
    from bot.settings import Settings

_ACCEPTED = (
    "empty (SQLite in DATA_DIR/bot.sqlite), sqlite:///relative/path.sqlite, "
    "sqlite:////absolute/path.sqlite, or postgresql://user@host:5432/dbname"
)


def open_storage(settings: Settings) -> Storage:
    """The configured storage, not yet opened (call `await storage.open()`)."""
    url = (settings.database_url or "").strip()
    if not url:
        path = Path(settings.sqlite_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        from bot.storage.sqlite import SQLiteStorage

        return SQLiteStorage(path)
    lowered = url.lower()
    if lowered.startswith("sqlite:///"):
        raw = url[len("sqlite:///") :]
        if not raw or raw.startswith(":memory:"):
            raise StorageError(
                f"DATABASE_URL={url!r} names no file; the bot needs a file that survives "
                f"restarts. Accepted forms: {_ACCEPTED}"
            )
        path = Path(raw)
        path.parent.mkdir(parents=True, exist_ok=True)
        from bot.storage.sqlite import SQLiteStorage

        return SQLiteStorage(path)
    if lowered.startswith(("postgresql://", "postgres://")):
        from bot.storage.postgres import PostgresStorage

        return PostgresStorage(url)
    scheme = url.split("://", 1)[0] if "://" in url else url[:20]
    raise StorageError(
        f"DATABASE_URL has an unsupported form (starts with {scheme!r}). "
        f"Accepted forms: {_ACCEPTED}"
    )
