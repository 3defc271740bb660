"""What the bot keeps between messages, behind one interface: SQLite by default,
PostgreSQL when several workers share state (DATABASE_URL=postgresql://...).

Only what features need is stored (see ../shared/DESIGN.md, "Privacy and safety"):
- the interface language a user picked, keyed by a salted hash of the user id;
- reminders: the chat id (needed to deliver them), kind, dates and language, nothing else;
- anonymised events for /stats and feedback votes (no user id, no text);
- the gaps log: abstained or down-voted questions with digits, phone numbers and e-mail
  addresses stripped, purged after GAPS_RETENTION_DAYS.
`forget(user_id)` removes every row that can be tied to the user.

The interface is async because the bot is; implementations must never block the
event loop for long (SQLite calls are short; PostgreSQL uses asyncpg).
"""

from __future__ import annotations

import abc
import datetime as dt
from dataclasses import dataclass

from bot.errors import MigrantBotError


class StorageError(MigrantBotError):
    """The database cannot be reached or refused an operation; the message says which
    database and what to check."""


class StorageUnavailable(StorageError):
    """The database is down or unreachable. Questions can still be answered; features
    that need storage (reminders, /stats) report they are unavailable."""


@dataclass(frozen=True)
class Reminder:
    id: int
    chat_id: int
    kind: str  # patent | registration | stay
    due: dt.date  # the deadline itself
    remind_on: dt.date  # the day the reminder goes out
    lang: str
    status: str = "pending"  # pending | sending | sent | cancelled | blocked


@dataclass(frozen=True)
class Stats:
    since: dt.datetime
    by_decision: dict[str, int]
    by_lang: dict[str, int]
    by_entry: dict[str, int]
    helpful: int
    unhelpful: int


@dataclass(frozen=True)
class Gap:
    text: str  # anonymised
    lang: str
    reason: str  # abstain | downvote
    count: int
    last_seen: dt.datetime


class Storage(abc.ABC):
    """Every method is safe to call concurrently from many handlers."""

    # -- lifecycle
    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and apply pending schema migrations."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    # -- interface language (user_key = salted hash of the Telegram user id)
    @abc.abstractmethod
    async def get_language(self, user_key: str) -> str | None: ...

    @abc.abstractmethod
    async def set_language(self, user_key: str, lang: str) -> None: ...

    # -- anonymised analytics
    @abc.abstractmethod
    async def log_event(self, decision: str, lang: str, entry_id: str | None) -> None:
        """One answered/clarified/abstained question: no user, no text."""

    @abc.abstractmethod
    async def add_feedback(
        self, user_key: str, entry_id: str, lang: str, helpful: bool, question: str | None
    ) -> None:
        """A vote. `question` (already anonymised) goes to the gaps log when the vote is
        negative; a second vote by the same user on the same entry replaces the first."""

    @abc.abstractmethod
    async def log_gap(self, user_key: str, text: str, lang: str, reason: str) -> None:
        """An abstained or down-voted question, text already anonymised."""

    @abc.abstractmethod
    async def stats(self, since: dt.datetime) -> Stats: ...

    @abc.abstractmethod
    async def gaps(self, since: dt.datetime, limit: int = 20) -> list[Gap]: ...

    @abc.abstractmethod
    async def purge(self, older_than: dt.datetime) -> int:
        """Delete feedback and gaps older than the cut-off; returns rows deleted."""

    # -- reminders
    @abc.abstractmethod
    async def add_reminder(
        self, user_key: str, chat_id: int, kind: str, due: dt.date, remind_on: dt.date, lang: str
    ) -> Reminder: ...

    @abc.abstractmethod
    async def reminders(self, user_key: str) -> list[Reminder]:
        """The user's pending reminders."""

    @abc.abstractmethod
    async def cancel_reminder(self, user_key: str, reminder_id: int) -> bool:
        """Cancel one of the user's own reminders; False (and nothing changed) when the
        id is not theirs or does not exist."""

    @abc.abstractmethod
    async def claim_due(self, today: dt.date, worker: str, limit: int = 50) -> list[Reminder]:
        """Atomically take pending reminders due on or before `today` for this worker,
        so that no other worker can take the same ones (exactly-once delivery)."""

    @abc.abstractmethod
    async def mark_sent(self, reminder_id: int) -> None: ...

    @abc.abstractmethod
    async def release(self, reminder_id: int) -> None:
        """Give a claimed reminder back (delivery failed temporarily)."""

    @abc.abstractmethod
    async def mark_blocked(self, chat_id: int) -> int:
        """The user blocked the bot: stop all their reminders; returns how many."""

    # -- privacy
    @abc.abstractmethod
    async def forget(self, user_key: str, chat_id: int) -> int:
        """Delete everything stored about the user; returns rows deleted."""
