"""Ranking within one index version, and the decision made on the ranking.

An entry's score is its best-matching row (cosine) over the question's variants, lifted
by a clause of a long message that matches it better, plus a lexical coverage term,
minus a penalty for entries about a country the question does not name; the decision
(answer, clarify, abstain) is made with calibrated thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bot.domain import Decision
from bot.retrieval.countries import mentioned_countries, other_country
from bot.retrieval.embed import Embedder
from bot.retrieval.index import IndexVersion
from bot.retrieval.language import detect_language
from bot.retrieval.lexical import LexicalIndex
from bot.retrieval.results import Candidate
from bot.settings import Settings

TOP_K_ROWS = 64
MAX_CANDIDATES = 4
# How far a clause of a long message that matches an entry better than the whole message
# lifts the entry towards the clause's similarity. Not all the way: a clause alone loses
# the context ("I am from Kyrgyzstan", "in Almaty") that tells similar entries apart, and
# a story's side remarks would otherwise compete with its question. Measured on the
# development set (0.3-0.5 rank alike; 1.0, the plain maximum, ranks worse).
CLAUSE_WEIGHT = 0.4


class Ranker:
    """Scores entries for a question within one index version."""

    def __init__(self, version: IndexVersion, embedder: Embedder, settings: Settings):
        self.version = version
        self.embedder = embedder
        self.lexical_weight = settings.lexical_weight
        self.country_penalty = settings.country_penalty
        self.country = {e.id: e.country for e in version.kb}
        rows = version.rows
        self.row_entry = np.array([r.entry_id for r in rows])
        docs: dict[str, list[str]] = {}
        for r in rows:
            if r.kind != "answer":
                docs.setdefault(r.entry_id, []).append(r.text)
        # answers are not matched word by word, but their words are not foreign to the base
        self.lexical = LexicalIndex(docs, known=[r.text for r in rows if r.kind == "answer"])

    def rank(self, variants: list[str], clauses: Sequence[str] = ()) -> list[Candidate]:
        """Entries by score: the best-matching row of each entry (cosine) over the
        question's variants, lifted by `CLAUSE_WEIGHT` of the way to its best clause's
        when a clause of a long message (`bot.retrieval.queries.clause_variants`) matches it better,
        plus the lexical coverage term, minus a penalty for entries about another country
        than the ones the question names (`bot.retrieval.countries.other_country`)."""
        return self.rank_many([variants], [list(clauses)])[0]

    def rank_many(
        self, questions: list[list[str]], clauses: list[list[str]] | None = None
    ) -> list[list[Candidate]]:
        """`rank` for several questions with one model call and one FAISS search over
        all their variants and clauses: the model is several times faster per text on a
        batch than one text at a time."""
        clauses = clauses if clauses is not None else [[] for _ in questions]
        pairs = list(zip(questions, clauses, strict=True))  # one list of clauses each
        flat = [t for variants, parts in pairs for t in (*variants, *parts)]
        vectors = self.embedder.embed_queries(flat)
        k = min(TOP_K_ROWS, self.version.index.ntotal)
        sims, ids = self.version.index.search(vectors, k)
        ranked, start = [], 0
        for variants, parts in pairs:
            mid, end = start + len(variants), start + len(variants) + len(parts)
            dense = self._best_rows(sims[start:mid], ids[start:mid])
            if parts:
                dense = self._lift(dense, self._best_rows(sims[mid:end], ids[mid:end]))
            ranked.append(self._score(variants, dense))
            start = end
        return ranked

    def _best_rows(self, sims: np.ndarray, ids: np.ndarray) -> dict[str, float]:
        """Each entry's best row similarity over the given texts' FAISS results."""
        dense: dict[str, float] = {}
        for row_sims, row_ids in zip(sims, ids, strict=True):
            for sim, i in zip(row_sims, row_ids, strict=True):
                if i < 0:
                    continue
                entry_id = str(self.row_entry[i])
                if float(sim) > dense.get(entry_id, -1.0):
                    dense[entry_id] = float(sim)
        return dense

    @staticmethod
    def _lift(whole: dict[str, float], parts: dict[str, float]) -> dict[str, float]:
        """`whole` lifted by `CLAUSE_WEIGHT` of the way to `parts` where a clause matches
        an entry better. An entry missing from one side's top-k is given that side's
        lowest similarity found (its true one is at most that)."""
        if not whole or not parts:
            return whole or parts
        floor_whole, floor_parts = min(whole.values()), min(parts.values())
        lifted = {}
        for entry_id in whole.keys() | parts.keys():
            w = whole.get(entry_id, floor_whole)
            gain = max(0.0, parts.get(entry_id, floor_parts) - w)
            lifted[entry_id] = w + CLAUSE_WEIGHT * gain
        return lifted

    def _score(self, variants: list[str], dense: dict[str, float]) -> list[Candidate]:
        coverage = self.lexical.coverage(variants) if self.lexical_weight else {}
        named = mentioned_countries(variants[0]) if self.country_penalty else set()
        lang = detect_language(variants[0]).lang if self.country_penalty else None

        def score(entry_id: str, sim: float) -> float:
            s = sim + self.lexical_weight * coverage.get(entry_id, 0.0)
            if self.country_penalty and other_country(self.country[entry_id], named, lang):
                s -= self.country_penalty
            return s

        scored = [Candidate(e, score(e, s)) for e, s in dense.items()]
        scored.sort(key=lambda c: (-c.score, c.entry_id))
        return scored


def decide(ranked: list[Candidate], settings: Settings) -> tuple[Decision, list[Candidate]]:
    """answer / clarify / abstain from the ranking and the calibrated thresholds.

    Answer only when the best entry is both close enough and clearly ahead of the
    next one; when several are close, offer 2-4 of them; otherwise abstain, because a
    wrong confident answer is the worst outcome for the user.
    """
    top = ranked[0].score if ranked else 0.0
    second = ranked[1].score if len(ranked) > 1 else 0.0
    shown = [Candidate(c.entry_id, round(c.score, 4)) for c in ranked[:MAX_CANDIDATES]]
    if top >= settings.answer_threshold and top - second >= settings.answer_margin:
        return "answer", shown
    if top >= settings.clarify_threshold and len(ranked) > 1:
        close = [c for c in shown if c.score >= top - settings.clarify_window]
        return "clarify", close if len(close) >= 2 else shown[:2]
    return "abstain", shown
