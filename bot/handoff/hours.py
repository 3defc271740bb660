"""Opening hours of the consultants, so that a user writing at night is told when to
expect an answer instead of waiting for one that cannot come.

HANDOFF_HOURS is written the way a notice on a door is: "Mon-Fri 09:00-18:00", or with
several day groups, "Mon-Fri 09:00-18:00; Sat 10:00-14:00". Times are local to
HANDOFF_TIMEZONE (an IANA name, e.g. Europe/Moscow, Asia/Almaty).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_GROUP = re.compile(
    r"^\s*(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*)"
    r"\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$",
    re.IGNORECASE,
)


class HandoffConfigError(ConfigError):
    """HANDOFF_HOURS or HANDOFF_TIMEZONE cannot be read; the message shows the format."""


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # 0 = Monday
    start: dt.time
    end: dt.time


@dataclass(frozen=True)
class OpeningHours:
    """When consultants read cases. No windows = hours not stated (always "open")."""

    windows: tuple[Window, ...]
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, timezone: str) -> OpeningHours:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise HandoffConfigError(
                f"HANDOFF_TIMEZONE={timezone!r} is not a time zone name; use an IANA name "
                "such as Europe/Moscow or Asia/Almaty"
            ) from exc
        windows = []
        for group in filter(str.strip, text.split(";")):
            match = _GROUP.match(group)
            if match is None:
                raise HandoffConfigError(
                    f"HANDOFF_HOURS part {group.strip()!r} is not like 'Mon-Fri 09:00-18:00' "
                    "(day groups separated by ';', days Mon..Sun)"
                )
            days = _days(match["days"], group)
            start, end = _time(match["start"], group), _time(match["end"], group)
            if end <= start:
                raise HandoffConfigError(
                    f"HANDOFF_HOURS part {group.strip()!r}: the end must be after the start"
                )
            windows.append(Window(frozenset(days), start, end))
        return cls(tuple(windows), zone)

    @property
    def stated(self) -> bool:
        return bool(self.windows)

    def is_open(self, now: dt.datetime) -> bool:
        if not self.windows:
            return True
        local = now.astimezone(self.zone)
        return any(
            local.weekday() in w.days and w.start <= local.time() < w.end for w in self.windows
        )

    def next_opening(self, now: dt.datetime) -> dt.datetime | None:
        """The local time the consultants are next at work (now when open)."""
        if self.is_open(now):
            return now.astimezone(self.zone)
        local = now.astimezone(self.zone)
        for ahead in range(8):
            day = local.date() + dt.timedelta(days=ahead)
            starts = sorted(w.start for w in self.windows if day.weekday() in w.days)
            for start in starts:
                moment = dt.datetime.combine(day, start, tzinfo=self.zone)
                if moment > local:
                    return moment
        return None

    def describe(self, babel_locale: str) -> str:
        """The hours as people of that language write them: "пн–пт 09:00–18:00"."""
        from babel.dates import get_day_names

        names = get_day_names("abbreviated", locale=babel_locale)
        groups = []
        for window in self.windows:
            days = sorted(window.days)
            runs: list[list[int]] = []
            for day in days:
                if runs and day == runs[-1][-1] + 1:
                    runs[-1].append(day)
                else:
                    runs.append([day])
            spans = [
                names[run[0]] if len(run) == 1 else f"{names[run[0]]}–{names[run[-1]]}"
                for run in runs
            ]
            times = f"{window.start:%H:%M}–{window.end:%H:%M}"
            groups.append(", ".join(spans) + " " + times)
        return "; ".join(groups)

    def utc_offset(self, now: dt.datetime) -> str:
        """ "UTC+3": understood in every language, unlike zone names."""
        offset = now.astimezone(self.zone).utcoffset() or dt.timedelta()
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        hours, rest = divmod(abs(minutes), 60)
        return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _days(spec: str, group: str) -> set[int]:
    days: set[int] = set()
    for part in spec.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise HandoffConfigError(
                f"HANDOFF_HOURS part {group.strip()!r}: days are Mon, Tue, Wed, Thu, Fri, Sat, Sun"
            )
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return days


def _time(text: str, group: str) -> dt.time:
    hours, minutes = (int(x) for x in text.split(":"))
    if hours == 24 and minutes == 0:
        return dt.time(23, 59, 59)
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise HandoffConfigError(f"HANDOFF_HOURS part {group.strip()!r}: {text} is not a time")
    return dt.time(hours, minutes)
