"""Dates typed the way people type them, in all six languages."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.deadlines.dates import DateInputError, month_from_word, parse_user_date

TODAY = dt.date(2026, 12, 1)  # a Tuesday


@pytest.mark.parametrize(
    "text, expected",
    [
        # numeric, day first
        ("5.03", "2026-03-05"),
        ("05.03.2026", "2026-03-05"),
        ("5/3/2026", "2026-03-05"),
        ("5-3-2026", "2026-03-05"),
        ("2026-03-05", "2026-03-05"),
        ("5.3.26", "2026-03-05"),
        (" 05.03.2026 ", "2026-03-05"),
        # Russian: genitive, nominative, abbreviations, Latin letters, typos
        ("5 марта", "2026-03-05"),
        ("5 март", "2026-03-05"),
        ("5 Марта 2026 г.", "2026-03-05"),
        ("5 мар", "2026-03-05"),
        ("5 mart", "2026-03-05"),
        ("5-mart", "2026-03-05"),
        ("5marta", "2026-03-05"),
        ("20 dekabrya 2025", "2025-12-20"),
        ("1 sentyabrya", "2026-09-01"),
        ("3 ноябрь", "2026-11-03"),
        ("15 febral", "2026-02-15"),  # typo for fevral/февраль
        # Kazakh (Cyrillic and Latin)
        ("5 наурыз", "2026-03-05"),
        ("5 наурыздың", "2026-03-05"),
        ("7 мамыр", "2026-05-07"),
        ("7 маусым", "2026-06-07"),
        ("5 қазан", "2026-10-05"),
        ("5 қараша", "2026-11-05"),
        ("5 qazan", "2026-10-05"),
        # Uzbek (Latin and Cyrillic)
        ("5 yanvar", "2026-01-05"),
        ("5-iyul", "2026-07-05"),
        ("5 iyun 2026", "2026-06-05"),
        ("1 oktabr", "2026-10-01"),
        ("5 сентябр", "2026-09-05"),
        ("5 октябрдан", "2026-10-05"),
        # Kyrgyz
        ("5 январь", "2026-01-05"),
        ("12 июнь 2026", "2026-06-12"),
        # Tajik
        ("5 феврал", "2026-02-05"),
        ("5 апрел", "2026-04-05"),
        # English
        ("March 5", "2026-03-05"),
        ("5th of March 2026", "2026-03-05"),
        ("31 aug", "2026-08-31"),
        ("5 feb. 2026", "2026-02-05"),
    ],
)
def test_parses(text, expected):
    assert parse_user_date(text, TODAY) == dt.date.fromisoformat(expected)


def test_no_year_means_the_most_recent_such_date_not_after_today():
    # 12 December has not come yet in 2026 (today is 1 Dec): the last one was 2025.
    assert parse_user_date("12.12", TODAY) == dt.date(2025, 12, 12)
    assert parse_user_date("1 декабря", TODAY) == dt.date(2026, 12, 1)  # today itself
    assert parse_user_date("2 декабря", TODAY) == dt.date(2025, 12, 2)
    # 29 February without a year: the last leap year not after today, 2024.
    assert parse_user_date("29.02", TODAY) == dt.date(2024, 2, 29)
    assert parse_user_date("29.02", dt.date(2028, 3, 1)) == dt.date(2028, 2, 29)


@pytest.mark.parametrize(
    "text, code",
    [
        ("31.02.2026", "impossible"),
        ("29.02.2027", "impossible"),
        ("30.02", "impossible"),
        ("32.01.2026", "impossible"),
        ("5.13.2026", "impossible"),
        ("31 апреля 2026", "impossible"),
        ("1.1.1800", "impossible"),
        ("", "empty"),
        ("   ", "empty"),
        ("hello", "unparseable"),
        ("5 ma", "unparseable"),
        ("завтра", "unparseable"),
        ("0503", "ambiguous"),
        ("5 iyu", "ambiguous"),  # iyun (June) or iyul (July)?
        ("5 mart 6 aprel", "ambiguous"),
    ],
)
def test_rejects(text, code):
    with pytest.raises(DateInputError) as err:
        parse_user_date(text, TODAY)
    assert err.value.code == code
    assert err.value.message  # a message a person can act on


def test_29_february_in_a_leap_year_is_accepted():
    assert parse_user_date("29.02.2028", TODAY) == dt.date(2028, 2, 29)
    assert parse_user_date("29 февраля 2024", TODAY) == dt.date(2024, 2, 29)


def test_month_words():
    assert month_from_word("марта") == 3
    assert month_from_word("желтоқсан") == 12
    assert month_from_word("dekabr") == 12
    assert month_from_word("ма") is None  # too short to tell
    assert month_from_word("table") is None


# ------------------------------------------------------------------ trips


JUNE = dt.date(2026, 6, 10)


def test_trip_lines_as_people_type_them():
    from bot.deadlines.dates import Trip, parse_trip_lines

    text = "1 mart - 30 mart\n10.01.2026 – 08.02.2026\n"
    assert parse_trip_lines(text, JUNE, "uz") == [
        Trip(dt.date(2026, 1, 10), dt.date(2026, 2, 8)),
        Trip(dt.date(2026, 3, 1), dt.date(2026, 3, 30)),
    ]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("10.01.2026", "trip"),  # one date, no exit
        ("\n".join(["01.01.2026 - 02.01.2026"] * 11), "too_many"),
        ("31.02.2026 - 05.03.2026", "impossible"),
    ],
)
def test_unreadable_trip_lines_say_why(text, code):
    from bot.deadlines.dates import DateInputError, parse_trip_lines

    with pytest.raises(DateInputError) as err:
        parse_trip_lines(text, JUNE, "ru", max_trips=10)
    assert err.value.code == code


def test_trips_that_cannot_be_counted_are_refused_the_same_way_for_cli_and_bot():
    from bot.deadlines.dates import DateInputError, Trip, check_trips, parse_trips

    overlapping = [
        Trip(dt.date(2026, 1, 1), dt.date(2026, 1, 20)),
        Trip(dt.date(2026, 1, 15), None),
    ]
    with pytest.raises(DateInputError, match="without overlaps") as typed:
        check_trips(overlapping, JUNE)
    with pytest.raises(DateInputError, match="without overlaps") as cli:
        parse_trips("2026-01-01:2026-01-20,2026-01-15:", JUNE)
    assert typed.value.code == cli.value.code == "trips"
