"""What the assistant decided about a question: light data classes that rendering, the
CLI and the bot use without loading FAISS or the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain import Decision
from bot.knowledge.entries import Entry, KnowledgeBase
from bot.retrieval.language import Detected


@dataclass(frozen=True)
class Question:
    text: str
    lang: str | None = None  # force the reply language
    hint: str | None = None  # the user's chosen language: breaks ties in detection
    # What the user typed when `text` is a follow-up read with the previous topic: a
    # reply to Uzbek typed in Cyrillic stays Cyrillic though the topic's title is Latin.
    typed: str | None = None


@dataclass(frozen=True)
class Candidate:
    entry_id: str
    score: float


@dataclass(frozen=True)
class Result:
    decision: Decision
    lang: str  # the question's language (detected unless given)
    score: float
    candidates: list[Candidate]
    detected: Detected
    entry: Entry | None = None  # the answer's entry, when decision == answer
    index_version: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    ranking: list[Candidate] = field(default_factory=list, repr=False)  # every entry found
    # The knowledge snapshot of the version that ranked this question: render with it,
    # so titles and answers match even if the service switches versions meanwhile.
    kb: KnowledgeBase | None = field(default=None, repr=False)
    # The small-talk category (bot.retrieval.smalltalk) when decision == smalltalk.
    smalltalk: str | None = None
    # "cyrl" when the reply is Uzbek and the question was written in Cyrillic: the
    # reply is then shown in Cyrillic too (bot.retrieval.transliterate).
    script: str = ""

    @property
    def entry_id(self) -> str | None:
        return self.entry.id if self.entry else None
