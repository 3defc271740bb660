"""Knowledge entries as typed data: what an entry holds, in which languages, from which
sources, and the whole base as one snapshot with a content hash.

Validation (turning hand-edited YAML into these objects, or into problems with file
and line) lives in `bot.knowledge.validation`; this module has no YAML in it, so the
index, rendering and the bot can use entries without the validator.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.domain import FALLBACK_LANGUAGE

FIRST_SOURCES = 3  # sources shown in an answer's first message; the rest come with "More"


@dataclass(frozen=True)
class Source:
    """Where a claim comes from. `title` is the citation staff read (English);
    `titles` is what a migrant reads, per language ("Law 109-FZ, art. 20 — official
    text" in their own language)."""

    title: str
    url: str
    supports: str
    titles: dict[str, str] = field(default_factory=dict)

    def title_in(self, lang: str) -> str:
        """The title for a reader of `lang`: theirs, else Russian or English (the
        languages every official source is published in), else the citation."""
        for code in (lang, "ru", "en"):
            if self.titles.get(code):
                return self.titles[code]
        return self.title


@dataclass(frozen=True)
class LocalText:
    """One language's text. `short` is the first message a user reads (what to do
    first, the key number, whom to contact); `answer` is the full answer behind "More".
    `not_about` are questions that sound like this entry but are not about it ("патент
    на изобретение" for the work patent): the scorer learns to refuse them."""

    title: str
    questions: tuple[str, ...]
    answer: str
    short: str = ""
    not_about: tuple[str, ...] = ()


@dataclass(frozen=True)
class Review:
    """Who checked an entry against which source, and when (`kb review`). A role, never
    a name: the entry files are public in the repository."""

    by: str
    date: dt.date
    source: str


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
    review: Review | None = None
    path: str = ""
    # the same subject in another country of stay ("а в Казахстане?" after this entry)
    counterparts: tuple[str, ...] = ()

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
        if self.review is not None:
            data["review"]["date"] = self.review.date.isoformat()
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
                lang: LocalText(
                    t["title"],
                    tuple(t["questions"]),
                    t["answer"],
                    t.get("short", ""),
                    tuple(t.get("not_about", ())),
                )
                for lang, t in data["text"].items()
            },
            tags=tuple(data.get("tags", ())),
            related=tuple(data.get("related", ())),
            review=(
                Review(r["by"], dt.date.fromisoformat(r["date"]), r["source"])
                if (r := data.get("review"))
                else None
            ),
            path=data.get("path", ""),
            counterparts=tuple(data.get("counterparts", ())),
        )


@dataclass(frozen=True)
class KnowledgeBase:
    entries: dict[str, Entry]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Entry]:
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
