"""Console edits of entry files: the form's changes land, everything else stays byte for
byte (comments, key order, quotes, block styles), and the result still passes kb check."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain import LANGUAGES
from bot.knowledge import editing
from bot.knowledge.editing import (
    EditError,
    EntryFields,
    LanguageFields,
    SourceFields,
    add_question,
    apply_fields,
    fingerprint,
    new_entry_text,
    read_fields,
)
from bot.knowledge.validation import check_entry_text, parse_entry_text
from bot.knowledge.yamldoc import errors
from tests.support.paths import REPO

KNOWLEDGE = REPO / "knowledge"
ENTRY_FILES = sorted(KNOWLEDGE.glob("*.yaml"))
TODAY = dt.date(2026, 12, 10)

# A small entry with comments everywhere ruamel keeps them: file header, end of line,
# whole lines between keys, between list items, between languages and at the end.
COMMENTED = """\
# Entry header comment
id: demo
country: ru  # where
status: draft
as_of: 2026-12-01
review_by: 2027-06-01
sources:
  - title: Law
    titles:
      ru: "Закон"  # ru title
      en: "Law (official text)"
    url: https://example.org/law
    supports: everything
text:
  ru:
    title: Заголовок
    # before short
    short: |
      Первая строка.
      Вторая строка.
    # before questions
    questions:
      - первый вопрос  # eol q1
      - "второй вопрос"
      # before third
      - третий вопрос
    # before answer
    answer: |
      Ответ.
  # between languages
  en:
    title: Title
    short: One line short  # todo
    questions:
      - q one
      - q two
      - q three
    not_about:
      - other thing
    # en answer
    answer: |
      Answer.
# trailing comment
"""


def entry_text(name: str) -> str:
    return (KNOWLEDGE / name).read_text(encoding="utf-8")


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    """The lines only in `old` and the lines only in `new`, in file order."""
    a, b = old.splitlines(), new.splitlines()
    removed: list[str] = []
    added: list[str] = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            removed += a[i1:i2]
            added += b[j1:j2]
    return removed, added


def comment_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


def error_messages(text: str, name: str) -> set[str]:
    return {p.message for p in errors(check_entry_text(text, f"knowledge/{name}", today=TODAY))}


def one_line(value: str) -> str:
    return " ".join(value.split())


def with_language(fields: EntryFields, lang: str, **changes: Any) -> EntryFields:
    text = dict(fields.text)
    text[lang] = dataclasses.replace(text[lang], **changes)
    return dataclasses.replace(fields, text=text)


# Every real entry file.


def test_there_are_entry_files():
    assert len(ENTRY_FILES) >= 30


@pytest.mark.parametrize("path", ENTRY_FILES, ids=lambda p: p.name)
def test_ruamel_round_trip_is_byte_identical(path: Path):
    text = path.read_text(encoding="utf-8")
    assert editing._dump(editing._load(text), text) == text


@pytest.mark.parametrize("path", ENTRY_FILES, ids=lambda p: p.name)
def test_unchanged_form_gives_the_same_bytes(path: Path):
    text = path.read_text(encoding="utf-8")
    assert apply_fields(text, read_fields(text)) == text


@pytest.mark.parametrize("path", ENTRY_FILES, ids=lambda p: p.name)
def test_read_fields_are_what_the_validator_reads(path: Path):
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    fields = read_fields(text)
    assert fields.as_of == data["as_of"].isoformat()
    assert fields.review_by == data["review_by"].isoformat()
    assert list(fields.text) == list(data["text"])
    for lang, block in data["text"].items():
        local = fields.text[lang]
        assert local.title == block["title"].strip()
        assert local.short == block["short"].strip()
        assert local.answer == block["answer"].strip()
        assert local.questions == tuple(q.strip() for q in block["questions"])
        assert local.not_about == tuple(q.strip() for q in block.get("not_about", []))
    assert fields.sources == tuple(
        SourceFields(
            title=one_line(s["title"]),
            url=one_line(s["url"]),
            supports=one_line(s["supports"]),
            titles={k: one_line(v) for k, v in s.get("titles", {}).items()},
        )
        for s in data["sources"]
    )
    assert fields.source_titles == tuple(s.get("titles", {}) for s in data["sources"])


# A real edit of a real file.


def test_edit_of_two_languages_changes_only_their_lines():
    name = "ru-patent-payment.yaml"
    text = entry_text(name)
    fields = read_fields(text)
    old_short = fields.text["ru"].short
    new_short = "Патент в 2026 году: Москва — 10 000 ₽ в месяц.\r\nПлатите до начала месяца.  \r\n"
    edited = with_language(fields, "ru", short=new_short)
    edited = with_language(edited, "kk", title="Патент төлемі")

    new = apply_fields(text, edited)

    removed, added = changed_lines(text, new)
    assert removed == [
        *("      " + line for line in old_short.split("\n")),
        "    title: Патент үшін төлем (ай сайынғы НДФЛ)",
    ]
    assert added == [
        "      Патент в 2026 году: Москва — 10 000 ₽ в месяц.",
        "      Платите до начала месяца.",
        "    title: Патент төлемі",
    ]
    data = yaml.safe_load(new)
    assert data["text"]["ru"]["short"] == (
        "Патент в 2026 году: Москва — 10 000 ₽ в месяц.\nПлатите до начала месяца.\n"
    )
    assert data["text"]["kk"]["title"] == "Патент төлемі"
    again = read_fields(new)
    assert again.text["ru"].short == (
        "Патент в 2026 году: Москва — 10 000 ₽ в месяц.\nПлатите до начала месяца."
    )
    assert again.text["kk"].title == "Патент төлемі"
    assert again.text["uz"] == fields.text["uz"]
    assert again.sources == fields.sources
    assert error_messages(new, name) <= error_messages(text, name)
    assert new.endswith("\n")


def test_questions_are_edited_item_by_item():
    name = "ru-patent-payment.yaml"
    text = entry_text(name)
    fields = read_fields(text)
    questions = list(fields.text["ru"].questions)
    assert questions[1] == "как оплатить патент"
    assert questions[10] == "skolko stoit patent v mesyac"
    del questions[1]  # deleted
    questions[9] = "skolko stoit patent v mesyats"  # a typo fixed in a quoted item
    questions.insert(4, "сколько стоит патент в твери")  # added in the middle
    questions.append("")  # an empty line of the form

    new = apply_fields(text, with_language(fields, "ru", questions=tuple(questions)))

    removed, added = changed_lines(text, new)
    assert removed == [
        "      - как оплатить патент",
        '      - "skolko stoit patent v mesyac"',
    ]
    assert added == [
        "      - сколько стоит патент в твери",
        '      - "skolko stoit patent v mesyats"',
    ]
    assert read_fields(new).text["ru"].questions == tuple(q for q in questions if q)
    assert error_messages(new, name) <= error_messages(text, name)


def test_form_values_with_windows_line_breaks_and_spaces_are_no_change():
    text = entry_text("ru-patent-payment.yaml")
    fields = read_fields(text)
    ru = fields.text["ru"]
    sloppy = with_language(
        fields,
        "ru",
        short="\r\n" + ru.short.replace("\n", "   \r\n") + "  \r\n",
        title=f"  {ru.title} ",
        questions=tuple(f" {q}\r\n" for q in ru.questions),
    )
    assert apply_fields(text, sloppy) == text


def test_not_about_emptied_is_removed_and_never_added_empty():
    text = entry_text("ru-patent-payment.yaml")
    fields = read_fields(text)
    new = apply_fields(text, with_language(fields, "en", not_about=()))
    removed, added = changed_lines(text, new)
    assert removed == [
        "    not_about:",
        '      - "how much is the patent tax for sole proprietors"',
        '      - "patent office filing fee for an invention"',
    ]
    assert added == []
    assert "not_about" not in yaml.safe_load(new)["text"]["en"]
    # Without the key, an empty list leaves the file as it is.
    assert apply_fields(new, read_fields(new)) == new


def test_not_about_added_goes_between_questions_and_answer():
    text = COMMENTED
    fields = read_fields(text)
    new = apply_fields(text, with_language(fields, "ru", not_about=("патент на изобретение",)))
    removed, added = changed_lines(text, new)
    assert removed == []
    assert added == ["    not_about:", "      - патент на изобретение"]
    lines = new.splitlines()
    at = lines.index("    not_about:")
    assert lines[at - 2 : at + 3] == [
        "      # before third",
        "      - третий вопрос",
        "    not_about:",
        "      - патент на изобретение",
        "    # before answer",  # the comment stays above the key it was above
    ]
    assert list(yaml.safe_load(new)["text"]["ru"]) == [
        "title",
        "short",
        "questions",
        "not_about",
        "answer",
    ]


def test_missing_language_is_added_after_the_others():
    name = "ru-patent-payment.yaml"
    full = entry_text(name)
    cut = full[: full.index("\n  en:\n") + 1]  # en is the last language of the file
    fields = read_fields(full)

    new = apply_fields(cut, fields)

    assert new.startswith(cut)
    assert yaml.safe_load(new) == yaml.safe_load(full)
    assert list(yaml.safe_load(new)["text"]["en"]) == [
        "title",
        "short",
        "questions",
        "not_about",
        "answer",
    ]
    tail = new[len(cut) :].splitlines()
    assert tail[:3] == [
        "  en:",
        "    title: Paying for the patent (monthly income tax)",
        "    short: |",
    ]
    assert "    answer: |" in tail
    assert error_messages(new, name) == error_messages(full, name) == set()


def test_new_language_without_not_about_has_no_not_about_key():
    text = COMMENTED
    fields = read_fields(text)
    kk = LanguageFields("Тақырып", "Қысқа жауап", "Толық жауап", ("бір", "екі", "үш"))
    empty = LanguageFields("", "", "", (), ())
    new = apply_fields(text, dataclasses.replace(fields, text={"kk": kk, "uz": empty}))
    # Between ru and en, in the order of the languages; the comment above en stays there.
    assert new == text.replace(
        "  # between languages\n",
        "  kk:\n"
        "    title: Тақырып\n"
        "    short: |\n"
        "      Қысқа жауап\n"
        "    questions:\n"
        "      - бір\n"
        "      - екі\n"
        "      - үш\n"
        "    answer: |\n"
        "      Толық жауап\n"
        "  # between languages\n",
    )


def test_comments_survive_an_edit_of_everything_around_them():
    fields = read_fields(COMMENTED)
    ru, en = fields.text["ru"], fields.text["en"]
    edited = dataclasses.replace(
        fields,
        as_of="2026-12-05",
        text={
            "ru": dataclasses.replace(
                ru,
                short="Новая\nкороткая",
                questions=("первый вопрос", "третий вопрос", "четвёртый вопрос"),
            ),
            "en": dataclasses.replace(en, short="Now\ntwo lines", answer="New answer."),
        },
        sources=(
            dataclasses.replace(
                fields.sources[0], titles={"ru": "Закон — текст", "en": "", "kk": "Заң"}
            ),
        ),
    )

    new = apply_fields(COMMENTED, edited)

    assert new == (
        "# Entry header comment\n"
        "id: demo\n"
        "country: ru  # where\n"
        "status: draft\n"
        "as_of: 2026-12-05\n"
        "review_by: 2027-06-01\n"
        "sources:\n"
        "  - title: Law\n"
        "    titles:\n"
        '      ru: "Закон — текст"  # ru title\n'
        '      kk: "Заң"\n'
        "    url: https://example.org/law\n"
        "    supports: everything\n"
        "text:\n"
        "  ru:\n"
        "    title: Заголовок\n"
        "    # before short\n"
        "    short: |\n"
        "      Новая\n"
        "      короткая\n"
        "    # before questions\n"
        "    questions:\n"
        "      - первый вопрос  # eol q1\n"
        "      # before third\n"
        "      - третий вопрос\n"
        "      - четвёртый вопрос\n"
        "    # before answer\n"
        "    answer: |\n"
        "      Ответ.\n"
        "  # between languages\n"
        "  en:\n"
        "    title: Title\n"
        "    short: |  # todo\n"  # an end-of-line comment moves to the block's header
        "      Now\n"
        "      two lines\n"
        "    questions:\n"
        "      - q one\n"
        "      - q two\n"
        "      - q three\n"
        "    not_about:\n"
        "      - other thing\n"
        "    # en answer\n"
        "    answer: |\n"
        "      New answer.\n"
        "# trailing comment\n"
    )
    assert set(comment_lines(new)) == set(comment_lines(COMMENTED))


def test_comment_below_a_deleted_first_item_stays_above_the_next():
    text = "text:\n  ru:\n    questions:\n      - a\n      # about b\n      - b\n      - c\n"
    fields = read_fields(text)
    new = apply_fields(text, with_language(fields, "ru", questions=("b", "c")))
    assert new == "text:\n  ru:\n    questions:\n      # about b\n      - b\n      - c\n"


def test_end_of_line_comment_keeps_its_column_or_two_spaces():
    text = "text:\n  ru:\n    title: Заголовок  # note\n    short: |  # todo\n      S\n"
    fields = read_fields(text)
    shorter = apply_fields(text, with_language(fields, "ru", title="Тема"))
    assert shorter.splitlines()[2] == "    title: Тема       # note"
    longer = apply_fields(text, with_language(fields, "ru", title="Длинный заголовок"))
    assert longer.splitlines()[2] == "    title: Длинный заголовок  # note"
    # A title written as a block becomes one line: its header comment goes to the line.
    block = text.replace("title: Заголовок  # note", "title: |  # note\n      Заголовок")
    one_line = apply_fields(block, with_language(read_fields(block), "ru", title="Тема"))
    assert one_line == text.replace("Заголовок  # note", "Тема  # note")


# Source titles.


def test_source_titles_are_set_removed_and_added_without_touching_the_rest():
    name = "ru-patent-payment.yaml"
    text = entry_text(name)
    fields = read_fields(text)
    sources = list(fields.sources)
    # A language left out of titles is not touched.
    sources[0] = dataclasses.replace(
        sources[0], titles={"en": "Russian tax service: pay taxes online (official page)"}
    )
    sources[2] = dataclasses.replace(sources[2], titles={"tg": ""})
    new = apply_fields(text, dataclasses.replace(fields, sources=tuple(sources)))
    removed, added = changed_lines(text, new)
    assert removed == [
        '      en: "Russian Federal Tax Service: tax payment service (official page)"',
        '      tg: "Кодекси андози РФ, моддаи 227.1 (пардохти патент) — матни расмӣ"',
    ]
    assert added == ['      en: "Russian tax service: pay taxes online (official page)"']
    old_sources, new_sources = yaml.safe_load(text)["sources"], yaml.safe_load(new)["sources"]
    for old, now in zip(old_sources, new_sources, strict=True):
        assert {k: now[k] for k in ("title", "url", "supports")} == {
            k: old[k] for k in ("title", "url", "supports")
        }
    assert "tg" not in new_sources[2]["titles"]
    messages = error_messages(new, name)
    assert messages <= error_messages(text, name)


def test_titles_block_is_added_after_the_citation():
    text = (
        "sources:\n"
        "  - title: Law\n"
        "    url: https://example.org/law\n"
        "    supports: everything\n"
        "text:\n"
        "  ru:\n"
        "    title: T\n"
    )
    fields = read_fields(text)
    assert fields.sources == (SourceFields("Law", "https://example.org/law", "everything"),)
    law = dataclasses.replace(fields.sources[0], titles={"en": "Law", "ru": ""})
    new = apply_fields(text, dataclasses.replace(fields, sources=(law,)))
    assert new == text.replace("    url:", "    titles:\n      en: Law\n    url:")


# Dates.


def test_dates_are_written_as_dates():
    text = entry_text("ru-patent-payment.yaml")
    fields = read_fields(text)
    new = apply_fields(text, dataclasses.replace(fields, as_of="2026-12-04 "))
    assert changed_lines(text, new) == (["as_of: 2026-12-03"], ["as_of: 2026-12-04"])
    assert yaml.safe_load(new)["as_of"] == dt.date(2026, 12, 4)


@pytest.mark.parametrize("value", ["04.12.2026", "2026-02-30", ""])
def test_a_date_that_is_not_a_day_is_refused(value: str):
    text = entry_text("ru-patent-payment.yaml")
    with pytest.raises(EditError, match="review_by"):
        apply_fields(text, dataclasses.replace(read_fields(text), review_by=value))


def test_an_impossible_date_in_the_file_can_be_read_kept_and_fixed():
    text = COMMENTED.replace("as_of: 2026-12-01", "as_of: 2026-13-40")
    fields = read_fields(text)
    assert fields.as_of == "2026-13-40"
    other = apply_fields(text, dataclasses.replace(fields, review_by="2027-07-01"))
    assert changed_lines(text, other) == (["review_by: 2027-06-01"], ["review_by: 2027-07-01"])
    fixed = apply_fields(text, dataclasses.replace(fields, as_of="2026-12-31"))
    assert changed_lines(text, fixed) == (["as_of: 2026-13-40"], ["as_of: 2026-12-31"])


# Scalars as a YAML 1.1 reader (PyYAML, the validator) reads them.


def test_words_yaml_1_1_misreads_are_quoted():
    text = COMMENTED
    fields = read_fields(text)
    questions = ("yes", "off", "1:20", "2026-01-01", "a: b", "what? # not a comment")
    new = apply_fields(text, with_language(fields, "en", questions=questions))
    assert yaml.safe_load(new)["text"]["en"]["questions"] == list(questions)
    assert read_fields(new).text["en"].questions == questions


# Files as staff left them.


def test_file_without_final_line_break_keeps_it_that_way():
    name = "ru-registration-how.yaml"
    text = entry_text(name)
    assert not text.endswith("\n")  # the case this test is about
    fields = read_fields(text)
    answer = fields.text["en"].answer
    new = apply_fields(text, with_language(fields, "en", answer=answer + "\nOne more line."))
    assert not new.endswith("\n")
    assert changed_lines(text, new) == ([], ["      One more line."])
    assert read_fields(new).text["en"].answer == answer + "\nOne more line."
    assert error_messages(new, name) <= error_messages(text, name)


def test_windows_line_breaks_in_the_file_are_kept():
    text = COMMENTED.replace("\n", "\r\n")
    fields = read_fields(text)
    new = apply_fields(text, with_language(fields, "ru", short="Одна\nдве"))
    assert new.count("\n") == new.count("\r\n")
    assert "    short: |\r\n      Одна\r\n      две\r\n    # before questions\r\n" in new


def test_document_start_marker_is_kept():
    text = "---\n" + COMMENTED
    new = add_question(text, "en", "q four")
    assert changed_lines(text, new) == ([], ["      - q four"])


def test_broken_yaml_is_an_edit_error_with_the_line():
    text = entry_text("ru-patent-payment.yaml").replace("deadline]", "deadline", 1)
    with pytest.raises(EditError, match=r"line \d+"):
        read_fields(text)
    with pytest.raises(EditError, match="fix it by hand"):
        apply_fields("- just\n- a list\n", read_fields(COMMENTED))


def test_unknown_language_is_refused():
    fields = read_fields(COMMENTED)
    xx = LanguageFields("t", "s", "a", ("q",))
    with pytest.raises(EditError, match="unknown language 'xx'"):
        apply_fields(COMMENTED, dataclasses.replace(fields, text={"xx": xx}))


def test_unknown_languages_in_the_file_are_left_alone():
    text = COMMENTED.replace('      en: "Law (official text)"\n', '      de: "Gesetz"\n')
    text += "  xx:\n    title: X\n"
    fields = read_fields(text)
    assert set(fields.text) == {"ru", "en"}
    assert fields.sources[0].titles == {"ru": "Закон"}
    assert apply_fields(text, fields) == text
    new = apply_fields(text, with_language(fields, "en", title="Title 2"))
    assert changed_lines(text, new) == (["    title: Title"], ["    title: Title 2"])


# add_question.


def test_add_question_appends_one_line():
    text = entry_text("ru-patent-payment.yaml")
    new = add_question(text, "ru", "  сколько стоит патент\r\nв твери ")
    removed, added = changed_lines(text, new)
    assert (removed, added) == ([], ["      - сколько стоит патент в твери"])
    lines = new.splitlines()
    at = lines.index("      - сколько стоит патент в твери")
    assert lines[at - 1] == '      - "опаздал с оплатой патента что делать"'
    assert lines[at + 1] == "    not_about:"
    assert read_fields(new).text["ru"].questions[-1] == "сколько стоит патент в твери"


def test_add_question_already_there_is_no_change():
    text = entry_text("ru-patent-payment.yaml")
    assert add_question(text, "ru", "  СКОЛЬКО стоит   патент в месяц ") == text
    assert add_question(text, "ru", "Skolko Stoit Patent V Mesyac") == text


def test_add_question_keeps_comments_below_the_list_below_it():
    new = add_question(COMMENTED, "ru", "ещё вопрос")
    assert "      - третий вопрос\n      - ещё вопрос\n    # before answer\n" in new
    assert changed_lines(COMMENTED, new) == ([], ["      - ещё вопрос"])


def test_add_question_refusals():
    text = entry_text("ru-patent-payment.yaml")
    with pytest.raises(EditError, match="not_about"):
        add_question(text, "ru", "оплата пошлины за патент на изобретение")
    with pytest.raises(EditError, match="no text in 'kk'"):
        add_question(COMMENTED, "kk", "сұрақ")
    with pytest.raises(EditError, match="unknown language"):
        add_question(text, "de", "frage")
    with pytest.raises(EditError, match="empty"):
        add_question(text, "ru", " \r\n ")


# fingerprint.


def test_fingerprint_is_the_sha256_of_the_text():
    text = entry_text("ru-patent-payment.yaml")
    assert fingerprint(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert fingerprint(text) != fingerprint(add_question(text, "en", "patent price in tver"))


# Whole sources.


def test_source_titles_property_is_the_titles_of_the_sources():
    fields = read_fields(COMMENTED)
    assert fields.source_titles == ({"ru": "Закон", "en": "Law (official text)"},)


def test_supports_edited_in_place_keeps_each_style():
    name = "ru-patent-payment.yaml"
    text = entry_text(name)
    fields = read_fields(text)
    sources = list(fields.sources)
    assert sources[1].supports.startswith("the patent is valid for the period paid for")
    sources[0] = dataclasses.replace(sources[0], supports="the official online tax payment service")
    sources[1] = dataclasses.replace(
        sources[1],
        supports=sources[1].supports.replace("12 months from issue", "twelve months from issue"),
    )

    new = apply_fields(text, dataclasses.replace(fields, sources=tuple(sources)))

    removed, added = changed_lines(text, new)
    assert removed == [
        "    supports: the official online service of the tax authority for preparing and "
        "making tax payments",
        "      up to 12 months from issue in total, and stops being valid from the day after "
        "the last paid",
        "      day if the next payment is not made on time",
    ]
    assert added == [
        "    supports: the official online tax payment service",  # plain stays plain
        "      up to twelve months from issue in total, and stops being valid from the day "
        "after the last",  # a folded block stays folded, its lines at most 90 characters
        "      paid day if the next payment is not made on time",
    ]
    data = yaml.safe_load(new)["sources"]
    assert data[0]["supports"] == sources[0].supports
    assert data[1]["supports"] == sources[1].supports
    assert read_fields(new).sources == tuple(sources)
    assert error_messages(new, name) <= error_messages(text, name)


def test_quoted_supports_stays_quoted():
    name = "ru-stay-limit.yaml"
    text = entry_text(name)
    fields = read_fields(text)
    sources = list(fields.sources)
    sources[2] = dataclasses.replace(sources[2], supports="liability for an overstay: a fine")
    new = apply_fields(text, dataclasses.replace(fields, sources=tuple(sources)))
    assert changed_lines(text, new) == (
        [
            '    supports: "liability (fine, administrative expulsion) for staying beyond the '
            'permitted term; the amounts are not stated in the answer"'
        ],
        ['    supports: "liability for an overstay: a fine"'],
    )


def source_blocks(text: str) -> list[list[str]]:
    """The lines of each source of a file written as staff write them."""
    lines = text.splitlines()
    start, end = lines.index("sources:") + 1, lines.index("text:")
    blocks: list[list[str]] = []
    for line in lines[start:end]:
        if line.startswith("  - "):
            blocks.append([])
        blocks[-1].append(line)
    return blocks


def test_removing_the_second_source_removes_exactly_its_lines():
    name = "ru-patent-payment.yaml"
    text = entry_text(name)
    fields = read_fields(text)
    blocks = source_blocks(text)
    assert len(blocks) == len(fields.sources) == 6

    new = apply_fields(
        text, dataclasses.replace(fields, sources=fields.sources[:1] + fields.sources[2:])
    )

    assert changed_lines(text, new) == (blocks[1], [])
    assert new == text.replace("\n".join(blocks[1]) + "\n", "")
    assert read_fields(new).sources == fields.sources[:1] + fields.sources[2:]
    assert error_messages(new, name) <= error_messages(text, name)


def test_removing_the_last_source_and_a_middle_one_of_a_long_list():
    name = "ru-registration-deadline.yaml"
    text = entry_text(name)
    fields = read_fields(text)
    blocks = source_blocks(text)
    kept = fields.sources[:3] + fields.sources[4:-1]
    new = apply_fields(text, dataclasses.replace(fields, sources=kept))
    assert changed_lines(text, new) == ([*blocks[3], *blocks[-1]], [])
    assert read_fields(new).sources == kept


NEW_SOURCE = SourceFields(
    title="Ministry of Internal Affairs of Russia: patent for work, official page",
    url="https://мвд.рф/services/patent?step=1&lang=ru",
    supports=(
        "how a foreign citizen gets a patent for work: the documents, the term of 30 days "
        "from entry to apply, and the payment of the tax in advance for each month; the "
        "page was read on 10.12.2026"
    ),
    titles={
        "en": "Russian MVD: patent for work (official page)",
        "ru": "МВД России: патент на работу — официальная страница",
        "kk": "Ресей ІІМ: жұмысқа патент — ресми бет",
        "uz": "Rossiya IIV: ishlash uchun patent — rasmiy sahifa",
        "ky": "Россиянын ИИМ: иштөөгө патент — расмий барак",
        "tg": "ВКД Русия: патент барои кор — саҳифаи расмӣ",
    },
)
NEW_SOURCE_LINES = [
    '  - title: "Ministry of Internal Affairs of Russia: patent for work, official page"',
    "    titles:",
    '      ru: "МВД России: патент на работу — официальная страница"',
    '      kk: "Ресей ІІМ: жұмысқа патент — ресми бет"',
    '      uz: "Rossiya IIV: ishlash uchun patent — rasmiy sahifa"',
    '      ky: "Россиянын ИИМ: иштөөгө патент — расмий барак"',
    '      tg: "ВКД Русия: патент барои кор — саҳифаи расмӣ"',
    '      en: "Russian MVD: patent for work (official page)"',
    "    url: https://мвд.рф/services/patent?step=1&lang=ru",
    "    supports: >-",
    "      how a foreign citizen gets a patent for work: the documents, the term of 30 days from",
    "      entry to apply, and the payment of the tax in advance for each month; the page was"
    " read on",
    "      10.12.2026",
]


def test_a_new_source_is_appended_in_the_layout_of_the_others():
    name = "ru-patent-payment.yaml"
    text = entry_text(name)
    fields = read_fields(text)

    new = apply_fields(text, dataclasses.replace(fields, sources=(*fields.sources, NEW_SOURCE)))

    assert changed_lines(text, new) == ([], NEW_SOURCE_LINES)
    assert source_blocks(new)[-1] == NEW_SOURCE_LINES
    folded = NEW_SOURCE_LINES[NEW_SOURCE_LINES.index("    supports: >-") + 1 :]
    assert max(len(line) for line in folded) == 6 + editing.SUPPORTS_WIDTH
    assert yaml.safe_load(new)["sources"][-1] == {
        "title": NEW_SOURCE.title,
        "titles": NEW_SOURCE.titles,
        "url": NEW_SOURCE.url,
        "supports": NEW_SOURCE.supports,
    }
    assert read_fields(new).sources == (*fields.sources, NEW_SOURCE)
    assert error_messages(new, name) <= error_messages(text, name)
    assert apply_fields(new, read_fields(new)) == new


def test_a_new_source_is_inserted_at_its_position_and_empty_rows_are_left_out():
    name = "ru-patent-payment.yaml"
    text = entry_text(name)
    fields = read_fields(text)
    blocks = source_blocks(text)
    short = SourceFields("Law", "https://example.org/law#art-5", "yes", {"en": "Law"})
    empty = SourceFields(" ", "", "\r\n", {"ru": ""})
    sources = (*fields.sources[:2], short, *fields.sources[2:], empty)

    new = apply_fields(text, dataclasses.replace(fields, sources=sources))

    added = [
        "  - title: Law",
        "    titles:",
        '      en: "Law"',  # quoted like the titles of the other sources
        "    url: https://example.org/law#art-5",
        '    supports: "yes"',  # a boolean to PyYAML
    ]
    assert changed_lines(text, new) == ([], added)
    assert source_blocks(new)[2] == added
    assert source_blocks(new)[3] == blocks[2]
    assert yaml.safe_load(new)["sources"][2]["supports"] == "yes"
    assert apply_fields(text, dataclasses.replace(fields, sources=(*fields.sources, empty))) == text


def test_a_changed_url_is_one_line_and_a_source_in_place():
    text = entry_text("ru-patent-payment.yaml")
    fields = read_fields(text)
    sources = list(fields.sources)
    sources[3] = dataclasses.replace(sources[3], url="https://www.elcode.ru/news/2026-deflator")
    new = apply_fields(text, dataclasses.replace(fields, sources=tuple(sources)))
    removed, added = changed_lines(text, new)
    assert [line.split(":")[0] for line in removed] == ["    url"]
    assert added == ["    url: https://www.elcode.ru/news/2026-deflator"]


def test_sources_keep_the_comments_around_them():
    text = (
        "sources:\n"
        "  # the service first\n"
        "  - title: Service\n"
        "    url: https://example.org/service\n"
        "    supports: where to pay\n"
        "  # then the law\n"
        "  - title: Law  # main law\n"
        "    url: https://example.org/law\n"
        "    supports: the rule\n"
        "  # a news report\n"
        "  - title: News\n"
        "    url: https://example.org/news\n"
        "    supports: the amount\n"
        "# the texts\n"
        "text:\n"
        "  ru:\n"
        "    title: T\n"
    )
    fields = read_fields(text)
    service, law, news = fields.sources
    without_law = apply_fields(text, dataclasses.replace(fields, sources=(service, news)))
    # The source's lines go; comment lines are never deleted (staff delete them in the
    # file if they were about the source), and each stays above what followed it.
    assert without_law == text.replace(
        "  - title: Law  # main law\n    url: https://example.org/law\n    supports: the rule\n",
        "",
    )
    added = SourceFields("Order", "https://example.org/order", "the form")
    with_order = apply_fields(text, dataclasses.replace(fields, sources=(*fields.sources, added)))
    assert with_order == text.replace(
        "# the texts\n",
        "  - title: Order\n"
        "    url: https://example.org/order\n"
        "    supports: the form\n"
        "# the texts\n",  # still above text:
    )
    renamed = dataclasses.replace(law, title="Law 115-FZ")
    new = apply_fields(text, dataclasses.replace(fields, sources=(service, renamed, news)))
    assert changed_lines(text, new) == (
        ["  - title: Law  # main law"],
        ["  - title: Law 115-FZ  # main law"],
    )


def test_a_missing_source_value_is_added_in_its_place():
    text = "sources:\n  - title: Law\n    supports: the rule\ntext:\n  ru:\n    title: T\n"
    fields = read_fields(text)
    law = dataclasses.replace(fields.sources[0], url="https://example.org/law")
    new = apply_fields(text, dataclasses.replace(fields, sources=(law,)))
    assert new == text.replace("    supports:", "    url: https://example.org/law\n    supports:")


def test_all_sources_removed_is_an_empty_list_for_kb_check_to_refuse():
    text = COMMENTED
    new = apply_fields(text, dataclasses.replace(read_fields(text), sources=()))
    assert yaml.safe_load(new)["sources"] == []
    assert "sources: []\n" in new
    assert "'sources' must be a list with at least one source" in " ".join(
        error_messages(new, "demo.yaml")
    )


def test_sources_of_a_file_without_any_are_added():
    text = "id: demo\nstatus: draft\ntext:\n  ru:\n    title: T\n"
    fields = read_fields(text)
    assert fields.sources == ()
    law = SourceFields("Law", "https://example.org/law", "the rule", {"ru": "Закон"})
    new = apply_fields(text, dataclasses.replace(fields, sources=(law,)))
    assert new == text.replace(
        "text:",
        "sources:\n"
        "  - title: Law\n"
        "    titles:\n"
        "      ru: Закон\n"
        "    url: https://example.org/law\n"
        "    supports: the rule\n"
        "text:",
    )


def test_supports_folding_reads_back_exactly():
    words = ["a" * 120, "b", "c" * 89, "d", "e" * 90, "f"]
    long = " ".join(words)
    text = (
        "sources:\n  - title: L\n    url: https://example.org/l\n    supports: x\ntext:\n  ru: {}\n"
    )
    fields = read_fields(text)
    new = apply_fields(
        text,
        dataclasses.replace(
            fields, sources=(dataclasses.replace(fields.sources[0], supports=long),)
        ),
    )
    # A one-line value stays on its line; a new source's long value is folded.
    assert yaml.safe_load(new)["sources"][0]["supports"] == long
    assert f"    supports: {long}\n" in new
    folded = apply_fields(
        text,
        dataclasses.replace(
            fields, sources=(*fields.sources, SourceFields("M", "https://example.org/m", long))
        ),
    )
    assert yaml.safe_load(folded)["sources"][1]["supports"] == long
    assert source_blocks(folded)[1] == [
        "  - title: M",
        "    url: https://example.org/m",
        "    supports: >-",
        "      " + "a" * 120,  # a word longer than a line has a line of its own
        "      b",
        "      " + "c" * 89,
        "      d",
        "      " + "e" * 90,
        "      f",
    ]
    assert read_fields(folded).sources[1].supports == long


# A new entry from one question.

NEW_ID = "ru-patent-price-tver"
FILLED = {
    "ru": LanguageFields(
        title="Стоимость патента в Тверской области",
        short="Патент оплачивают каждый месяц заранее.\nСумму уточните в налоговой.",
        answer="1. Узнайте сумму на сайте налоговой.\n2. Оплатите до начала месяца.",
        questions=("сколько стоит патент в твери", "цена патента тверь", "skolko patent tver"),
    ),
    "kk": LanguageFields(
        title="Твер облысындағы патент құны",
        short="Патент ақысы ай сайын алдын ала төленеді.",
        answer="1. Соманы салық қызметінің сайтынан біліңіз.\n2. Ай басталғанға дейін төлеңіз.",
        questions=("тверьде патент қанша тұрады", "патент бағасы тверь", "патент төлемі тверь"),
    ),
    "uz": LanguageFields(
        title="Tver viloyatida patent narxi",
        short="Patent uchun har oy oldindan toʻlanadi.",
        answer=(
            "1. Summani soliq xizmati saytidan bilib oling.\n2. Oy boshlanishidan oldin toʻlang."
        ),
        questions=("tverda patent qancha turadi", "patent narxi tver", "Тверда патент нархи"),
    ),
    "ky": LanguageFields(
        title="Твер облусунда патенттин баасы",
        short="Патент үчүн ар ай алдын ала төлөнөт.",
        answer="1. Сумманы салык кызматынын сайтынан билиңиз.\n2. Ай башталганга чейин төлөңүз.",
        questions=("тверде патент канча турат", "патенттин баасы твер", "твер патент төлөм"),
    ),
    "tg": LanguageFields(
        title="Нархи патент дар вилояти Твер",
        short="Барои патент ҳар моҳ пешакӣ пардохт мекунед.",
        answer="1. Маблағро дар сайти хадамоти андоз бинед.\n2. То оғози моҳ пардохт кунед.",
        questions=("патент дар твер чанд пул", "нархи патент твер", "пардохти патент твер"),
    ),
    "en": LanguageFields(
        title="Patent price in the Tver Region",
        short=(
            "You pay for the patent every month in advance.\nCheck the amount with the tax office."
        ),
        answer="1. Find the amount on the tax service site.\n2. Pay before the month starts.",
        questions=("patent price tver", "how much is the work patent in tver", "tver patent cost"),
    ),
}
FILLED_SOURCE = SourceFields(
    title="Federal Tax Service of Russia, online service Payment of taxes",
    url="https://service.nalog.ru/payment/",
    supports="the official online service of the tax authority for making tax payments",
    titles={
        "ru": "ФНС России: сервис «Уплата налогов» — официальная страница",
        "kk": "Ресей ФСҚ: «Салық төлеу» сервисі — ресми бет",
        "uz": "Rossiya FNS: «Soliqlarni toʻlash» servisi — rasmiy sahifa",
        "ky": "Россиянын ФСК: «Салыктарды төлөө» сервиси — расмий барак",
        "tg": "ФНС Русия: хидмати «Пардохти андозҳо» — саҳифаи расмӣ",
        "en": "Russian Federal Tax Service: tax payment service (official page)",
    },
)


def test_new_entry_text_is_a_draft_with_the_question():
    text = new_entry_text(NEW_ID, "ru", "uz", "  tverda patent\r\nqancha turadi ", TODAY)
    lines = text.splitlines()
    assert lines[0].startswith("# Started in the staff console from an unanswered question")
    assert "kb check" in text.split("\nid:")[0]
    assert lines[lines.index(f"id: {NEW_ID}") :] == [
        f"id: {NEW_ID}",
        "country: ru",
        "tags: []",
        "status: draft",
        "as_of: 2026-12-10",
        "review_by: 2027-06-10",
        "related: []",
        "sources: []",
        "text:",
        "  uz:",
        '    title: ""',
        '    short: ""',
        "    questions:",
        "      - tverda patent qancha turadi",
        '    answer: ""',
    ]
    assert text.endswith('answer: ""\n')
    assert yaml.safe_load(text)["review_by"] == TODAY + dt.timedelta(days=182)
    fields = read_fields(text)
    assert fields == EntryFields(
        text={"uz": LanguageFields("", "", "", ("tverda patent qancha turadi",))},
        sources=(),
        as_of="2026-12-10",
        review_by="2027-06-10",
    )
    assert apply_fields(text, fields) == text


def test_a_question_yaml_would_misread_is_quoted_in_a_new_entry():
    text = new_entry_text(NEW_ID, "any", "en", "yes: how much? # tver", TODAY)
    assert yaml.safe_load(text)["text"]["en"]["questions"] == ["yes: how much? # tver"]
    assert '      - "yes: how much? # tver"\n' in text


def test_the_new_entry_skeleton_has_only_missing_content_errors():
    text = new_entry_text(NEW_ID, "ru", "uz", "tverda patent qancha turadi", TODAY)
    entry, problems = parse_entry_text(text, f"{NEW_ID}.yaml", today=TODAY)
    assert entry is None
    messages = [p.message for p in errors(problems)]
    expected = [
        r"'sources' must be a list with at least one source",
        r"text\.uz\.title is missing or empty",
        r"text\.uz\.short is missing",
        r"text\.uz\.answer is missing or empty",
        r"text\.uz\.questions has 1; write at least 3",
        *(rf"missing language: text\.{lang} " for lang in LANGUAGES if lang != "uz"),
    ]
    for pattern in expected:
        assert any(re.match(pattern, m) for m in messages), pattern
    assert all(any(re.match(pattern, m) for pattern in expected) for m in messages), messages


def test_a_new_entry_filled_in_by_the_form_passes_kb_check():
    text = new_entry_text(NEW_ID, "ru", "uz", "tverda patent qancha turadi", TODAY)
    fields = read_fields(text)
    uz = dataclasses.replace(
        FILLED["uz"], questions=("tverda patent qancha turadi", *FILLED["uz"].questions[1:])
    )
    filled = dataclasses.replace(
        fields, text={**FILLED, "uz": uz}, sources=(SourceFields("", "", ""), FILLED_SOURCE)
    )

    new = apply_fields(text, filled)

    entry, problems = parse_entry_text(new, f"{NEW_ID}.yaml", today=TODAY)
    assert errors(problems) == []
    assert entry is not None
    assert entry.id == NEW_ID
    assert list(entry.text) == list(LANGUAGES)  # in the order of the other files
    assert entry.text["en"].short == FILLED["en"].short
    assert entry.text["uz"].questions == uz.questions
    assert [(s.title, s.url, s.supports, s.titles) for s in entry.sources] == [
        (FILLED_SOURCE.title, FILLED_SOURCE.url, FILLED_SOURCE.supports, FILLED_SOURCE.titles)
    ]
    # Written as staff write a file: blocks, a block list of sources, no flow left.
    assert "sources:\n  - title: Federal Tax Service" in new
    assert "    short: |\n      You pay for the patent every month in advance.\n" in new
    assert "    title: Patent price in the Tver Region\n" in new  # not quoted like ""
    assert "  uz:\n    title: Tver viloyatida patent narxi\n" in new
    assert "{" not in new
    assert read_fields(new) == EntryFields(
        text={lang: FILLED[lang] if lang != "uz" else uz for lang in LANGUAGES},
        sources=(FILLED_SOURCE,),
        as_of="2026-12-10",
        review_by="2027-06-10",
    )
    assert apply_fields(new, read_fields(new)) == new


@pytest.mark.parametrize(
    ("entry_id", "country", "lang", "question", "message"),
    [
        ("RU Patent", "ru", "ru", "q", "lowercase latin letters"),
        ("ru-patent-", "ru", "ru", "q", "lowercase latin letters"),
        ("", "ru", "ru", "q", "lowercase latin letters"),
        ("ru-patent", "de", "ru", "q", "country 'de' is not one of: ru, kz"),
        ("ru-patent", "ru", "de", "q", "unknown language 'de'"),
        ("ru-patent", "ru", "ru", " \r\n", "the question is empty"),
    ],
)
def test_new_entry_refusals(entry_id: str, country: str, lang: str, question: str, message: str):
    with pytest.raises(EditError, match=message):
        new_entry_text(entry_id, country, lang, question, TODAY)
