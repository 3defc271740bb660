"""Follow-ups: "а для таджиков?", "а в Казахстане?", "а сколько стоит?".

A short message that only names a country, a citizenship or a city, or only asks how
much / when / where / what if, continues the previous question: alone it matches
nothing or the wrong topic. Within a time window it is read together with the topic of
the previous answer (its title, in the user's language), so "а в Казахстане?" after a
question about registration in Russia finds registration in Kazakhstan. A message that
asks something of its own starts afresh.

Only the previous topic's id, language and time are kept between messages, never the
question's text (privacy by default, see DESIGN.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.domain import ORIGIN_COUNTRIES, STAY_COUNTRIES
from bot.knowledge.entries import Entry, KnowledgeBase
from bot.retrieval import smalltalk
from bot.retrieval.countries import mentioned_countries, named_as_people
from bot.retrieval.normalize import normalize

# Longer than this, a message carries a question of its own.
MAX_FOLLOWUP_WORDS = 6
# A message with at most this many words besides the link words names a topic but no
# place ("а регистрация?"): it keeps the place of the previous answer.
MAX_TOPIC_SWITCH_WORDS = 2

# Words that only connect a follow-up to what came before ("а для", "and for", "-chi").
_LINKS = frozenset(
    "а и для в во на из у по если про насчет насчёт тогда еще ещё же что как "
    "a i dlya v na iz u po esli pro togda eshe chto kak "
    "and for in from about what if then too also "
    "va uchun da ham agar -chi chi bo'lsa bolsa "
    "ва учун да ҳам хам агар чи бўлса булса "
    "мен үшін ушин де да ше ма ме ба бе па пе бойынша "
    "жана үчүн учун дагы деле эмне чы чи "
    "ва барои дар аз ҳам хам агар чӣ чи "
    "мы я мен man men biz мы мен ман".split()
)
# Words that ask only "how much / when / where / what if / how long", per language and
# as typed without special letters.
_DETAIL = frozenset(
    "сколько скока скольк стоит стоимость цена когда где куда срок сроки если опоздал "
    "skolko skoka stoit tsena kogda gde kuda srok esli opozdal "
    "how much cost price when where long late "
    "qancha necha narxi qachon qayerda qayerga qaerda muddat kechiksam kechiksa "
    "қанча канча неча нархи қачон качон қаерда каерда муддат кечиксам "
    "қанша канша неше бағасы багасы қашан кашан қайда кайда мерзім мерзим кешіксем "
    "канча баасы качан кайда мөөнөт моонот мөөнөтү кечиксем "
    "чанд нархаш нарх кай куҷо кучо муҳлат мухлат дер "
    "деньги денег pul пул money акча ақша "
    "день дня дней days day kun кун күн руз рӯз "  # "how many days?"
    "ичида ichida ішінде ичинде дохили".split()  # "within (how many days)?"
)
_WORD = re.compile(r"[\w'-]+", re.UNICODE)


@dataclass(frozen=True)
class Context:
    """What a follow-up continues: the previous answer's topic (or, with an empty
    `title`, the topics the bot offered to choose from: `context_of_choice`)."""

    entry_id: str
    title: str  # in the language of that answer
    lang: str
    at: float  # time.time() of the answer
    # per other country of stay, the titles of the entry's `counterparts` there
    elsewhere: Mapping[str, str] = field(default_factory=dict)


def context_of(entry: Entry, lang: str, at: float, kb: KnowledgeBase | None = None) -> Context:
    """What a follow-up of `entry`, answered in `lang` at `at`, continues. With `kb`, the
    titles of its counterparts in the other country of stay (see docs/knowledge-format.md)
    come along, in the same language."""
    titles = _counterpart_titles([entry], lang, kb)
    return Context(entry.id, entry.local(lang)[1].title, lang, at, titles)


def context_of_choice(
    entries: Sequence[Entry], lang: str, at: float, kb: KnowledgeBase | None
) -> Context:
    """What a follow-up continues when the bot offered `entries` to choose from and the
    user typed instead of choosing: no topic of its own ("а сколько стоит?" could be
    about any of them), but a move to the other country of stay ("а в России?") is
    searched as the counterparts of all of them there."""
    return Context("", "", lang, at, _counterpart_titles(entries, lang, kb))


def _counterpart_titles(
    entries: Sequence[Entry], lang: str, kb: KnowledgeBase | None
) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    for entry in entries:
        for cid in entry.counterparts:
            if kb is not None and cid in kb:
                other = kb[cid]
                title = other.local(lang)[1].title
                if title not in found.setdefault(other.country, []):
                    found[other.country].append(title)
    return {country: " / ".join(titles) for country, titles in found.items()}


def is_followup(text: str) -> bool:
    """A short message that only names a country, citizenship or city, or only asks
    how much / when / where / what if."""
    words = _WORD.findall(normalize(text))
    if not words or len(words) > MAX_FOLLOWUP_WORDS:
        return False
    named = mentioned_countries(text) | named_as_people(text)
    rest = [w for w in words if w not in _LINKS]
    if named:
        # every other word is a link word, a "how much / how many days" word, or part of
        # the country's name ("из Узбекистана", "гражданам Казахстана"); one may be left
        others = [
            w
            for w in rest
            if w not in _DETAIL and not (mentioned_countries(w) or named_as_people(w))
        ]
        return len(others) <= 1
    return bool(rest) and all(w in _DETAIL for w in rest)


def is_topic_switch(text: str) -> bool:
    """A message of one or two words besides the link words, naming no country and not
    small talk ("а регистрация ше?", "а штраф?"): another topic in the same place."""
    words = _WORD.findall(normalize(text))
    rest = [w for w in words if w not in _LINKS]
    return (
        0 < len(rest) <= MAX_TOPIC_SWITCH_WORDS
        and len(words) <= MAX_FOLLOWUP_WORDS
        and not mentioned_countries(text)
        and not named_as_people(text)
        and smalltalk.classify(text) is None
    )


def contextualise(text: str, previous: Context | None, now: float, window: float) -> str | None:
    """The text to search for a follow-up of `previous` (its topic, then the message;
    for a topic switch only the place the topic named), or None when `text` is not a
    follow-up or the previous answer is too old."""
    if previous is None or now - previous.at > window:
        return None
    title = previous.title
    if not is_followup(text):
        if not is_topic_switch(text):
            return None
        # "а регистрация ше" after the stay limit in Russia: registration in Russia.
        # The previous title would pull the search back to the stay limit.
        place = [w for w in title.split() if mentioned_countries(w) & set(STAY_COUNTRIES)]
        return f"{' '.join(place)} {text}" if place else None
    # Countries of stay named as people ("а россиянам?", "гражданам Казахстана") are a
    # citizenship, like "а для таджиков?": they keep the country of stay.
    people = named_as_people(text)
    named = mentioned_countries(text) - people
    citizenship = (named & set(ORIGIN_COUNTRIES)) | people
    moved = named & set(STAY_COUNTRIES)
    if len(moved) == 1 and (country := next(iter(moved))) in previous.elsewhere:
        # "а в Казахстане?" after the patent in Russia: the staff's counterpart there
        # (the work permit), which the previous title without its country would miss
        return f"{previous.elsewhere[country]} {text}"
    if not title:  # after a choice of topics: nothing else to continue
        return None
    for kind, found in (
        (set(STAY_COUNTRIES), moved),
        (set(ORIGIN_COUNTRIES), citizenship),
    ):
        if found:
            # "а в Казахстане?" after "Registration in Russia": the new country replaces
            # the old one of its kind; kept, both would be named and neither would rule
            # the other out. A citizenship keeps the country of stay.
            title = " ".join(w for w in title.split() if not mentioned_countries(w) & kind)
    return f"{title} {text}"
