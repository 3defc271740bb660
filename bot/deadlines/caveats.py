"""Caveats of a deadline estimate as data: a code and its parameters.

A calculator cannot know who reads its result: the CLI prints English, the bot speaks
the user's language. So calculators return `Caveat(code, params)` and each front end
words it at the edge: `Caveat.english()` for the CLI and JSON, the bot's gettext
catalogue for Telegram (bot/telegram/deadlines/views.py). A caveat whose wording comes
from staff (the rule's or the calendar's own `caveat:` field) travels as `note`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CaveatCode(StrEnum):
    # The rule's own caveat, written by staff in knowledge/rules (params: note).
    RULE_NOTE = "rule_note"
    # A calendar-day term ends on a day off and is not moved (params: day).
    DAY_OFF_NOT_MOVED = "day_off_not_moved"
    # The patent is due on a day off (params: day).
    PAYMENT_ON_DAY_OFF = "payment_on_day_off"
    # Whether a day is off is unknown: the calendar lacks its year (params: day, year).
    DAY_OFF_UNKNOWN = "day_off_unknown"
    # A calendar year with unconfirmed moves, counted as working (params: country, year).
    CALENDAR_UNCONFIRMED = "calendar_unconfirmed"
    # A draft calendar year with a note from staff (params: country, year, note).
    CALENDAR_DRAFT = "calendar_draft"
    # The trips already broke the limit on an earlier day (params: day).
    EARLIER_BREACH = "earlier_breach"
    # The stay would run past the end of the rule in force (params: end).
    RULE_ENDS = "rule_ends"


_ENGLISH: dict[CaveatCode, str] = {
    CaveatCode.RULE_NOTE: "{note}",
    CaveatCode.DAY_OFF_NOT_MOVED: (
        "The last day, {day} ({weekday}), is a day off; it is not moved to the next working "
        "day here, so register before it."
    ),
    CaveatCode.PAYMENT_ON_DAY_OFF: (
        "{day} is a day off ({weekday}): banks and offices may not process a payment that "
        "day; pay on a working day before it."
    ),
    CaveatCode.DAY_OFF_UNKNOWN: (
        "Whether {day} is a day off is unknown: there is no {country} working-day calendar "
        "for {year} in knowledge/rules."
    ),
    CaveatCode.CALENDAR_UNCONFIRMED: (
        "The {country} calendar for {year} has unconfirmed moves of days off; they are "
        "counted as working days (the earlier date). {note}"
    ),
    CaveatCode.CALENDAR_DRAFT: "{country} calendar {year}: {note}",
    CaveatCode.EARLIER_BREACH: (
        "Your trips already exceed the limit on {day}: an overstay may be on record; ask "
        "the migration authority before you travel."
    ),
    CaveatCode.RULE_ENDS: (
        "The stay would run past {end}, when the rule in force ends; the next rule may "
        "count differently."
    ),
}


@dataclass(frozen=True)
class Caveat:
    code: CaveatCode
    params: dict[str, Any] = field(default_factory=dict)

    def english(self) -> str:
        values = dict(self.params)
        for key, value in self.params.items():
            if isinstance(value, dt.date):
                values.setdefault("weekday", f"{value:%A}")
                values[key] = value.isoformat()
            if key == "country":
                values[key] = str(value).upper()
        return _ENGLISH[self.code].format(**values).strip()

    def __str__(self) -> str:
        return self.english()

    def to_dict(self) -> dict[str, Any]:
        params = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in self.params.items()}
        return {"code": str(self.code), "params": params, "text": self.english()}
