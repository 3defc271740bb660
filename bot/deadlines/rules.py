"""Deadline rules as typed data: registration terms, stay limits, the patent payment
rule and working-day calendars.

Staff write them in `knowledge/rules/*.yaml` (read and validated by
`bot.deadlines.rulebook`); the calculators in `bot.deadlines.calculators` work on these
objects only, so a term changes by editing YAML, never code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from bot.errors import MigrantBotError
from bot.knowledge.entries import Source


@cache
def iso_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, lowercase, from CLDR (Babel) so no list is kept by hand."""
    from babel import Locale

    return frozenset(
        str(code).lower()
        for code in Locale("en").territories
        if isinstance(code, str) and len(code) == 2 and code.isalpha()
    )


@dataclass(frozen=True)
class Rule:
    """What every rule carries: where it applies, when, and how sure we are."""

    id: str
    country: str
    citizenships: frozenset[str] | None  # None = any citizenship (the general rule)
    text: str
    valid_from: dt.date
    valid_to: dt.date | None
    status: str
    as_of: dt.date
    caveat: str
    sources: tuple[Source, ...]
    path: str = ""
    line: int = 0

    def applies(self, country: str, citizenship: str, day: dt.date) -> bool:
        return (
            self.country == country
            and (self.citizenships is None or citizenship in self.citizenships)
            and self.valid_from <= day
            and (self.valid_to is None or day <= self.valid_to)
        )

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"


@dataclass(frozen=True)
class RegistrationRule(Rule):
    term: int = 0
    counting: str = "calendar"  # calendar | working
    count_from: str = "arrival_day"  # arrival_day | next_day
    end_on_non_working: str = "keep"  # keep | next_working_day


@dataclass(frozen=True)
class StayRule(Rule):
    window: str = "calendar_year"  # calendar_year | rolling
    window_days: int | None = None
    limit: int = 0
    max_continuous: int | None = None
    entry_day_counts: bool = True
    exit_day_counts: bool = True


@dataclass(frozen=True)
class PatentRule(Rule):
    due: str = "last_paid_day"
    end_on_non_working: str = "keep"


@dataclass(frozen=True)
class CalendarYear:
    year: int
    status: str
    as_of: dt.date
    holidays: frozenset[dt.date]
    days_off: frozenset[dt.date]
    working_days: frozenset[dt.date]
    unconfirmed_days_off: frozenset[dt.date]
    unconfirmed_working_days: frozenset[dt.date]
    caveat: str
    sources: tuple[Source, ...]

    @property
    def unconfirmed(self) -> bool:
        return bool(self.unconfirmed_days_off or self.unconfirmed_working_days)


class OutsideCalendar(MigrantBotError):
    """A working-day count reached a year the calendar does not cover."""

    def __init__(self, message: str, country: str = "", year: int = 0) -> None:
        super().__init__(message)
        self.country = country
        self.year = year


@dataclass(frozen=True)
class Calendar:
    country: str
    weekend: frozenset[int]  # ISO weekday numbers
    years: dict[int, CalendarYear] = field(default_factory=dict)
    path: str = ""

    def year(self, day: dt.date) -> CalendarYear:
        try:
            return self.years[day.year]
        except KeyError:
            covered = ", ".join(str(y) for y in sorted(self.years)) or "none"
            raise OutsideCalendar(
                f"no {self.country.upper()} working-day calendar for {day.year} (covered: "
                f"{covered}); add the year to {self.path or 'knowledge/rules'}",
                self.country,
                day.year,
            ) from None

    def is_working(self, day: dt.date) -> bool:
        """Whether `day` is a working day, counting unconfirmed moves the safe way.

        Unconfirmed days off and unconfirmed working weekends both count as working: a
        term in working days then ends no later than under any confirmed calendar.
        """
        year = self.year(day)
        if day in year.working_days or day in year.unconfirmed_working_days:
            return True
        if day in year.holidays or day in year.days_off:
            return False
        return day.isoweekday() not in self.weekend


@dataclass(frozen=True)
class RuleSet:
    registration: tuple[RegistrationRule, ...]
    stay: tuple[StayRule, ...]
    patent: tuple[PatentRule, ...]
    calendars: dict[str, Calendar]

    def all_rules(self) -> Iterable[Rule]:
        yield from self.registration
        yield from self.stay
        yield from self.patent
