"""Text handling before search: normalisation, transliteration, language detection.

People type on phones: Russian in Latin letters, Uzbek in either script with any of
five apostrophes, Kazakh without its special letters. Normalising these variants and
transliterating to the script the knowledge base uses gives the embedding model and
the lexical signal the same text for the same question.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# ---------------------------------------------------------------- normalisation

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


# ---------------------------------------------------------------- scripts


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


# Latin-script Russian as people type it in chats (no standard: several spellings map
# to one letter). Longest patterns first.
_RU_LATIN = [
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


# ---------------------------------------------------------------- language detection

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
        "россия рф здравствуйте привет пожалуйста подскажите помогите срок регистрация "
        "учет учёт штраф работать работа виза визы въезд запрет продлить оплатить платить "
        "кто чтобы можете могу может".split()
    ),
    "kk": set(
        "қалай калай кейін кейин неше қанша канша керек ма ме ба бе па пе үшін ушин қайда "
        "кайда мен "
        "маған маган жоқ жок бар күн кун тіркеу тиркеу қазақстанда казакстанда ресейде "
        "рұқсат руксат уақыт уакыт жұмыс жумыс болады бола шетелдік шетелдик мерзімі "
        "мерзими мерзім қандай кандай тұру туру және жане немесе ресей қазақстан "
        "казакстан алу төлеу толеу айыппұл айыппул виза визасыз".split()
    ),
    "ky": set(
        "кантип канча кийин бар керек болот барбы үчүн учун кайда эмне качан орусияда россияда "
        "жумуш мөөнөт мөөнөтү мөөнөтүн мооноту каттоо катталуу уруксат менин мен "
        "болобу келсе күн кун күндөн кундон ишке иштөө иштоо акча төлөө толоо айып "
        "орусия казакстанда кыргызстан кыргыз жарандары визасыз кантсе алам".split()
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
        "rossiya viza vizasiz to'lash tolash".split()
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
    if script == "cyrl":
        candidates = ("ru", "kk", "ky", "tg", "uz")
    elif script == "latn":
        candidates = ("en", "uz", LATIN_RU)
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
            scores[key] += 0.5
    best = max(candidates, key=lambda c: (scores[c], -candidates.index(c)))
    if script == "latn" and scores[best] == 0:
        best = "en"
    if best == LATIN_RU:
        return Detected("ru", script, latin_russian=True)
    return Detected(best, script)


# Countries people stay and work in, and countries they come from. An entry about a
# country of stay is off-topic when the question names only the other country of stay;
# an entry about a country of origin's services is off-topic when the question names
# countries but not that one (see `other_country`).
STAY_COUNTRIES = frozenset({"ru", "kz"})
ORIGIN_COUNTRIES = frozenset({"uz", "tj", "kg"})

# Word beginnings that name a country (or its capital, big cities, people), in the six
# languages and both scripts, as typed in chats ("Маскав", "Мәскеу", "maskve").
_COUNTRY_STEMS: dict[str, tuple[str, ...]] = {
    "ru": (
        "росси",
        "россия",
        "рф",
        "ресей",
        "орусия",
        "русия",
        "руси",
        "москв",
        "маскв",
        "маскав",
        "мәскеу",
        "маскеу",
        "подмоск",
        "питер",
        "петербург",
        "спб",
        "екатеринбург",
        "новосибирск",
        "rossi",
        "rossiya",
        "russi",
        "rusia",
        "rusiya",
        "moskv",
        "maskv",
        "maskav",
        "podmosk",
        "piter",
        "peterburg",
        "spb",
        "ekaterinburg",
        "yekaterinburg",
        "novosibirsk",
        "rf",
    ),
    "kz": (
        "казахст",
        "қазақст",
        "казакст",
        "қозоғист",
        "козогист",
        "қазоқист",
        "казокист",
        "алмат",
        "астан",
        "kazakhst",
        "kazakst",
        "qozog'ist",
        "qozogist",
        "kazaxst",
        "qazaqst",
        "almat",
        "astan",
        "шымкент",
        "қарағанд",
        "караганд",
        "shymkent",
        "karagand",
    ),
    "uz": (
        "узбек",
        "ўзбек",
        "ӯзбек",
        "өзбек",
        "ташкент",
        "тошкент",
        "самарканд",
        "самарқанд",
        "uzbek",
        "o'zbek",
        "ozbek",
        "tashkent",
        "toshkent",
        "samarkand",
        "samarqand",
    ),
    "tj": (
        "таджик",
        "тажик",
        "тоҷик",
        "тожик",
        "тәжік",
        "душанбе",
        "худжанд",
        "хуҷанд",
        "хужанд",
        "tajik",
        "tadzhik",
        "tadjik",
        "tojik",
        "dushanbe",
        "khujand",
    ),
    "kg": (
        "кыргыз",
        "киргиз",
        "қирғиз",
        "қырғыз",
        "бишкек",
        "kyrgyz",
        "kirgiz",
        "qirg'iz",
        "qirgiz",
        "bishkek",
    ),
}


def mentioned_countries(text: str) -> set[str]:
    """Countries a question names, by word beginnings: countries of stay ('ru', 'kz')
    and of origin ('uz', 'tj', 'kg', also by nationality: "тажик досум")."""
    found = set()
    for word in tokens(text):
        for country, stems in _COUNTRY_STEMS.items():
            if any(word.startswith(s) for s in stems):
                found.add(country)
    return found


# The country whose citizens a language most likely marks: an Uzbek question about "the
# migration agency" means Uzbekistan's unless it names another country.
LANGUAGE_COUNTRY = {"uz": "uz", "tg": "tj", "ky": "kg"}


def other_country(entry_country: str, named: set[str], lang: str | None = None) -> bool:
    """Whether an entry is about another country than the ones the question names.

    Countries of stay: only when the question names exactly one of them ("citizen of
    Kazakhstan working in Russia" names both and rules nothing out). Countries of origin
    (an agency of Uzbekistan, a ministry of Tajikistan): when the question names some
    country but not this one (naming Russia as the destination rules out the origin
    countries' services, naming Tajikistan keeps Tajikistan's), or, when it names no
    country of origin, when it is written in another origin country's language. Entries
    for any country are never off."""
    if entry_country in STAY_COUNTRIES:
        stay = named & STAY_COUNTRIES
        return len(stay) == 1 and entry_country not in stay
    if entry_country in ORIGIN_COUNTRIES:
        if named and entry_country not in named:
            return True
        implied = LANGUAGE_COUNTRY.get(lang or "")
        return not (named & ORIGIN_COUNTRIES) and implied is not None and implied != entry_country
    return False


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
    holds the question lift its entry (`bot.search.CLAUSE_WEIGHT`); the lexical term
    has its own remedy (`bot.lexical.COVERAGE_CAP`)."""
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
    else:
        forms = [norm]
    return [v for i, v in enumerate(forms) if v and v not in forms[:i]]


def query_variants(text: str, detected: Detected) -> list[str]:
    """The normalised question plus its transliteration into the script the knowledge
    base answers in (Cyrillic for Russian, Latin for Uzbek)."""
    return _forms(text, detected)


def clause_variants(text: str, detected: Detected) -> list[str]:
    """The clauses of a long message (`clauses`) in the forms `query_variants` gives,
    without repeating a whole-question variant; none for a short message or one whose
    only clause is the whole message."""
    parts = clauses(text)
    if len(parts) < 2:
        return []
    whole = query_variants(text, detected)
    out: list[str] = []
    for part in parts:
        out.extend(v for v in _forms(part, detected) if v not in whole and v not in out)
    return out
