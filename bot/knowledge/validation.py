"""Validation of knowledge entries: hand-edited YAML in, typed `Entry` objects or
problems with file and line out.

Staff edit YAML by hand, so validation is written for them: every problem names the
file and line and says in plain words what to fix. A knowledge base with any error is
never indexed (see `bot.retrieval.index`), which keeps one bad edit from reaching users.
The field checks shared with the deadline rules are in `bot.knowledge.yamldoc`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.domain import ENTRY_COUNTRIES, LANGUAGE_NAMES, LANGUAGES, STAY_COUNTRIES
from bot.errors import ProblemsFound
from bot.knowledge.entries import Entry, KnowledgeBase, LocalText, Review, Source
from bot.knowledge.labelled import BadQuestionsFile, read_questions, training_files
from bot.knowledge.yamldoc import (
    ID_PATTERN,
    URL_PATTERN,
    DocumentChecker,
    Located,
    Problem,
    errors,
    nonempty_text,
    parse_document,
    read_document,
    yaml_files,
)

# Characters. The short answer is the first message a user reads: with the title, three
# source lines and the status line it must fit one phone screen (about 1,000 characters
# on a 6-inch phone at the default font size, counted on Telegram Android, 2026-12).
SHORT_LIMIT = 500
# The full answer comes behind "More"; beyond two screens people stop reading.
ANSWER_SOFT_LIMIT = 2400
# Uzbek Latin spells oʻ/gʻ with ʻ (U+02BB) and the tutuq belgisi with ʼ (U+02BC); other
# apostrophes are typing habits, folded for matching but not stored (one style to read).
UZ_STRAY_APOSTROPHES = "'`‘’´"
MIN_QUESTIONS = 3
REVIEW_SOON_DAYS = 30

TOP_FIELDS = {
    "id": True,
    "country": True,
    "tags": False,
    "status": True,
    "as_of": True,
    "review_by": True,
    "related": False,
    "counterparts": False,
    "review": False,
    "sources": True,
    "text": True,
}
TEXT_FIELDS = ("title", "short", "questions", "answer", "not_about")
REVIEW_FIELDS = ("by", "date", "source")

__all__ = [
    "InvalidKnowledgeBase",
    "Problem",
    "check_entry_text",
    "check_kb",
    "errors",
    "kb_files",
    "load_kb",
]


class InvalidKnowledgeBase(ProblemsFound):
    """The knowledge base has errors; nothing was built from it."""

    def __init__(self, problems: Sequence[Problem]):
        super().__init__("the knowledge base has", list(problems))


class _EntryChecker(DocumentChecker):
    """Validates one parsed file and builds an `Entry` when it is valid."""

    def __init__(self, doc: Located, path: str, languages: Sequence[str], today: dt.date):
        super().__init__(doc, path, today)
        self.languages = languages
        # An overdue review is an error (kb check fails, reindex refuses) but the entry
        # is still built, so that reports can show what is overdue.
        self.overdue: Problem | None = None

    def check(self) -> Entry | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.error(
                "the file must describe one entry as 'field: value' lines (id, country, "
                "status, ...); see docs/knowledge-format.md"
            )
            return None
        self.unknown_fields(data, TOP_FIELDS, "of an entry")
        for key, required in TOP_FIELDS.items():
            if required and key not in data:
                self.error(f"required field '{key}' is missing")

        entry_id = self._check_id(data.get("id"))
        country = data.get("country")
        if "country" in data and country not in ENTRY_COUNTRIES:
            self.error(
                f"country '{country}' is not one of: {', '.join(ENTRY_COUNTRIES)}", "country"
            )
        status = data.get("status")
        if "status" in data:
            self.status(status, ("status",))
        as_of, review_by = self._check_dates(data)
        tags = self._string_list(data.get("tags", []), "tags")
        related = self._string_list(data.get("related", []), "related")
        counterparts = self._string_list(data.get("counterparts", []), "counterparts")
        sources = self._check_sources(data.get("sources"))
        text = self._check_text(data.get("text"))
        review = self._check_review(data.get("review"), status)
        self._check_source_titles(sources)
        self._check_uzbek_apostrophes(data)

        if any(p.severity == "error" and p is not self.overdue for p in self.problems):
            return None
        return Entry(
            id=entry_id,
            country=str(country),
            status=str(status),
            as_of=as_of,
            review_by=review_by,
            sources=sources,
            text=text,
            tags=tuple(tags),
            related=tuple(related),
            review=review,
            path=self.path,
            counterparts=tuple(counterparts),
        )

    def _check_review(self, value: Any, status: Any) -> Review | None:
        """Who checked the entry (a role), when, against which source: required for a
        reviewed entry, so "checked by staff" always has something behind it."""
        if value is None:
            if status == "reviewed":
                self.error(
                    "a reviewed entry needs 'review' (by: ROLE, date: DATE, source: URL); "
                    "set it with: migrant-bot kb review ID --by ROLE --source URL",
                    "status",
                )
            return None
        if not isinstance(value, dict):
            self.error("'review' must have by, date and source", "review")
            return None
        self.unknown_fields(value, REVIEW_FIELDS, "in review", "review")
        by = nonempty_text(value.get("by"))
        if by is None:
            self.error(
                "review.by is missing: the reviewer's role (e.g. lawyer), never a name", "review"
            )
        on = self.date(value.get("date"), ("review", "date"), "review.date", example="2026-12-03")
        if on is not None and on > self.today:
            self.error(
                f"review.date {on} is in the future; use the day of the review", "review", "date"
            )
        source = nonempty_text(value.get("source"))
        if source is None or not URL_PATTERN.match(source):
            self.error(
                "review.source must be the web address of the source the entry was checked "
                "against (http:// or https://)",
                "review",
            )
        if by is None or on is None or source is None:
            return None
        return Review(by, on, source)

    def _check_source_titles(self, sources: tuple[Source, ...]) -> None:
        for i, source in enumerate(sources):
            missing = [lang for lang in self.languages if lang not in source.titles]
            if missing:
                self.warn(
                    f"source {i + 1} has no title in {', '.join(missing)}: readers of those "
                    "languages see the English citation; add titles.<language>",
                    "sources",
                    i,
                )

    def _check_uzbek_apostrophes(self, data: dict) -> None:
        block = (data.get("text") or {}).get("uz") if isinstance(data.get("text"), dict) else None
        texts: list[tuple[str, tuple]] = []
        if isinstance(block, dict):
            for key in ("title", "short", "answer"):
                texts.append((str(block.get(key) or ""), ("text", "uz", key)))
            for key in ("questions", "not_about"):
                items = block.get(key)
                for i, q in enumerate(items if isinstance(items, list) else []):
                    texts.append((str(q), ("text", "uz", key, i)))
        for i, source in enumerate(data.get("sources") or []):
            if isinstance(source, dict) and isinstance(source.get("titles"), dict):
                texts.append((str(source["titles"].get("uz") or ""), ("sources", i, "titles")))
        for text, at in texts:
            stray = sorted({c for c in text if c in UZ_STRAY_APOSTROPHES})
            if stray:
                self.error(
                    f"Uzbek text uses {' '.join(repr(c) for c in stray)}: write oʻ/gʻ with ʻ "
                    "(U+02BB) and the tutuq belgisi with ʼ (U+02BC), e.g. koʻp, maʼlumot",
                    *at,
                )

    def _check_id(self, value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            self.error(
                f"id '{value}' must use lowercase latin letters, digits and '-' only "
                "(e.g. ru-stay-limit)",
                "id",
            )
            return str(value)
        stem = Path(self.path).stem
        if stem != value:
            self.error(
                f"id '{value}' differs from the file name '{stem}.yaml'; make them equal", "id"
            )
        return value

    def _check_dates(self, data: dict) -> tuple[dt.date, dt.date]:
        dates: dict[str, dt.date] = {}
        for key in ("as_of", "review_by"):
            if key not in data:
                continue
            if key == "as_of":
                value = self.as_of(data[key], (key,), example="2026-11-23")
            else:
                value = self.date(data[key], (key,), key, example="2026-11-23")
            if value is not None:
                dates[key] = value
        as_of, review_by = dates.get("as_of"), dates.get("review_by")
        if review_by:
            if review_by < self.today:
                self.error(
                    f"review_by {review_by} is in the past: the entry is overdue for review. "
                    "Check it against its sources, update as_of and set a new review_by",
                    "review_by",
                )
                self.overdue = self.problems[-1]
            elif (review_by - self.today).days <= REVIEW_SOON_DAYS:
                self.warn(f"review_by {review_by} is within {REVIEW_SOON_DAYS} days", "review_by")
        if as_of and review_by and review_by <= as_of:
            self.error(f"review_by {review_by} must be after as_of {as_of}", "review_by")
        return as_of or self.today, review_by or self.today

    def _string_list(self, value: Any, key: str) -> list[str]:
        if not isinstance(value, list) or not all(nonempty_text(v) for v in value):
            self.error(f"'{key}' must be a list of non-empty words, e.g. [a, b]", key)
            return []
        return [v.strip() for v in value]

    def _check_sources(self, value: Any) -> tuple[Source, ...]:
        if value is None:
            return ()
        return self.sources(value, ("sources",))

    def _check_text(self, value: Any) -> dict[str, LocalText]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error("'text' must have one block per language (ru, kk, uz, ky, tg, en)", "text")
            return {}
        texts: dict[str, LocalText] = {}
        for lang in value:
            if lang not in LANGUAGES:
                self.error(
                    f"unknown language '{lang}' in text; use one of: {', '.join(LANGUAGES)}",
                    "text",
                    lang,
                )
        for lang in self.languages:
            if lang not in value:
                self.error(
                    f"missing language: text.{lang} ({LANGUAGE_NAMES[lang]}) is required",
                    "text",
                )
        for lang, block in value.items():
            if lang not in LANGUAGES:
                continue
            local = self._check_local(lang, block)
            if local:
                texts[lang] = local
        return texts

    def _check_local(self, lang: str, block: Any) -> LocalText | None:
        name = LANGUAGE_NAMES[lang]
        if not isinstance(block, dict):
            self.error(f"text.{lang} must have title, questions and answer", "text", lang)
            return None
        self.unknown_fields(block, TEXT_FIELDS, f"in text.{lang}", "text", lang)
        title = nonempty_text(block.get("title"))
        if title is None:
            self.error(
                f"text.{lang}.title is missing or empty: write the title in {name}",
                "text",
                lang,
                "title",
            )
        answer = nonempty_text(block.get("answer"))
        if answer is None:
            self.error(
                f"text.{lang}.answer is missing or empty: write the answer in {name}",
                "text",
                lang,
                "answer",
            )
        elif len(answer) > ANSWER_SOFT_LIMIT:
            self.warn(
                f"text.{lang}.answer has {len(answer)} characters; aim for "
                f"{ANSWER_SOFT_LIMIT} or less (two phone screens)",
                "text",
                lang,
                "answer",
            )
        short = nonempty_text(block.get("short"))
        if short is None:
            self.error(
                f"text.{lang}.short is missing: write the first message in {name} (what to "
                f"do first, the key number or deadline, whom to contact; at most "
                f"{SHORT_LIMIT} characters)",
                "text",
                lang,
                "title",
            )
        elif len(short) > SHORT_LIMIT:
            self.warn(
                f"text.{lang}.short has {len(short)} characters; the limit is {SHORT_LIMIT} "
                "(it must fit one phone screen with the title and sources): move details "
                "to the answer",
                "text",
                lang,
                "short",
            )
        raw_questions = block.get("questions")
        questions: list[str] = []
        if not isinstance(raw_questions, list):
            self.error(
                f"text.{lang}.questions must be a list of ways people ask this in {name}",
                "text",
                lang,
                "questions" if raw_questions is not None else "title",
            )
        else:
            for i, q in enumerate(raw_questions):
                text = nonempty_text(q)
                if text is None:
                    self.error(
                        f"text.{lang}.questions item {i + 1} is empty", "text", lang, "questions", i
                    )
                else:
                    questions.append(text)
            if len(raw_questions) < MIN_QUESTIONS:
                self.error(
                    f"text.{lang}.questions has {len(raw_questions)}; write at least "
                    f"{MIN_QUESTIONS} ways people ask this in {name}",
                    "text",
                    lang,
                    "questions",
                )
        not_about = self._check_not_about(lang, block.get("not_about"), questions)
        if title is None or answer is None or short is None:
            return None
        return LocalText(title, tuple(questions), answer, short, not_about)

    def _check_not_about(self, lang: str, raw: Any, questions: list[str]) -> tuple[str, ...]:
        """`not_about`: optional; a list of questions that sound like this entry but are
        not about it. One that is also among the entry's own questions would teach the
        scorer to refuse the entry's own question, so it is an error."""
        if raw is None:
            return ()
        if not isinstance(raw, list):
            self.error(
                f"text.{lang}.not_about must be a list of questions this entry does not "
                f"answer (in {LANGUAGE_NAMES[lang]}), e.g. - патент на изобретение",
                "text",
                lang,
                "not_about",
            )
            return ()
        own = {_plain(q) for q in questions}
        phrases: list[str] = []
        for i, item in enumerate(raw):
            text = nonempty_text(item)
            if text is None:
                self.error(
                    f"text.{lang}.not_about item {i + 1} is empty", "text", lang, "not_about", i
                )
            elif _plain(text) in own:
                self.error(
                    f"text.{lang}.not_about item {i + 1} ({text!r}) is also one of this entry's "
                    "questions: remove it from one of the two lists",
                    "text",
                    lang,
                    "not_about",
                    i,
                )
            else:
                phrases.append(text)
        return tuple(phrases)


def _plain(text: str) -> str:
    """Case and spacing folded, to compare what staff typed in two lists."""
    return " ".join(text.casefold().split())


def check_entry_text(
    text: str, path: str, languages: Sequence[str] = LANGUAGES, today: dt.date | None = None
) -> list[Problem]:
    """The problems of one entry file's text (not the checks across files: duplicate
    ids, related ids); for edits made by a command before they are written."""
    return parse_entry_text(text, path, languages, today)[1]


def parse_entry_text(
    text: str, path: str, languages: Sequence[str] = LANGUAGES, today: dt.date | None = None
) -> tuple[Entry | None, list[Problem]]:
    """The entry in one file's text (None when it has errors) and its problems: what
    the staff console previews and checks as staff type, before anything is saved."""
    problems: list[Problem] = []
    entry = None
    doc = parse_document(text, path, problems)
    if doc is not None:
        checker = _EntryChecker(doc, path, languages, today or dt.date.today())
        entry = checker.check()
        problems.extend(checker.problems)
    return entry, problems


def kb_files(kb_dir: Path) -> list[Path]:
    return yaml_files(kb_dir)


def check_kb(
    kb_dir: Path,
    languages: Sequence[str] = LANGUAGES,
    today: dt.date | None = None,
) -> tuple[KnowledgeBase, list[Problem]]:
    """Read and validate every entry; return the valid entries and all problems found."""
    today = today or dt.date.today()
    kb_dir = Path(kb_dir)
    problems: list[Problem] = []
    files = kb_files(kb_dir)
    if not kb_dir.is_dir():
        problems.append(Problem(str(kb_dir), 0, "the knowledge folder does not exist"))
    elif not files:
        problems.append(Problem(str(kb_dir), 0, "the knowledge folder has no *.yaml entries"))
    for extra in sorted(kb_dir.glob("*.yml")) if kb_dir.is_dir() else []:
        problems.append(
            Problem(str(extra), 1, "entries must end in .yaml, not .yml; rename the file")
        )

    entries: dict[str, Entry] = {}
    first_seen: dict[str, tuple[str, int]] = {}
    related_refs: list[tuple[Entry, Located]] = []
    for file in files:
        path = str(file)
        doc = read_document(file, problems)
        if doc is None:
            continue
        checker = _EntryChecker(doc, path, languages, today)
        entry = checker.check()
        problems.extend(checker.problems)
        entry_id = doc.data.get("id") if isinstance(doc.data, dict) else None
        if isinstance(entry_id, str):
            if entry_id in first_seen:
                other, other_line = first_seen[entry_id]
                problems.append(
                    Problem(
                        path,
                        doc.line("id"),
                        f"duplicate id '{entry_id}': also used in {other}:{other_line}; "
                        "each entry needs its own id",
                    )
                )
                continue
            first_seen[entry_id] = (path, doc.line("id"))
        if entry is not None:
            entries[entry.id] = entry
            related_refs.append((entry, doc))

    for entry, doc in related_refs:
        for i, rid in enumerate(entry.related):
            if rid == entry.id:
                problems.append(
                    Problem(
                        entry.path,
                        doc.line("related", i),
                        f"related id '{rid}' is the entry itself",
                    )
                )
            elif rid not in first_seen:
                problems.append(
                    Problem(
                        entry.path,
                        doc.line("related", i),
                        f"related id '{rid}' does not exist in {kb_dir}; fix the id or remove it",
                    )
                )
        for i, cid in enumerate(entry.counterparts):
            counterpart = entries.get(cid)
            if cid not in first_seen:
                why = f"does not exist in {kb_dir}; fix the id or remove it"
            elif counterpart is None:
                continue  # the other entry has problems of its own, reported there
            elif counterpart.country not in STAY_COUNTRIES or counterpart.country == entry.country:
                why = (
                    f"is about '{counterpart.country}': a counterpart is the same subject in "
                    f"another country of stay ({', '.join(STAY_COUNTRIES)}) than '{entry.country}'"
                )
            else:
                continue
            problems.append(
                Problem(entry.path, doc.line("counterparts", i), f"counterpart '{cid}' {why}")
            )
    problems.extend(_check_training(kb_dir, set(first_seen)))
    problems.sort(key=lambda p: (p.path, p.line))
    return KnowledgeBase(entries), problems


def _check_training(kb_dir: Path, ids: set[str]) -> list[Problem]:
    """The labelled questions in knowledge/training/ (`bot.knowledge.labelled`): a line
    that cannot be read is an error (reindex would stop on it); one that names an entry
    that does not exist is left out of training, with a warning."""
    found: list[Problem] = []
    for path in training_files(kb_dir) if kb_dir.is_dir() else []:
        try:
            questions = read_questions(path)
        except BadQuestionsFile as exc:
            where, _, message = str(exc).partition(": ")
            line = where.rsplit(":", 1)[-1]
            found.append(Problem(str(path), int(line) if line.isdigit() else 1, message))
            continue
        for q in questions:
            for entry_id in q.expected:
                if entry_id not in ids:
                    found.append(
                        Problem(
                            str(path),
                            q.line,
                            f"'{entry_id}' is not an entry id: this question is left out of "
                            "training; fix the id or remove the line",
                            "warning",
                        )
                    )
    return found


def load_kb(
    kb_dir: Path, languages: Sequence[str] = LANGUAGES, today: dt.date | None = None
) -> KnowledgeBase:
    """The validated knowledge base; raises `InvalidKnowledgeBase` on any error."""
    kb, problems = check_kb(kb_dir, languages, today)
    if any(p.severity == "error" for p in problems):
        raise InvalidKnowledgeBase(problems)
    return kb
