"""The learned scorer: how likely each of a question's first candidates is its answer.

Cosine similarity alone cannot tell a question about a work patent from one about a
patent for an invention (both reach 0.92-0.97), nor a story whose question is its last
clause from small talk. The ranking collects more evidence per candidate entry
(`Evidence`: the best paraphrase, title and answer rows, how many rows agree, the words
the question shares with the entry, whether it names another country, how close it comes
to the entry's `not_about` questions, the question's language and length), and a
logistic regression over those features, trained at `reindex` on the knowledge base's
own paraphrases (each asked of the index without itself) and the labelled questions in
knowledge/training/, turns them into probabilities. Its thresholds (answer, clarify,
abstain) are chosen on predictions for labelled questions the model was not fitted on.

numpy only: a few thousand examples and two dozen features fit in well under a second
by Newton's method, deterministically, so two builds of the same knowledge give the same
file. The file is part of the index version, checked like the vectors: a scorer trained
for another knowledge base or model is refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bot.domain import LANGUAGES, Decision
from bot.retrieval.results import Candidate

FORMAT = 1
FILE = "scorer.json"
# Entries of the heuristic ranking the scorer re-scores. The right entry is among the
# first 6 for 98% of the development set's in-scope questions (the first 3: 95%).
CANDIDATES = 6
MAX_SHOWN = 4  # entries offered when the bot asks which topic was meant
HIT_ROWS = 16  # the first rows of a search that vote for their entries (`Evidence.hits`)

BASE = (
    "dense",
    "lead",
    "ask",
    "answer",
    "top3",
    "hits",
    "coverage",
    "coverage_lead",
    "foreign",
    "avoid_gap",
    "avoid_any",
    "over_floor",
    "position",
    "heuristic_gap",
    "log_words",
    "long",
    "translit",
    *(f"lang_{lang}" for lang in LANGUAGES),
)
# The similarity and agreement signals interact (a high similarity means more when the
# entry is also clearly ahead and shares the question's words), which a linear model
# sees only through their products: every pair of the first `PAIRED` features. On the
# labelled questions, cross-fitted, they raised the share answered at the same error
# rate (0.63 to 0.69, 2026-12-03).
PAIRED = 8
PAIRS = [(i, j) for i in range(PAIRED) for j in range(i, PAIRED)]
FEATURES = (*BASE, *(f"{BASE[i]}*{BASE[j]}" for i, j in PAIRS))


class ScorerProblem(ValueError):
    """A scorer file that cannot be used with this index version or program."""


@dataclass
class Evidence:
    """What the ranking saw of one question, per entry found: the signals the scorer
    weighs. Similarities are cosines; an entry missing from a kind's top rows gets
    `floor`, the lowest similarity found (its own is at most that)."""

    dense: dict[str, float]  # best row of any kind, lifted by a better clause
    ask: dict[str, float]  # best question or title row (the whole message)
    answer: dict[str, float]  # best answer row
    top3: dict[str, float]  # mean of the entry's three best rows
    hits: dict[str, int]  # rows of the entry among the first HIT_ROWS of the first variant
    avoid: dict[str, float]  # best `not_about` row of the entry
    foreign: set[str]  # entries about a country the question does not name
    floor: float
    words: int  # words in the question
    lang: str  # the detected language
    translit: bool  # Russian in Latin letters or Uzbek in Cyrillic
    long: bool = False  # searched clause by clause too
    coverage: dict[str, float] = field(default_factory=dict)  # bot.retrieval.lexical


def features(ev: Evidence, head: Sequence[Candidate]) -> np.ndarray:
    """One row of `FEATURES` per candidate in `head` (the heuristic order, best first)."""
    rows = np.zeros((len(head), len(BASE)), dtype=np.float64)
    if not head:
        return np.zeros((0, len(FEATURES)), dtype=np.float64)
    dense = [ev.dense.get(c.entry_id, ev.floor) for c in head]
    cover = [ev.coverage.get(c.entry_id, 0.0) for c in head]
    avoid_any = max(ev.avoid.values(), default=ev.floor)
    lang = [float(ev.lang == code) for code in LANGUAGES]
    for n, c in enumerate(head):
        others = [d for m, d in enumerate(dense) if m != n] or [ev.floor]
        other_cover = [x for m, x in enumerate(cover) if m != n] or [0.0]
        e = c.entry_id
        rows[n] = [
            dense[n],
            dense[n] - max(others),
            ev.ask.get(e, ev.floor),
            ev.answer.get(e, ev.floor),
            ev.top3.get(e, ev.floor),
            ev.hits.get(e, 0) / HIT_ROWS,
            cover[n],
            cover[n] - max(other_cover),
            float(e in ev.foreign),
            ev.avoid.get(e, ev.floor) - dense[n],
            avoid_any - max(dense),
            dense[n] - ev.floor,
            n / max(1, len(head) - 1),
            c.score - head[0].score,
            math.log1p(ev.words),
            float(ev.long),
            float(ev.translit),
            *lang,
        ]
    left, right = zip(*PAIRS, strict=True)
    return np.hstack([rows, rows[:, list(left)] * rows[:, list(right)]])


@dataclass(frozen=True)
class Thresholds:
    """Answer when the best probability is at least `answer` and ahead of the second by
    `margin`; offer the likely topics when it is at least `clarify`; else abstain."""

    answer: float
    margin: float
    clarify: float


def decide_on(ranked: Sequence[Candidate], t: Thresholds) -> tuple[Decision, list[Candidate]]:
    """answer / clarify / abstain on the scorer's probabilities."""
    top = ranked[0].score if ranked else 0.0
    second = ranked[1].score if len(ranked) > 1 else 0.0
    shown = [Candidate(c.entry_id, round(c.score, 4)) for c in ranked[:MAX_SHOWN]]
    if top >= t.answer and top - second >= t.margin:
        return "answer", shown
    if top >= t.clarify and len(ranked) > 1:
        # the topics worth offering: likely on their own, or not far below the first
        close = [c for c in shown if c.score >= max(t.clarify / 2, top / 4)]
        return "clarify", close if len(close) >= 2 else shown[:2]
    return "abstain", shown


def fit_logistic(
    x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float = 1.0, steps: int = 30
) -> tuple[np.ndarray, float]:
    """Weighted, L2-regularised logistic regression by Newton's method (the bias is not
    regularised). Deterministic, and converged in 10-20 steps on standardised features."""
    n, d = x.shape
    a = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ w, -30, 30)))
        grad = a.T @ (weight * (p - y)) + reg * w
        hess = (a * (weight * p * (1 - p))[:, None]).T @ a + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w[:-1], float(w[-1])


def stable(values: np.ndarray) -> list[float]:
    """Values rounded to 9 significant digits. BLAS may split a sum differently from one
    run to the next, and Newton's steps carry the last-bit difference into the 12th
    digit of the weights (measured, 2026-12-03); rounded, two builds of the same
    knowledge write the same file (unless a weight falls within 1e-12 of a rounding
    boundary), and no probability moves by more than 1e-8."""
    return [float(f"{v:.9g}") for v in values]


@dataclass
class Scorer:
    """A fitted logistic regression over `FEATURES` with its decision thresholds, for
    one knowledge base and embedding model."""

    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float
    thresholds: Thresholds
    kb_hash: str
    model_id: str
    candidates: int = CANDIDATES
    features: tuple[str, ...] = FEATURES
    report: dict = field(default_factory=dict)  # what it was trained on and how it did

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        weight: np.ndarray,
        thresholds: Thresholds,
        kb_hash: str,
        model_id: str,
        l2: float = 1.0,
    ) -> Scorer:
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-9] = 1.0
        w, b = fit_logistic((x - mean) / scale, y, weight, l2)
        return cls(
            stable(mean), stable(scale), stable(w), stable(np.array([b]))[0], thresholds,
            kb_hash, model_id,
        )  # fmt: skip

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = ((x - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.weights)
        return 1.0 / (1.0 + np.exp(-np.clip(z + self.bias, -30, 30)))

    def decide(self, ranked: Sequence[Candidate]) -> tuple[Decision, list[Candidate]]:
        return decide_on(ranked, self.thresholds)

    # ------------------------------------------------------------ the file

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = FORMAT
        data["features"] = list(self.features)
        return json.dumps(data, ensure_ascii=False, indent=1)

    def save(self, folder: Path) -> Path:
        path = Path(folder) / FILE
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path, kb_hash: str, model_id: str) -> Scorer:
        """The scorer in `path`, refused (`ScorerProblem`, saying why) unless it was
        trained for this knowledge base and model by a program with these features."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("format") != FORMAT or tuple(data["features"]) != FEATURES:
                raise ScorerProblem(
                    f"{path.name} was written by another version of the program (other features)"
                )
            if data["kb_hash"] != kb_hash:
                raise ScorerProblem(
                    f"{path.name} was trained for another knowledge version "
                    f"({data['kb_hash'][:8]}, this version holds {kb_hash[:8]})"
                )
            if data["model_id"] != model_id:
                raise ScorerProblem(
                    f"{path.name} was trained with model '{data['model_id']}', not '{model_id}'"
                )
            scorer = cls(
                mean=[float(v) for v in data["mean"]],
                scale=[float(v) for v in data["scale"]],
                weights=[float(v) for v in data["weights"]],
                bias=float(data["bias"]),
                thresholds=Thresholds(**data["thresholds"]),
                kb_hash=data["kb_hash"],
                model_id=data["model_id"],
                candidates=int(data["candidates"]),
                features=FEATURES,
                report=dict(data.get("report") or {}),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, ScorerProblem):
                raise
            raise ScorerProblem(f"{Path(path).name} is unreadable ({exc})") from exc
        if not (len(scorer.mean) == len(scorer.scale) == len(scorer.weights) == len(FEATURES)):
            raise ScorerProblem(f"{Path(path).name} has weights for another set of features")
        return scorer
