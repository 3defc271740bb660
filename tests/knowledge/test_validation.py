"""Validation: every error kind is reported with the file, the line and a reason."""

import datetime as dt
from pathlib import Path

import pytest

from bot.knowledge.validation import InvalidKnowledgeBase, check_kb, load_kb
from bot.knowledge.yamldoc import errors

TODAY = dt.date(2026, 11, 23)


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture changed: {old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line]
    return hits[nth - 1]


def only_error(kb_dir: Path):
    _, problems = check_kb(kb_dir, today=TODAY)
    errs = errors(problems)
    assert len(errs) == 1, "\n".join(map(str, errs))
    return errs[0]


def test_fixture_knowledge_base_is_valid(kb_dir):
    kb, problems = check_kb(kb_dir, today=TODAY)
    assert errors(problems) == []
    assert set(kb.entries) == {
        "patent-payment",
        "registration-deadline",
        "kz-stay",
        "consulate-help",
    }
    entry = kb["patent-payment"]
    assert entry.as_of == dt.date(2026, 1, 15)
    assert entry.text["uz"].questions[-1] == "патент учун тўлов қанча"


def test_broken_yaml_names_the_line(kb_dir):
    f = kb_dir / "kz-stay.yaml"
    edit(f, "tags: [stay, kazakhstan]", "tags: [stay, kazakhstan")
    err = only_error(kb_dir)
    assert err.path == str(f)
    assert "broken YAML" in err.message
    assert err.line >= line_of(f, "tags:")
    assert str(err).startswith(f"{f}:{err.line}: ")


def test_missing_language_names_the_language(kb_dir):
    f = kb_dir / "kz-stay.yaml"
    text = f.read_text()
    start, end = text.index("  tg:\n"), text.index("  en:\n")
    f.write_text(text[:start] + text[end:])
    err = only_error(kb_dir)
    assert "text.tg" in err.message and "Tajik" in err.message
    assert err.line == line_of(f, "text:")


def test_missing_field_is_named(kb_dir):
    f = kb_dir / "kz-stay.yaml"
    edit(f, "country: kz\n", "")
    err = only_error(kb_dir)
    assert "'country' is missing" in err.message
    assert err.line == 1


def test_empty_answer_names_language_and_line(kb_dir):
    f = kb_dir / "kz-stay.yaml"
    text = f.read_text()
    start = text.index("  ky:\n")
    answer_at = text.index("    answer: |\n", start)
    end = text.index("  tg:\n")
    f.write_text(text[:answer_at] + '    answer: ""\n' + text[end:])
    err = only_error(kb_dir)
    assert "text.ky.answer is missing or empty" in err.message
    assert err.line == line_of(f, 'answer: ""')


def test_duplicate_id_points_to_both_files(kb_dir):
    copy = kb_dir / "kz-stay-copy.yaml"
    copy.write_text((kb_dir / "kz-stay.yaml").read_text())
    _, problems = check_kb(kb_dir, today=TODAY)
    messages = [str(p) for p in errors(problems)]
    assert any("duplicate id 'kz-stay'" in m and "kz-stay.yaml:1" in m for m in messages)
    # the copy's file name does not match its id either
    assert any("differs from the file name" in m for m in messages)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("review_by: 2099-01-01", "review_by: 2026-13-40", "is not a valid date"),
        ("review_by: 2099-01-01", "review_by: 2026-06-01", "in the past"),
        ("as_of: 2026-01-15", "as_of: 2027-01-15", "in the future"),
        ("review_by: 2099-01-01", "review_by: soon", "is not a valid date"),
    ],
)
def test_bad_or_past_dates(kb_dir, old, new, expected):
    f = kb_dir / "kz-stay.yaml"
    edit(f, old, new)
    err = only_error(kb_dir)
    assert expected in err.message
    assert err.line == line_of(f, new.split(":")[0] + ":")


def test_unknown_related_id(kb_dir):
    f = kb_dir / "patent-payment.yaml"
    edit(f, "related: [registration-deadline]", "related:\n  - registration-deadline\n  - ru-nope")
    err = only_error(kb_dir)
    assert "related id 'ru-nope' does not exist" in err.message
    assert err.line == line_of(f, "- ru-nope")


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ("[kz-nope]", "counterpart 'kz-nope' does not exist"),
        ("[registration-deadline]", "counterpart 'registration-deadline' is about 'ru'"),
        ("[consulate-help]", "counterpart 'consulate-help' is about 'any'"),
    ],
)
def test_a_counterpart_is_an_entry_of_the_other_country_of_stay(kb_dir, ids, expected):
    f = kb_dir / "patent-payment.yaml"
    edit(
        f,
        "related: [registration-deadline]",
        f"related: [registration-deadline]\ncounterparts: {ids}",
    )
    err = only_error(kb_dir)
    assert expected in err.message
    assert err.line == line_of(f, "counterparts:")


def test_a_counterpart_in_the_other_country_is_read(kb_dir):
    edit(
        kb_dir / "patent-payment.yaml",
        "related: [registration-deadline]",
        "related: [registration-deadline]\ncounterparts: [kz-stay]",
    )
    kb, problems = check_kb(kb_dir, today=TODAY)
    assert errors(problems) == []
    assert kb["patent-payment"].counterparts == ("kz-stay",)


def test_unknown_field_is_flagged_as_typo(kb_dir):
    f = kb_dir / "kz-stay.yaml"
    edit(f, "status: reviewed", "staus: reviewed")
    _, problems = check_kb(kb_dir, today=TODAY)
    messages = [p.message for p in errors(problems)]
    assert any("unknown field 'staus'" in m for m in messages)
    assert any("'status' is missing" in m for m in messages)


def test_source_needs_a_web_address(kb_dir):
    f = kb_dir / "kz-stay.yaml"
    edit(f, "url: https://example.org/kz-stay", "url: egov portal")
    err = only_error(kb_dir)
    assert "is not a web address" in err.message
    assert err.line == line_of(f, "url: egov portal")


def test_too_few_questions(kb_dir):
    f = kb_dir / "kz-stay.yaml"
    edit(f, "      - how to extend my stay in kazakhstan\n", "")
    edit(f, "      - kazakhstan stay limit\n", "")
    err = only_error(kb_dir)
    assert "text.en.questions has 1" in err.message


def test_duplicate_key_in_one_file(kb_dir):
    f = kb_dir / "kz-stay.yaml"
    edit(f, "country: kz\n", "country: kz\ncountry: ru\n")
    err = only_error(kb_dir)
    assert "'country' appears twice" in err.message
    assert err.line == 3


def test_long_answer_is_a_warning_not_an_error(kb_dir):
    f = kb_dir / "kz-stay.yaml"
    edit(
        f,
        "      2. Extend your stay before it ends.\n",
        "      2. Extend your stay before it ends.\n" + "      More text here.\n" * 160,
    )
    _, problems = check_kb(kb_dir, today=TODAY)
    assert errors(problems) == []
    assert any(p.severity == "warning" and "characters" in p.message for p in problems)


def test_short_answer_is_required_and_a_long_one_is_a_warning(kb_dir):
    f = kb_dir / "kz-stay.yaml"
    text = f.read_text()
    ky = text.index("\n  ky:\n")
    start = text.index("    short: |\n", ky)
    end = text.index("    questions:\n", start)
    long = "    short: |\n" + "      Мөөнөт жарандыгыңызга жараша болот.\n" * 20
    f.write_text(text[:start] + long + text[end:])
    _, problems = check_kb(kb_dir, today=TODAY)
    assert errors(problems) == []
    [warning] = [p for p in problems if "text.ky.short" in p.message]
    assert warning.severity == "warning" and "the limit is 500" in warning.message
    f.write_text(text[:start] + text[end:])
    _, problems = check_kb(kb_dir, today=TODAY)
    [error] = [p for p in errors(problems) if "text.ky.short is missing" in p.message]
    title = next(line for line in text[ky:].splitlines() if line.startswith("    title:"))
    assert error.line == line_of(f, title)  # the title's line: the short goes after it


@pytest.mark.parametrize("typed", ["Qozog'iston", "Qozog‘iston", "Qozog’iston", "Qozog`iston"])
def test_uzbek_text_uses_one_apostrophe(kb_dir, typed):
    f = kb_dir / "kz-stay.yaml"
    edit(f, "Qozogʻistonda vizasiz qancha turish mumkin", f"{typed}da vizasiz qancha turish")
    _, problems = check_kb(kb_dir, today=TODAY)
    [error] = errors(problems)
    assert "Uzbek text uses" in error.message and "U+02BB" in error.message
    assert error.line == line_of(f, f"{typed}da vizasiz")


def test_source_titles_per_language(kb_dir):
    f = kb_dir / "patent-payment.yaml"
    edit(f, '      ky: "Патент төлөө боюнча сыноо булагы"\n', "")
    _, problems = check_kb(kb_dir, today=TODAY)
    assert errors(problems) == []
    assert any("source 1 has no title in ky" in p.message for p in problems)
    edit(f, '      tg: "Манбаи', '      xx: "Манбаи')
    _, problems = check_kb(kb_dir, today=TODAY)
    assert any("titles: unknown language 'xx'" in p.message for p in errors(problems))


def test_load_kb_raises_with_every_problem(kb_dir):
    edit(kb_dir / "kz-stay.yaml", "status: reviewed", "status: maybe")
    edit(kb_dir / "patent-payment.yaml", "country: ru", "country: mars")
    with pytest.raises(InvalidKnowledgeBase) as info:
        load_kb(kb_dir, today=TODAY)
    text = str(info.value)
    assert "2 error(s)" in text and "status 'maybe'" in text and "country 'mars'" in text


def test_content_hash_changes_with_content_only(kb_dir):
    before = load_kb(kb_dir, today=TODAY).content_hash
    assert load_kb(kb_dir, today=TODAY).content_hash == before
    edit(kb_dir / "kz-stay.yaml", "kazakhstan stay limit", "kazakhstan stay limits")
    assert load_kb(kb_dir, today=TODAY).content_hash != before


def test_not_about_is_read_per_language(kb_dir):
    path = kb_dir / "patent-payment.yaml"
    edit(
        path,
        "      - kak oplatit patent\n",
        '      - kak oplatit patent\n    not_about:\n      - "патент на изобретение"\n',
    )
    kb, problems = check_kb(kb_dir, today=TODAY)
    assert errors(problems) == []
    assert kb["patent-payment"].text["ru"].not_about == ("патент на изобретение",)
    assert kb["patent-payment"].text["en"].not_about == ()


def test_not_about_that_is_also_a_question_is_an_error(kb_dir):
    path = kb_dir / "patent-payment.yaml"
    edit(
        path,
        "      - kak oplatit patent\n",
        "      - kak oplatit patent\n    not_about:\n      - Как оплатить  патент\n",
    )
    err = only_error(kb_dir)
    assert "not_about item 1" in err.message and "also one of this entry's questions" in err.message
    assert err.line == line_of(path, "Как оплатить  патент")


def test_not_about_must_be_a_list(kb_dir):
    path = kb_dir / "patent-payment.yaml"
    edit(
        path,
        "      - kak oplatit patent\n",
        "      - kak oplatit patent\n    not_about: изобретение\n",
    )
    err = only_error(kb_dir)
    assert "text.ru.not_about must be a list" in err.message


def test_training_questions_are_checked(kb_dir):
    training = kb_dir / "training"
    training.mkdir()
    (training / "questions.jsonl").write_text(
        '{"text": "как оплатить патент", "expected": "patent-payment"}\n'
        '{"text": "старый вопрос", "expected": "removed-entry"}\n',
        encoding="utf-8",
    )
    _, problems = check_kb(kb_dir, today=TODAY)
    assert errors(problems) == []
    (warning,) = [p for p in problems if "removed-entry" in p.message]
    assert warning.severity == "warning" and warning.line == 2
    (training / "more.jsonl").write_text('{"text": "x", "expected": 5}\n', encoding="utf-8")
    err = only_error(kb_dir)
    assert err.path.endswith("more.jsonl") and err.line == 1
    assert "'expected' must be an id" in err.message
