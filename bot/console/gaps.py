"""The questions the bot could not answer, grouped by meaning, for staff to act on.

The gaps log keeps each refused or down-voted question (anonymised, one row each).
Staff need "what do people keep asking that we cannot answer", not a list of near
duplicates, so the rows are grouped with the same embedding model as the index: a
question joins the first group whose leading question is at least `SAME_QUESTION`
similar, else it starts a new group. Each group is counted per language and per ISO
week, and carries the entry the assistant ranked first for its leading question, the
likely home of a new paraphrase; only questions with the same first entry share a
group (similarity alone merges different questions, see `SAME_QUESTION`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.storage import Gap

# Two questions are grouped when the assistant ranks the same entry first for both and
# their query vectors are at least this similar. Similarity alone separates questions
# badly with the bundled model: over the 360 labelled questions of
# knowledge/training/extra.jsonl (1,273 pairs about the same entry, 47,243 about
# different ones), at 0.88 24% of same-entry pairs and 6.4% of different-entry pairs
# reach it; at 0.92, 6.1% and 0.29%. At 0.88 a Tajik question about a taxi driver's
# patent and an Uzbek one about documents for a job (both ranked first to the patent
# entry) were merged in a trial on the real index, so 0.92, with the same first-ranked
# entry required as well. Questions are compared in the form retrieval embeds
# (`bot.retrieval.queries.searched`: Russian typed in Latin letters in Cyrillic).
SAME_QUESTION = 0.92


@dataclass(frozen=True)
class Question:
    text: str
    lang: str
    count: int
    last_seen: dt.datetime
    reasons: tuple[str, ...]


@dataclass
class GapGroup:
    questions: list[Question]
    by_lang: Counter = field(default_factory=Counter)
    by_week: Counter = field(default_factory=Counter)
    entry_id: str | None = None  # the entry ranked first for the leading question

    @property
    def count(self) -> int:
        return sum(q.count for q in self.questions)

    @property
    def lead(self) -> Question:
        return self.questions[0]


def week_of(moment: dt.datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def distinct(rows: Sequence[Gap]) -> list[Question]:
    """One `Question` per text and language, the most asked first."""
    seen: dict[tuple[str, str], list[Gap]] = {}
    for row in rows:
        seen.setdefault((row.text, row.lang), []).append(row)
    found = [
        Question(
            text,
            lang,
            sum(r.count for r in same),
            max(r.last_seen for r in same),
            tuple(sorted({r.reason for r in same})),
        )
        for (text, lang), same in seen.items()
    ]
    found.sort(key=lambda q: (-q.count, -q.last_seen.timestamp(), q.text))
    return found


def group_gaps(
    rows: Sequence[Gap],
    embed: Callable[[list[str]], np.ndarray],
    topic: Callable[[str, str], str | None] = lambda text, lang: None,
    threshold: float = SAME_QUESTION,
) -> list[GapGroup]:
    """Group the logged rows by meaning; the biggest group first. `topic(text, lang)`
    is the entry the assistant ranks first for a question (None when nothing is
    near); only questions with the same topic share a group."""
    questions = distinct(rows)
    if not questions:
        return []
    vectors = embed([q.text for q in questions])
    groups: list[GapGroup] = []
    leads: list[np.ndarray] = []
    where: dict[tuple[str, str], GapGroup] = {}
    for question, vector in zip(questions, vectors, strict=True):
        entry_id = topic(question.text, question.lang)
        best = -1
        if leads:
            sims = np.stack(leads) @ vector
            for i in np.argsort(-sims):
                if sims[i] < threshold:
                    break
                if groups[i].entry_id == entry_id:
                    best = int(i)
                    break
        if best < 0:
            groups.append(GapGroup([question], entry_id=entry_id))
            leads.append(vector)
            best = len(groups) - 1
        else:
            groups[best].questions.append(question)
        where[(question.text, question.lang)] = groups[best]
    for row in rows:
        group = where[(row.text, row.lang)]
        group.by_lang[row.lang] += row.count
        group.by_week[week_of(row.last_seen)] += row.count
    groups.sort(key=lambda g: (-g.count, -g.lead.last_seen.timestamp()))
    return groups
