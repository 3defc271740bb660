"""The rule book: `knowledge/rules/*.yaml` read, validated and cached.

Staff change a term by editing YAML, never code, so the loader is written for them like
the knowledge validator, on the same toolkit (`bot.knowledge.yamldoc`): every problem
names file:line and what to fix. A rule set with errors is refused as a whole
(`load_rules` raises), so calculators never run on half a rule book.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.deadlines.rules import (
    Calendar,
    CalendarYear,
    PatentRule,
    RegistrationRule,
    Rule,
    RuleSet,
    StayRule,
    iso_countries,
)
from bot.domain import ANY, STAY_COUNTRIES
from bot.errors import ProblemsFound
from bot.knowledge.yamldoc import (
    ID_PATTERN,
    DocumentChecker,
    Problem,
    nonempty_text,
    read_document,
    yaml_files,
)

RULE_KINDS = ("registration", "stay", "patent", "calendar")
COUNTINGS = ("calendar", "working")
COUNT_FROM = ("arrival_day", "next_day")
END_ON_NON_WORKING = ("keep", "next_working_day")
WINDOWS = ("calendar_year", "rolling")
PATENT_DUES = ("last_paid_day",)
REQUIRED_CALENDAR_YEARS = (2025, 2026, 2027)

COMMON_FIELDS = {
    "id": True,
    "country": True,
    "citizenship": True,
    "text": True,
    "valid_from": True,
    "valid_to": True,
    "status": True,
    "as_of": True,
    "caveat": False,
    "sources": True,
}
KIND_FIELDS = {
    "registration": {
        "term": True,
        "counting": True,
        "count_from": True,
        "end_on_non_working": True,
    },
    "stay": {
        "window": True,
        "window_days": True,
        "limit": True,
        "max_continuous": True,
        "entry_day_counts": True,
        "exit_day_counts": True,
    },
    "patent": {"due": True, "end_on_non_working": True},
}
YEAR_FIELDS = (
    "year",
    "status",
    "as_of",
    "holidays",
    "days_off",
    "working_days",
    "unconfirmed_days_off",
    "unconfirmed_working_days",
    "caveat",
    "sources",
)


class InvalidRules(ProblemsFound):
    """The rule files have errors; no calculation is made from them."""

    def __init__(self, problems: Sequence[Problem]):
        super().__init__("the deadline rules have", list(problems))


class _FileChecker(DocumentChecker):
    """Validates one rules file; collects problems with lines."""

    def status_as_of_caveat(self, item: dict, at: tuple) -> tuple[str, dt.date, str]:
        status = self.status(item.get("status"), (*at, "status"))
        as_of = self.as_of(item.get("as_of"), (*at, "as_of"))
        caveat = nonempty_text(item.get("caveat")) or ""
        if status == "draft" and not caveat:
            self.error(
                "a draft needs a 'caveat' saying exactly what is unconfirmed and where to check it",
                *at,
            )
        return status, as_of or self.today, caveat

    def positive_int(self, item: dict, key: str, at: tuple, *, optional: bool = False):
        value = item.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            self.error(
                f"{key} '{value}' must be a whole number of days above 0"
                + (" (or null)" if optional else ""),
                *at,
                key,
            )
            return None
        return value

    def choice(self, item: dict, key: str, allowed: Sequence[str], at: tuple) -> str:
        value = item.get(key)
        if value not in allowed:
            self.error(f"{key} '{value}' must be one of: {', '.join(allowed)}", *at, key)
        return str(value)

    def boolean(self, item: dict, key: str, at: tuple) -> bool:
        value = item.get(key)
        if not isinstance(value, bool):
            self.error(f"{key} '{value}' must be true or false", *at, key)
            return True
        return value

    # ---------------------------------------------------------- rules

    def rule(self, kind: str, item: Any, i: int) -> Rule | None:
        at = ("rules", i)
        if not isinstance(item, dict):
            self.error(f"rule {i + 1} must be a block of 'field: value' lines", *at)
            return None
        before = len(self.problems)
        fields = {**COMMON_FIELDS, **KIND_FIELDS[kind]}
        self.unknown_fields(item, fields, f"in a {kind} rule", *at)
        for key, required in fields.items():
            if required and key not in item:
                self.error(f"required field '{key}' is missing in rule {i + 1}", *at)
        rule_id = item.get("id")
        if not isinstance(rule_id, str) or not ID_PATTERN.match(rule_id):
            self.error(
                f"id '{rule_id}' must use lowercase latin letters, digits and '-' only",
                *at,
                "id",
            )
        country = self.choice(item, "country", STAY_COUNTRIES, at)
        citizenships = self._citizenships(item.get("citizenship"), (*at, "citizenship"))
        text = nonempty_text(item.get("text"))
        if text is None and "text" in item:
            self.error("text is empty: say the rule in one or two plain sentences", *at, "text")
        valid_from = self.date(item.get("valid_from"), (*at, "valid_from"), "valid_from")
        valid_to = self.date(item.get("valid_to"), (*at, "valid_to"), "valid_to", optional=True)
        if valid_from and valid_to and valid_to < valid_from:
            self.error(f"valid_to {valid_to} is before valid_from {valid_from}", *at, "valid_to")
        status, as_of, caveat = self.status_as_of_caveat(item, at)
        sources = self.sources(item.get("sources"), (*at, "sources"))
        common: dict[str, Any] = dict(
            id=str(rule_id),
            country=country,
            citizenships=citizenships,
            text=text or "",
            valid_from=valid_from or dt.date.min,
            valid_to=valid_to,
            status=status,
            as_of=as_of,
            caveat=caveat,
            sources=sources,
            path=self.path,
            line=self.doc.line(*at),
        )
        if kind == "registration":
            rule: Rule = RegistrationRule(
                **common,
                term=self.positive_int(item, "term", at) or 0,
                counting=self.choice(item, "counting", COUNTINGS, at),
                count_from=self.choice(item, "count_from", COUNT_FROM, at),
                end_on_non_working=self.choice(item, "end_on_non_working", END_ON_NON_WORKING, at),
            )
        elif kind == "stay":
            window = self.choice(item, "window", WINDOWS, at)
            window_days = self.positive_int(item, "window_days", at, optional=True)
            if window == "rolling" and window_days is None:
                self.error("a rolling window needs window_days (e.g. 180)", *at, "window")
            if window == "calendar_year" and window_days is not None:
                self.error(
                    "window_days must be null for a calendar_year window", *at, "window_days"
                )
            limit = self.positive_int(item, "limit", at) or 0
            if window_days and limit > window_days:
                self.error(
                    f"limit {limit} is longer than the window of {window_days} days", *at, "limit"
                )
            rule = StayRule(
                **common,
                window=window,
                window_days=window_days,
                limit=limit,
                max_continuous=self.positive_int(item, "max_continuous", at, optional=True),
                entry_day_counts=self.boolean(item, "entry_day_counts", at),
                exit_day_counts=self.boolean(item, "exit_day_counts", at),
            )
        else:
            rule = PatentRule(
                **common,
                due=self.choice(item, "due", PATENT_DUES, at),
                end_on_non_working=self.choice(item, "end_on_non_working", END_ON_NON_WORKING, at),
            )
        return rule if len(self.problems) == before else None

    def _citizenships(self, value: Any, at: tuple) -> frozenset[str] | None:
        if value == ANY:
            return None
        if not isinstance(value, list) or not value:
            self.error(
                "citizenship must be 'any' (the general rule) or a list of ISO 3166 "
                "alpha-2 codes, e.g. [kz, kg]",
                *at,
            )
            return frozenset()
        codes = set()
        for j, code in enumerate(value):
            if not isinstance(code, str) or code.lower() not in iso_countries():
                self.error(
                    f"citizenship '{code}' is not an ISO 3166 alpha-2 country code "
                    "(e.g. uz, tj, kg)",
                    *at,
                    j,
                )
            elif code != code.lower():
                self.error(f"write the country code '{code}' in lowercase", *at, j)
            else:
                codes.add(code)
        return frozenset(codes)

    # ---------------------------------------------------------- calendars

    def calendar(self, data: dict) -> Calendar | None:
        before = len(self.problems)
        self.unknown_fields(data, ("kind", "country", "weekend", "years"), "in a calendar")
        country = self.choice(data, "country", STAY_COUNTRIES, ())
        weekend = data.get("weekend")
        if not (
            isinstance(weekend, list)
            and weekend
            and all(isinstance(d, int) and 1 <= d <= 7 for d in weekend)
        ):
            self.error("weekend must list ISO weekday numbers, e.g. [6, 7]", "weekend")
            weekend = [6, 7]
        years_value = data.get("years")
        years: dict[int, CalendarYear] = {}
        if not isinstance(years_value, list) or not years_value:
            self.error("'years' must list the calendar years (year, holidays, ...)", "years")
            years_value = []
        for i, item in enumerate(years_value):
            year = self._year(item, i, frozenset(weekend))
            if year is None:
                continue
            if year.year in years:
                self.error(f"year {year.year} appears twice", "years", i, "year")
            years[year.year] = year
        for required in REQUIRED_CALENDAR_YEARS:
            if required not in years and len(self.problems) == before:
                self.error(f"the calendar must cover {required} (missing year)", "years")
        if len(self.problems) != before:
            return None
        return Calendar(country, frozenset(weekend), years, self.path)

    def _year(self, item: Any, i: int, weekend: frozenset[int]) -> CalendarYear | None:
        at = ("years", i)
        if not isinstance(item, dict):
            self.error(f"year entry {i + 1} must be a block of 'field: value' lines", *at)
            return None
        before = len(self.problems)
        self.unknown_fields(item, YEAR_FIELDS, "in a calendar year", *at)
        for key in YEAR_FIELDS:
            if key not in item and key != "caveat":
                self.error(f"required field '{key}' is missing in year entry {i + 1}", *at)
        year = item.get("year")
        if not isinstance(year, int) or not 2000 <= year <= 2100:
            self.error(f"year '{year}' must be a year such as 2026", *at, "year")
            return None
        status, as_of, caveat = self.status_as_of_caveat(item, at)
        lists: dict[str, frozenset[dt.date]] = {}
        for key in YEAR_FIELDS[3:8]:
            value = item.get(key, [])
            if not isinstance(value, list):
                self.error(f"{key} must be a list of dates (or [])", *at, key)
                lists[key] = frozenset()
                continue
            days = set()
            for j, raw in enumerate(value):
                day = self.date(raw, (*at, key, j), f"{key} item")
                if day is None:
                    continue
                if day.year != year:
                    self.error(f"{key}: {day} is not in {year}", *at, key, j)
                if day in days:
                    self.error(f"{key}: {day} is listed twice", *at, key, j)
                days.add(day)
            lists[key] = frozenset(days)
        for key in ("days_off", "unconfirmed_days_off"):
            for day in sorted(lists[key]):
                if day.isoweekday() in weekend:
                    self.error(
                        f"{key}: {day} is already a weekend day; list only weekdays made days off",
                        *at,
                        key,
                    )
        for key in ("working_days", "unconfirmed_working_days"):
            for day in sorted(lists[key]):
                if day.isoweekday() not in weekend:
                    self.error(
                        f"{key}: {day} is a weekday; list only weekend days made working days",
                        *at,
                        key,
                    )
        off = lists["holidays"] | lists["days_off"] | lists["unconfirmed_days_off"]
        for day in sorted(off & (lists["working_days"] | lists["unconfirmed_working_days"])):
            self.error(f"{day} is listed both as a day off and as a working day", *at)
        sources = self.sources(item.get("sources"), (*at, "sources"))
        if len(self.problems) != before:
            return None
        return CalendarYear(
            year=year,
            status=status,
            as_of=as_of,
            holidays=lists["holidays"],
            days_off=lists["days_off"],
            working_days=lists["working_days"],
            unconfirmed_days_off=lists["unconfirmed_days_off"],
            unconfirmed_working_days=lists["unconfirmed_working_days"],
            caveat=caveat,
            sources=sources,
        )


def rule_files(rules_dir: Path) -> list[Path]:
    return yaml_files(rules_dir)


def check_rules(rules_dir: Path, today: dt.date | None = None) -> tuple[RuleSet, list[Problem]]:
    """Read and validate every rules file; return the valid rules and all problems."""
    today = today or dt.date.today()
    rules_dir = Path(rules_dir)
    problems: list[Problem] = []
    if not rules_dir.is_dir():
        # A knowledge base may exist without deadline rules (e.g. a test fixture); the
        # calculators refuse to run without them (see `load_rules`).
        problems.append(
            Problem(
                str(rules_dir),
                0,
                "no deadline rules folder: the deadline calculators will not work until "
                "it has registration, stay, patent and calendar files",
                "warning",
            )
        )
        return RuleSet((), (), (), {}), problems
    collected: dict[str, list[Rule]] = {"registration": [], "stay": [], "patent": []}
    calendars: dict[str, Calendar] = {}
    seen_ids: dict[str, tuple[str, int]] = {}
    for file in rule_files(rules_dir):
        path = str(file)
        doc = read_document(file, problems)
        if doc is None:
            continue
        checker = _FileChecker(doc, path, today)
        data = doc.data
        kind = data.get("kind") if isinstance(data, dict) else None
        if kind not in RULE_KINDS:
            checker.error(
                f"kind '{kind}' must be one of: {', '.join(RULE_KINDS)} (first line of the "
                "file, e.g. 'kind: registration')",
                "kind",
            )
        elif kind == "calendar":
            calendar = checker.calendar(data)
            if calendar is not None:
                if calendar.country in calendars:
                    checker.error(
                        f"a second calendar for '{calendar.country}' (also in "
                        f"{calendars[calendar.country].path}); keep one",
                        "country",
                    )
                else:
                    calendars[calendar.country] = calendar
        else:
            for key in data:
                if key not in ("kind", "rules"):
                    checker.error(f"unknown field '{key}'; a rules file has kind and rules", key)
            items = data.get("rules")
            if not isinstance(items, list) or not items:
                checker.error("'rules' must be a list of rules", "rules")
                items = []
            for i, item in enumerate(items):
                rule = checker.rule(kind, item, i)
                rule_id = item.get("id") if isinstance(item, dict) else None
                if isinstance(rule_id, str):
                    if rule_id in seen_ids:
                        other, line = seen_ids[rule_id]
                        checker.error(
                            f"duplicate rule id '{rule_id}': also used in {other}:{line}",
                            "rules",
                            i,
                            "id",
                        )
                        continue
                    seen_ids[rule_id] = (path, doc.line("rules", i, "id"))
                if rule is not None:
                    collected[kind].append(rule)
        problems.extend(checker.problems)
    for kind, rules in collected.items():
        problems.extend(_overlaps(kind, rules))
    for country in STAY_COUNTRIES:
        if country not in calendars and not any(p.severity == "error" for p in problems):
            problems.append(
                Problem(
                    str(rules_dir), 0, f"no working-day calendar for '{country}' (kind: calendar)"
                )
            )
    problems.sort(key=lambda p: (p.path, p.line))
    ruleset = RuleSet(
        tuple(collected["registration"]),  # type: ignore[arg-type]
        tuple(collected["stay"]),  # type: ignore[arg-type]
        tuple(collected["patent"]),  # type: ignore[arg-type]
        calendars,
    )
    return ruleset, problems


def _overlaps(kind: str, rules: list[Rule]) -> list[Problem]:
    """Two rules of one kind that could both apply to the same person on the same day.

    A specific citizenship list beats `any`, so only rules of the same specificity that
    share a citizenship and overlapping validity are ambiguous.
    """
    found = []
    for i, a in enumerate(rules):
        for b in rules[i + 1 :]:
            if a.country != b.country:
                continue
            if (a.citizenships is None) != (b.citizenships is None):
                continue
            if (
                a.citizenships is not None
                and b.citizenships is not None
                and not (a.citizenships & b.citizenships)
            ):
                continue
            a_end = a.valid_to or dt.date.max
            b_end = b.valid_to or dt.date.max
            if a.valid_from <= b_end and b.valid_from <= a_end:
                found.append(
                    Problem(
                        b.path,
                        b.line,
                        f"{kind} rule '{b.id}' overlaps '{a.id}' ({a.path}:{a.line}) for the "
                        "same country, citizenship and dates; end one with valid_to or make "
                        "the citizenships distinct",
                    )
                )
    return found


def load_rules(rules_dir: Path, today: dt.date | None = None) -> RuleSet:
    """The validated rule set; raises `InvalidRules` on any error or a missing folder."""
    if not Path(rules_dir).is_dir():
        raise InvalidRules([Problem(str(rules_dir), 0, "the deadline rules folder does not exist")])
    ruleset, problems = check_rules(rules_dir, today)
    if any(p.severity == "error" for p in problems):
        raise InvalidRules(problems)
    return ruleset


_CACHE: dict[Path, tuple[tuple, RuleSet]] = {}


def load_rules_cached(rules_dir: Path) -> RuleSet:
    """`load_rules`, re-read only when a rules file changed (name, size or mtime), so a
    long-running bot picks up a staff edit without a restart and without reading YAML
    for every message."""
    rules_dir = Path(rules_dir)
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in rule_files(rules_dir))
    cached = _CACHE.get(rules_dir)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    ruleset = load_rules(rules_dir)
    _CACHE[rules_dir] = (stamp, ruleset)
    return ruleset


def rules_dir_for(kb_dir: Path) -> Path:
    """Rules live beside the entries, in `<KB_DIR>/rules`."""
    return Path(kb_dir) / "rules"
