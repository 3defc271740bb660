"""Helpers the feature routers share: sending split HTML, answering with an entry,
calling storage without letting a database outage break a reply, remembering the
anonymised question behind an answer (for a later 👎)."""

from __future__ import annotations

import asyncio
import html
import inspect
import logging
import time
import weakref
from collections.abc import Awaitable
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.filters import BaseFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import InlineKeyboardMarkup, Message

from bot.domain import LANGUAGE_COUNTRY
from bot.errors import MigrantBotError
from bot.knowledge.entries import Entry, KnowledgeBase
from bot.privacy import anonymise
from bot.retrieval.followups import Context, context_of, context_of_choice
from bot.retrieval.render import render_answer
from bot.retrieval.transliterate import uz_latin_to_cyrillic
from bot.settings import Settings
from bot.storage import StorageError
from bot.telegram import keyboards
from bot.telegram.text import split_html

log = logging.getLogger("bot.telegram")

T = TypeVar("T")
# The entry that says how to reach one's consulate: offered on every refusal when no
# HELP_CONTACT is configured (its id is fixed by the topic catalogue).
CONSULATE_ENTRY = "consulate-help"
# A write the reply does not depend on (an event count, a gap) is given up after this
# long: with a hung database (frozen 20 s in the fault run of issue 16) every reply used
# to wait for it.
ANALYTICS_TIMEOUT = 0.5
KEPT_QUESTIONS = 5  # answers per user whose (anonymised) question a 👎 can still report


class StorageDown(MigrantBotError):
    """Raised by `stored` when the database failed; handlers turn it into a polite note."""


def _consume(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: a late failure is not "never retrieved"


# After a storage call runs out of time, calls to the same storage in the reply path
# fail at once for this long instead of each waiting their own time limit: with a hung
# database (frozen 20 s in bench/faults.py) every update otherwise paid the claim, the
# language lookup and the event count, 0.5 s each (p95 2.8 s; 0.1 s with the breaker).
BREAK_SECONDS = 5.0
_slow_until: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


async def bounded(call: Awaitable[T], timeout: float, owner: Any = None) -> T:
    """`call`, waited for at most `timeout` seconds (TimeoutError after that). The call
    itself is not cancelled but left to finish in the background: cancelling a
    database call half-way could leave a transaction open on the connection. With an
    `owner` (the storage), a time-out makes the next calls on it fail at once for
    BREAK_SECONDS."""
    if owner is not None and time.monotonic() < _slow_until.get(owner, 0.0):
        if inspect.iscoroutine(call):
            call.close()  # never started: nothing to finish
        raise TimeoutError("storage was too slow a moment ago")
    task = asyncio.ensure_future(call)
    try:
        return await asyncio.wait_for(asyncio.shield(task), timeout)
    except TimeoutError:
        task.add_done_callback(_consume)
        if owner is not None:
            _slow_until[owner] = time.monotonic() + BREAK_SECONDS
        raise


async def stored(
    call: Awaitable[T], what: str, timeout: float | None = None, owner: Any = None
) -> T:
    """Await a storage call; log a warning (never user data) and raise `StorageDown`
    on a database problem, or when it takes longer than `timeout` seconds (a hung
    database must not hold up a reply)."""
    try:
        if timeout is None:
            return await call
        return await bounded(call, timeout, owner)
    except StorageError as exc:
        log.warning("storage unavailable for %s: %s", what, exc)
        raise StorageDown(what) from exc
    except TimeoutError as exc:
        log.warning("storage too slow for %s (over %.1f s); going on without it", what, timeout)
        raise StorageDown(what) from exc


async def try_stored(
    call: Awaitable[T], what: str, timeout: float | None = ANALYTICS_TIMEOUT, owner: Any = None
) -> T | None:
    """Like `stored`, for writes a reply does not depend on (analytics, the gaps log):
    None on failure or after `timeout` seconds."""
    try:
        return await stored(call, what, timeout, owner)
    except StorageDown:
        return None


def cyrillic_markup(markup: InlineKeyboardMarkup | None) -> InlineKeyboardMarkup | None:
    """The same buttons with their Uzbek labels in Cyrillic."""
    if markup is None:
        return None
    rows = [
        [b.model_copy(update={"text": uz_latin_to_cyrillic(b.text)}) for b in row]
        for row in markup.inline_keyboard
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def send_html(
    bot: Bot,
    chat_id: int,
    text: str,
    reply_markup: InlineKeyboardMarkup | None = None,
    cyrillic: bool = False,
    keep: tuple[str, ...] = (),
) -> Message:
    """Send HTML in as many messages as the 4096-character limit needs; the keyboard goes
    under the last part. Returns the last message sent. `cyrillic`: the text and the
    button labels are Uzbek, to be shown in Cyrillic (the user writes in Cyrillic)."""
    if cyrillic:  # `keep`: configured text (a contact) stays as written
        text = uz_latin_to_cyrillic(text, html=True, keep=(*keep, *map(html.escape, keep)))
        reply_markup = cyrillic_markup(reply_markup)
    parts = split_html(text)
    message: Message | None = None
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        message = await bot.send_message(chat_id, part, reply_markup=reply_markup if last else None)
    assert message is not None
    return message


async def remember_question(state: FSMContext, message_id: int, question: str) -> None:
    """Keep the anonymised question behind a reply, for the last few replies only."""
    data = await state.get_data()
    kept: dict[str, str] = dict(data.get("questions") or {})
    kept[str(message_id)] = anonymise(question)
    while len(kept) > KEPT_QUESTIONS:
        kept.pop(next(iter(kept)))
    await state.update_data(questions=kept)


async def recall_question(state: FSMContext, message_id: int) -> str | None:
    data = await state.get_data()
    return (data.get("questions") or {}).get(str(message_id))


async def send_entry(
    bot: Bot,
    chat_id: int,
    entry: Entry,
    lang: str,
    state: FSMContext,
    question: str | None,
    note: str | None = None,
    cyrillic: bool = False,
) -> Message:
    """An entry's first message (short answer, sources, status line) with "More" and
    👍/👎 under it, after a `note` (plain text) when there is one. The entry becomes the
    topic a follow-up continues."""
    text = render_answer(entry, lang, fmt="html")
    if note:
        text = html.escape(note) + "\n\n" + text
    markup = keyboards.feedback(entry.id, lang, more=True)
    message = await send_html(bot, chat_id, text, markup, cyrillic)
    if question:
        await remember_question(state, message.message_id, question)
    title = entry.local(lang)[1].title
    await state.update_data(
        topic={"entry_id": entry.id, "title": title, "lang": lang, "at": time.time()}
    )
    return message


async def previous_topic(state: FSMContext, kb: KnowledgeBase | None = None) -> Context | None:
    """What a follow-up in this chat continues: the topic of the last answer, or, when
    the bot offered topics to choose from since, that choice. With `kb`, with the
    counterparts' titles as this version of the knowledge base has them."""
    data = await state.get_data()
    topic, offered = data.get("topic"), data.get("clarify")
    try:
        context = Context(**topic) if topic else None
    except TypeError:  # state written by an older version
        context = None
    if kb is None:
        return context
    choice = _choice(offered, kb)
    if choice is not None and (context is None or choice.at > context.at):
        return choice
    if context is None or context.entry_id not in kb:
        return context
    return context_of(kb[context.entry_id], context.lang, context.at, kb)


def _choice(offered: Any, kb: KnowledgeBase) -> Context | None:
    """The topics last offered to choose from (the chat's "clarify" state), or None when
    there are none or the state is not what this version writes."""
    if not isinstance(offered, dict):
        return None
    ids, lang, at = offered.get("ids"), offered.get("lang"), offered.get("at")
    if not isinstance(ids, list) or not isinstance(lang, str) or not isinstance(at, int | float):
        return None
    entries = [kb[i] for i in ids if isinstance(i, str) and i in kb]
    return context_of_choice(entries, lang, float(at), kb)


class Addressed(BaseFilter):
    """Private chats always; in groups only messages that mention the bot or reply to
    it (the bot stays silent otherwise). Passes `question` without the mention."""

    async def __call__(
        self, message: Message, bot: Bot, burst: str | None = None
    ) -> bool | dict[str, Any]:
        text = burst or message.text or message.caption or ""
        if message.chat.type == "private":
            return {"question": text}
        me = await bot.me()
        mention = f"@{me.username}".lower() if me.username else None
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == me.id:
            return {"question": text}
        if mention and mention in text.lower():
            start = text.lower().index(mention)
            return {"question": (text[:start] + text[start + len(mention) :]).strip()}
        return False


async def uzbek_in_cyrillic(state: FSMContext, lang: str) -> bool:
    """Whether this chat's Uzbek replies are shown in Cyrillic: the user's last Uzbek
    question was written in Cyrillic."""
    return lang == "uz" and bool((await state.get_data()).get("uz_cyrillic"))


def contacts(kb: KnowledgeBase, lang: str, settings: Settings) -> list[Entry]:
    """Entries that say whom to ask, for a refusal: none when HELP_CONTACT names a
    person (the text does); else the services of the country the language most likely
    marks (Uzbekistan's agency for an Uzbek question) and the consulate entry."""
    if settings.help_contact:
        return []
    origin = LANGUAGE_COUNTRY.get(lang)
    found = [e for e in kb if origin is not None and e.country == origin]
    if CONSULATE_ENTRY in kb:
        found.append(kb[CONSULATE_ENTRY])
    return found
