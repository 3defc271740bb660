"""The knowledge base: curated YAML entries, their typed model and their validation.

Staff edit YAML by hand, so validation is written for them: every problem names the
file and line and says in plain words what to fix. A knowledge base with any error is
never indexed (see `bot.index`), which keeps one bad edit from reaching users.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.settings import FALLBACK_LANGUAGE, LANGUAGES

COUNTRIES = ("ru", "kz", "uz", "tj", "kg", "any")
STATUSES = ("draft", "reviewed")
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ANSWER_SOFT_LIMIT = 900  # characters: about one phone screen
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
    "sources": True,
    "text": True,
}
SOURCE_FIELDS = ("title", "url", "supports")
TEXT_FIELDS = ("title", "questions", "answer")

LANGUAGE_NAMES = {
    "ru": "Russian",
    "kk": "Kazakh",
    "uz": "Uzbek",
    "ky": "Kyrgyz",
    "tg": "Tajik",
    "en": "English",
}


@dataclass(frozen=True)
class Source:
    title: str
    url: str
    supports: str


@dataclass(frozen=True)
class LocalText:
    title: str
    questions: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class Entry:
    id: str
    country: str
    status: str
    as_of: dt.date
    review_by: dt.date
    sources: tuple[Source, ...]
    text: dict[str, LocalText]
    tags: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    path: str = ""

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    def local(self, lang: str) -> tuple[str, LocalText]:
        """The text in `lang`, or in the fallback language when it is missing.

        Returns the language actually used so the caller can tell the user.
        """
        if lang in self.text:
            return lang, self.text[lang]
        if FALLBACK_LANGUAGE in self.text:
            return FALLBACK_LANGUAGE, self.text[FALLBACK_LANGUAGE]
        first = next(iter(self.text))
        return first, self.text[first]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["review_by"] = self.review_by.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        return cls(
            id=data["id"],
            country=data["country"],
            status=data["status"],
            as_of=dt.date.fromisoformat(data["as_of"]),
            review_by=dt.date.fromisoformat(data["review_by"]),
            sources=tuple(Source(**s) for s in data["sources"]),
            text={
                lang: LocalText(t["title"], tuple(t["questions"]), t["answer"])
                for lang, t in data["text"].items()
            },
            tags=tuple(data.get("tags", ())),
            related=tuple(data.get("related", ())),
            path=data.get("path", ""),
        )


@dataclass(frozen=True)
class KnowledgeBase:
    entries: dict[str, Entry]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries.values())

    def __getitem__(self, entry_id: str) -> Entry:
        return self.entries[entry_id]

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self.entries

    @property
    def content_hash(self) -> str:
        """A hash of everything users can see; it changes when any entry changes."""
        payload = [
            {k: v for k, v in e.to_dict().items() if k != "path"}
            for e in sorted(self, key=lambda e: e.id)
        ]
        blob = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()

    def to_json(self) -> str:
        return json.dumps([e.to_dict() for e in self], ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> KnowledgeBase:
        entries = [Entry.from_dict(d) for d in json.loads(text)]
        return cls({e.id: e for e in entries})


@dataclass(frozen=True, order=True)
class Problem:
    """One finding of the validator, worded for the staff member who fixes it."""

    path: str
    line: int
    message: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        return f"{self.path}:{self.line}: {tag}{self.message}"


class InvalidKnowledgeBase(Exception):
    """The knowledge base has errors; nothing was built from it."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = [p for p in problems if p.severity == "error"]
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(
            f"the knowledge base has {len(self.problems)} error(s); fix them and retry:\n{lines}"
        )


@dataclass
class _Located:
    """A parsed YAML document plus the line of every key path in it."""

    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)

    def line(self, *path: Any) -> int:
        # Fall back to the nearest parent that has a line (a missing key is reported
        # where its parent mapping starts).
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


class _Loader(yaml.SafeLoader):
    """Safe YAML where an impossible date (2026-13-40) stays text for the validator
    to report, instead of aborting the whole file."""


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


def read_document(file: Path, problems: list[Problem]) -> _Located | None:
    """A YAML file with line numbers, or None with the reason added to `problems`."""
    path = str(file)
    try:
        raw = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            Problem(path, 1, f"the file is not UTF-8 text ({exc.reason}); save it as UTF-8")
        )
        return None
    return _parse(raw, path, problems)


def _parse(text: str, path: str, problems: list[Problem]) -> _Located | None:
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        reason = exc.problem or "the YAML cannot be read"
        problems.append(
            Problem(
                path,
                line,
                f"broken YAML: {reason}. Check indentation, colons and quotes on this line "
                "or the line above.",
            )
        )
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(path, 1, f"broken YAML: {exc}"))
        return None
    located = _Located(data)
    if node is not None:
        _walk(node, (), located.lines, path, problems)
    return located


def _walk(node: yaml.Node, at: tuple, lines: dict, path: str, problems: list[Problem]) -> None:
    lines[at] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(
                    Problem(
                        path,
                        key_node.start_mark.line + 1,
                        f"field '{key}' appears twice here; keep one (the last one would win "
                        "silently)",
                    )
                )
            seen.add(key)
            _walk(value_node, (*at, key), lines, path, problems)
            lines[(*at, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*at, i), lines, path, problems)


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


def _text(value: Any) -> str | None:
    """A non-empty string, stripped, or None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


class _EntryChecker:
    """Validates one parsed file and builds an `Entry` when it is valid."""

    def __init__(self, doc: _Located, path: str, languages: Sequence[str], today: dt.date):
        self.doc = doc
        self.path = path
        self.languages = languages
        self.today = today
        self.problems: list[Problem] = []
        # An overdue review is an error (kb check fails, reindex refuses) but the entry
        # is still built, so that reports can show what is overdue.
        self.overdue: Problem | None = None

    def error(self, message: str, *at: Any) -> None:
        self.problems.append(Problem(self.path, self.doc.line(*at), message))

    def warn(self, message: str, *at: Any) -> None:
        self.problems.append(Problem(self.path, self.doc.line(*at), message, "warning"))

    def check(self) -> Entry | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.error(
                "the file must describe one entry as 'field: value' lines (id, country, "
                "status, ...); see docs/knowledge-format.md"
            )
            return None
        for key in data:
            if key not in TOP_FIELDS:
                allowed = ", ".join(TOP_FIELDS)
                self.error(f"unknown field '{key}' (a typo?); allowed fields: {allowed}", key)
        for key, required in TOP_FIELDS.items():
            if required and key not in data:
                self.error(f"required field '{key}' is missing")

        entry_id = self._check_id(data.get("id"))
        country = data.get("country")
        if "country" in data and country not in COUNTRIES:
            self.error(f"country '{country}' is not one of: {', '.join(COUNTRIES)}", "country")
        status = data.get("status")
        if "status" in data and status not in STATUSES:
            self.error(f"status '{status}' must be 'draft' or 'reviewed'", "status")
        as_of, review_by = self._check_dates(data)
        tags = self._string_list(data.get("tags", []), "tags")
        related = self._string_list(data.get("related", []), "related")
        sources = self._check_sources(data.get("sources"))
        text = self._check_text(data.get("text"))

        if any(p.severity == "error" and p is not self.overdue for p in self.problems):
            return None
        return Entry(
            id=entry_id,
            country=country,
            status=status,
            as_of=as_of,
            review_by=review_by,
            sources=sources,
            text=text,
            tags=tuple(tags),
            related=tuple(related),
            path=self.path,
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
            value = _as_date(data[key])
            if value is None:
                self.error(
                    f"{key} '{data[key]}' is not a valid date; write it as YYYY-MM-DD, "
                    "e.g. 2026-11-23",
                    key,
                )
            else:
                dates[key] = value
        as_of, review_by = dates.get("as_of"), dates.get("review_by")
        if as_of and as_of > self.today:
            self.error(
                f"as_of {as_of} is in the future; use the date the facts were checked", "as_of"
            )
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
        if not isinstance(value, list) or not all(_text(v) for v in value):
            self.error(f"'{key}' must be a list of non-empty words, e.g. [a, b]", key)
            return []
        return [v.strip() for v in value]

    def _check_sources(self, value: Any) -> tuple[Source, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not value:
            self.error(
                "'sources' must be a list with at least one source (title, url, supports)",
                "sources",
            )
            return ()
        sources = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                self.error(f"source {i + 1} must have title, url and supports", "sources", i)
                continue
            for key in item:
                if key not in SOURCE_FIELDS:
                    self.error(
                        f"unknown field '{key}' in source {i + 1}; allowed: "
                        f"{', '.join(SOURCE_FIELDS)}",
                        "sources",
                        i,
                        key,
                    )
            values = {}
            for key in SOURCE_FIELDS:
                text = _text(item.get(key))
                if text is None:
                    self.error(f"source {i + 1} has no {key}", "sources", i, key)
                values[key] = text or ""
            url = values["url"]
            if url and not re.match(r"^https?://[^\s/]+\.[^\s]+$", url):
                self.error(
                    f"source {i + 1} url '{url}' is not a web address (http:// or https://)",
                    "sources",
                    i,
                    "url",
                )
            sources.append(Source(**values))
        return tuple(sources)

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
        for key in block:
            if key not in TEXT_FIELDS:
                self.error(
                    f"unknown field '{key}' in text.{lang}; allowed: {', '.join(TEXT_FIELDS)}",
                    "text",
                    lang,
                    key,
                )
        title = _text(block.get("title"))
        if title is None:
            self.error(
                f"text.{lang}.title is missing or empty: write the title in {name}",
                "text",
                lang,
                "title",
            )
        answer = _text(block.get("answer"))
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
                f"{ANSWER_SOFT_LIMIT} or less (one phone screen)",
                "text",
                lang,
                "answer",
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
                text = _text(q)
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
        if title is None or answer is None:
            return None
        return LocalText(title, tuple(questions), answer)


def kb_files(kb_dir: Path) -> list[Path]:
    return sorted(p for p in Path(kb_dir).glob("*.yaml") if not p.name.startswith("_"))


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
    related_refs: list[tuple[Entry, _Located]] = []
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
    problems.sort(key=lambda p: (p.path, p.line))
    return KnowledgeBase(entries), problems


def load_kb(
    kb_dir: Path, languages: Sequence[str] = LANGUAGES, today: dt.date | None = None
) -> KnowledgeBase:
    """The validated knowledge base; raises `InvalidKnowledgeBase` on any error."""
    kb, problems = check_kb(kb_dir, languages, today)
    if any(p.severity == "error" for p in problems):
        raise InvalidKnowledgeBase(problems)
    return kb


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]
