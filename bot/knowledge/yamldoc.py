"""Reading and checking hand-edited YAML: one toolkit for knowledge entries and
deadline rules.

Staff edit these files by hand, so every finding names the file and the line and says
in plain words what to fix. Both validators (`bot.knowledge.validation` for entries,
`bot.deadlines.rulebook` for rules) build on the same reader, the same `Problem` and
the same field checks (`DocumentChecker`), so a source URL, a date or a status is
accepted or refused the same way wherever it appears.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.domain import LANGUAGE_NAMES, LANGUAGES, STATUSES
from bot.knowledge.entries import Source

ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SOURCE_FIELDS = ("title", "url", "supports")
# A web address: a scheme, a host with a dot, and no spaces anywhere.
URL_PATTERN = re.compile(r"^https?://[^\s/]+\.[^\s]+$")


@dataclass(frozen=True, order=True)
class Problem:
    """One finding of a validator, worded for the staff member who fixes it."""

    path: str
    line: int
    message: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        return f"{self.path}:{self.line}: {tag}{self.message}"


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


@dataclass
class Located:
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


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


def yaml_files(folder: Path) -> list[Path]:
    """The `*.yaml` files of a folder, without those starting with `_` (drafts aside)."""
    return sorted(p for p in Path(folder).glob("*.yaml") if not p.name.startswith("_"))


def read_document(file: Path, problems: list[Problem]) -> Located | None:
    """A YAML file with line numbers, or None with the reason added to `problems`."""
    path = str(file)
    try:
        raw = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            Problem(path, 1, f"the file is not UTF-8 text ({exc.reason}); save it as UTF-8")
        )
        return None
    return parse_document(raw, path, problems)


def parse_document(text: str, path: str, problems: list[Problem]) -> Located | None:
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
    located = Located(data)
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


def as_date(value: Any) -> dt.date | None:
    """A YAML date (or datetime) as a date; None for anything else."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


def nonempty_text(value: Any) -> str | None:
    """A non-empty string, stripped, or None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


class DocumentChecker:
    """Checks of single fields, shared by the entry and rule validators. Each check
    records a `Problem` at the field's line and returns a usable value, so validation
    goes on and one run lists every problem of a file."""

    def __init__(self, doc: Located, path: str, today: dt.date):
        self.doc = doc
        self.path = path
        self.today = today
        self.problems: list[Problem] = []

    def error(self, message: str, *at: Any) -> None:
        self.problems.append(Problem(self.path, self.doc.line(*at), message))

    def warn(self, message: str, *at: Any) -> None:
        self.problems.append(Problem(self.path, self.doc.line(*at), message, "warning"))

    def unknown_fields(self, item: dict, allowed: Iterable[str], where: str, *at: Any) -> None:
        allowed = tuple(allowed)
        for key in item:
            if key not in allowed:
                self.error(
                    f"unknown field '{key}' {where} (a typo?); allowed: {', '.join(allowed)}",
                    *at,
                    key,
                )

    def date(
        self, value: Any, at: tuple, name: str, *, optional: bool = False, example: str = ""
    ) -> dt.date | None:
        if value is None and optional:
            return None
        day = as_date(value)
        if day is None:
            self.error(
                f"{name} '{value}' is not a valid date; write it as YYYY-MM-DD, e.g. "
                f"{example or '2026-03-05'}" + (" (or null for no end)" if optional else ""),
                *at,
            )
        return day

    def as_of(self, value: Any, at: tuple, **kwargs: Any) -> dt.date | None:
        """The date the facts were checked: a date, and not in the future."""
        as_of = self.date(value, at, "as_of", **kwargs)
        if as_of and as_of > self.today:
            self.error(f"as_of {as_of} is in the future; use the date the facts were checked", *at)
        return as_of

    def status(self, value: Any, at: tuple) -> str:
        if value not in STATUSES:
            self.error(f"status '{value}' must be 'draft' or 'reviewed'", *at)
        return str(value)

    def choice(self, item: dict, key: str, allowed: Sequence[str], at: tuple) -> str:
        value = item.get(key)
        if value not in allowed:
            self.error(f"{key} '{value}' must be one of: {', '.join(allowed)}", *at, key)
        return str(value)

    def sources(self, value: Any, at: tuple) -> tuple[Source, ...]:
        """A non-empty list of sources, each with a title, a web address and what it
        supports."""
        if not isinstance(value, list) or not value:
            self.error(
                "'sources' must be a list with at least one source (title, url, supports)", *at
            )
            return ()
        found = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                self.error(f"source {i + 1} must have title, url and supports", *at, i)
                continue
            self.unknown_fields(item, (*SOURCE_FIELDS, "titles"), f"in source {i + 1}", *at, i)
            values = {}
            for key in SOURCE_FIELDS:
                text = nonempty_text(item.get(key))
                if text is None:
                    self.error(f"source {i + 1} has no {key}", *at, i, key)
                values[key] = text or ""
            url = values["url"]
            if url and not URL_PATTERN.match(url):
                self.error(
                    f"source {i + 1} url '{url}' is not a web address (http:// or https://, "
                    "no spaces)",
                    *at,
                    i,
                    "url",
                )
            titles = self._source_titles(item.get("titles"), i, at)
            found.append(Source(**values, titles=titles))
        return tuple(found)

    def _source_titles(self, value: Any, i: int, at: tuple) -> dict[str, str]:
        """Optional `titles`: the source as a migrant reads it, one line per language."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(
                f"source {i + 1} titles must have one line per language, e.g. "
                'ru: "Закон 109-ФЗ, ст. 20 — официальный текст"',
                *at,
                i,
                "titles",
            )
            return {}
        titles = {}
        for lang, text in value.items():
            if lang not in LANGUAGES:
                self.error(
                    f"source {i + 1} titles: unknown language '{lang}'; use one of: "
                    f"{', '.join(LANGUAGES)}",
                    *at,
                    i,
                    "titles",
                    lang,
                )
            elif (line := nonempty_text(text)) is None:
                self.error(
                    f"source {i + 1} titles.{lang} is empty: write the title in "
                    f"{LANGUAGE_NAMES[lang]} or remove the line",
                    *at,
                    i,
                    "titles",
                    lang,
                )
            else:
                titles[lang] = line
        return titles
