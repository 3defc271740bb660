"""Deadline calculators: registration deadline, stay-limit counter, patent payment date.

Pure functions over `bot.deadlines.rules` data (no Telegram, no I/O), so the CLI, the bot and the
reminder scheduler compute the same dates. Every result names the rule, its sources and
status, and carries the caveats and an "estimate, check with ..." note: a wrong date can
cost a person years, so the calculators never present a figure as certain.

Where the law is uncertain the calculators take the earlier date (a term counts the
arrival day, a last day on a day off is not moved, unconfirmed holiday moves count as
working days) and say so in the caveats.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.deadlines.caveats import Caveat, CaveatCode
from bot.deadlines.dates import Trip, check_trips, parse_trips
from bot.deadlines.rules import (
    Calendar,
    OutsideCalendar,
    RegistrationRule,
    Rule,
    RuleSet,
    StayRule,
    iso_countries,
)
from bot.domain import STAY_COUNTRIES
from bot.errors import InputError
from bot.knowledge.entries import Source

CHECK_WITH = {
    "ru": "the MVD migration office (Russia)",
    "kz": "the migration police (Kazakhstan)",
}
SIMULATION_LIMIT_DAYS = 800  # far beyond any limit in the rules; guards the loop


class CalcError(InputError):
    """Input the calculator cannot use; `code` lets the bot pick a translated message."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class RuleInfo:
    """What a user must see about the rule behind a figure."""

    rule_id: str
    text: str
    status: str
    as_of: dt.date
    sources: tuple[Source, ...]

    @classmethod
    def of(cls, rule: Rule) -> RuleInfo:
        return cls(rule.id, rule.text, rule.status, rule.as_of, rule.sources)


def _estimate(rule: Rule) -> str:
    who = CHECK_WITH.get(rule.country, "the migration authority")
    state = "a draft, not yet checked against the official text" if rule.is_draft else "reviewed"
    return (
        f"This is an estimate from rule {rule.id} ({state}, as of {rule.as_of}); check it "
        f"with {who} before you rely on it."
    )


def _sources_json(sources: tuple[Source, ...]) -> list[dict[str, str]]:
    return [{"title": s.title, "url": s.url, "supports": s.supports} for s in sources]


def _base_json(info: RuleInfo, caveats: tuple[Caveat, ...], estimate: str) -> dict[str, Any]:
    return {
        "rule_id": info.rule_id,
        "rule_text": info.text,
        "status": info.status,
        "as_of": info.as_of.isoformat(),
        "sources": _sources_json(info.sources),
        "caveats": [c.english() for c in caveats],
        "caveat_codes": [c.to_dict() for c in caveats],
        "estimate": estimate,
    }


@dataclass(frozen=True)
class RegistrationResult:
    deadline: dt.date
    arrived: dt.date
    term: int
    counting: str
    rule: RuleInfo
    caveats: tuple[Caveat, ...]
    estimate: str
    deadline_is_day_off: bool | None = None  # None: no calendar for that year

    @property
    def rule_id(self) -> str:
        return self.rule.rule_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "deadline": self.deadline.isoformat(),
            "arrived": self.arrived.isoformat(),
            "term": self.term,
            "counting": self.counting,
            "deadline_is_day_off": self.deadline_is_day_off,
            **_base_json(self.rule, self.caveats, self.estimate),
        }


@dataclass(frozen=True)
class StayResult:
    on: dt.date
    inside: bool  # present on `on` (last trip open or ending on/after `on`)
    days_used: int  # days counted in the window that contains `on`
    days_left: int  # further days of presence allowed (after `on` if inside, from `on` if not)
    last_legal_day: dt.date | None  # None: already over the limit on `on`
    overstay_days: int
    window_start: dt.date
    window_end: dt.date
    limit: int
    rule: RuleInfo
    caveats: tuple[Caveat, ...]
    estimate: str

    @property
    def rule_id(self) -> str:
        return self.rule.rule_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "on": self.on.isoformat(),
            "inside": self.inside,
            "days_used": self.days_used,
            "days_left": self.days_left,
            "last_legal_day": self.last_legal_day.isoformat() if self.last_legal_day else None,
            "overstay_days": self.overstay_days,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "limit": self.limit,
            **_base_json(self.rule, self.caveats, self.estimate),
        }


@dataclass(frozen=True)
class PatentResult:
    due: dt.date
    paid_until: dt.date
    next_period_start: dt.date
    remind_on: dt.date | None
    rule: RuleInfo
    caveats: tuple[Caveat, ...]
    estimate: str
    due_is_day_off: bool | None = None  # None: no calendar for that year

    @property
    def rule_id(self) -> str:
        return self.rule.rule_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "due": self.due.isoformat(),
            "paid_until": self.paid_until.isoformat(),
            "next_period_start": self.next_period_start.isoformat(),
            "remind_on": self.remind_on.isoformat() if self.remind_on else None,
            "due_is_day_off": self.due_is_day_off,
            **_base_json(self.rule, self.caveats, self.estimate),
        }


# ------------------------------------------------------------------ input checks


def check_country(country: str) -> str:
    value = (country or "").strip().lower()
    if value not in STAY_COUNTRIES:
        raise CalcError("country", f"country '{country}' must be ru (Russia) or kz (Kazakhstan)")
    return value


def check_citizenship(code: str) -> str:
    value = (code or "").strip().lower()
    if len(value) != 2 or value not in iso_countries():
        raise CalcError(
            "citizenship",
            f"citizenship '{code}' is not an ISO 3166 alpha-2 country code (e.g. uz, tj, kg, kz)",
        )
    return value


def _select(rules: tuple[Rule, ...], country: str, citizenship: str, day: dt.date, what: str):
    """The rule in force: a rule naming the citizenship beats the general `any` rule."""
    matching = [r for r in rules if r.applies(country, citizenship, day)]
    specific = [r for r in matching if r.citizenships is not None]
    chosen = specific or matching
    if not chosen:
        raise CalcError(
            "no_rule",
            f"there is no {what} rule for citizens of {citizenship.upper()} in "
            f"{country.upper()} on {day} in knowledge/rules; ask "
            f"{CHECK_WITH.get(country, 'the migration authority')}",
        )
    return chosen[0]


def _calendar(rules: RuleSet, country: str) -> Calendar:
    try:
        return rules.calendars[country]
    except KeyError:
        raise CalcError("calendar", f"no working-day calendar for {country.upper()}") from None


def _calendar_caveats(calendar: Calendar, first: dt.date, last: dt.date) -> list[Caveat]:
    """Caveats of every calendar year the counted days touch."""
    notes = []
    for year in range(first.year, last.year + 1):
        entry = calendar.years.get(year)
        if entry is None:
            continue
        params = {"country": calendar.country, "year": year, "note": entry.caveat}
        if entry.unconfirmed:
            notes.append(Caveat(CaveatCode.CALENDAR_UNCONFIRMED, params))
        elif entry.status == "draft" and entry.caveat:
            notes.append(Caveat(CaveatCode.CALENDAR_DRAFT, params))
    return notes


def _rule_caveats(rule: Rule) -> list[Caveat]:
    return [Caveat(CaveatCode.RULE_NOTE, {"note": rule.caveat})] if rule.caveat else []


def _unknown_day_off(day: dt.date, exc: OutsideCalendar) -> Caveat:
    return Caveat(
        CaveatCode.DAY_OFF_UNKNOWN, {"day": day, "country": exc.country, "year": exc.year}
    )


# ------------------------------------------------------------------ registration


def registration_deadline(
    rules: RuleSet, country: str, citizenship: str, arrived: dt.date
) -> RegistrationResult:
    country = check_country(country)
    citizenship = check_citizenship(citizenship)
    rule: RegistrationRule = _select(
        rules.registration, country, citizenship, arrived, "registration"
    )
    calendar = _calendar(rules, country)
    caveats = _rule_caveats(rule)
    start = arrived if rule.count_from == "arrival_day" else arrived + dt.timedelta(days=1)
    try:
        if rule.counting == "working":
            counted, day = 0, start - dt.timedelta(days=1)
            while counted < rule.term:
                day += dt.timedelta(days=1)
                if calendar.is_working(day):
                    counted += 1
            deadline = day
            caveats.extend(_calendar_caveats(calendar, start, deadline))
        else:
            deadline = start + dt.timedelta(days=rule.term - 1)
            if not calendar.is_working(deadline):
                if rule.end_on_non_working == "next_working_day":
                    while not calendar.is_working(deadline):
                        deadline += dt.timedelta(days=1)
                else:
                    caveats.append(Caveat(CaveatCode.DAY_OFF_NOT_MOVED, {"day": deadline}))
            caveats.extend(_calendar_caveats(calendar, deadline, deadline))
    except OutsideCalendar as exc:
        if rule.counting == "working":
            raise CalcError("calendar", str(exc)) from None
        caveats.append(_unknown_day_off(deadline, exc))
    return RegistrationResult(
        deadline=deadline,
        arrived=arrived,
        term=rule.term,
        counting=rule.counting,
        rule=RuleInfo.of(rule),
        caveats=tuple(caveats),
        estimate=_estimate(rule),
        deadline_is_day_off=_day_off(calendar, deadline),
    )


def _day_off(calendar: Calendar | None, day: dt.date) -> bool | None:
    if calendar is None:
        return None
    try:
        return not calendar.is_working(day)
    except OutsideCalendar:
        return None


# ------------------------------------------------------------------ stay


def _present_days(rule: StayRule, trips: list[Trip], until: dt.date) -> set[dt.date]:
    """Every counted day of presence up to `until` (open trips run to `until`)."""
    days: set[dt.date] = set()
    for trip in trips:
        first = trip.entered if rule.entry_day_counts else trip.entered + dt.timedelta(days=1)
        end = trip.left if trip.left is not None else until
        if trip.left is not None and not rule.exit_day_counts:
            end -= dt.timedelta(days=1)
        day = first
        while day <= min(end, until):
            days.add(day)
            day += dt.timedelta(days=1)
    return days


def _window(rule: StayRule, day: dt.date) -> tuple[dt.date, dt.date]:
    if rule.window == "calendar_year":
        return dt.date(day.year, 1, 1), day
    assert rule.window_days is not None
    return day - dt.timedelta(days=rule.window_days - 1), day


def _count(days: set[dt.date], start: dt.date, end: dt.date) -> int:
    return sum(1 for d in days if start <= d <= end)


def _run_length(days: set[dt.date], day: dt.date) -> int:
    """Consecutive days of presence ending on `day`."""
    n = 0
    while day in days:
        n += 1
        day -= dt.timedelta(days=1)
    return n


def stay_counter(
    rules: RuleSet, country: str, citizenship: str, trips: list[Trip] | str, on: dt.date
) -> StayResult:
    """Days used, days left and the last legal day of a stay that continues (or starts)
    on `on`.

    If the person is inside on `on`, presence is assumed to continue; if not, the result
    answers "if I enter on `on`, how long may I stay?".
    """
    country = check_country(country)
    citizenship = check_citizenship(citizenship)
    trips = parse_trips(trips, on) if isinstance(trips, str) else check_trips(trips, on)
    rule: StayRule = _select(rules.stay, country, citizenship, on, "stay-limit")
    caveats = _rule_caveats(rule)

    past = _present_days(rule, trips, on)
    inside = on in past
    window_start, window_end = _window(rule, on)
    days_used = _count(past, window_start, window_end)

    # Earlier breaches visible in the trips (e.g. over 90 days in the previous year).
    for day in sorted(d for d in past if d < on):
        if _breaches(rule, past, day):
            caveats.append(Caveat(CaveatCode.EARLIER_BREACH, {"day": day}))
            break

    # Simulate continuous presence from `on` until a limit is broken.
    assumed = set(past)
    last_legal: dt.date | None = None
    day = on
    for _ in range(SIMULATION_LIMIT_DAYS):
        assumed.add(day)
        if _breaches(rule, assumed, day):
            break
        last_legal = day
        day += dt.timedelta(days=1)
    if last_legal is not None and rule.valid_to is not None and last_legal > rule.valid_to:
        caveats.append(Caveat(CaveatCode.RULE_ENDS, {"end": rule.valid_to}))

    if last_legal is None:
        overstay = max(
            days_used - rule.limit,
            (_run_length(past, on) - rule.max_continuous) if rule.max_continuous else 0,
            1 if inside else 0,
        )
        days_left = 0
    else:
        overstay = 0
        days_left = (last_legal - on).days + (0 if inside else 1)
    return StayResult(
        on=on,
        inside=inside,
        days_used=days_used,
        days_left=days_left,
        last_legal_day=last_legal,
        overstay_days=overstay,
        window_start=window_start,
        window_end=window_end,
        limit=rule.limit,
        rule=RuleInfo.of(rule),
        caveats=tuple(caveats),
        estimate=_estimate(rule),
    )


def _breaches(rule: StayRule, days: set[dt.date], day: dt.date) -> bool:
    start, end = _window(rule, day)
    if _count(days, start, end) > rule.limit:
        return True
    return bool(rule.max_continuous and _run_length(days, day) > rule.max_continuous)


# ------------------------------------------------------------------ patent


def patent_due(
    rules: RuleSet, paid_until: dt.date, remind_days: int | None = None, country: str = "ru"
) -> PatentResult:
    """The last day to pay the next month of the patent: the last paid day itself.

    The payment must reach the budget before the next period starts; a day off is not
    treated as moving the date (see the rule's caveat).
    """
    country = check_country(country)
    matching = [r for r in rules.patent if r.applies(country, "", paid_until)]
    if not matching:
        raise CalcError("no_rule", f"there is no patent rule for {country.upper()} on {paid_until}")
    rule = matching[0]
    if remind_days is not None and remind_days < 0:
        raise CalcError("remind_days", "the reminder must be 0 or more days before the due date")
    caveats = _rule_caveats(rule)
    due = paid_until
    calendar = rules.calendars.get(country)
    if calendar is not None:
        try:
            if not calendar.is_working(due):
                if rule.end_on_non_working == "next_working_day":
                    while not calendar.is_working(due):
                        due += dt.timedelta(days=1)
                else:
                    caveats.append(Caveat(CaveatCode.PAYMENT_ON_DAY_OFF, {"day": due}))
            caveats.extend(_calendar_caveats(calendar, due, due))
        except OutsideCalendar as exc:
            caveats.append(_unknown_day_off(due, exc))
    remind_on = due - dt.timedelta(days=remind_days) if remind_days is not None else None
    return PatentResult(
        due=due,
        paid_until=paid_until,
        next_period_start=paid_until + dt.timedelta(days=1),
        remind_on=remind_on,
        rule=RuleInfo.of(rule),
        caveats=tuple(caveats),
        estimate=_estimate(rule),
        due_is_day_off=_day_off(calendar, due),
    )
