"""Free-text questions and what follows them: clarify choices, 👍/👎 votes.

The reply is in the question's language (buttons too), whatever the interface
language; retrieval runs in the assistant's thread pool, so a slow question never
holds up other chats.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.knowledge.entries import Entry, KnowledgeBase
from bot.privacy import anonymise
from bot.retrieval.assistant import Assistant
from bot.retrieval.followups import contextualise, is_followup
from bot.retrieval.render import (
    render_abstain,
    render_clarify,
    render_details,
    render_smalltalk,
)
from bot.settings import Settings
from bot.storage import Storage
from bot.telegram import keyboards
from bot.telegram.callbacks import (
    EntryCb,
    MoreCb,
    VoteCb,
    WayOutCb,
    valid_entry,
    valid_lang,
    valid_vote,
)
from bot.telegram.common import (
    Addressed,
    StorageDown,
    contacts,
    cyrillic_markup,
    previous_topic,
    recall_question,
    remember_question,
    send_entry,
    send_html,
    stored,
    try_stored,
    uzbek_in_cyrillic,
)
from bot.telegram.handoff import remember_last_question
from bot.telegram.metrics import Metrics

log = logging.getLogger(__name__)
router = Router(name="questions")
ABSTAIN_SUGGESTIONS = 3
# "typing..." only when the answer is not ready within this many seconds: most answers
# are (p50 about 0.2 s at normal load), and under load the extra Bot API call per
# question costs the event loop what it needs for the answers.
TYPING_AFTER = 0.5
# A number typed within this many seconds of a clarify picks that topic ("2").
CLARIFY_PICK_SECONDS = 600


async def refuse(
    bot: Bot,
    chat_id: int,
    lang: str,
    kb: KnowledgeBase,
    settings: Settings,
    suggestions: list[Entry],
    cyrillic: bool = False,
) -> Message:
    """No reliable answer: say so, name whom to ask, offer close topics and all topics."""
    text = render_abstain(lang, settings.help_contact, fmt="html")
    if suggestions:
        text += "\n\n" + _("Perhaps one of these topics helps:")
    helpers = contacts(kb, lang, settings)
    suggestions = [e for e in suggestions if e not in helpers]
    return await send_html(
        bot,
        chat_id,
        text,
        keyboards.entries(
            suggestions,
            lang,
            via="a",
            with_browse=True,
            contacts=helpers,
            ask_person=settings.handoff_enabled,
        ),
        cyrillic,
        keep=(settings.help_contact,),
    )


async def _picked_number(question: str, state: FSMContext) -> tuple[str, str] | None:
    """(entry id, language) when `question` is the number of a topic just offered."""
    text = question.strip().rstrip(".)")
    if not text.isdigit() or len(text) > 2:
        return None
    offered = (await state.get_data()).get("clarify") or {}
    ids = offered.get("ids") or []
    fresh = time.time() - float(offered.get("at", 0)) <= CLARIFY_PICK_SECONDS
    if fresh and 1 <= int(text) <= len(ids):
        return ids[int(text) - 1], offered.get("lang", "ru")
    return None


@router.message(F.text, ~F.text.startswith("/"), Addressed())
async def on_question(
    message: Message,
    bot: Bot,
    question: str,
    assistant: Assistant,
    storage: Storage,
    settings: Settings,
    state: FSMContext,
    i18n: I18n,
    metrics: Metrics,
    user_key: str = "",
) -> None:
    """A question (overload notices and timing happen before: bot/telegram/overload.py)."""
    chat_id = message.chat.id
    picked = await _picked_number(question, state)
    if picked is not None and picked[0] in assistant.version.kb:
        entry_id, lang = picked
        await state.update_data(clarify=None)
        cyrillic = await uzbek_in_cyrillic(state, lang)
        with i18n.use_locale(lang):
            entry = assistant.version.kb[entry_id]
            await send_entry(bot, chat_id, entry, lang, state, None, cyrillic=cyrillic)
        metrics.questions.labels("picked", lang).inc()
        await try_stored(storage.log_event("picked", lang, entry_id), "event", owner=storage)
        return
    previous = await previous_topic(state, assistant.version.kb)
    followup = contextualise(question, previous, time.time(), settings.followup_window)
    asking = asyncio.ensure_future(
        assistant.aask(
            followup or question, hint=i18n.current_locale, typed=question if followup else None
        )
    )
    done, _pending = await asyncio.wait({asking}, timeout=TYPING_AFTER)
    if not done:  # the answer takes a while: show "typing..." meanwhile
        with contextlib.suppress(TelegramAPIError):
            await bot.send_chat_action(chat_id, "typing")
    result = await asking
    kb = result.kb or assistant.version.kb
    metrics.questions.labels(result.decision, result.lang).inc()
    try:
        cyrillic = result.lang == "uz" and result.script == "cyrl"
        if settings.handoff_enabled and result.decision != "smalltalk":  # "send the question
            # I just asked" to a consultant: a greeting is not a question
            await state.set_data(remember_last_question(await state.get_data(), question))
        if result.lang == "uz":  # later taps (a topic, a vote) answer in the same script
            await state.update_data(uz_cyrillic=cyrillic)
        with i18n.use_locale(result.lang):
            if result.decision == "smalltalk":  # answered as small talk, never a gap
                await send_html(
                    bot,
                    chat_id,
                    render_smalltalk(result.smalltalk or "", result.lang, fmt="html"),
                    keyboards.entries([], result.lang, via="a", with_browse=True),
                    cyrillic,
                )
                return
            if result.decision == "answer" and result.entry is not None:
                note = None
                if followup and previous is not None and previous.title and is_followup(question):
                    # say which topic it continues (not for a new topic in the same place)
                    note = "↪️ " + _("Continuing: {topic}").format(topic=previous.title)
                await send_entry(
                    bot, chat_id, result.entry, result.lang, state, question, note, cyrillic
                )
                return
            if result.decision == "clarify":
                items = [kb[c.entry_id] for c in result.candidates if c.entry_id in kb]
                sent = await send_html(
                    bot,
                    chat_id,
                    render_clarify(result, kb, result.lang, fmt="html"),
                    keyboards.entries(items, result.lang, via="c", none_of_these=True),
                    cyrillic,
                )
                await remember_question(state, sent.message_id, question)
                await state.update_data(
                    clarify={"ids": [e.id for e in items], "lang": result.lang, "at": time.time()}
                )
                return
            if result.ranking:  # something was asked (not only emoji or punctuation)
                # Logged before the reply: a /forget sent right after it must find the row.
                await try_stored(
                    storage.log_gap(user_key, anonymise(question), result.lang, "abstain"),
                    "gap",
                    owner=storage,
                )
            suggestions = [kb[c.entry_id] for c in result.ranking[:ABSTAIN_SUGGESTIONS]]
            await state.update_data(clarify=None)  # an older choice is not continued
            sent = await refuse(bot, chat_id, result.lang, kb, settings, suggestions, cyrillic)
            await remember_question(state, sent.message_id, question)

    finally:
        # Counted after the reply: with a hung database the count waits, not the user.
        await try_stored(
            storage.log_event(result.decision, result.lang, result.entry_id), "event", owner=storage
        )


@router.callback_query(WayOutCb.filter(F.action == "none"))
async def on_none_of_these(
    query: CallbackQuery,
    callback_data: WayOutCb,
    bot: Bot,
    assistant: Assistant,
    storage: Storage,
    settings: Settings,
    state: FSMContext,
    i18n: I18n,
    user_key: str = "",
) -> None:
    """None of the topics offered: the refusal path, with whom to ask and all topics;
    the question goes to the gaps log like any unanswered one."""
    if not valid_lang(callback_data.lang) or not isinstance(query.message, Message):
        await query.answer(_("This button is out of date."))
        return
    await query.answer()
    lang = callback_data.lang
    question = await recall_question(state, query.message.message_id)
    await query.message.edit_reply_markup(reply_markup=None)
    await state.update_data(clarify=None)
    if question:  # before the reply, so that a /forget right after finds it
        await try_stored(storage.log_gap(user_key, question, lang, "abstain"), "gap", owner=storage)
    with i18n.use_locale(lang):
        cyrillic = await uzbek_in_cyrillic(state, lang)
        kb = assistant.version.kb
        await refuse(bot, query.message.chat.id, lang, kb, settings, [], cyrillic)


@router.callback_query(EntryCb.filter())
async def on_entry(
    query: CallbackQuery,
    callback_data: EntryCb,
    bot: Bot,
    assistant: Assistant,
    storage: Storage,
    state: FSMContext,
    i18n: I18n,
) -> None:
    kb = assistant.version.kb
    if (
        not valid_entry(callback_data.id, callback_data.lang)
        or callback_data.via not in ("c", "t", "a")
        or callback_data.id not in kb
    ):
        await query.answer(_("This topic is no longer available. Send /topics to see the list."))
        return
    await query.answer()
    if query.message is None:
        return
    lang = callback_data.lang
    question = None
    if callback_data.via in ("c", "a"):
        question = await recall_question(state, query.message.message_id)
    with i18n.use_locale(lang):
        cyrillic = await uzbek_in_cyrillic(state, lang)
        entry = kb[callback_data.id]
        await send_entry(bot, query.message.chat.id, entry, lang, state, question, None, cyrillic)
    decision = {"c": "picked", "a": "suggested"}.get(callback_data.via, "browsed")
    await try_stored(storage.log_event(decision, lang, callback_data.id), "event", owner=storage)


@router.callback_query(MoreCb.filter())
async def on_more(
    query: CallbackQuery,
    callback_data: MoreCb,
    bot: Bot,
    assistant: Assistant,
    state: FSMContext,
    i18n: I18n,
) -> None:
    """The full answer behind "More"; the button goes, 👍/👎 stay under the first message."""
    kb = assistant.version.kb
    if not valid_entry(callback_data.id, callback_data.lang) or callback_data.id not in kb:
        await query.answer(_("This topic is no longer available. Send /topics to see the list."))
        return
    await query.answer()
    if query.message is None:
        return
    lang = callback_data.lang
    entry = kb[callback_data.id]
    with i18n.use_locale(lang):
        cyrillic = await uzbek_in_cyrillic(state, lang)
        markup = keyboards.feedback(entry.id, lang)
        text = render_details(entry, lang, fmt="html")
        if isinstance(query.message, Message):
            with contextlib.suppress(TelegramBadRequest):  # already edited, or too old
                await query.message.edit_reply_markup(
                    reply_markup=cyrillic_markup(markup) if cyrillic else markup
                )
        await send_html(bot, query.message.chat.id, text, None, cyrillic)


@router.callback_query(VoteCb.filter())
async def on_vote(
    query: CallbackQuery,
    callback_data: VoteCb,
    bot: Bot,
    settings: Settings,
    assistant: Assistant,
    storage: Storage,
    state: FSMContext,
    i18n: I18n,
    user_key: str = "",
) -> None:
    if not valid_vote(callback_data) or callback_data.id not in assistant.version.kb:
        await query.answer(_("This button is out of date."))
        return
    helpful = callback_data.up == 1
    question = None
    if not helpful and query.message is not None:
        question = await recall_question(state, query.message.message_id)
    with i18n.use_locale(callback_data.lang):
        try:
            await stored(
                storage.add_feedback(
                    user_key, callback_data.id, callback_data.lang, helpful, question
                ),
                "feedback",
            )
        except StorageDown:
            await query.answer(_("Sorry, feedback cannot be saved right now. Please try later."))
            return
        await query.answer(_("Thank you! Your feedback helps staff improve the answers."))
        if isinstance(query.message, Message):  # not too old to edit
            await query.message.edit_reply_markup(reply_markup=None)
            if not helpful:  # a way on: other words, all topics, whom to ask
                cyrillic = await uzbek_in_cyrillic(state, callback_data.lang)
                await _after_downvote(
                    bot, query.message.chat.id, callback_data.lang, assistant, settings, cyrillic
                )


async def _after_downvote(
    bot: Bot, chat_id: int, lang: str, assistant: Assistant, settings: Settings, cyrillic: bool
) -> None:
    lines = [_("I am sorry this did not help. Try asking in other words, or choose below.")]
    if settings.help_contact and not settings.handoff_enabled:
        lines.append(_("To talk to a person: {contact}").format(contact=settings.help_contact))
    helpers = contacts(assistant.version.kb, lang, settings)
    await send_html(
        bot,
        chat_id,
        html.escape("\n\n".join(lines)),
        keyboards.entries(
            [],
            lang,
            via="a",
            with_browse=True,
            contacts=helpers,
            ask_person=settings.handoff_enabled,
        ),
        cyrillic,
        keep=(settings.help_contact,),
    )
