"""Dates typed the way people type them: 5.03, 05.03.2026, 5/3/2026, 2026-03-05,
"5 марта", "5 mart", "5-mart", "5 наурыз", "March 5".

Numeric dates are day first (the convention in all six languages). Month names come
from CLDR via Babel (nominative and genitive forms, full and abbreviated) for ru, kk,
uz (Latin and Cyrillic), ky, tg and en, plus Russian typed in Latin letters; a word
matches a month by prefix, so endings ("марта", "martda") and many typos still work.

A date without a year is resolved by what it is for (`look`): an arrival or an entry
looks back (the most recent such date not after today); a paid-until or due date looks
ahead (the next such date from today), and when the same day and month a few weeks ago
is just as plausible, both are returned so the caller can ask (`parse_user_dates`).
Reading "5 марта" typed in December as last March told a user their patent was void.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import cache

from babel.dates import get_month_names

from bot.errors import InputError

MONTH_LOCALES = ("ru", "kk", "uz_Latn", "uz_Cyrl", "ky", "tg", "en")
LANG_LOCALES = {
    "ru": ("ru", "ru_Latn"),
    "kk": ("kk", "kk_Latn"),
    "uz": ("uz_Latn", "uz_Cyrl"),
    "ky": ("ky",),
    "tg": ("tg",),
    "en": ("en",),
}
# Russian month names typed in Latin letters (genitive and nominative), as people write
# them in chats; not in CLDR.
LATIN_RUSSIAN = {
    1: ("yanvarya", "yanvar", "janvarja"),
    2: ("fevralya", "fevral", "fevralja"),
    3: ("marta", "mart"),
    4: ("aprelya", "aprel", "aprelja"),
    5: ("maya", "maj", "may"),
    6: ("iyunya", "iyun", "iyuna", "iyunja", "ijunja", "iunya"),
    7: ("iyulya", "iyul", "iyula", "iyulja", "ijulja", "iulya"),
    8: ("avgusta", "avgust"),
    9: ("sentyabrya", "sentyabr", "sentjabrja"),
    10: ("oktyabrya", "oktyabr", "oktjabrja"),
    11: ("noyabrya", "noyabr", "nojabrja"),
    12: ("dekabrya", "dekabr"),
}
# Kazakh in the Latin alphabet (2021 version and the common keyboard spelling).
LATIN_KAZAKH = {
    1: ("qańtar", "qantar"),
    2: ("aqpan",),
    3: ("nauryz",),
    4: ("sáýir", "sauir"),
    5: ("mamyr",),
    6: ("maýsym", "mausym"),
    7: ("shilde",),
    8: ("tamyz",),
    9: ("qyrkúiek", "qyrkuiek"),
    10: ("qazan",),
    11: ("qarasha",),
    12: ("jeltoqsan",),
}
MIN_PREFIX = 3
MIN_YEAR, MAX_YEARS_AHEAD = 1900, 10
# Looking ahead, a date without a year that fell this many days ago or fewer is as
# plausible as next year's (a payment made last week): both are offered.
RECENT_DAYS = 31
BACK, AHEAD = "back", "ahead"


class DateInputError(InputError):
    """Input that is not one real date, or trips that cannot be counted. `code` picks
    the translated message in the bot: empty | unparseable | impossible | ambiguous |
    date (not YYYY-MM-DD) | trip (a line without two dates) | too_many | trips (order,
    overlaps)."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


def _normalise(word: str) -> str:
    word = word.lower().replace("ё", "е")
    return re.sub(r"[.\u02bb\u2019'`ʼ‘]", "", word)


@cache
def _month_names() -> dict[str, tuple[tuple[str, int], ...]]:
    """Per locale, (normalised name, month) for every CLDR form."""
    table: dict[str, tuple[tuple[str, int], ...]] = {}
    for loc in MONTH_LOCALES:
        names: set[tuple[str, int]] = set()
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for month, name in get_month_names(width, context, loc).items():
                    names.add((_normalise(name), month))
        table[loc] = tuple(sorted(names))
    for loc, extra in (("ru_Latn", LATIN_RUSSIAN), ("kk_Latn", LATIN_KAZAKH)):
        table[loc] = tuple(
            sorted((_normalise(name), month) for month, forms in extra.items() for name in forms)
        )
    return table


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def month_from_word(word: str, lang: str | None = None) -> int | None:
    """The month a word names, or None; raises `DateInputError('ambiguous')` when the
    word fits two months equally well (e.g. 'iyu' for June and July)."""
    word = _normalise(word)
    if len(word) < MIN_PREFIX or not word.isalpha():
        return None
    preferred = set(LANG_LOCALES.get(lang or "", ()))
    best: dict[int, tuple[int, int]] = {}  # month -> (score, preferred)
    for loc, names in _month_names().items():
        for name, month in names:
            common = _common_prefix(word, name)
            if common < MIN_PREFIX:
                continue
            # The word must be a prefix of the name (abbreviation), the name a prefix of
            # the word (an ending added), or share at least four letters (a typo later on).
            if not (name.startswith(word) or word.startswith(name) or common >= 4):
                continue
            score = (common, 1 if loc in preferred else 0)
            if score > best.get(month, (0, 0)):
                best[month] = score
    if not best:
        return None
    ranked = sorted(best.items(), key=lambda kv: kv[1], reverse=True)
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        raise DateInputError(
            "ambiguous",
            f"'{word}' could be month {ranked[0][0]} or {ranked[1][0]}; write the month in "
            "full or as a number, e.g. 05.03.2026",
        )
    return ranked[0][0]


_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_NUMERIC = re.compile(r"^(\d{1,2})[./\-](\d{1,2})(?:[./\-](\d{2}|\d{4}))?\.?$")
_TOKEN = re.compile(r"\d+|[^\W\d_]+", re.UNICODE)
_FILLER = {
    "g",
    "gg",
    "goda",
    "god",
    "year",
    "yil",
    "yili",
    "jyl",
    "jyly",
    "сол",
    "соли",
    "года",
    "год",
    "г",
    "жыл",
    "жылы",
    "жылдың",
    "йил",
    "йили",
    "of",
    "the",
    "th",
    "st",
    "nd",
    "rd",
    "go",
    "е",
    "ое",
    "го",
    "chi",
    "inchi",
    "чи",
    "инчи",
}


def _year(text: str) -> int:
    year = int(text)
    return 2000 + year if len(text) == 2 else year


def _build(
    day: int, month: int, year: int | None, today: dt.date, text: str, look: str = BACK
) -> list[dt.date]:
    if not 1 <= month <= 12:
        raise DateInputError("impossible", f"'{text}': there is no month {month}")
    if year is not None:
        if not MIN_YEAR <= year <= today.year + MAX_YEARS_AHEAD:
            raise DateInputError("impossible", f"'{text}': the year {year} is not plausible")
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            raise DateInputError(
                "impossible", f"'{text}': month {month} of {year} has {last} days, not {day}"
            )
        return [dt.date(year, month, day)]
    if not 1 <= day <= 31 or day > max(calendar.monthrange(2000, month)[1], 0):
        raise DateInputError("impossible", f"'{text}': month {month} never has day {day}")
    # Each year where the day exists (29 February: leap years only), nearest first.
    past = _existing(day, month, range(today.year, today.year - 9, -1), lambda d: d <= today)
    if look == BACK:
        return [past]
    ahead = _existing(day, month, range(today.year, today.year + 9), lambda d: d >= today)
    if ahead != past and (today - past).days <= RECENT_DAYS:
        return [past, ahead]
    return [ahead]


def _existing(day: int, month: int, years: range, keep) -> dt.date:
    for year in years:
        if day <= calendar.monthrange(year, month)[1]:
            candidate = dt.date(year, month, day)
            if keep(candidate):
                return candidate
    raise DateInputError("impossible", f"{day}.{month} is not a date")  # pragma: no cover


def parse_user_date(
    text: str, today: dt.date, lang: str | None = None, look: str = BACK
) -> dt.date:
    """One date from what a person typed; `DateInputError` says what is wrong (code
    `which_year` when a date without a year could be this year's or next year's)."""
    dates = parse_user_dates(text, today, lang, look)
    if len(dates) > 1:
        raise DateInputError(
            "which_year",
            f"'{text}' could be {dates[0]} or {dates[1]}; write the year, e.g. {dates[1]:%d.%m.%Y}",
        )
    return dates[0]


def parse_user_dates(
    text: str, today: dt.date, lang: str | None = None, look: str = BACK
) -> list[dt.date]:
    """The dates a person may mean by what they typed: one, or two (earlier first) when
    a date without a year looks ahead and both are plausible. `DateInputError` says
    what is wrong."""
    raw = (text or "").strip()
    if not raw:
        raise DateInputError("empty", "no date given; write it like 05.03.2026 or 5 March")
    compact = raw.replace(" ", "")
    if match := _ISO.match(compact):
        y, m, d = (int(g) for g in match.groups())
        return _build(d, m, y, today, raw, look)
    if match := _NUMERIC.match(compact):
        day, month = int(match.group(1)), int(match.group(2))
        year: int | None = _year(match.group(3)) if match.group(3) else None
        return _build(day, month, year, today, raw, look)
    if re.fullmatch(r"\d+", compact):
        raise DateInputError(
            "ambiguous",
            f"'{raw}' has no separators; write the date like 05.03.2026 or 5 March",
        )
    tokens = _TOKEN.findall(raw.lower())
    numbers = [t for t in tokens if t.isdigit()]
    words = [t for t in tokens if not t.isdigit() and _normalise(t) not in _FILLER]
    months = [m for m in (month_from_word(w, lang) for w in words) if m is not None]
    unknown = [w for w in words if month_from_word(w, lang) is None]
    if len(months) != 1 or unknown or not 1 <= len(numbers) <= 2:
        if len(months) > 1:
            raise DateInputError("ambiguous", f"'{raw}' names more than one month")
        raise DateInputError(
            "unparseable",
            f"'{raw}' is not a date I can read; write it like 05.03.2026 or 5 March",
        )
    month = months[0]
    day_text, year_text = numbers[0], numbers[1] if len(numbers) == 2 else None
    if len(day_text) == 4 and year_text is not None:  # "2026 5 mart"
        day_text, year_text = year_text, day_text
    if len(day_text) > 2 or (year_text is not None and len(year_text) not in (2, 4)):
        raise DateInputError(
            "unparseable", f"'{raw}': write the day, the month and the year, e.g. 5 March 2026"
        )
    year = _year(year_text) if year_text else None
    return _build(int(day_text), month, year, today, raw, look)


def parse_iso(text: str, what: str) -> dt.date:
    """A strict YYYY-MM-DD date (command-line options); `what` names the option."""
    try:
        return dt.date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise DateInputError(
            "date", f"{what} '{text}' is not a real date in the form YYYY-MM-DD (e.g. 2026-03-05)"
        ) from None


# ------------------------------------------------------------------ trips


@dataclass(frozen=True)
class Trip:
    entered: dt.date
    left: dt.date | None  # None: still inside


def check_trips(trips: list[Trip], on: dt.date) -> list[Trip]:
    """The trips if they can be counted: in order, without overlaps, none starting after
    `on`, none ending before it starts, and only the last one open. Otherwise
    `DateInputError` with code `trips` and the trip's number (1 = the first)."""
    for i, trip in enumerate(trips):
        n = i + 1
        if trip.left is None and i != len(trips) - 1:
            raise DateInputError(
                "trips", f"trip {n} has no exit date; only the last trip may be open (ENTRY:)"
            )
        if trip.left is not None and trip.left < trip.entered:
            raise DateInputError(
                "trips", f"trip {n} ends ({trip.left}) before it starts ({trip.entered})"
            )
        if trip.entered > on:
            raise DateInputError(
                "trips", f"trip {n} starts on {trip.entered}, after the day checked ({on})"
            )
        previous = trips[i - 1] if i else None
        if previous is not None and previous.left is not None and trip.entered <= previous.left:
            raise DateInputError(
                "trips",
                f"trip {n} starts on {trip.entered}, before trip {i} ended ({previous.left}); "
                "list trips in order without overlaps",
            )
    return trips


_TRIP = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*:\s*(\d{4}-\d{2}-\d{2})?\s*$")


def parse_trips(text: str, on: dt.date) -> list[Trip]:
    """The command line's `IN:OUT,IN:OUT,IN:` into checked trips (`check_trips`).

    Only the last trip may be open (`IN:`); no trip may start after `on`.
    """
    if not text or not text.strip():
        raise DateInputError(
            "trips",
            "--trips is empty: give entry:exit dates, e.g. 2026-01-10:2026-02-08,2026-03-01:",
        )
    trips: list[Trip] = []
    for i, part in enumerate(text.split(",")):
        match = _TRIP.match(part)
        if not match:
            raise DateInputError(
                "trips",
                f"trip {i + 1} '{part.strip()}' must be ENTRY:EXIT in YYYY-MM-DD, or ENTRY: "
                "for the trip you are on now",
            )
        entered = parse_iso(match.group(1), f"trip {i + 1} entry date")
        left = parse_iso(match.group(2), f"trip {i + 1} exit date") if match.group(2) else None
        trips.append(Trip(entered, left))
    return check_trips(trips, on)


# Separators people put between the entry and the exit date of a trip.
_TRIP_DASHES = ("–", "—", " - ", "-", "…", "..")


def parse_trip_lines(
    text: str, today: dt.date, lang: str | None = None, max_trips: int = 10
) -> list[Trip]:
    """Trips typed one per line, as in a chat: '10.01.2026 – 08.02.2026', '5 mart - 2
    aprel'. Each date is read by `parse_user_date`; the trips come back oldest first,
    all closed (not yet checked against each other: see `check_trips`). Raises
    `DateInputError`: `trip` for a line without two dates, `too_many` past `max_trips`,
    or the date's own code."""
    trips = []
    for line in [ln.strip() for ln in text.splitlines() if ln.strip()][: max_trips + 1]:
        for dash in _TRIP_DASHES:
            if dash in line and not (dash == "-" and line.count("-") != 1):
                left, right = line.split(dash, 1)
                break
        else:
            raise DateInputError("trip", f"'{line}' is not two dates: entry – exit")
        trips.append(Trip(parse_user_date(left, today, lang), parse_user_date(right, today, lang)))
    if len(trips) > max_trips:
        raise DateInputError("too_many", f"more than {max_trips} trips")
    return sorted(trips, key=lambda t: t.entered)
