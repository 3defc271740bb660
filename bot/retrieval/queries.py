"""The texts a question is searched by: its normalised form, its transliteration, and
for a long message, its clauses.
"""

from __future__ import annotations

import re

from bot.retrieval.language import Detected
from bot.retrieval.normalize import normalize, tokens
from bot.retrieval.transliterate import (
    ru_latin_to_cyrillic,
    turkic_latin_to_cyrillic,
    uz_cyrillic_to_latin,
)

# A message longer than this many words is also searched clause by clause (see `clauses`).
LONG_QUESTION_WORDS = 12
# Shorter fragments ("Salom.", "Thanks in advance!") carry no topic of their own.
MIN_CLAUSE_WORDS = 3
# Sentence ends (a full stop only before a space or the end, so "2.5" and "115-ФЗ." stay
# whole), semicolons and line breaks.
_CLAUSE_END = re.compile(r"[.!?…]+(?=\s|$)|[;\n\r]+")


def clauses(text: str) -> list[str]:
    """The normalised sentences and clauses of a long message, each of at least
    `MIN_CLAUSE_WORDS` words; none for a message of `LONG_QUESTION_WORDS` words or fewer.

    People write long messages: a greeting, who they are, what happened, then the
    question. Compared as a whole, such a message is further from every entry than the
    question alone would be, and most of its words are not the question's, so both the
    cosine and the lexical coverage drop. Searching each clause too lets the clause that
    holds the question lift its entry (`bot.retrieval.ranking.CLAUSE_WEIGHT`); the lexical term
    has its own remedy (`bot.retrieval.lexical.COVERAGE_CAP`)."""
    if len(tokens(text)) <= LONG_QUESTION_WORDS:
        return []
    parts = (normalize(p) for p in _CLAUSE_END.split(text))
    return [p for p in parts if len(tokens(p)) >= MIN_CLAUSE_WORDS]


def _forms(part: str, detected: Detected) -> list[str]:
    norm = normalize(part)
    if detected.latin_russian:
        forms = [norm, ru_latin_to_cyrillic(norm)]
    elif detected.lang == "uz" and detected.script == "cyrl":
        forms = [norm, uz_cyrillic_to_latin(norm)]
    elif detected.lang in ("kk", "ky", "tg") and detected.script == "latn":
        forms = [norm, turkic_latin_to_cyrillic(norm, detected.lang)]
    else:
        forms = [norm]
    return [v for i, v in enumerate(forms) if v and v not in forms[:i]]


def query_variants(text: str, detected: Detected) -> list[str]:
    """The normalised question plus its transliteration into the script the knowledge
    base answers in (Cyrillic for Russian, Kazakh, Kyrgyz and Tajik typed in Latin
    letters; Latin for Uzbek typed in Cyrillic). Both are matched word by word; only
    the last, in the base's script, is embedded (`searched`)."""
    return _forms(text, detected)


def searched(variants: list[str]) -> str:
    """The one form of a question that is embedded: its transliteration when it has
    one. The model reads "skolko stoit patent" far less well than "сколько стоит
    патент", and embedding both doubled the model's work for a tenth of the questions
    while the Latin form's vector rarely found what the Cyrillic one did not (measured
    on the three evaluation sets, 2026-12-03: top-1 within one question either way)."""
    return variants[-1]


def clause_variants(text: str, detected: Detected) -> list[str]:
    """The clauses of a long message (`clauses`), each in the one form that is embedded
    (`searched`), without repeating the whole question; none for a short message or one
    whose only clause is the whole message."""
    parts = clauses(text)
    if len(parts) < 2:
        return []
    whole = searched(query_variants(text, detected))
    out: list[str] = []
    for part in parts:
        form = searched(_forms(part, detected) or [""])
        if form and form != whole and form not in out:
            out.append(form)
    return out
