"""What the bot keeps between messages, behind one interface: SQLite by default,
PostgreSQL when several workers share state (DATABASE_URL=postgresql://...).

Only what features need is stored (see ../shared/DESIGN.md, "Privacy and safety"):
- the interface language a user picked, keyed by a salted hash of the user id;
- reminders: the chat id (needed to deliver them), kind, dates and language, nothing else;
- anonymised events for /stats and feedback votes (no user id, no text);
- the gaps log: abstained or down-voted questions with digits, phone numbers and e-mail
  addresses stripped, purged after GAPS_RETENTION_DAYS;
- cases a user opened with a consultant: the user's chat id (needed to relay replies),
  language, the messages both ways with contacts and document numbers masked, purged
  CASE_RETENTION_DAYS after the last message; paraphrase suggestions staff made from
  them (/teach: an entry id, a language, the masked question).
`forget(user_id)` removes every row that can be tied to the user.

The interface is async because the bot is; implementations must never block the
event loop for long (SQLite calls are short; PostgreSQL uses asyncpg).
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Sequence
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
    attempts: int = 0  # deliveries started; >0 when claimed again: maybe sent already


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


@dataclass(frozen=True)
class Case:
    """A question handed to a consultant. `chat_id` is the user's private chat, used
    only to relay replies; it is never shown to staff."""

    id: int
    chat_id: int
    lang: str
    cyrillic: bool  # Uzbek replies in Cyrillic
    status: str  # open | closed
    relaying: bool  # the user's messages go to the consultant (not to the assistant)
    question: str  # the first message, masked
    staff_chat: int | None
    post_message: int | None  # the case's first message in the staff chat
    thread_id: int | None  # its forum topic, when the staff chat has topics
    created_at: dt.datetime
    first_reply_at: dt.datetime | None
    closed_by: str | None  # user | staff | blocked | withdrawn
    rating: int | None  # 1 helpful, 0 not


@dataclass(frozen=True)
class CaseStats:
    open: int
    opened: int  # since the date asked for
    first_reply_median: dt.timedelta | None  # over the cases opened since then
    by_lang: dict[str, int]


@dataclass(frozen=True)
class Suggestion:
    """A question staff suggested as a new paraphrase of an entry (/teach)."""

    id: int
    entry_id: str
    lang: str
    text: str
    created_at: dt.datetime


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
    async def mark_attempt(self, reminder_id: int) -> None:
        """A delivery of a claimed reminder starts now (recorded before sending)."""

    @abc.abstractmethod
    async def heartbeat(self, worker: str) -> int:
        """Refresh the claims this worker holds; returns how many."""

    @abc.abstractmethod
    async def mark_blocked(self, chat_id: int) -> int:
        """The user blocked the bot: stop all their reminders; returns how many."""

    # -- cases with a consultant (see bot/storage/cases.py for the shared queries)
    @abc.abstractmethod
    async def open_case(
        self, user_key: str, chat_id: int, lang: str, cyrillic: bool, question: str, source: int
    ) -> tuple[Case, bool]:
        """A new open case with its first message (`source`: the user's message id);
        (case, True). When the user already has an open case, (that case, False)."""

    @abc.abstractmethod
    async def attach_post(
        self, case_id: int, staff_chat: int, post_message: int, thread_id: int | None
    ) -> None: ...

    @abc.abstractmethod
    async def drop_case(self, case_id: int) -> None:
        """Delete a case that never reached staff."""

    @abc.abstractmethod
    async def open_case_of(self, user_key: str) -> Case | None: ...

    @abc.abstractmethod
    async def case_of(self, user_key: str, case_id: int) -> Case | None:
        """One of the user's own cases, open or closed; None when not theirs."""

    @abc.abstractmethod
    async def set_relaying(self, case_id: int, relaying: bool) -> None: ...

    @abc.abstractmethod
    async def add_case_message(
        self, case_id: int, origin: str, source_chat: int, source: int, text: str
    ) -> bool:
        """Record a relayed message (origin user or staff); False when this source
        message was recorded before (a redelivered update: do not relay it again)."""

    @abc.abstractmethod
    async def link_staff_message(self, case_id: int, staff_message: int) -> None:
        """A message in the staff chat that belongs to the case (replies to it count)."""

    @abc.abstractmethod
    async def case_for_staff_message(self, staff_chat: int, message_id: int) -> Case | None: ...

    @abc.abstractmethod
    async def case_for_thread(self, staff_chat: int, thread_id: int) -> Case | None: ...

    @abc.abstractmethod
    async def close_case(self, case_id: int, by: str) -> Case | None:
        """Close an open case; the case when this call closed it, None when it was
        closed already (so that only one worker tells the user)."""

    @abc.abstractmethod
    async def rate_case(self, user_key: str, case_id: int, helpful: bool) -> bool: ...

    @abc.abstractmethod
    async def case_messages_since(self, case_id: int, origin: str, since: dt.datetime) -> int: ...

    @abc.abstractmethod
    async def cases_opened_since(self, user_key: str, since: dt.datetime) -> int: ...

    @abc.abstractmethod
    async def case_stats(self, since: dt.datetime) -> CaseStats: ...

    @abc.abstractmethod
    async def purge_cases(self, older_than: dt.datetime) -> int:
        """Delete cases (and their messages) whose last message is older than the
        cut-off; returns cases deleted."""

    @abc.abstractmethod
    async def add_suggestion(self, entry_id: str, lang: str, text: str) -> int: ...

    @abc.abstractmethod
    async def suggestions(self, limit: int = 100) -> list[Suggestion]: ...

    @abc.abstractmethod
    async def dismiss_suggestion(self, suggestion_id: int) -> bool: ...

    # -- the gaps log as the staff console reads it
    @abc.abstractmethod
    async def gap_log(self, since: dt.datetime, limit: int = 5000) -> list[Gap]:
        """Every logged gap since `since`, newest first, one per row (`count` 1,
        `last_seen` the time it was logged): the console groups them by meaning and
        counts them per language and week."""

    @abc.abstractmethod
    async def drop_gap(self, text: str, lang: str) -> int:
        """Delete the gaps with this text and language (staff handled them: the question
        is now a paraphrase of an entry); returns rows deleted."""

    # -- updates seen (exactly-once handling across redeliveries and workers)
    @abc.abstractmethod
    async def claim_update(
        self, update_id: int, stale_after: dt.timedelta, payload: str | None = None
    ) -> bool:
        """Take an update for handling: False when it was handled, or is being handled
        by someone else for less than `stale_after` (a worker that stopped mid-way
        loses its claim after that). With `payload` (the update's JSON) it is kept
        until handled: the polling inbox, so that a crash loses nothing."""

    @abc.abstractmethod
    async def accept_updates(
        self, updates: Sequence[tuple[int, str | None]], stale_after: dt.timedelta
    ) -> set[int]:
        """`claim_update` with payloads for a batch, in one transaction."""

    @abc.abstractmethod
    async def finish_update(self, update_id: int) -> None: ...

    @abc.abstractmethod
    async def release_update(self, update_id: int) -> None:
        """Give up the claim on an update whose handling was cut off."""

    @abc.abstractmethod
    async def release_updates(self) -> int:
        """Forget every claim still 'handling' without a payload (the one polling
        process starts: claims of its previous run are stale by definition, and
        Telegram delivers those updates again); returns how many."""

    @abc.abstractmethod
    async def unfinished_updates(self) -> list[tuple[int, str]]:
        """(update id, JSON) of the updates a previous run accepted but did not finish."""

    @abc.abstractmethod
    async def purge_updates(self, older_than: dt.datetime) -> int: ...

    # -- privacy
    @abc.abstractmethod
    async def forget(self, user_key: str, chat_id: int) -> int:
        """Delete everything stored about the user (cases too); returns rows deleted."""
