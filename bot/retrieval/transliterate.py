"""Transliteration into the script the knowledge base is written in.

Russian typed in Latin letters ("skolko dney") is read as Cyrillic, and Uzbek in
Cyrillic as the official Latin alphabet, so both meet the entries' own words.
"""

from __future__ import annotations

import re
from functools import lru_cache

import alifbo

# Latin-script Russian as people type it in chats (no standard: several spellings map
# to one letter). Longest patterns first.
_RU_LATIN = [
    # "j" is й ("moj", "novyj"), but people used to Uzbek Latin write ж with it; these
    # common stems are ж ("grajdanin", "nujen", "mojno", "doljen", "projivanie")
    ("grajd", "гражд"),
    ("nuj", "нуж"),
    ("mojn", "можн"),
    ("dolj", "долж"),
    ("jit", "жит"),
    ("jiv", "жив"),
    ("shch", "щ"),
    ("sch", "щ"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("yu", "ю"),
    ("ju", "ю"),
    ("iu", "ю"),
    ("ya", "я"),
    ("ja", "я"),
    ("ia", "я"),
    ("yo", "е"),
    ("jo", "е"),
    ("ye", "е"),
    ("je", "е"),
    ("ey", "ей"),
    ("ei", "ей"),
    ("ay", "ай"),
    ("oy", "ой"),
    ("iy", "ий"),
    ("uy", "уй"),
    ("yy", "ый"),
    ("a", "а"),
    ("b", "б"),
    ("v", "в"),
    ("w", "в"),
    ("g", "г"),
    ("d", "д"),
    ("e", "е"),
    ("z", "з"),
    ("i", "и"),
    ("j", "й"),
    ("k", "к"),
    ("q", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("f", "ф"),
    ("h", "х"),
    ("x", "х"),
    ("c", "ц"),
    ("y", "ы"),
    ("'", "ь"),
]


def ru_latin_to_cyrillic(text: str) -> str:
    """Best-effort reading of Latin-script Russian ('skolko dney') as Cyrillic."""
    out = []
    i = 0
    low = text.lower()
    while i < len(low):
        for pattern, repl in _RU_LATIN:
            if low.startswith(pattern, i):
                out.append(repl)
                i += len(pattern)
                break
        else:
            out.append(low[i])
            i += 1
    return "".join(out)


# Kazakh, Kyrgyz and Tajik typed in Latin letters, read back into their Cyrillic (the
# script the knowledge base has them in): the common Latin spellings, then the letters
# each language writes differently (j is ж in Kazakh and Kyrgyz, ҷ in Tajik; h is ҳ in
# Tajik). The special vowels (ө, ү, ұ, і, ә, ӣ, ӯ) cannot be told from plain ones and are
# left plain: the model and the lexical folding (`fold_letters`) read them alike.
_TURKIC_LATIN = [
    ("shch", "щ"),
    ("sh", "ш"),
    ("ch", "ч"),
    ("zh", "ж"),
    ("kh", "х"),
    ("gh", "ғ"),
    ("ts", "ц"),
    ("yu", "ю"),
    ("ya", "я"),
    ("yo", "ё"),
    ("a", "а"),
    ("b", "б"),
    ("c", "ц"),
    ("d", "д"),
    ("e", "е"),
    ("f", "ф"),
    ("g", "г"),
    ("i", "и"),
    ("k", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("q", "қ"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("v", "в"),
    ("w", "у"),
    ("x", "х"),
    ("y", "ы"),
    ("z", "з"),
    ("'", ""),
]
_TURKIC_OWN = {
    "kk": {"j": "ж", "h": "х"},
    "ky": {"j": "ж", "h": "х"},
    "tg": {"j": "ҷ", "h": "ҳ", "y": "й"},
}
_VOWELS_LATIN = set("aeiouy")
_TURKIC_SINGLE = {p: r for p, r in _TURKIC_LATIN if len(p) == 1}


def turkic_latin_to_cyrillic(text: str, lang: str) -> str:
    """Best-effort reading of Kazakh, Kyrgyz or Tajik typed in Latin letters ("qansha kun
    turuga bolady", "chand ruz") in Cyrillic. `y` before a vowel is й."""
    own = _TURKIC_OWN.get(lang, {})
    low = text.lower()
    out = []
    i = 0
    while i < len(low):
        ch = low[i]
        for pattern, repl in _TURKIC_LATIN:
            if len(pattern) > 1 and low.startswith(pattern, i):
                out.append(repl)
                i += len(pattern)
                break
        else:
            if ch == "y" and i + 1 < len(low) and low[i + 1] in _VOWELS_LATIN:
                out.append("й")
            elif ch in own:
                out.append(own[ch])
            else:
                out.append(_TURKIC_SINGLE.get(ch, ch))
            i += 1
    return "".join(out)


_UZ_CYR = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "yo",
    "ж": "j",
    "з": "z",
    "и": "i",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "x",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "sh",
    "ъ": "'",
    "ы": "i",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
    "ў": "o'",
    "қ": "q",
    "ғ": "g'",
    "ҳ": "h",
}
_UZ_VOWELS = set("аеёиоуўэюя")


def uz_cyrillic_to_latin(text: str) -> str:
    """Uzbek Cyrillic to the official Latin alphabet (е is 'ye' at a word start or after
    a vowel)."""
    out = []
    prev = " "
    for ch in text.lower():
        if ch == "е" and (not prev.isalpha() or prev in _UZ_VOWELS):
            out.append("ye")
        else:
            out.append(_UZ_CYR.get(ch, ch))
        prev = ch
    return "".join(out)


# Telegram HTML tags and entities: never transliterated (<b> must not become <б>); the
# text of a link (a source's title, written in Uzbek) is.
_MARKUP = re.compile(r"(<[^<>]+>|&#?\w+;)", re.S)
# A web address written without its scheme ("gov.uz/en/migration", "mfa.uz") stays as
# typed: "гов.уз" leads nowhere (with a scheme, the whole address is one piece).
_BARE_ADDRESS = re.compile(
    r"((?<![\w.@/])(?:https?://)?(?:[a-z0-9-]+\.)+(?:uz|tj|kg|kz|ru|com|org|int|net|gov|info|su|by|am)"
    r"(?![\w])(?:/[^\s<>,;()«»]*[^\s<>,;()«».])?)",
    re.I,
)
# An apostrophe needs no escaping in Telegram HTML, and escaped it would cut o'/g'.
_APOSTROPHE_ENTITY = re.compile(r"&#(?:x27|39);")


@lru_cache(maxsize=4096)
def _uz_cyrillic_plain(text: str) -> str:
    # alifbo (MIT, no dependencies) converts the Latin alphabet, previous or 2026, to
    # Cyrillic with the exceptions of Uzbek orthography (e -> э at a word start, ye,
    # yo, ts in loanwords, sʼh); URLs, e-mails and words the alphabet cannot spell
    # ("YeOII" aside, brand names, English) are kept as written.
    return "".join(
        part if i % 2 else alifbo.to_cyrillic(_N_GH.sub(_n_gh, part)).text
        for i, part in enumerate(_BARE_ADDRESS.split(text))
    )


# alifbo 0.6.0 reads "ng" before "gʻ": "qoʻngʻiroq" came out "қўнгʻироқ" (found by
# tests/retrieval/test_render.py on the curated answers). n + gʻ is always н + ғ.
_N_GH = re.compile(r"([nN])([gG])[ʻʼ‘’'`]")


def _n_gh(m: re.Match[str]) -> str:
    return m.group(1) + ("ғ" if m.group(2) == "g" else "Ғ")


def uz_latin_to_cyrillic(text: str, html: bool = False, keep: tuple[str, ...] = ()) -> str:
    """Uzbek in Latin letters (the knowledge base's script) as Uzbek Cyrillic, for a
    user who writes in Cyrillic. With `html`, tags and entities are left as they are;
    the strings in `keep` (a configured contact, a name) are left as written."""
    keep = tuple(k for k in dict.fromkeys(keep) if k)
    for i, kept in enumerate(keep):  # private-use placeholders: no alphabet converts them
        text = text.replace(kept, chr(0xE000 + i))
    if not html:
        out = _uz_cyrillic_plain(text)
    else:
        text = _APOSTROPHE_ENTITY.sub("'", text)
        out = "".join(
            part if _MARKUP.fullmatch(part) else _uz_cyrillic_plain(part)
            for part in _MARKUP.split(text)
            if part
        )
    for i, kept in enumerate(keep):
        out = out.replace(chr(0xE000 + i), kept)
    return out
