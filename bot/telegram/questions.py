"""Free-text questions and what follows them: clarify choices, 👍/👎 votes.

The reply is in the question's language (buttons too), whatever the interface
language; retrieval runs in the assistant's thread pool, so a slow question never
holds up other chats.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.privacy import anonymise
from bot.retrieval.assistant import Assistant
from bot.retrieval.render import render_abstain, render_clarify
from bot.settings import Settings
from bot.storage import Storage
from bot.telegram import keyboards
from bot.telegram.callbacks import EntryCb, VoteCb, valid_entry, valid_vote
from bot.telegram.common import (
    Addressed,
    StorageDown,
    recall_question,
    remember_question,
    send_entry,
    send_html,
    stored,
    try_stored,
)

log = logging.getLogger(__name__)
router = Router(name="questions")
ABSTAIN_SUGGESTIONS = 3


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
    user_key: str = "",
) -> None:
    chat_id = message.chat.id
    await bot.send_chat_action(chat_id, "typing")
    result = await assistant.aask(question, hint=i18n.current_locale)
    kb = result.kb or assistant.version.kb
    await try_stored(storage.log_event(result.decision, result.lang, result.entry_id), "event")
    with i18n.use_locale(result.lang):
        if result.decision == "answer" and result.entry is not None:
            await send_entry(bot, chat_id, result.entry, result.lang, state, question)
            return
        if result.decision == "clarify":
            items = [kb[c.entry_id] for c in result.candidates if c.entry_id in kb]
            sent = await send_html(
                bot,
                chat_id,
                render_clarify(result, kb, result.lang, fmt="html"),
                keyboards.entries(items, result.lang, via="c"),
            )
            await remember_question(state, sent.message_id, question)
            return
        suggestions = [kb[c.entry_id] for c in result.ranking[:ABSTAIN_SUGGESTIONS]]
        text = render_abstain(result.lang, settings.help_contact, fmt="html")
        if suggestions:
            text += "\n\n" + _("Perhaps one of these topics helps:")
        sent = await send_html(
            bot,
            chat_id,
            text,
            keyboards.entries(suggestions, result.lang, via="a", with_browse=True),
        )
        await remember_question(state, sent.message_id, question)
    if result.ranking:  # something was asked (not only emoji or punctuation)
        await try_stored(
            storage.log_gap(user_key, anonymise(question), result.lang, "abstain"), "gap"
        )


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
        await send_entry(bot, query.message.chat.id, kb[callback_data.id], lang, state, question)
    decision = {"c": "picked", "a": "suggested"}.get(callback_data.via, "browsed")
    await try_stored(storage.log_event(decision, lang, callback_data.id), "event")


@router.callback_query(VoteCb.filter())
async def on_vote(
    query: CallbackQuery,
    callback_data: VoteCb,
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
