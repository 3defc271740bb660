"""Ranking within one index version, and the decision made on the ranking.

An entry's score is its best-matching row (cosine) over the question's variants, lifted
by a clause of a long message that matches it better, plus a lexical coverage term,
minus a penalty for entries about a country the question does not name. When the
index version carries a trained scorer (`bot.retrieval.scorer`), the first candidates
of that ranking are re-scored with the probability that each answers the question, and
the decision (answer, clarify, abstain) is made on that probability; otherwise it is
made on the heuristic score with the calibrated thresholds in the settings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bot.domain import Decision
from bot.retrieval.cache import LruCache
from bot.retrieval.countries import mentioned_countries, other_country
from bot.retrieval.embed import Embedder
from bot.retrieval.index import IndexVersion
from bot.retrieval.language import detect_language
from bot.retrieval.lexical import LexicalIndex
from bot.retrieval.normalize import tokens
from bot.retrieval.queries import searched
from bot.retrieval.results import Candidate
from bot.retrieval.scorer import HIT_ROWS, Evidence, Scorer, features
from bot.settings import Settings

# Rows that are ways of asking: matched word by word, and the `ask` similarity.
ASKED = ("question", "title", "labelled")

TOP_K_ROWS = 64
MAX_CANDIDATES = 4
# How far a clause of a long message that matches an entry better than the whole message
# lifts the entry towards the clause's similarity. Not all the way: a clause alone loses
# the context ("I am from Kyrgyzstan", "in Almaty") that tells similar entries apart, and
# a story's side remarks would otherwise compete with its question. Measured on the
# development set (0.3-0.5 rank alike; 1.0, the plain maximum, ranks worse).
CLAUSE_WEIGHT = 0.4


def search_texts(questions: list[list[str]], clauses: list[list[str]]) -> list[str]:
    """What is embedded for a batch of questions, in the order `Ranker.evidence_many`
    reads the vectors: each question's searched form, then its clauses."""
    return [
        t
        for variants, parts in zip(questions, clauses, strict=True)
        for t in (searched(variants), *parts)
    ]


class Ranker:
    """Scores entries for a question within one index version.

    The first ranking is heuristic (best row, lifted by a clause, plus the lexical term,
    minus the country penalty); when the version carries a trained scorer, its first
    `scorer.CANDIDATES` entries are re-scored by the scorer, and scores are then
    probabilities that the entry answers the question."""

    def __init__(
        self,
        version: IndexVersion,
        embedder: Embedder,
        settings: Settings,
        scorer: Scorer | None = None,
        cache: LruCache[np.ndarray] | None = None,
    ):
        self.version = version
        self.embedder = embedder
        self.scorer = scorer
        self.cache: LruCache[np.ndarray] = cache if cache is not None else LruCache(0)
        self.lexical_weight = settings.lexical_weight
        self.country_penalty = settings.country_penalty
        self.country = {e.id: e.country for e in version.kb}
        rows = version.rows
        self.row_entry = np.array([r.entry_id for r in rows])
        self.row_kind = np.array([r.kind for r in rows])
        docs: dict[str, list[str]] = {}
        for r in rows:
            if r.kind in ASKED:
                docs.setdefault(r.entry_id, []).append(r.text)
        # answers are not matched word by word, but their words are not foreign to the base
        self.lexical = LexicalIndex(docs, known=[r.text for r in rows if r.kind == "answer"])

    def rank(self, variants: list[str], clauses: Sequence[str] = ()) -> list[Candidate]:
        """Entries by score for one question (see `rank_many`)."""
        return self.rank_many([variants], [list(clauses)])[0]

    def rank_many(
        self, questions: list[list[str]], clauses: list[list[str]] | None = None
    ) -> list[list[Candidate]]:
        """`rank` for several questions with one model call and one FAISS search over
        all their variants and clauses: the model is several times faster per text on a
        batch than one text at a time."""
        clauses = clauses if clauses is not None else [[] for _ in questions]
        vectors = self.vectors(search_texts(questions, clauses))
        evidence = self.evidence_many(questions, clauses, vectors)
        return [self.order(ev) for ev in evidence]

    def vectors(self, texts: list[str]) -> np.ndarray:
        """Query vectors for `texts`, from the cache where it has them; one model call
        for the rest."""
        found = {t: v for t in set(texts) if (v := self.cache.get(t)) is not None}
        missing = sorted(set(texts) - found.keys())
        if missing:
            for text, vector in zip(missing, self.embedder.embed_queries(missing), strict=True):
                found[text] = vector
                self.cache.put(text, vector)
        if not texts:
            return np.zeros((0, self.version.index.d), dtype=np.float32)
        return np.stack([found[t] for t in texts])

    def evidence_many(
        self,
        questions: list[list[str]],
        clauses: list[list[str]],
        vectors: np.ndarray,
        skip: Sequence[int] = (),
        without: Sequence[tuple[str, str] | None] = (),
    ) -> list[Evidence]:
        """The evidence for each question from the vectors of `search_texts` (its
        searched form, then its clauses, question after question). `skip[i]`: a row
        the i-th question must not find, and `without[i]`: (entry, text) left out of
        the lexical index: a paraphrase asked of the index without itself, to train the
        scorer."""
        k = min(TOP_K_ROWS + (1 if skip else 0), self.version.index.ntotal)
        sims, ids = self.version.index.search(np.ascontiguousarray(vectors), k)
        out, start = [], 0
        for n, (variants, parts) in enumerate(zip(questions, clauses, strict=True)):
            mid, end = start + 1, start + 1 + len(parts)
            own = skip[n] if skip else -1
            ev = self._collect(sims[start:mid], ids[start:mid], own)
            if parts:
                clause = self._collect(sims[mid:end], ids[mid:end], own)
                ev.dense = self._lift(ev.dense, clause.dense)
                ev.long = True
            # what the question says of itself, once, over every entry found (the ones
            # only a clause found too)
            first = variants[0] if variants else ""
            named = mentioned_countries(first)
            ev.lang = detect_language(first).lang
            ev.foreign = {e for e in ev.dense if other_country(self.country[e], named, ev.lang)}
            ev.words = len(tokens(first))
            ev.translit = len(variants) > 1
            ev.coverage = (
                self.lexical.coverage(variants, without[n] if without else None)
                if self.lexical_weight or self.scorer is not None or without
                else {}
            )
            out.append(ev)
            start = end
        return out

    def _collect(self, sims: np.ndarray, ids: np.ndarray, skip: int) -> Evidence:
        """The row signals of one set of searched texts; `evidence_many` adds what the
        question says of itself."""
        dense: dict[str, float] = {}
        ask: dict[str, float] = {}
        answer: dict[str, float] = {}
        avoid: dict[str, float] = {}
        found: dict[str, list[float]] = {}
        hits: dict[str, int] = {}
        floor = 1.0
        for v, (row_sims, row_ids) in enumerate(zip(sims, ids, strict=True)):
            seen = 0
            for sim_, i in zip(row_sims, row_ids, strict=True):
                if i < 0 or i == skip:
                    continue
                sim, entry_id, kind = float(sim_), str(self.row_entry[i]), self.row_kind[i]
                floor = min(floor, sim)
                seen += 1
                if kind == "not_about":
                    avoid[entry_id] = max(avoid.get(entry_id, -1.0), sim)
                    continue
                dense[entry_id] = max(dense.get(entry_id, -1.0), sim)
                side = answer if kind == "answer" else ask
                side[entry_id] = max(side.get(entry_id, -1.0), sim)
                found.setdefault(entry_id, []).append(sim)
                if v == 0 and seen <= HIT_ROWS:
                    hits[entry_id] = hits.get(entry_id, 0) + 1
        top3 = {
            e: float(np.mean((sorted(s, reverse=True) + [floor] * 3)[:3])) for e, s in found.items()
        }
        return Evidence(
            dense=dense,
            ask=ask,
            answer=answer,
            top3=top3,
            hits=hits,
            avoid=avoid,
            foreign=set(),
            floor=floor,
            words=0,
            lang="",
            translit=False,
        )

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

    def heuristic(self, ev: Evidence) -> list[Candidate]:
        """The best row, plus the lexical term, minus the country penalty."""

        def score(entry_id: str, sim: float) -> float:
            s = sim + self.lexical_weight * ev.coverage.get(entry_id, 0.0)
            if self.country_penalty and entry_id in ev.foreign:
                s -= self.country_penalty
            return s

        scored = [Candidate(e, score(e, s)) for e, s in ev.dense.items()]
        scored.sort(key=lambda c: (-c.score, c.entry_id))
        return scored

    def order(self, ev: Evidence) -> list[Candidate]:
        """The ranking a question gets: the scorer's probabilities over the first
        heuristic candidates (the rest follow at 0), or the heuristic alone."""
        ranked = self.heuristic(ev)
        if self.scorer is None:
            return ranked
        head = ranked[: self.scorer.candidates]
        probs = self.scorer.probabilities(features(ev, head))
        rescored = [Candidate(c.entry_id, float(p)) for c, p in zip(head, probs, strict=True)]
        rescored.sort(key=lambda c: (-c.score, c.entry_id))
        return rescored + [Candidate(c.entry_id, 0.0) for c in ranked[len(head) :]]


def decide(
    ranked: list[Candidate], settings: Settings, scorer: Scorer | None = None
) -> tuple[Decision, list[Candidate]]:
    """answer / clarify / abstain from the ranking and the calibrated thresholds: the
    scorer's on its probabilities when the ranking came from one, else the settings'.

    Answer only when the best entry is both close enough and clearly ahead of the
    next one; when several are close, offer 2-4 of them; otherwise abstain, because a
    wrong confident answer is the worst outcome for the user.
    """
    if scorer is not None:
        return scorer.decide(ranked)
    top = ranked[0].score if ranked else 0.0
    second = ranked[1].score if len(ranked) > 1 else 0.0
    shown = [Candidate(c.entry_id, round(c.score, 4)) for c in ranked[:MAX_CANDIDATES]]
    if top >= settings.answer_threshold and top - second >= settings.answer_margin:
        return "answer", shown
    if top >= settings.clarify_threshold and len(ranked) > 1:
        close = [c for c in shown if c.score >= top - settings.clarify_window]
        return "clarify", close if len(close) >= 2 else shown[:2]
    return "abstain", shown
