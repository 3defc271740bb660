"""Deadline calculators against hand-checked cases.

Every expected date below was worked out by hand from a printed calendar and the rules
in knowledge/rules (not by running the code); the reasoning is in the comments. If a
rule figure in the YAML changes, these cases must be re-checked by hand, which is the
point: a changed deadline must never pass unnoticed.

Conventions of the current rules (see their caveats): the arrival day counts as day 1;
a last day on a day off is not moved; unconfirmed 2027 moves count as working days;
for stays both the entry and the exit day count.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys

import pytest

from bot.cli import main
from bot.deadlines import calculators as calc
from bot.deadlines.dates import DateInputError
from bot.deadlines.rulebook import load_rules
from tests.support.paths import REPO

RULES = REPO / "knowledge" / "rules"
D = dt.date.fromisoformat


@pytest.fixture(scope="module")
def rules():
    return load_rules(RULES)


@pytest.fixture(autouse=True)
def _kb_dir(monkeypatch):
    # The CLI reads KB_DIR; point it at the repository's knowledge folder wherever
    # pytest is started from.
    monkeypatch.setenv("KB_DIR", str(REPO / "knowledge"))


def reg(rules, country, citizenship, arrived):
    return calc.registration_deadline(rules, country, citizenship, D(arrived))


# ------------------------------------------------------------------ registration


def test_working_days_skip_a_holiday_moved_to_monday(rules):
    # Russia, a Moldovan citizen (no treaty term: the general rule), 7 working days.
    # Arrive Mon 2 Mar 2026 (working: day 1). Tue 3 (2), Wed 4 (3), Thu 5 (4), Fri 6 (5);
    # Sat 7, Sun 8 (8 March, a Sunday) and Mon 9 (the holiday moved to Monday) are off;
    # Tue 10 (6), Wed 11 (7).
    r = reg(rules, "ru", "md", "2026-03-02")
    assert r.deadline == D("2026-03-11")
    assert r.rule_id == "ru-registration-general"
    assert r.counting == "working" and r.term == 7


def test_arrival_on_a_public_holiday(rules):
    # Arrive Thu 1 Jan 2026, a holiday. Off: 1-8 Jan (holidays), Fri 9 Jan (moved from
    # Sat 3 Jan), 10-11 Jan weekend. Working: Mon 12 (1), 13 (2), 14 (3), 15 (4),
    # Fri 16 (5), Mon 19 (6), Tue 20 (7).
    assert reg(rules, "ru", "md", "2026-01-01").deadline == D("2026-01-20")


def test_arrival_on_a_saturday_holiday_moved_to_monday(rules):
    # Arrive Sat 9 May 2026 (Victory Day on a Saturday): Sun 10 off, Mon 11 off (moved).
    # Working: Tue 12 (1), 13 (2), 14 (3), Fri 15 (4), Mon 18 (5), 19 (6), Wed 20 (7).
    assert reg(rules, "ru", "md", "2026-05-09").deadline == D("2026-05-20")


def test_month_end_into_may_holidays(rules):
    # Arrive Thu 30 Apr 2026 (working, day 1). Fri 1 May holiday, 2-3 weekend; Mon 4 (2),
    # 5 (3), 6 (4), 7 (5), Fri 8 May (a working day in 2026) (6); Sat 9 holiday, Sun 10,
    # Mon 11 moved day off; Tue 12 May (7).
    assert reg(rules, "ru", "md", "2026-04-30").deadline == D("2026-05-12")


def test_transferred_working_saturday_counts(rules):
    # 2025: Saturday 1 Nov is a working day, Mon 3 Nov a day off, Tue 4 Nov a holiday.
    # Arrive Thu 30 Oct (1), Fri 31 (2), Sat 1 Nov (3), Sun 2 off, Mon 3 off, Tue 4 off,
    # Wed 5 (4), Thu 6 (5), Fri 7 (6), Mon 10 Nov (7).
    assert reg(rules, "ru", "md", "2025-10-30").deadline == D("2025-11-10")


def test_term_across_new_year_into_2027(rules):
    # Arrive Mon 28 Dec 2026 (1), Tue 29 (2), Wed 30 (3); Thu 31 Dec is a moved day off;
    # 1-8 Jan 2027 holidays; Sat 9, Sun 10 weekend; Mon 11 (4), 12 (5), 13 (6), Thu 14 (7).
    r = reg(rules, "ru", "md", "2026-12-28")
    assert r.deadline == D("2027-01-14")
    assert any("2027" in str(c) and "unconfirmed" in str(c) for c in r.caveats)
    assert any(c.code == "calendar_unconfirmed" and c.params["year"] == 2027 for c in r.caveats)


def test_unconfirmed_2027_moves_give_the_earlier_date(rules):
    # 2027 decree not confirmed. Unofficial calendars report Sat 20 Feb working and Mon
    # 22 Feb off; both are counted as WORKING here (safe side). Arrive Thu 18 Feb (1),
    # Fri 19 (2), Sat 20 (3), Mon 22 (4); Tue 23 Feb holiday; Wed 24 (5), Thu 25 (6),
    # Fri 26 (7). With the reported moves it would be Mon 1 Mar; we show 26 Feb.
    r = reg(rules, "ru", "md", "2027-02-18")
    assert r.deadline == D("2027-02-26")
    assert any("counted as working days" in str(c) for c in r.caveats)


def test_tajik_15_calendar_days_in_a_leap_year(rules):
    # 15 days with the entry day as day 1: 20 Feb 2028 + 14 days. Feb 2028 has 29 days:
    # 20..29 Feb = 10 days, 1..5 Mar = 5 days -> 5 Mar 2028. No calendar for 2028, so the
    # result says whether the last day is off is unknown.
    r = reg(rules, "ru", "tj", "2028-02-20")
    assert r.deadline == D("2028-03-05")
    assert r.rule_id == "ru-registration-tj"
    assert any("2028" in str(c) for c in r.caveats)
    assert any(c.code == "day_off_unknown" and c.params["year"] == 2028 for c in r.caveats)
    # The same arrival in a common year: 20..28 Feb = 9, 1..6 Mar = 6 -> 6 Mar 2027.
    assert reg(rules, "ru", "tj", "2027-02-20").deadline == D("2027-03-06")


def test_eaeu_30_days_ending_on_29_february(rules):
    # Kyrgyz citizen, 30 days from 31 Jan 2028: 31 Jan (1) + 29 days of Feb -> 29 Feb 2028.
    assert reg(rules, "ru", "kg", "2028-01-31").deadline == D("2028-02-29")
    # From 31 Jan 2026: 31 Jan (1) + 28 Feb days (29) + 1 Mar (30) -> Sun 1 Mar 2026.
    r = reg(rules, "ru", "kg", "2026-01-31")
    assert r.deadline == D("2026-03-01")
    assert r.rule_id == "ru-registration-eaeu"


def test_uzbek_citizens_have_15_calendar_days_in_russia(rules):
    # Russia-Uzbekistan agreement (in force 4 Jun 2022): 15 days from entry, entry day 1.
    # Arrive Fri 20 Nov 2026: 20..30 Nov = 11 days, 1..4 Dec = 4 -> Fri 4 Dec 2026.
    r = reg(rules, "ru", "uz", "2026-11-20")
    assert (r.deadline, r.rule_id) == (D("2026-12-04"), "ru-registration-uz")
    assert r.counting == "calendar" and r.term == 15
    # Across New Year, a weekend last day is not moved: 25..31 Dec = 7, 1..8 Jan = 8
    # -> Fri 8 Jan 2027, inside the New Year holidays: kept.
    assert reg(rules, "ru", "uz", "2026-12-25").deadline == D("2027-01-08")
    # Before the agreement took effect (4 Jun 2022) the general rule applied.
    assert next(x for x in rules.registration if x.id == "ru-registration-uz").valid_from == D(
        "2022-06-04"
    )


def test_kazakh_citizens_have_30_days_in_russia_whatever_the_purpose(rules):
    # The 2012 Russia-Kazakhstan agreement, not the EAEU workers' rule: 30 days.
    # Arrive 20 Nov 2026: 20..30 Nov = 11, 1..19 Dec = 19 -> Sat 19 Dec 2026.
    r = reg(rules, "ru", "kz", "2026-11-20")
    assert (r.deadline, r.rule_id) == (D("2026-12-19"), "ru-registration-kz")


def test_tajik_and_uzbek_citizens_in_kazakhstan(rules):
    # Tajikistan (2018 agreement; from 1 Jul 2026 with the new registration rules):
    # 30 calendar days, entry day 1. 3 Aug 2026: 3..31 Aug = 29, 1 Sep = 30 -> 1 Sep.
    r = reg(rules, "kz", "tj", "2026-08-03")
    assert (r.deadline, r.rule_id) == (D("2026-09-01"), "kz-registration-tj")
    # Uzbekistan (2022 protocol): 30 days per entry. 15 Oct 2026: 15..31 Oct = 17,
    # 1..13 Nov = 13 -> Fri 13 Nov 2026.
    r = reg(rules, "kz", "uz", "2026-10-15")
    assert (r.deadline, r.rule_id) == (D("2026-11-13"), "kz-registration-uz")


def test_calendar_term_ending_on_a_moved_day_off_is_not_moved(rules):
    # Kazakh citizen in Russia, arrive Sun 8 Feb 2026: 8..28 Feb = 21 days, 1..9 Mar = 9
    # -> 30th day Mon 9 Mar 2026, the moved 8 March holiday. Kept, with a warning.
    r = reg(rules, "ru", "kz", "2026-02-08")
    assert r.deadline == D("2026-03-09")
    assert any("is a day off" in str(c) and "not moved" in str(c) for c in r.caveats)
    assert any(c.code == "day_off_not_moved" for c in r.caveats)


def test_kazakhstan_rule_depends_on_the_arrival_date(rules):
    # From 1 Jul 2026 (Order No. 923): the 30th calendar day after crossing the border.
    # 10 Jul: 10..31 Jul = 22 days, 1..8 Aug = 8 -> 8 Aug 2026.
    r = reg(rules, "kz", "kg", "2026-07-10")
    assert (r.deadline, r.rule_id) == (D("2026-08-08"), "kz-registration-90day-states")
    # Before 1 Jul 2026 the EAEU 30-day rule: 15 Jun + 29 = 14 Jul.
    r = reg(rules, "kz", "kg", "2026-06-15")
    assert (r.deadline, r.rule_id) == (D("2026-07-14"), "kz-registration-eaeu-before-2026-07")


def test_every_result_names_rule_sources_and_estimate(rules):
    r = reg(rules, "ru", "md", "2026-03-02")
    assert r.rule.sources and all(s.url.startswith("http") for s in r.rule.sources)
    assert "estimate" in r.estimate and "check it with" in r.estimate
    assert r.caveats  # the rule is a draft: its caveat must travel with the figure


def test_no_rule_is_an_error_not_a_guess(rules):
    with pytest.raises(calc.CalcError) as err:
        reg(rules, "kz", "az", "2026-08-01")
    assert err.value.code == "no_rule"


def test_working_days_beyond_the_calendar_are_refused(rules):
    with pytest.raises(calc.CalcError) as err:
        reg(rules, "ru", "md", "2028-03-01")
    assert err.value.code == "calendar" and "2028" in err.value.message


# ------------------------------------------------------------------ stay


def stay(rules, country, citizenship, trips, on):
    return calc.stay_counter(rules, country, citizenship, trips, D(on))


def test_stay_single_open_trip(rules):
    # In since 1 Jan 2026, checked on 10 Jan: 1..10 = 10 days used (both ends count).
    # 90th day: Jan 31 + Feb 28 + Mar 31 = 90 -> 31 Mar; 80 days after 10 Jan.
    r = stay(rules, "ru", "uz", "2026-01-01:", "2026-01-10")
    assert (r.days_used, r.days_left, r.last_legal_day) == (10, 80, D("2026-03-31"))
    assert r.inside and r.rule_id == "ru-stay-90-calendar-year"


def test_stay_several_trips_in_one_year(rules):
    # 10 Jan-8 Feb: 22 + 8 = 30 days; 1-30 Mar: 30 days; in since 1 Jun, on 10 Jun: 10.
    # Used 70; 20 more days -> 30 Jun (1..30 Jun = 30, total 90).
    r = stay(
        rules, "ru", "uz", "2026-01-10:2026-02-08,2026-03-01:2026-03-30,2026-06-01:", "2026-06-10"
    )
    assert (r.days_used, r.days_left, r.last_legal_day) == (70, 20, D("2026-06-30"))


def test_stay_trip_crossing_new_year_hits_the_continuous_limit(rules):
    # In since 15 Nov 2025. The 2026 count on 5 Jan is 5 (1..5 Jan), but 90 days in a row
    # end on 12 Feb 2026: 15..30 Nov = 16, Dec 31 (47), Jan 31 (78), 1..12 Feb = 12 (90).
    r = stay(rules, "ru", "uz", "2025-11-15:", "2026-01-05")
    assert r.days_used == 5
    assert r.last_legal_day == D("2026-02-12")
    assert r.days_left == 38  # 26 more days of January + 12 of February


def test_stay_over_the_limit(rules):
    # In since 1 Jan 2026, on 5 Apr: 31 + 28 + 31 + 5 = 95 days -> 5 days over;
    # the last legal day was 31 Mar.
    r = stay(rules, "ru", "uz", "2026-01-01:", "2026-04-05")
    assert r.days_used == 95 and r.days_left == 0 and r.last_legal_day is None
    assert r.overstay_days == 5


def test_rolling_window_drops_old_days(rules):
    # Kazakhstan, Kyrgyz citizen: 90 in any 180 days, 90 per entry.
    # Trips: 1 Oct-29 Nov 2025 (31 + 29 = 60 days), 1 Feb-2 Mar 2026 (28 + 2 = 30 days).
    # On 19 Apr 2026 (outside, planning to enter that day) the window is 22 Oct 2025 -
    # 19 Apr 2026 (10 + 30 + 31 + 31 + 28 + 31 + 19 = 180 days): 22 Oct-29 Nov = 39 days
    # + 30 = 69 used. Entering on 19 Apr: each new day pushes one October/November day
    # out of the window until 29 Nov leaves it (on 28 May), so the count stays at 70;
    # afterwards it grows: 30 + days since 19 Apr <= 90 gives 60 days, 19 Apr..17 Jun.
    # Check 17 Jun: window from 20 Dec 2025: 30 (Feb-Mar) + 12 + 31 + 17 = 90.
    r = stay(rules, "kz", "kg", "2025-10-01:2025-11-29,2026-02-01:2026-03-02", "2026-04-19")
    assert r.rule_id == "kz-stay-eaeu"
    assert not r.inside
    assert r.window_start == D("2025-10-22")
    assert (r.days_used, r.days_left, r.last_legal_day) == (69, 60, D("2026-06-17"))


def test_per_entry_limit_for_visa_free_in_kazakhstan(rules):
    # Uzbek citizen: 30 days per entry and 90 in 180. 1-30 Jan (30), 1-30 Mar (30), in
    # since 1 May; on 10 May 70 used; the 30th day of this entry is 30 May (and the
    # 180-day count that day is 30 + 30 + 30 = 90, also at the limit).
    r = stay(
        rules, "kz", "uz", "2026-01-01:2026-01-30,2026-03-01:2026-03-30,2026-05-01:", "2026-05-10"
    )
    assert r.rule_id == "kz-stay-visa-free-30"
    assert (r.days_used, r.days_left, r.last_legal_day) == (70, 20, D("2026-05-30"))


def test_earlier_breach_in_the_trips_is_reported(rules):
    # 1 Jan-10 Apr 2025 = 31 + 28 + 31 + 10 = 100 days in 2025: over 90 on 1 Apr 2025.
    r = stay(rules, "ru", "uz", "2025-01-01:2025-04-10", "2026-01-10")
    assert any("2025-04-01" in str(c) for c in r.caveats)
    assert any(c.code == "earlier_breach" for c in r.caveats)


@pytest.mark.parametrize(
    "trips, code_text",
    [
        ("2026-01-10:2026-01-05", "before it starts"),
        ("2026-01-01:,2026-02-01:", "only the last trip may be open"),
        ("2026-01-01:2026-01-20,2026-01-15:2026-01-30", "without overlaps"),
        ("2026-13-01:", "not a real date"),
        ("2026-02-01:2026-02-10,2027-01-01:", "after the day checked"),
        ("yesterday", "ENTRY:EXIT"),
    ],
)
def test_bad_trips_are_explained(rules, trips, code_text):
    with pytest.raises(DateInputError) as err:
        stay(rules, "ru", "uz", trips, "2026-06-01")
    assert code_text in err.value.message


# ------------------------------------------------------------------ patent


def test_patent_due_on_a_sunday_is_not_moved(rules):
    # Paid until Sun 8 Mar 2026 (a holiday on a Sunday; Mon 9 Mar is the moved day off).
    # The next month must be paid by the last paid day; it is not moved to 10 Mar.
    r = calc.patent_due(rules, D("2026-03-08"), remind_days=3)
    assert r.due == D("2026-03-08") and r.rule_id == "ru-patent-advance-payment"
    assert r.next_period_start == D("2026-03-09")
    assert r.remind_on == D("2026-03-05")
    assert any("is a day off" in str(c) for c in r.caveats)
    assert any(c.code == "payment_on_day_off" for c in r.caveats)


def test_patent_due_at_a_leap_month_end(rules):
    # Paid until 29 Feb 2028: due that day; the unpaid patent is void from 1 Mar 2028.
    r = calc.patent_due(rules, D("2028-02-29"))
    assert (r.due, r.next_period_start) == (D("2028-02-29"), D("2028-03-01"))


# ------------------------------------------------------------------ CLI


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_registration_json(capsys):
    code, out, _ = run_cli(
        capsys,
        "deadline",
        "registration",
        "--country",
        "ru",
        "--citizenship",
        "md",
        "--arrived",
        "2026-01-01",
        "--json",
    )
    data = json.loads(out)
    assert code == 0
    assert data["deadline"] == "2026-01-20"
    assert data["rule_id"] == "ru-registration-general"
    assert data["sources"][0]["url"].startswith("http")
    assert "estimate" in data["estimate"]


def test_cli_stay_and_patent_json(capsys):
    code, out, _ = run_cli(
        capsys,
        "deadline",
        "stay",
        "--country",
        "ru",
        "--citizenship",
        "tj",
        "--trips",
        "2026-01-01:",
        "--on",
        "2026-01-10",
        "--json",
    )
    data = json.loads(out)
    assert code == 0
    assert (data["days_used"], data["days_left"], data["last_legal_day"]) == (
        10,
        80,
        "2026-03-31",
    )
    assert data["rule_id"] == "ru-stay-90-calendar-year"
    code, out, _ = run_cli(capsys, "deadline", "patent", "--paid-until", "2026-03-08", "--json")
    data = json.loads(out)
    assert code == 0 and data["due"] == "2026-03-08"
    assert data["rule_id"] == "ru-patent-advance-payment"


def test_cli_text_output_names_rule_and_estimate(capsys):
    code, out, _ = run_cli(
        capsys,
        "deadline",
        "registration",
        "--country",
        "ru",
        "--citizenship",
        "md",
        "--arrived",
        "2026-03-02",
    )
    assert code == 0
    assert "2026-03-11" in out and "ru-registration-general" in out
    assert "estimate" in out and "pravo.gov.ru" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["registration", "--country", "ru", "--citizenship", "uz", "--arrived", "2026-02-30"],
            "--arrived: '2026-02-30': month 2 of 2026 has 28 days, not 30",
        ),
        (
            ["registration", "--country", "by", "--citizenship", "uz", "--arrived", "2026-02-03"],
            "must be ru",
        ),
        (
            ["registration", "--country", "ru", "--citizenship", "uzb", "--arrived", "2026-02-03"],
            "ISO 3166",
        ),
        (
            ["registration", "--country", "kz", "--citizenship", "az", "--arrived", "2026-08-03"],
            "no registration rule",
        ),
        (
            [
                "stay",
                "--country",
                "ru",
                "--citizenship",
                "uz",
                "--trips",
                "2026-01-05:2026-01-01",
                "--on",
                "2026-02-01",
            ],
            "before it starts",
        ),
        # typed forms are read as the bot reads them ("5.03.2026" works); this is no date
        (["patent", "--paid-until", "позавчера"], "not a date I can read"),
        (["patent", "--paid-until", "5.03.2026", "--today", "2026-13-01"], "YYYY-MM-DD"),
    ],
)
def test_cli_bad_input_exit_2(capsys, argv, message):
    code, out, err = run_cli(capsys, "deadline", *argv)
    assert code == 2
    assert message in err and out == ""


def test_cli_missing_argument_exit_2_in_a_real_process():
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "deadline", "registration", "--country", "ru"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--citizenship" in proc.stderr


def test_a_rule_change_is_a_data_edit(tmp_path, monkeypatch, capsys):
    # Copy the knowledge folder's rules, change the general term from 7 to 3 working
    # days: arrival Mon 2 Mar 2026 -> Mon 2 (1), Tue 3 (2), Wed 4 (3).
    kb = tmp_path / "knowledge"
    shutil.copytree(RULES, kb / "rules")
    path = kb / "rules" / "registration.yaml"
    path.write_text(path.read_text().replace("    term: 7\n", "    term: 3\n", 1))
    monkeypatch.setenv("KB_DIR", str(kb))
    code, out, _ = run_cli(
        capsys,
        "deadline",
        "registration",
        "--country",
        "ru",
        "--citizenship",
        "md",
        "--arrived",
        "2026-03-02",
        "--json",
    )
    assert code == 0 and json.loads(out)["deadline"] == "2026-03-04"


def test_cli_reads_dates_as_people_type_them_on_a_given_day(capsys):
    # --today makes a result reproducible; --paid-until looks ahead like the bot does.
    code, out, _ = run_cli(
        capsys, "deadline", "patent", "--paid-until", "5 марта", "--today", "2026-12-03", "--json"
    )
    assert code == 0 and json.loads(out)["due"] == "2027-03-05"
    code, out, _ = run_cli(
        capsys,
        "deadline",
        "registration",
        "--country",
        "ru",
        "--citizenship",
        "tj",
        "--arrived",
        "02.12",
        "--today",
        "2026-12-03",
        "--json",
    )
    assert code == 0 and json.loads(out)["arrived"] == "2026-12-02"


def test_cli_asks_for_the_year_when_a_paid_until_date_could_be_either(capsys):
    code, _, err = run_cli(
        capsys, "deadline", "patent", "--paid-until", "1 декабря", "--today", "2026-12-03"
    )
    assert code == 2
    assert "2026-12-01 or 2027-12-01" in err and "write the year" in err
