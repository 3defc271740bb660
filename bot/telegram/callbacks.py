"""Inline-button payloads (aiogram CallbackData factories) and their validation.

Callback data comes back from the client and can be forged, so every field is bounded
here: languages must be supported, entry ids must look like ids (and exist in the
index, checked by the handler), numbers must be in range. Data that fails these checks
never reaches a feature handler; the catch-all in `other.py` answers it politely.
"""

from __future__ import annotations

import re

from aiogram.filters.callback_data import CallbackData

from bot.domain import ANY, LANGUAGES, ORIGIN_COUNTRIES, STAY_COUNTRIES

ENTRY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
# Countries of the topic browser: each country of stay, entries for both, and the
# services of the countries people come from (their migration agencies, consulates).
TOPIC_COUNTRIES = (*STAY_COUNTRIES, ANY, *ORIGIN_COUNTRIES)
MAX_PAGE = 100


class LangCb(CallbackData, prefix="lang"):
    """Pick the interface language."""

    code: str


class EntryCb(CallbackData, prefix="e"):
    """Show one entry's answer (clarify choice, topic list, abstain suggestions)."""

    id: str
    lang: str
    via: str = "t"  # c = clarify, t = topic browser, a = abstain suggestion


class MoreCb(CallbackData, prefix="m"):
    """ "More" under an answer: the full answer and the rest of its sources."""

    id: str
    lang: str


class VoteCb(CallbackData, prefix="v"):
    """👍 (up=1) or 👎 (up=0) under an answer."""

    id: str
    lang: str
    up: int


class TopicsCb(CallbackData, prefix="t"):
    """The topic browser: country "" = the list of countries; else a page of topics."""

    country: str = ""
    page: int = 0


class ForgetCb(CallbackData, prefix="forget"):
    """Confirm (ok=1) or cancel (ok=0) deleting the user's data."""

    ok: int


class PrivacyCb(CallbackData, prefix="privacy"):
    """Show the privacy notice."""


class DeadlineCb(CallbackData, prefix="dl"):
    """A step of /deadlines. action: kind | country | cit | none | remind | list | cancel."""

    action: str
    value: str = ""


class WayOutCb(CallbackData, prefix="w"):
    """A way out of a clarify: none of the topics offered (the refusal path follows)."""

    action: str  # none
    lang: str


class HumanCb(CallbackData, prefix="h"):
    """The route to a person. action: ask (show the consent), go (consent given), send
    (send the question just asked), cancel, back (to the assistant), resume (write to
    the consultant again), close (the case), rate (v=1 helpful, v=0 not)."""

    action: str
    lang: str
    case: int = 0
    v: int = 0


HUMAN_ACTIONS = ("ask", "go", "send", "cancel", "back", "resume", "close", "rate")


def valid_human(data: HumanCb) -> bool:
    return (
        data.action in HUMAN_ACTIONS
        and valid_lang(data.lang)
        and 0 <= data.case < 2**53
        and data.v in (0, 1)
    )


def valid_lang(code: str) -> bool:
    return code in LANGUAGES


def valid_entry(entry_id: str, lang: str) -> bool:
    return bool(ENTRY_ID.match(entry_id)) and valid_lang(lang)


def valid_vote(data: VoteCb) -> bool:
    return valid_entry(data.id, data.lang) and data.up in (0, 1)


def valid_topics(data: TopicsCb) -> bool:
    return (data.country == "" or data.country in TOPIC_COUNTRIES) and 0 <= data.page <= MAX_PAGE
