"""Which of the six languages a question is written in.

Distinctive letters and frequent words vote, in the way people really type: without the
special letters of Kazakh or Kyrgyz, Russian in Latin letters, Uzbek in either script.
In Cyrillic, character n-grams of the knowledge base's own questions vote too: suffixes
tell Kyrgyz from Kazakh where no special letter or listed word does ("болгон адам
кайра бара алабы" has neither). Their counts are in cyrillic_ngrams.json, written by
scripts/train_language_model.py.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.retrieval.normalize import normalize, script_of, tokens

# Letters only one (or few) of the Cyrillic languages use, with a weight per language.
_LETTERS: dict[str, dict[str, float]] = {
    "ә": {"kk": 3},
    "ұ": {"kk": 3},
    "і": {"kk": 3},
    "һ": {"kk": 2},
    "қ": {"kk": 1, "uz": 1, "tg": 1},
    "ғ": {"kk": 1, "uz": 1, "tg": 1},
    "ң": {"kk": 1.5, "ky": 1.5},
    "ө": {"kk": 1.5, "ky": 1.5},
    "ү": {"kk": 1.5, "ky": 1.5},
    "ӣ": {"tg": 3},
    "ӯ": {"tg": 3},
    "ҷ": {"tg": 3},
    "ҳ": {"tg": 1.5, "uz": 1.5},
    "ў": {"uz": 3},
    "ы": {"ru": 0.5, "kk": 0.5, "ky": 0.5},
    "щ": {"ru": 1},
    "ъ": {"ru": 0.5, "uz": 0.3},
}

# Frequent short words and stems, written also without the special letters, the way
# people type them. A hit counts once per distinct word.
_WORDS: dict[str, set[str]] = {
    "ru": set(
        "как сколько скольк можно нужно надо где что если для на в и не я мне меня дней "
        "день какой какая когда почему ли это или по с у за от без если после есть был "
        "будет получить сделать делать ещё еще уже мой моя его её их вас вам ваш россии "
        "россия рф здравствуйте привет пожалуйста подскажите помогите срок "
        "учет учёт работать работа въезд продлить оплатить платить "
        "кто чтобы можете могу может".split()
    ),
    "kk": set(
        "қалай калай кейін кейин неше қанша канша керек ма ме ба бе па пе үшін ушин қайда "
        "кайда мен ше "
        "маған маган жоқ жок бар күн кун тіркеу тиркеу қазақстанда казакстанда ресейде "
        "рұқсат руксат уақыт уакыт жұмыс жумыс болады бола шетелдік шетелдик мерзімі "
        "мерзими мерзім қандай кандай тұру туру және жане немесе ресей қазақстан "
        "казакстан алу төлеу толеу айыппұл айыппул виза визасыз".split()
    ),
    "ky": set(
        "кантип канча кийин бар керек болот барбы үчүн учун кайда эмне качан орусияда россияда "
        "жумуш мөөнөт мөөнөтү мөөнөтүн мооноту каттоо катталуу уруксат менин мен "
        "болобу келсе күн кун күндөн кундон ишке иштөө иштоо акча төлөө толоо айып "
        "орусия казакстанда кыргызстан кыргыз жарандары визасыз кантсе алам "
        # Kyrgyz where Kazakh differs, as typed without special letters
        "жардам боюнча элчилик керекпи болобу кимдер бошотулат котормочу укук укуктарым "
        "ырайы аба эмнеге кылам кылыш жасатыш алмаштырсам текшергенде алат "
        "болсом болсо мага сага бизге кайрылам иштейм".split()
    ),
    "tg": set(
        "чӣ чи чанд рӯз руз дар барои кадом тавр метавонам метавонад аст ман кор шавад "
        "кунам бояд ҳуҷҷат хуччат муҳлат мухлат бақайдгирӣ бакайдгири қайд кайд русия "
        "мешавад кунед ки ва бо аз то баъд агар чаро кай куҷо кучо ҳаст хаст нест "
        "кардан гирифтан шуд патентро пули шаҳрванд шахрванд".split()
    ),
    "uz": set(
        "қанча неча керак учун қандай кандай мумкин бўлади булади қаерда каерда менга "
        "нима билан рўйхат руйхат россияда кун куни тўлов тулов қилиш килиш олиш "
        "ишлаш қачон качон йўқ йук бор ҳақида хакида бўлса булса керакми ким қилади "
        "килади қилиб килиб уй эгаси ҳам хам яшаш яшайман беради "
        "qanday qancha necha kerak uchun mumkin bo'ladi boladi qayerda qaerda menga nima "
        "va bilan ro'yxat royxat rossiyada kun kuni kunda to'lov tolov qilish olish men "
        "ishlash qachon yo'q yoq bor haqida bo'lsa bolsa kerakmi qilsa qaytib "
        "olsam qilaman nechta muddat muddati jarima ruxsat qozog'istonda qozogistonda "
        "rossiya viza vizasiz to'lash tolash "
        # Uzbek Cyrillic as typed without ў қ ғ ҳ, often with Russian words in between
        "иш ишчи берувчи ойлик бермаяпти бермаяпди бермади ишлайман ишлаяпман ишладим "
        "керакми нима нимага килсам киламан борса бориш мумкинми эмас йук булди булади "
        "хужжат хужжатим паспортим олиб олдим кетди ассалому алайкум assalomu alaykum "
        "салом salom".split()
    ),
    "en": set(
        "how what the can i is do my in to for long much where when need stay without "
        "days get a of does if it are you should register who which there have has be "
        "pay lost check ban work permit after before many".split()
    ),
    # Russian typed in Latin letters ("ru" once detected).
    "ru-latn": set(
        "kak skolko skolka mozhno mojno mozno nuzhno nujno nado gde chto shto esli dlya "
        "dla na v i ne ya mne menya dney dnei dnej den kakoy kakoi kogda pochemu li eto "
        "ili po s u za ot bez vizy viza rabota rabotat srok oplata platit oplatit "
        "registraciya registratsiya registracia registratsia rossii rossiya rossiyu "
        "uchet uchyot shtraf zapret vezd vyezd poluchit sdelat kto chtoby mogu mozhet "
        "patent prodlit zdravstvuyte privet pozhaluysta podskazhite esli".split()
    ),
}

LATIN_RU = "ru-latn"

# How people type the Cyrillic letters of Kazakh, Kyrgyz and Tajik on a Latin keyboard
# (a phone without the layout): each letter's usual spellings. The Latin word lists of
# those languages are their Cyrillic lists above spelt this way, so that the two never
# drift apart; a few words that only appear typed in Latin are added below.
_LATIN_SPELLINGS: dict[str, tuple[str, ...]] = {
    "а": ("a",), "ә": ("a", "ae"), "б": ("b",), "в": ("v",), "г": ("g",),
    "ғ": ("g", "gh"), "д": ("d",), "е": ("e",), "ё": ("yo",), "ж": ("zh", "j"),
    "з": ("z",), "и": ("i",), "ӣ": ("i",), "й": ("y", "i"), "к": ("k",), "қ": ("q", "k"),
    "л": ("l",), "м": ("m",), "н": ("n",), "ң": ("n", "ng"), "о": ("o",), "ө": ("o",),
    "п": ("p",), "р": ("r",), "с": ("s",), "т": ("t",), "у": ("u",), "ӯ": ("u",),
    "ұ": ("u",), "ү": ("u",), "ф": ("f",), "х": ("kh", "h", "x"), "ҳ": ("h",),
    "ц": ("ts", "c"), "ч": ("ch",), "ҷ": ("j", "ch"), "ш": ("sh",), "щ": ("sch",),
    "ъ": ("",), "ы": ("y", "i"), "і": ("i",), "ь": ("",), "э": ("e",), "ю": ("yu",),
    "я": ("ya",), "һ": ("h",),
}  # fmt: skip
# More than this many spellings of one word: keep the first ones (long words with many
# ambiguous letters would otherwise flood the list with forms nobody types).
MAX_SPELLINGS = 8


def latin_spellings(word: str) -> set[str]:
    """The ways `word` (Cyrillic) is typed in Latin letters."""
    forms = [""]
    for ch in word:
        options = _LATIN_SPELLINGS.get(ch)
        if options is None:
            return set()  # not a Cyrillic word of these languages
        forms = [f + o for f in forms for o in options][:MAX_SPELLINGS]
    return {f for f in forms if len(f) > 1}


# Kazakh, Kyrgyz and Tajik typed in Latin letters ("Reseide qansha kun turuga bolady").
# Words the other Latin-script candidates share (English "bar", Uzbek "kun", "men")
# count for each; the distinctive ones decide.
_LATIN_EXTRA = {
    "kk": "jane ne bolama bolady qaita kaita qazaqstan qazaqstanda zhyl jyl",
    "ky": "jarandary zharandary kyrgyzstandyk",
    "tg": "chand chi chiz baroi dar mekunam kunam ast nest tojikon metavonam shavad meshavad",
}
# Spelt alike in English ("kyrgyz migrant services"): no vote for either language.
_SAME_IN_ENGLISH = {"kyrgyz", "bar", "men", "ban", "pay", "can"}
for _lang in ("kk", "ky", "tg"):
    _WORDS[f"{_lang}-latn"] = (
        {form for word in _WORDS[_lang] for form in latin_spellings(word)}
        | set(_LATIN_EXTRA[_lang].split())
    ) - _SAME_IN_ENGLISH
LATIN_TURKIC = {"kk-latn": "kk", "ky-latn": "ky", "tg-latn": "tg"}
# Votes another Cyrillic language needs to win over Russian words mixed into it (one
# distinctive word or letter of its own).
MIXED_MIN = 1.5


CYRILLIC = ("ru", "kk", "ky", "tg", "uz")  # the languages the n-gram model tells apart
NGRAM_FILE = Path(__file__).with_name("cyrillic_ngrams.json")
NGRAM_SIZES = (1, 2, 3, 4)
NGRAM_SMOOTHING = 0.5  # add-alpha; any value from 0.1 to 1 measured alike
# The n-gram vote: the log-likelihood of each language less the best one's, per n-gram,
# times this. Measured on the 1,803 Cyrillic labelled questions of knowledge/training/
# (written apart from the entries the model learns from), 2026-12-04: letters and words
# alone 0.932 right (ky 0.880, uz 0.879), n-grams alone 0.943, both with this weight
# 0.977 (ky 0.971, uz 0.954, no language below); 0.5 and 1.5 gave 0.976 and 0.975.
NGRAM_WEIGHT = 1.0
_CYRILLIC_WORD = re.compile("[а-яёәғқңөұүһіӣӯҷҳў]")


def ngrams(words: Iterable[str]) -> list[str]:
    """Character n-grams of the Cyrillic words, each padded with a space at both ends
    so that beginnings and endings (the suffixes) are n-grams of their own."""
    out: list[str] = []
    for word in words:
        if not _CYRILLIC_WORD.search(word):
            continue
        padded = f" {word} "
        for n in NGRAM_SIZES:
            out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


def count_ngrams(texts: Mapping[str, Iterable[str]]) -> dict:
    """The model file's content: n-gram counts per language of `texts` (language:
    questions). N-grams seen once are left out (they are mostly names) but counted in
    the vocabulary size, which the smoothing needs."""
    counts: dict[str, Counter[str]] = {lang: Counter() for lang in CYRILLIC}
    for lang in CYRILLIC:
        for text in texts.get(lang, ()):
            counts[lang].update(ngrams(tokens(normalize(text))))
    vocab = set().union(*counts.values())
    kept = sorted(g for g in vocab if sum(counts[lang][g] for lang in CYRILLIC) >= 2)
    return {
        "languages": list(CYRILLIC),
        "totals": [sum(counts[lang].values()) for lang in CYRILLIC],
        "vocabulary": len(vocab),
        "counts": {g: [counts[lang][g] for lang in CYRILLIC] for g in kept},
    }


@dataclass(frozen=True)
class NgramModel:
    """Multinomial naive Bayes over `ngrams`, read from the counts `count_ngrams` wrote."""

    logp: dict[str, tuple[float, ...]]  # n-gram: log P(n-gram | language), per CYRILLIC
    unseen: tuple[float, ...]

    @classmethod
    def from_counts(cls, data: Mapping) -> NgramModel:
        if list(data["languages"]) != list(CYRILLIC):
            raise ValueError(f"languages {data['languages']} are not {list(CYRILLIC)}")
        denominators = [t + NGRAM_SMOOTHING * data["vocabulary"] for t in data["totals"]]

        def logs(counts: list[int]) -> tuple[float, ...]:
            pairs = zip(counts, denominators, strict=True)
            return tuple(math.log((c + NGRAM_SMOOTHING) / d) for c, d in pairs)

        return cls(
            {g: logs(cs) for g, cs in data["counts"].items()},
            logs([0] * len(CYRILLIC)),
        )

    def votes(self, words: Iterable[str]) -> dict[str, float]:
        """Per language, its log-likelihood less the best one's, per n-gram (0 for the
        likeliest, negative for the others; all 0 without Cyrillic words)."""
        grams = ngrams(words)
        if not grams:
            return {lang: 0.0 for lang in CYRILLIC}
        sums = [0.0] * len(CYRILLIC)
        for g in grams:
            for i, value in enumerate(self.logp.get(g, self.unseen)):
                sums[i] += value
        best = max(sums)
        return {lang: (v - best) / len(grams) for lang, v in zip(CYRILLIC, sums, strict=True)}


@functools.cache
def ngram_model() -> NgramModel:
    """The bundled model (a missing or damaged file is a broken install: it raises)."""
    return NgramModel.from_counts(json.loads(NGRAM_FILE.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Detected:
    lang: str  # one of bot.settings.LANGUAGES
    script: str  # cyrl | latn | other
    latin_russian: bool = False


def detect_language(text: str, hint: str | None = None) -> Detected:
    """Guess which of ru, kk, uz, ky, tg, en a question is written in.

    Distinctive letters and frequent words vote; `hint` (the user's chosen language)
    breaks ties. Latin script is English, Uzbek or Russian typed in Latin letters.
    """
    norm = normalize(text)
    script = script_of(norm)
    words = set(tokens(norm))
    candidates: tuple[str, ...]
    if script == "cyrl":
        candidates = ("ru", "kk", "ky", "tg", "uz")
    elif script == "latn":
        candidates = ("en", "uz", LATIN_RU, "kk-latn", "ky-latn", "tg-latn")
    else:
        lang = hint if hint else "ru"
        return Detected(lang, script)

    scores = {lang: 0.0 for lang in candidates}
    if script == "cyrl":
        for ch in set(norm):
            for lang, weight in _LETTERS.get(ch, {}).items():
                if lang in scores:
                    scores[lang] += weight
        # Kyrgyz writes long vowels double (мөөнөт, жооп, туура).
        scores["ky"] += len(re.findall(r"(аа|оо|уу|ээ|өө|үү)", norm))
        for lang, vote in ngram_model().votes(tokens(norm)).items():
            scores[lang] += NGRAM_WEIGHT * vote
    else:
        apostrophes = len(re.findall(r"[og]'", norm))
        scores["uz"] += 1.5 * apostrophes
        scores["uz"] += 0.5 * len(re.findall(r"q(?!u)|x", norm))
        scores[LATIN_RU] += 0.5 * len(re.findall(r"zh|kh|shch|ya\b|iy\b|yy\b|oy\b", norm))
    for lang in candidates:
        vocab = _WORDS[lang]
        scores[lang] += sum(1.0 for w in words if w in vocab)

    if hint:
        key = LATIN_RU if (hint == "ru" and script == "latn") else hint
        if key in scores:
            # One or two words ("patent") say little: the chosen language weighs more.
            scores[key] += 1.0 if len(words) <= 2 else 0.5
    best = max(candidates, key=lambda c: (scores[c], -candidates.index(c)))
    if best == "ru" and script == "cyrl":
        # Russian words in an Uzbek, Kazakh, Kyrgyz or Tajik sentence ("иш берувчи
        # ойлик бермаяпти, что делать"): the other language is the speaker's own.
        other = max((c for c in candidates if c != "ru"), key=lambda c: scores[c])
        if scores[other] >= MIXED_MIN:
            best = other
    if script == "latn" and scores[best] == 0:
        best = "en"
    if best == LATIN_RU:
        return Detected("ru", script, latin_russian=True)
    return Detected(LATIN_TURKIC.get(best, best), script)
