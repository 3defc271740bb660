"""Validation and time helpers shared by the storage backends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from bot.privacy import anonymise
from bot.storage import Reminder

# The columns of a reminder, in the order `reminder_from_row` reads them (both backends
# select exactly these).
REMINDER_COLUMNS = "id, chat_id, kind, due, remind_on, lang, status, attempts"

KINDS: tuple[str, ...] = ("patent", "registration", "stay")
GAP_REASONS: tuple[str, ...] = ("abstain", "downvote")
# A claim whose heartbeat is older than this belongs to a worker that crashed: the
# reminder goes back to pending. Live workers refresh their claims every
# HEARTBEAT_EVERY (bot/deadlines/reminders.py, 15 s), so a minute is four missed beats.
STALE_CLAIM = dt.timedelta(minutes=1)
# A reminder whose delivery was interrupted this many times is not tried again: it may
# have reached the user each time (at most one duplicate, counted), never a third.
MAX_ATTEMPTS = 2

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """Aware UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def hour_bucket(moment: dt.datetime) -> dt.datetime:
    """Events are counted per hour: the exact time of a question is never stored."""
    return as_utc(moment).replace(minute=0, second=0, microsecond=0)


def check_reminder(kind: str, due: dt.date, remind_on: dt.date, lang: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown reminder kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not isinstance(due, dt.date) or not isinstance(remind_on, dt.date):
        raise ValueError("due and remind_on must be dates")
    if remind_on > due:
        raise ValueError(f"remind_on {remind_on} is after the deadline {due}")
    if not lang:
        raise ValueError("a reminder needs a language")


def check_reason(reason: str) -> None:
    if reason not in GAP_REASONS:
        raise ValueError(f"unknown gap reason {reason!r}; expected one of {GAP_REASONS}")


def clean_gap_text(text: str) -> str:
    """Anonymised again here (idempotent): the gaps log must never hold raw text even
    if a caller forgets."""
    return anonymise(text)


def as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def reminder_from_row(row: Sequence[Any]) -> Reminder:
    """A reminder from a row of `REMINDER_COLUMNS`: PostgreSQL gives dates, SQLite
    gives their ISO text."""
    id_, chat_id, kind, due, remind_on, lang, status, attempts = row
    return Reminder(
        id=int(id_),
        chat_id=int(chat_id),
        kind=kind,
        due=due if isinstance(due, dt.date) else dt.date.fromisoformat(due),
        remind_on=(
            remind_on if isinstance(remind_on, dt.date) else dt.date.fromisoformat(remind_on)
        ),
        lang=lang,
        status=status,
        attempts=int(attempts),
    )
