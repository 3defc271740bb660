"""Labelled questions: what a question file holds, for training and evaluation.

A question file is JSON lines {"text": str, "expected": id | [ids] | null, "lang": str
(optional), "style": str (optional: how it is written), "context": str (optional: the
message before, for a follow-up)}; null means out of scope (the right outcome is to
abstain). knowledge/training/*.jsonl are such files that the scorer learns from and the
index searches (`bot.retrieval.training`); tests/data/*.jsonl are evaluation sets that
nothing learns from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bot.errors import InputError

__all__ = ["TRAINING_DIR", "BadQuestionsFile", "Question", "read_questions", "training_files"]

TRAINING_DIR = "training"


class BadQuestionsFile(InputError):
    pass


@dataclass(frozen=True)
class Question:
    text: str
    expected: tuple[str, ...]  # empty = out of scope
    lang: str | None
    line: int
    # The message before this one, for a follow-up ("а для таджиков?" after it).
    context: str | None = None
    # How it is written (short, typo, translit, mixed, story, formal, oos): reported
    # separately, because stories and mixed-language messages fail differently.
    style: str | None = None


def read_questions(path: Path) -> list[Question]:
    questions = []
    for n, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
            text = item["text"]
            expected = item.get("expected")
        except (ValueError, KeyError, TypeError) as exc:
            raise BadQuestionsFile(f"{path}:{n}: not a question line ({exc})") from exc
        if expected is None:
            exp: tuple[str, ...] = ()
        elif isinstance(expected, str):
            exp = (expected,)
        elif isinstance(expected, list) and all(isinstance(e, str) for e in expected):
            exp = tuple(expected)
        else:
            raise BadQuestionsFile(f"{path}:{n}: 'expected' must be an id, a list of ids or null")
        if not isinstance(text, str):
            raise BadQuestionsFile(f"{path}:{n}: 'text' must be a string")
        context = item.get("context")
        if context is not None and not isinstance(context, str):
            raise BadQuestionsFile(f"{path}:{n}: 'context' must be a string")
        style = item.get("style")
        if style is not None and not isinstance(style, str):
            raise BadQuestionsFile(f"{path}:{n}: 'style' must be a string")
        questions.append(Question(text, exp, item.get("lang"), n, context, style))
    if not questions:
        raise BadQuestionsFile(f"{path}: no questions")
    return questions


def training_files(kb_dir: Path) -> list[Path]:
    """The labelled question files of a knowledge folder (knowledge/training/*.jsonl),
    in a stable order."""
    return sorted((Path(kb_dir) / TRAINING_DIR).glob("*.jsonl"))
