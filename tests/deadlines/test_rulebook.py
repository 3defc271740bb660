"""Deadline rules as data: loading, validation with file:line, and `kb check`."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.deadlines.rulebook import InvalidRules, check_rules, load_rules
from bot.knowledge.validation import check_kb
from tests.support.paths import REPO

RULES = REPO / "knowledge" / "rules"
D = dt.date.fromisoformat


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


def edit(path: Path, old: str, new: str) -> int:
    """Replace the first `old` in the file; return the 1-based line where it was."""
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


def messages(rules_dir: Path) -> list[str]:
    _, problems = check_rules(rules_dir)
    return [str(p) for p in problems if p.severity == "error"]


def test_the_repository_rules_are_valid_and_documented():
    ruleset, problems = check_rules(RULES)
    assert problems == []
    assert {r.id for r in ruleset.registration} >= {
        "ru-registration-general",
        "ru-registration-tj",
        "ru-registration-eaeu",
    }
    for rule in ruleset.all_rules():
        assert rule.sources and rule.as_of <= dt.date.today()
        assert rule.status == "reviewed" or rule.caveat, rule.id
    assert set(ruleset.calendars) == {"ru", "kz"}
    for calendar in ruleset.calendars.values():
        assert {2025, 2026, 2027} <= set(calendar.years)


def test_calendar_days():
    ru = load_rules(RULES).calendars["ru"]
    assert not ru.is_working(D("2026-03-09"))  # 8 March on a Sunday -> Monday off
    assert ru.is_working(D("2025-11-01"))  # a Saturday made a working day
    assert not ru.is_working(D("2025-11-03"))
    assert ru.is_working(D("2025-02-24"))  # 2025: 23 Feb's day off went to 8 May instead
    assert not ru.is_working(D("2025-05-08"))
    # 2027 moves are unconfirmed: counted as working days (the safe side).
    assert ru.is_working(D("2027-05-03")) and ru.is_working(D("2027-02-20"))
    assert not ru.is_working(D("2027-01-05"))  # a fixed holiday from the Labour Code
    kz = load_rules(RULES).calendars["kz"]
    assert not kz.is_working(D("2026-03-24"))  # Nauryz on a weekend -> moved
    assert kz.is_working(D("2026-08-31"))  # Constitution Day no longer 30 August


@pytest.mark.parametrize(
    "file, old, new, reason",
    [
        (
            "registration.yaml",
            "    counting: working\n",
            "    counting: weekdays\n",
            "counting 'weekdays' must be one of: calendar, working",
        ),
        (
            "registration.yaml",
            "    term: 7\n",
            "    term: -7\n",
            "term '-7' must be a whole number of days above 0",
        ),
        (
            "registration.yaml",
            "    citizenship: [tj]\n",
            "    citizenship: [tjk]\n",
            "citizenship 'tjk' is not an ISO 3166 alpha-2 country code",
        ),
        (
            "registration.yaml",
            "    valid_from: 2006-07-18\n",
            "    valid_from: 2006-13-18\n",
            "valid_from '2006-13-18' is not a valid date",
        ),
        (
            "stay.yaml",
            "    window: calendar_year\n",
            "    window: rolling\n",
            "a rolling window needs window_days",
        ),
        (
            "stay.yaml",
            "    exit_day_counts: true\n",
            "    exit_day_count: true\n",
            "unknown field 'exit_day_count'",
        ),
        (
            "patent.yaml",
            "    as_of: 2026-12-01\n",
            "    as_of: 2099-01-01\n",
            "as_of 2099-01-01 is in the future",
        ),
        (
            "calendar-ru.yaml",
            "    working_days: [2025-11-01]\n",
            "    working_days: [2025-11-03]\n",
            "2025-11-03 is a weekday",
        ),
        (
            "calendar-ru.yaml",
            "    days_off: [2026-01-09,",
            "    days_off: [2025-01-09,",
            "days_off: 2025-01-09 is not in 2026",
        ),
        (
            # The same check as for knowledge entries (one toolkit): a space in a URL.
            "registration.yaml",
            "        url: http://pravo.gov.ru/proxy/ips/?docbody=&nd=102107937\n",
            "        url: http://pravo.gov.ru/proxy/ips/?docbody=&nd=102107937 ст. 20\n",
            "is not a web address",
        ),
    ],
)
def test_a_bad_edit_is_reported_at_its_line(rules_copy, file, old, new, reason):
    path = rules_copy / file
    line = edit(path, old, new)
    found = messages(rules_copy)
    assert any(m.startswith(f"{path}:{line}: ") and reason in m for m in found), found
    with pytest.raises(InvalidRules):
        load_rules(rules_copy)


def test_a_draft_needs_a_caveat(rules_copy):
    path = rules_copy / "patent.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("    caveat: >-")
    end = text.index("    sources:", start)
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    assert any("a draft needs a 'caveat'" in m for m in messages(rules_copy))


def test_overlapping_rules_are_ambiguous(rules_copy):
    # Open the 90/180 rule's end: both Russian stay rules would apply in 2026.
    path = rules_copy / "stay.yaml"
    edit(path, "    valid_to: 2024-12-31\n", "    valid_to: null\n")
    assert any("overlaps 'ru-stay-90-180'" in m for m in messages(rules_copy))


def test_duplicate_id_names_the_first_place(rules_copy):
    path = rules_copy / "patent.yaml"
    edit(path, "  - id: ru-patent-advance-payment\n", "  - id: ru-stay-90-180\n")
    found = messages(rules_copy)
    assert any("duplicate rule id 'ru-stay-90-180'" in m and "stay.yaml:" in m for m in found)


def test_broken_yaml_and_missing_year(rules_copy):
    edit(rules_copy / "stay.yaml", "kind: stay\n", "kind: stay\n  bad: [\n")
    path = rules_copy / "calendar-kz.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("  - year: 2027")], encoding="utf-8")
    found = messages(rules_copy)
    assert any("stay.yaml" in m and "broken YAML" in m for m in found)
    assert any("calendar-kz.yaml" in m and "must cover 2027" in m for m in found)


def test_kb_check_validates_rules_and_reindex_ignores_them(kb_dir, monkeypatch, capsys):
    shutil.copytree(RULES, kb_dir / "rules")
    # Entries are only the top-level files: the rules folder adds no entries.
    kb_without, _ = check_kb(kb_dir)
    assert all(Path(e.path).parent == kb_dir for e in kb_without)
    monkeypatch.setenv("KB_DIR", str(kb_dir))
    assert main(["kb", "check"]) == 0
    assert "deadline rules" in capsys.readouterr().out
    line = edit(kb_dir / "rules" / "registration.yaml", "    term: 7\n", "    term: seven\n")
    assert main(["kb", "check"]) == 1
    out = capsys.readouterr().out
    assert f"registration.yaml:{line}: term 'seven'" in out
