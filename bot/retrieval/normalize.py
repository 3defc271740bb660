"""Canonical text for matching: one form for the many ways people type the same words.

People type on phones: Uzbek with any of nine apostrophes, invisible characters pasted
from other apps, Kazakh, Kyrgyz, Tajik and Uzbek without their own letters. Normalising
these variants gives the embedding model and the lexical signal the same text for the
same question.
"""

from __future__ import annotations

import re
import unicodedata

# Every character people use for the Uzbek o‘/g‘ and the tutuq belgisi.
APOSTROPHES = "ʻʼ’‘`´ʹ′‛"
_APOSTROPHE_TABLE = str.maketrans({c: "'" for c in APOSTROPHES})
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Canonical form for matching: NFC, no invisible or control characters, one kind of
    apostrophe, case-folded, ё→е, single spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = text.translate(_APOSTROPHE_TABLE)
    text = text.casefold().replace("ё", "е")
    return _SPACES.sub(" ", text).strip()


_WORD = re.compile(r"[\w']+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Words of normalised text (apostrophes kept inside Uzbek words)."""
    return [w.strip("'") for w in _WORD.findall(normalize(text)) if w.strip("'")]


def script_of(text: str) -> str:
    """'cyrl', 'latn' or 'other' by majority of letters."""
    cyr = lat = 0
    for ch in text:
        if "\u0400" <= ch <= "\u04ff" or "\u0500" <= ch <= "\u052f":
            cyr += 1
        elif ch.isascii() and ch.isalpha():
            lat += 1
    if cyr == 0 and lat == 0:
        return "other"
    return "cyrl" if cyr >= lat else "latn"


# Letters of Kazakh, Kyrgyz, Tajik and Uzbek Cyrillic that phone keyboards often lack,
# folded to the Russian letter people type instead ("тиркеу" for "тіркеу").
_FOLD = str.maketrans(
    {
        "і": "и",
        "ә": "а",
        "ғ": "г",
        "қ": "к",
        "ң": "н",
        "ө": "о",
        "ұ": "у",
        "ү": "у",
        "һ": "х",
        "ӣ": "и",
        "ӯ": "у",
        "ҳ": "х",
        "ҷ": "ч",
        "ў": "у",
        "'": "",
    }
)


def fold_letters(word: str) -> str:
    """A normalised word without the letters and apostrophes people often leave out, for
    matching words (not for embedding): 'тіркеу' and 'тиркеу', "bo'ladi" and 'boladi'
    become one."""
    return word.translate(_FOLD)
