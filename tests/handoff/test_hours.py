"""Opening hours: what users are told about when a consultant reads their case."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.handoff.hours import HandoffConfigError, OpeningHours

MSK = "Europe/Moscow"  # UTC+3 all year


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment in December 2026 given in UTC (3 December is a Thursday)."""
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=dt.UTC)


def test_weekday_hours_open_and_closed_in_the_configured_zone():
    hours = OpeningHours.parse("Mon-Fri 09:00-18:00", MSK)
    assert hours.is_open(at(3, 6))  # Thursday 09:00 in Moscow
    assert not hours.is_open(at(3, 5, 59))  # 08:59
    assert not hours.is_open(at(3, 15))  # 18:00, closed
    assert not hours.is_open(at(5, 10))  # Saturday


def test_next_opening_skips_the_weekend():
    hours = OpeningHours.parse("Mon-Fri 09:00-18:00", MSK)
    friday_evening = at(4, 16)  # 19:00 Friday in Moscow
    opening = hours.next_opening(friday_evening)
    assert opening is not None
    assert (opening.date(), opening.hour, opening.utcoffset()) == (
        dt.date(2026, 12, 7),
        9,
        dt.timedelta(hours=3),
    )
    assert hours.utc_offset(friday_evening) == "UTC+3"


def test_several_groups_and_wrapping_day_ranges():
    hours = OpeningHours.parse("Mon-Fri 09:00-18:00; Sat 10:00-14:00", MSK)
    assert hours.is_open(at(5, 8))  # Saturday 11:00
    assert not hours.is_open(at(6, 8))  # Sunday
    weekend = OpeningHours.parse("Fri-Mon 10:00-12:00", "Asia/Almaty")
    assert weekend.is_open(dt.datetime(2026, 12, 6, 5, 30, tzinfo=dt.UTC))  # Sunday 10:30
    assert not weekend.is_open(dt.datetime(2026, 12, 8, 5, 30, tzinfo=dt.UTC))  # Tuesday


def test_hours_are_written_the_way_each_language_writes_them():
    hours = OpeningHours.parse("Mon-Fri 09:00-18:00", MSK)
    assert hours.describe("ru") == "пн–пт 09:00–18:00"
    assert hours.describe("en") == "Mon–Fri 09:00–18:00"


def test_no_hours_means_always_open_and_not_stated():
    hours = OpeningHours.parse("", MSK)
    assert not hours.stated and hours.is_open(at(6, 3))


@pytest.mark.parametrize(
    ("text", "zone", "message"),
    [
        ("Mon-Fri 9-18", MSK, "not like 'Mon-Fri 09:00-18:00'"),
        ("Mon-Fry 09:00-18:00", MSK, "days are Mon"),
        ("Mon-Fri 18:00-09:00", MSK, "end must be after the start"),
        ("Mon-Fri 09:00-25:00", MSK, "is not a time"),
        ("Mon-Fri 09:00-18:00", "Moscow", "not a time zone name"),
    ],
)
def test_bad_settings_are_refused_with_what_to_write(text, zone, message):
    with pytest.raises(HandoffConfigError, match=message):
        OpeningHours.parse(text, zone)
