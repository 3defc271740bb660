"""Training the scorer at `reindex`: examples, cross-fitted thresholds, the final fit.

Examples come from three places, all in the knowledge folder:
- every paraphrase and title, asked of the new index without itself (its own row is
  skipped and its words left out of its entry's lexical bag), labelled with its entry;
- every `not_about` question, asked the same way, labelled "no entry";
- the labelled questions in knowledge/training/*.jsonl (real-style questions with
  their entries, or null when out of scope, in the format of `migrant-bot eval`),
  asked exactly as the bot asks them.

The thresholds are chosen on predictions for the labelled questions made by models that
did not see them (`FOLDS`-fold cross-fitting), so they reflect questions the scorer has
not learnt by heart; the scorer that serves is then fitted on everything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.knowledge.labelled import read_questions, training_files
from bot.retrieval import smalltalk
from bot.retrieval.embed import Embedder
from bot.retrieval.evaluate import UTILITY, outcome_kind
from bot.retrieval.index import EmbeddingCache, IndexVersion
from bot.retrieval.language import detect_language
from bot.retrieval.queries import clause_variants, query_variants, searched
from bot.retrieval.ranking import Ranker, search_texts
from bot.retrieval.results import Candidate
from bot.retrieval.scorer import CANDIDATES, Scorer, Thresholds, decide_on, features
from bot.settings import Settings

log = logging.getLogger(__name__)

FOLDS = 5
# A labelled question counts this many times a paraphrase: they are written the way
# people type (stories, typos, transliteration), paraphrases are clean.
LABELLED_WEIGHT = 3.0
L2 = 1.0
# The floor every choice of thresholds must keep on the cross-fitted predictions (the
# service's targets): at most 3% of in-scope questions answered wrongly, at least 90%
# of out-of-scope ones refused (offering topics is not a refusal).
MAX_WRONG = 0.03
MIN_OOS_REFUSED = 0.90


@dataclass
class Example:
    head: list[Candidate]  # the heuristic candidates, best first
    x: np.ndarray  # their features
    expected: tuple[str, ...]  # the right entries; empty = out of scope
    weight: float
    fold: int  # -1 for knowledge-base examples (in every training fold)
    lang: str


class _CachedQueries:
    """The embedder's query vectors through the embedding cache, so that a rebuild
    embeds only labelled questions it has not seen."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache):
        self.embedder, self.cache = embedder, cache

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        have = self.cache.get_many(self.embedder.model_id, "query", list(set(texts)))
        missing = sorted({t for t in texts if t not in have})
        for start in range(0, len(missing), 32):
            batch = missing[start : start + 32]
            new = dict(zip(batch, self.embedder.embed_queries(batch), strict=True))
            self.cache.put_many(self.embedder.model_id, "query", new)
            have.update(new)
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.stack([have[t] for t in texts]).astype(np.float32)


def _examples_from_rows(ranker: Ranker, version: IndexVersion) -> list[Example]:
    rows = version.rows
    # labelled questions have rows too, but are examples of their own (with their clauses)
    picked = [i for i, r in enumerate(rows) if r.kind in ("question", "title", "not_about")]
    if not picked:
        return []
    vectors = version.index.reconstruct_n(0, version.index.ntotal)[picked]
    questions = [[rows[i].text] for i in picked]
    without = [
        (rows[i].entry_id, rows[i].text) if rows[i].kind != "not_about" else None for i in picked
    ]
    evidence = ranker.evidence_many(questions, [[] for _ in picked], vectors, picked, without)
    out = []
    for i, ev in zip(picked, evidence, strict=True):
        head = ranker.heuristic(ev)[:CANDIDATES]
        expected = () if rows[i].kind == "not_about" else (rows[i].entry_id,)
        out.append(Example(head, features(ev, head), expected, 1.0, -1, rows[i].lang))
    return out


def _examples_from_questions(
    ranker: Ranker, paths: Sequence[Path], cached: _CachedQueries, kb_ids: set[str]
) -> tuple[list[Example], int]:
    questions = [q for path in paths for q in read_questions(path)]
    own_row = {
        (r.entry_id, r.text): i for i, r in enumerate(ranker.version.rows) if r.kind == "labelled"
    }
    kept, skipped = [], 0
    for q in questions:
        if any(e not in kb_ids for e in q.expected):
            skipped += 1  # an entry renamed or removed since it was labelled
            continue
        if q.context is not None or smalltalk.classify(q.text) is not None:
            continue  # follow-ups and greetings never reach the scorer alone
        kept.append(q)
    variants, parts = [], []
    for q in kept:
        detected = detect_language(q.text, hint=q.lang)
        variants.append(query_variants(q.text, detected))
        parts.append(clause_variants(q.text, detected))
    vectors = cached.embed_queries(search_texts(variants, parts))
    # each asked without its own row in the index (and its words in its entry's bag)
    keys = [
        (q.expected[0], searched(v)) if q.expected else None
        for q, v in zip(kept, variants, strict=True)
    ]
    skip = [own_row.get(k, -1) if k else -1 for k in keys]
    evidence = ranker.evidence_many(variants, parts, vectors, skip, keys)
    out = []
    for n, (q, ev) in enumerate(zip(kept, evidence, strict=True)):
        head = ranker.heuristic(ev)[:CANDIDATES]
        out.append(
            Example(head, features(ev, head), q.expected, LABELLED_WEIGHT, n % FOLDS, ev.lang)
        )
    return out, skipped


def _stack(examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.vstack([e.x for e in examples if len(e.head)])
    y = np.concatenate(
        [[float(c.entry_id in e.expected) for c in e.head] for e in examples if len(e.head)]
    )
    w = np.concatenate([[e.weight] * len(e.head) for e in examples if len(e.head)])
    return x, y, w


def _ranked(scorer: Scorer, e: Example) -> list[Candidate]:
    if not e.head:
        return []
    probs = scorer.probabilities(e.x)
    out = [Candidate(c.entry_id, float(p)) for c, p in zip(e.head, probs, strict=True)]
    out.sort(key=lambda c: (-c.score, c.entry_id))
    return out


def choose_thresholds(
    ranked: Sequence[list[Candidate]], expected: Sequence[tuple[str, ...]]
) -> tuple[Thresholds, dict]:
    """The thresholds with the highest utility among those that keep `MAX_WRONG` and
    `MIN_OOS_REFUSED` on these predictions (the safest point if none does)."""
    grid = [round(v, 3) for v in np.arange(0.2, 0.99, 0.025)]
    n_in = max(1, sum(bool(e) for e in expected))
    n_oos = max(1, sum(not e for e in expected))
    best: tuple[float, Thresholds, dict] | None = None
    for answer in grid:
        for margin in (0.0, 0.1, 0.2, 0.3):
            for clarify in [c for c in grid if c <= answer]:
                t = Thresholds(answer, margin, clarify)
                total, kinds = 0.0, {k: 0 for k in UTILITY}
                for r, exp in zip(ranked, expected, strict=True):
                    kind = outcome_kind(*decide_on(r, t), exp)
                    total += UTILITY[kind]
                    kinds[kind] += 1
                safe = (
                    kinds["answer_wrong"] <= MAX_WRONG * n_in
                    and kinds["abstain_oos"] >= MIN_OOS_REFUSED * n_oos
                )
                key = total if safe else total - 1e6
                if best is None or key > best[0]:
                    best = (key, t, {**kinds, "safe": safe})
    assert best is not None
    return best[1], best[2]


def train_scorer(
    version: IndexVersion, embedder: Embedder, settings: Settings, cache_path: Path
) -> Scorer:
    """Fit the scorer for `version` (its vectors, knowledge snapshot and the labelled
    questions of `settings.kb_dir`) and choose its thresholds. Seconds once the labelled
    questions' vectors are in the embedding cache."""
    started = time.perf_counter()
    ranker = Ranker(version, embedder, settings)
    cache = EmbeddingCache(cache_path)
    try:
        from_kb = _examples_from_rows(ranker, version)
        labelled, skipped = _examples_from_questions(
            ranker,
            training_files(settings.kb_dir),
            _CachedQueries(embedder, cache),
            set(version.kb.entries),
        )
    finally:
        cache.close()
    examples = from_kb + labelled
    kb_hash, model_id = version.kb.content_hash, version.model_id
    x, y, w = _stack(examples)
    loose = Thresholds(0.5, 0.0, 0.3)
    # predictions for each labelled question from a model that did not see it
    held_out: list[list[Candidate]] = []
    held_expected: list[tuple[str, ...]] = []
    for fold in range(FOLDS if labelled else 0):
        fit_on = [e for e in examples if e.fold != fold]
        scorer = Scorer.fit(*_stack(fit_on), loose, kb_hash, model_id, L2)
        for e in labelled:
            if e.fold == fold:
                held_out.append(_ranked(scorer, e))
                held_expected.append(e.expected)
    if held_out:
        thresholds, outcome = choose_thresholds(held_out, held_expected)
    else:  # no labelled questions: the knowledge base's own examples, seen in training
        ranked = [_ranked(Scorer.fit(x, y, w, loose, kb_hash, model_id, L2), e) for e in from_kb]
        thresholds, outcome = choose_thresholds(ranked, [e.expected for e in from_kb])
    scorer = Scorer.fit(x, y, w, thresholds, kb_hash, model_id, L2)
    scorer.report = {
        "paraphrases": sum(1 for e in from_kb if e.expected),
        "not_about": sum(1 for e in from_kb if not e.expected),
        "labelled": len(labelled),
        "labelled_skipped": skipped,
        "thresholds_from": "cross-fitted labelled questions" if held_out else "paraphrases",
        "held_out": outcome,
    }
    log.info("scorer trained in %.1f s: %s", time.perf_counter() - started, scorer.report)
    if skipped:
        log.warning(
            "%s: %s labelled questions name entries that no longer exist and were left out",
            training_files(settings.kb_dir),
            skipped,
        )
    return scorer
