"""The words of the domain, written once: languages, countries, decisions, statuses.

Every layer (knowledge validation, retrieval, deadline rules, the bot's buttons) names
the same countries and languages; keeping them here means a new country of stay or a
new language is one edit, and a typo in one place cannot drift from the others.
"""

from __future__ import annotations

from typing import Final, Literal

# Languages the assistant answers in, in the order the language picker shows them.
LANGUAGES: Final[tuple[str, ...]] = ("ru", "kk", "uz", "ky", "tg", "en")
# Shown when an entry lacks the user's language: the lingua franca of the region.
FALLBACK_LANGUAGE: Final = "ru"
# English names, for messages to staff ("text.kk (Kazakh) is required").
LANGUAGE_NAMES: Final[dict[str, str]] = {
    "ru": "Russian",
    "kk": "Kazakh",
    "uz": "Uzbek",
    "ky": "Kyrgyz",
    "tg": "Tajik",
    "en": "English",
}

# Countries people stay and work in (deadline rules exist only for these), and the
# countries most of them come from (ISO 3166-1 alpha-2, lowercase).
STAY_COUNTRIES: Final[tuple[str, ...]] = ("ru", "kz")
ORIGIN_COUNTRIES: Final[tuple[str, ...]] = ("uz", "tj", "kg")
# An entry or rule that is not about one country.
ANY: Final = "any"
# What a knowledge entry may be about.
ENTRY_COUNTRIES: Final[tuple[str, ...]] = (*STAY_COUNTRIES, *ORIGIN_COUNTRIES, ANY)
# Citizenships the bot offers as buttons in the deadline tools: the origin countries,
# the other EAEU members people ask about, and the countries of stay (a Kazakh citizen
# in Russia and a Russian citizen in Kazakhstan).
COMMON_CITIZENSHIPS: Final[tuple[str, ...]] = (*ORIGIN_COUNTRIES, *STAY_COUNTRIES, "am", "by")
# The country whose citizens a language most likely marks: an Uzbek question about "the
# migration agency" means Uzbekistan's unless it names another country.
LANGUAGE_COUNTRY: Final[dict[str, str]] = {"uz": "uz", "tg": "tj", "ky": "kg"}

# What the assistant does with a message: answer from an entry, offer close topics,
# say honestly that it has no reliable answer, or reply to small talk as small talk.
Decision = Literal["answer", "clarify", "abstain", "smalltalk"]
DECISIONS: Final[tuple[str, ...]] = ("answer", "clarify", "abstain", "smalltalk")
# Decisions that give no answer: what an out-of-scope message should get.
NO_ANSWER: Final[tuple[str, ...]] = ("abstain", "smalltalk")

# Review status of a knowledge entry or a deadline rule.
STATUSES: Final[tuple[str, ...]] = ("draft", "reviewed")
