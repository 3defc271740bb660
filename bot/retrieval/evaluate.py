"""Score retrieval on a labelled question file, and the two baselines on the same file.

Input: JSON lines {"text": str, "expected": id | [ids] | null, "lang": str (optional),
"style": str (optional: how it is written; the table adds a line per style, "~story")};
null means out of scope (the right outcome is to abstain). Metrics per language and
overall; see `score_group` for their definitions.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import faiss
import numpy as np

from bot.domain import NO_ANSWER
from bot.knowledge.entries import KnowledgeBase
from bot.knowledge.labelled import Question
from bot.retrieval.assistant import Assistant
from bot.retrieval.embed import Embedder
from bot.retrieval.followups import context_of, context_of_choice, contextualise
from bot.retrieval.language import detect_language
from bot.retrieval.lexical import LexicalIndex
from bot.retrieval.normalize import normalize, script_of
from bot.retrieval.ranking import decide
from bot.retrieval.results import Candidate
from bot.settings import Settings

# Follow-ups in an evaluation file are read as if sent right after their context.
FOLLOWUP_EVAL_WINDOW = 1.0


@dataclass
class Outcome:
    question: Question
    lang: str
    decision: str
    answered: str | None
    ranking: list[str]
    scores: list[Candidate]
    latency_ms: float
    reply_lang: str = ""  # the language (and "-cyrl" for Cyrillic Uzbek) of the reply


def check_ids(questions: Sequence[Question], kb: KnowledgeBase) -> list[str]:
    return sorted({e for q in questions for e in q.expected if e not in kb})


# ---------------------------------------------------------------- systems under test

# (text searched, what the user typed when that is a follow-up with its topic) -> (reply
# language, decision, ranking, reply script: "cyrl" for Uzbek in Cyrillic)
Runner = Callable[[str, str | None], tuple[str, str, list[Candidate], str]]


def project_runner(assistant: Assistant) -> Runner:
    def run(text: str, typed: str | None = None) -> tuple[str, str, list[Candidate], str]:
        result = assistant.ask(text, typed=typed)
        return result.lang, result.decision, result.ranking, result.script

    return run


def bm25_runner(kb: KnowledgeBase) -> Runner:
    """Plain BM25 over each entry's title, questions and answer in all languages."""
    docs = {
        e.id: [part for t in e.text.values() for part in (t.title, *t.questions, t.answer)]
        for e in kb
    }
    index = LexicalIndex(docs, prefix=0)

    def run(text: str, typed: str | None = None) -> tuple[str, str, list[Candidate], str]:
        scores = index.bm25(text)
        ranked = sorted((Candidate(e, s) for e, s in scores.items()), key=lambda c: -c.score)
        decision = "answer" if ranked and ranked[0].score > 0 else "abstain"
        return detect_language(text).lang, decision, ranked, ""

    return run


def dense_runner(kb: KnowledgeBase, embedder: Embedder) -> Runner:
    """Plain FAISS over the answers: raw question, no normalisation, always top-1."""
    ids, texts = [], []
    for e in kb:
        for t in e.text.values():
            ids.append(e.id)
            texts.append(t.answer)
    index = faiss.IndexFlatIP(embedder.dim)
    index.add(embedder.embed_passages(texts))

    def run(text: str, typed: str | None = None) -> tuple[str, str, list[Candidate], str]:
        sims, rows = index.search(embedder.embed_queries([text]), len(ids))
        best: dict[str, float] = {}
        for s, r in zip(sims[0], rows[0], strict=True):
            if r >= 0 and ids[r] not in best:
                best[ids[r]] = float(s)
        ranked = [Candidate(e, s) for e, s in best.items()]
        return detect_language(text).lang, "answer", ranked, ""

    return run


FollowUp = Callable[[str, str], str]  # (previous message, message) -> text to search


def followup_reader(assistant: Assistant, window: float = FOLLOWUP_EVAL_WINDOW) -> FollowUp:
    """How the bot reads a follow-up: after an answer, that answer's topic; after a
    choice of topics, the choice (`context_of_choice`); after a refusal, nothing. Then
    `contextualise` (what the bot and the chat do between two messages)."""

    def read(previous: str, text: str) -> str:
        result = assistant.ask(previous)
        if result.kb is None:
            return text
        if result.decision == "answer" and result.entry is not None:
            context = context_of(result.entry, result.lang, 0.0, result.kb)
        elif result.decision == "clarify":
            offered = [result.kb[c.entry_id] for c in result.candidates if c.entry_id in result.kb]
            context = context_of_choice(offered, result.lang, 0.0, result.kb)
        else:
            return text
        return contextualise(text, context, now=0.0, window=window) or text

    return read


def run_all(
    questions: Sequence[Question], runner: Runner, followup: FollowUp | None = None
) -> list[Outcome]:
    """Every question through `runner`; a question with a `context` is read as a
    follow-up of it by `followup` (without one, as a question of its own)."""
    outcomes = []
    for q in questions:
        started = time.perf_counter()
        text = followup(q.context, q.text) if followup and q.context else q.text
        lang, decision, ranked, script = runner(text, q.text if text != q.text else None)
        latency = (time.perf_counter() - started) * 1000
        answered = ranked[0].entry_id if decision == "answer" and ranked else None
        outcomes.append(
            Outcome(
                q,
                q.lang or lang,
                decision,
                answered,
                [c.entry_id for c in ranked],
                list(ranked),
                latency,
                lang + ("-cyrl" if script == "cyrl" else ""),
            )
        )
    return outcomes


# ---------------------------------------------------------------- metrics


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def score_group(outcomes: Sequence[Outcome]) -> dict:
    """top1/top3/mrr: the ranking, whatever the decision, over in-scope questions.
    answered_correct: decision answer with an expected id, over in-scope questions.
    wrong_answer_rate: decision answer with a wrong id, over in-scope questions.
    in_scope_abstain_rate: abstain on in-scope questions. oos_abstain_rate: abstain (or
    small talk) on out-of-scope questions. reply_lang: replies in the labelled language,
    and for Uzbek in the question's script, over questions with a `lang` label."""
    ins = [o for o in outcomes if o.question.expected]
    oos = [o for o in outcomes if not o.question.expected]
    labelled = [o for o in outcomes if o.question.lang]

    def rank_of(o: Outcome) -> int | None:
        for i, e in enumerate(o.ranking, 1):
            if e in o.question.expected:
                return i
        return None

    ranks = [rank_of(o) for o in ins]
    return {
        "n": len(outcomes),
        "n_in_scope": len(ins),
        "n_out_of_scope": len(oos),
        "top1": _rate(sum(1 for r in ranks if r == 1), len(ins)),
        "top3": _rate(sum(1 for r in ranks if r and r <= 3), len(ins)),
        "mrr": round(sum(1 / r for r in ranks if r) / len(ins), 4) if ins else None,
        "answered_correct": _rate(
            sum(1 for o in ins if o.decision == "answer" and o.answered in o.question.expected),
            len(ins),
        ),
        "wrong_answer_rate": _rate(
            sum(1 for o in ins if o.decision == "answer" and o.answered not in o.question.expected),
            len(ins),
        ),
        "in_scope_abstain_rate": _rate(sum(1 for o in ins if o.decision == "abstain"), len(ins)),
        "oos_abstain_rate": _rate(sum(1 for o in oos if o.decision in NO_ANSWER), len(oos)),
        "reply_lang": _rate(
            sum(1 for o in labelled if o.reply_lang == _expected_reply(o)), len(labelled)
        ),
    }


def _expected_reply(o: Outcome) -> str:
    """The reply a labelled question should get: its language, and for Uzbek written in
    Cyrillic, Cyrillic ("uz-cyrl")."""
    lang = o.question.lang or ""
    if lang == "uz" and script_of(normalize(o.question.text)) == "cyrl":
        return "uz-cyrl"
    return lang


def report(outcomes: Sequence[Outcome], system: str) -> dict:
    by_lang: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_lang.setdefault(o.lang, []).append(o)
    by_style: dict[str, list[Outcome]] = {}
    for o in outcomes:
        if o.question.style:
            by_style.setdefault(o.question.style, []).append(o)
    latencies = [o.latency_ms for o in outcomes]
    return {
        "system": system,
        "n": len(outcomes),
        "overall": score_group(outcomes),
        "by_lang": {lang: score_group(group) for lang, group in sorted(by_lang.items())},
        "by_style": {style: score_group(group) for style, group in sorted(by_style.items())},
        "latency_ms": {
            "p50": round(statistics.median(latencies), 2),
            "p95": round(float(np.percentile(latencies, 95)), 2),
        },
    }


def format_table(reports: Sequence[dict]) -> str:
    """One line per system and language, for people."""
    cols = (
        "top1",
        "top3",
        "mrr",
        "answered_correct",
        "wrong_answer_rate",
        "in_scope_abstain_rate",
        "oos_abstain_rate",
        "reply_lang",
    )
    head = f"{'system':<8} {'group':<10} {'n':>4} " + " ".join(f"{c[:12]:>12}" for c in cols)
    lines = [head, "-" * len(head)]
    for rep in reports:
        groups = [
            ("overall", rep["overall"]),
            *rep["by_lang"].items(),
            *((f"~{style}", g) for style, g in rep.get("by_style", {}).items()),
        ]
        for name, g in groups:
            cells = " ".join(f"{'-' if g[c] is None else format(g[c], '.3f'):>12}" for c in cols)
            lines.append(f"{rep['system']:<8} {name:<10} {g['n']:>4} {cells}")
        lat = rep["latency_ms"]
        lines.append(f"{rep['system']:<8} latency p50 {lat['p50']} ms, p95 {lat['p95']} ms")
    return "\n".join(lines)


# ---------------------------------------------------------------- calibration

UTILITY = {
    # A wrong confident answer can cost someone an entry ban: it weighs five times a
    # right one. Offering the right topic among choices is half a right answer.
    "answer_right": 1.0,
    "answer_wrong": -5.0,
    "clarify_right": 0.5,
    "clarify_wrong": -0.5,
    "abstain_in_scope": 0.0,
    "abstain_oos": 1.0,
    "answer_oos": -5.0,
    "clarify_oos": -0.5,
}


def outcome_kind(decision: str, candidates: list[Candidate], expected: tuple[str, ...]) -> str:
    """Which of the `UTILITY` outcomes a decision is for a question labelled `expected`
    (empty: out of scope)."""
    if not expected:
        return {"abstain": "abstain_oos", "smalltalk": "abstain_oos", "answer": "answer_oos"}.get(
            decision, "clarify_oos"
        )
    if decision in NO_ANSWER:
        return "abstain_in_scope"
    if decision == "answer":
        return "answer_right" if candidates[0].entry_id in expected else "answer_wrong"
    hit = any(c.entry_id in expected for c in candidates)
    return "clarify_right" if hit else "clarify_wrong"


def _utility(decision: str, candidates: list[Candidate], expected: tuple[str, ...]) -> float:
    return UTILITY[outcome_kind(decision, candidates, expected)]


LEXICAL_WEIGHTS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
COUNTRY_PENALTIES = (0.0, 0.05, 0.1, 0.15)

# The service's floor, whatever the utility says: at most 5% of in-scope questions
# answered wrongly, and at least 85% of out-of-scope questions abstained on (offering
# topics to someone who asked about the weather is not a refusal), in every language:
# a fit that is safe on average can still answer Kazakh questions about tourist visas.
# The fit maximises the utility among the thresholds that meet both in every language;
# when none does, among those that meet them over all questions; else over all.
MAX_WRONG_ANSWER_RATE = 0.05
MIN_OOS_ABSTAIN_RATE = 0.85


def calibrate(outcomes: Sequence[Outcome], settings: Settings) -> tuple[dict, float]:
    """Grid-search the decision thresholds that maximise the utility above on the
    rankings already computed (the ranking does not depend on the thresholds), among
    those that keep the floor above (`MAX_WRONG_ANSWER_RATE`, `MIN_OOS_ABSTAIN_RATE`) in
    every language, else over all questions.

    Vectorised over questions: for each window the clarify outcome of every question
    is fixed, so one (answer, margin, clarify) point costs a few array operations."""
    n = len(outcomes)
    top = np.array([o.scores[0].score if o.scores else 0.0 for o in outcomes])
    second = np.array([o.scores[1].score if len(o.scores) > 1 else 0.0 for o in outcomes])
    has_two = np.array([len(o.scores) > 1 for o in outcomes])
    oos = np.array([not o.question.expected for o in outcomes])
    right = np.array(
        [bool(o.scores) and o.scores[0].entry_id in o.question.expected for o in outcomes]
    )
    u_answer = np.where(
        oos,
        UTILITY["answer_oos"],
        np.where(right, UTILITY["answer_right"], UTILITY["answer_wrong"]),
    )
    u_abstain = np.where(oos, UTILITY["abstain_oos"], UTILITY["abstain_in_scope"])
    lo = float(np.floor(top.min() * 100) / 100) if n else 0.0
    # one step above the best score too: "never answer" must be a point of the grid
    grid = np.round(np.arange(lo, float(top.max()) + 0.01, 0.005), 3) if n else np.array([1.0])
    n_in, n_oos = max(1, int((~oos).sum())), int(oos.sum())
    wrong_if_answered = ~oos & ~right
    langs = np.array([o.lang for o in outcomes])
    groups = [langs == lang for lang in sorted(set(langs.tolist()))]
    max_wrong = [MAX_WRONG_ANSWER_RATE * int((~oos & g).sum()) for g in groups]
    min_refused = [MIN_OOS_ABSTAIN_RATE * int((oos & g).sum()) for g in groups]
    best: tuple[float, dict] = (float("-inf"), {})
    best_ok: tuple[float, dict] = (float("-inf"), {})  # the floor over all questions
    best_lang: tuple[float, dict] = (float("-inf"), {})  # ... and in every language
    for window in (0.01, 0.02, 0.03, 0.05):
        probe = settings.model_copy(
            update={"clarify_window": window, "answer_threshold": 9.0, "clarify_threshold": -9.0}
        )
        u_clarify = np.array(
            [
                _utility(*decide(o.scores, probe), o.question.expected)
                if len(o.scores) > 1
                else 0.0
                for o in outcomes
            ]
        )
        for answer_t in grid:
            for margin in (0.0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04):
                answer = (top >= answer_t) & (top - second >= margin)
                wrong = answer & wrong_if_answered
                wrong_ok = wrong.sum() <= MAX_WRONG_ANSWER_RATE * n_in
                wrong_ok_lang = wrong_ok and all(
                    wrong[g].sum() <= m for g, m in zip(groups, max_wrong, strict=True)
                )
                for clarify_t in grid[grid <= answer_t]:
                    clarify = ~answer & (top >= clarify_t) & has_two
                    total = float(
                        np.where(answer, u_answer, np.where(clarify, u_clarify, u_abstain)).sum()
                    )
                    if total <= best_lang[0]:  # best_ok >= best_lang: nothing to gain
                        continue
                    point = {
                        "answer_threshold": float(answer_t),
                        "answer_margin": margin,
                        "clarify_threshold": float(clarify_t),
                        "clarify_window": window,
                    }
                    if total > best[0]:
                        best = (total, point)
                    refused = oos & ~answer & ~clarify
                    if not wrong_ok or refused.sum() < MIN_OOS_ABSTAIN_RATE * n_oos:
                        continue
                    if total > best_ok[0]:
                        best_ok = (total, point)
                    if (
                        wrong_ok_lang
                        and total > best_lang[0]
                        and all(
                            refused[g].sum() >= m for g, m in zip(groups, min_refused, strict=True)
                        )
                    ):
                        best_lang = (total, point)
    chosen = best_lang if best_lang[1] else best_ok if best_ok[1] else best
    return chosen[1], chosen[0] / max(1, n)


def redecide(outcomes: Sequence[Outcome], settings: Settings) -> list[Outcome]:
    """The same rankings decided with other thresholds (for calibration reports)."""
    out = []
    for o in outcomes:
        decision, _ = decide(o.scores, settings)
        answered = o.scores[0].entry_id if decision == "answer" else None
        out.append(
            Outcome(o.question, o.lang, decision, answered, o.ranking, o.scores, o.latency_ms)
        )
    return out
