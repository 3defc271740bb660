"""Which countries a question names, and whether an entry is about another one.

An entry about Russia is off-topic for a question about Almaty; an agency of Uzbekistan
is off-topic for a Tajik's question. The countries themselves are in `bot.domain`.
"""

from __future__ import annotations

from bot.domain import LANGUAGE_COUNTRY, ORIGIN_COUNTRIES, STAY_COUNTRIES
from bot.retrieval.normalize import tokens

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
        # more cities migrants name; forms that are words of their own elsewhere are
        # left out (Kazakh "қазан", October; Uzbek "samara", benefit)
        "казань",
        "казани",
        "kazan",
        "краснодар",
        "krasnodar",
        "красноярск",
        "krasnoyarsk",
        "тюмен",
        "tyumen",
        "сургут",
        "surgut",
        "ростов",
        "rostov",
        "новгород",
        "novgorod",
        "сочи",
        "sochi",
        "челябинск",
        "chelyabinsk",
        "владивосток",
        "vladivostok",
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
        "kazahst",  # Russian in Latin letters: "v kazahstane"
        "qazaqst",
        "almat",
        "astan",
        "шымкент",
        "қарағанд",
        "караганд",
        "shymkent",
        "karagand",
        "алмаат",  # Tajik "Алмаато"
        "almaat",
        "актау",
        "ақтау",
        "aktau",
        "атырау",
        "atyrau",
        "актобе",
        "ақтөбе",
        "aktobe",
        "павлодар",
        "pavlodar",
        "өскемен",
        "оскемен",
        "oskemen",
        "костанай",
        "қостанай",
        "kostanay",
    ),
    "uz": (
        "узбек",
        "ўзбек",
        "ӯзбек",
        "өзбек",
        "озбек",  # Kyrgyz and Kazakh without their letter ө
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


# How the people of a country of stay are named ("россиянам", "казахам", "for kazakhs",
# "ресейліктерге", "казахстанцам"), and words for citizens that make the next country a
# citizenship ("гражданам Казахстана", "Qozog'iston fuqarolari"). A word is a people's
# name when its longest matching stem is one of these: "казахстане" matches "казах" but
# also the longer "казахст", a place; "россиянам" matches "росси" and the longer "россиян".
_PEOPLE_STEMS: dict[str, tuple[str, ...]] = {
    "ru": (
        "россиян", "rossiyan", "rossian", "russian", "ресейлі", "ресейли", "rossiyalik",
        "россиялик", "орусиялык",
    ),
    "kz": (
        "казах", "қазақ", "казак", "kazakh", "kazah", "kazak", "qazaq", "qozoq", "қозоқ",
        "козок",
        "казахстанц", "казакстандык", "қазақстандық", "qozog'istonlik", "qozogistonlik",
        "қозоғистонлик", "козогистонлик",
    ),
}  # fmt: skip
_CITIZEN_WORDS = (
    "граждан", "citizen", "азамат", "fuqaro", "фуқаро", "фукаро", "шаҳрванд", "шахрванд",
    "жаран",
)  # fmt: skip


def _longest(word: str, stems: tuple[str, ...]) -> int:
    return max((len(s) for s in stems if word.startswith(s)), default=0)


def named_as_people(text: str) -> set[str]:
    """Countries of stay a message names only as people or citizens, never as a place:
    "а россиянам?" asks about Russians (in the country already being discussed), "а в
    России?" about Russia. A citizenship, for follow-ups (`bot.retrieval.followups`)."""
    people, places = set(), set()
    words = tokens(text)
    for n, word in enumerate(words):
        # the word for citizens comes before the country or after it, by language
        beside = words[max(0, n - 1) : n] + words[n + 1 : n + 2]
        for country, stems in _PEOPLE_STEMS.items():
            place = _longest(word, _COUNTRY_STEMS[country])
            citizens = place and any(w.startswith(_CITIZEN_WORDS) for w in beside)
            if _longest(word, stems) > place or citizens:
                people.add(country)
            elif place:
                places.add(country)
    return people - places


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
        stay = named.intersection(STAY_COUNTRIES)
        return len(stay) == 1 and entry_country not in stay
    if entry_country in ORIGIN_COUNTRIES:
        if named and entry_country not in named:
            return True
        implied = LANGUAGE_COUNTRY.get(lang or "")
        return (
            not named.intersection(ORIGIN_COUNTRIES)
            and implied is not None
            and implied != entry_country
        )
    return False
