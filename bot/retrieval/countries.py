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
