"""/topics: browse the knowledge base by country, then topic (paginated buttons).

Choosing a topic sends its answer as a new message (handled with the clarify choices
in `questions.py`); the list stays, so people can read several topics in a row.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.retrieval.assistant import Assistant
from bot.telegram import keyboards
from bot.telegram.callbacks import TopicsCb, valid_topics

router = Router(name="topics")


def _country_name(code: str) -> str:
    return {"ru": _("Russia"), "kz": _("Kazakhstan")}.get(code, _("Both"))


@router.message(Command("topics"))
async def cmd_topics(message: Message, assistant: Assistant) -> None:
    await message.answer(
        _("Which country is your question about?"),
        reply_markup=keyboards.countries(assistant.version.kb),
    )


@router.callback_query(TopicsCb.filter())
async def on_topics(
    query: CallbackQuery, callback_data: TopicsCb, assistant: Assistant, i18n: I18n
) -> None:
    if not valid_topics(callback_data):
        await query.answer(_("This button is out of date."))
        return
    await query.answer()
    if query.message is None:
        return
    kb = assistant.version.kb
    if not callback_data.country:
        text = _("Which country is your question about?")
        markup = keyboards.countries(kb)
    else:
        markup, page, pages = keyboards.topics_page(
            kb, callback_data.country, callback_data.page, i18n.current_locale
        )
        text = _("Topics: {country}").format(country=_country_name(callback_data.country))
        if pages > 1:
            text += " " + _("(page {page} of {pages})").format(page=page + 1, pages=pages)
    if isinstance(query.message, Message):
        try:
            await query.message.edit_text(text, reply_markup=markup)
            return
        except TelegramBadRequest:  # too old to edit, or unchanged: send a new one
            pass
    await query.message.answer(text, reply_markup=markup)
