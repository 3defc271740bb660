"""A route to a person, the staff side: the staff chat (STAFF_CHAT_ID).

A staff member answers a case by replying to one of its messages (or, in a group with
forum topics, by writing in the case's topic); the reply goes to the user as "Reply
from the consultant of …". As replies, /close closes the case, /answer TOPIC_ID sends
that topic's short answer in the user's language, /teach TOPIC_ID records the case's
question as a paraphrase suggestion for the topic (`migrant-bot kb inbox`; nothing
enters knowledge/ except through a file edit that passes kb check).

Only the staff chat's members can act: these handlers match messages in that chat
only. A redelivered update is relayed once (the storage records each staff message by
its chat and message id), whichever worker receives it.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import BaseFilter, Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.retrieval.assistant import Assistant
from bot.retrieval.render import render_answer
from bot.settings import Settings
from bot.storage import Case, Storage
from bot.telegram import keyboards
from bot.telegram.callbacks import ENTRY_ID
from bot.telegram.common import StorageDown, send_html, stored

log = logging.getLogger(__name__)
router = Router(name="casework")
CASE_COMMANDS = ("close", "answer", "teach")


class InStaffChat(BaseFilter):
    async def __call__(self, message: Message, settings: Settings) -> bool:
        return settings.staff_chat_id is not None and message.chat.id == settings.staff_chat_id


class CaseOfMessage(BaseFilter):
    """The case a staff message belongs to: its forum topic, or the case message it
    replies to. Passes `case`."""

    async def __call__(
        self, message: Message, storage: Storage, settings: Settings
    ) -> bool | dict[str, Any]:
        chat = message.chat.id
        try:
            if message.is_topic_message and message.message_thread_id:
                case = await stored(
                    storage.case_for_thread(chat, message.message_thread_id), "case_for_thread"
                )
                if case is not None:
                    return {"case": case}
            replied = message.reply_to_message
            if replied is not None:
                case = await stored(
                    storage.case_for_staff_message(chat, replied.message_id), "case_for_message"
                )
                if case is not None:
                    return {"case": case}
        except StorageDown:
            return False
        return False


router.message.filter(InStaffChat())


async def _staff_reply(message: Message, text: str) -> None:
    """A note back to staff, in the case's thread when there is one."""
    await message.reply(text)


async def _to_user(bot: Bot, case: Case, text: str, settings: Settings, markup=None) -> bool:
    """Send to the user; False when they blocked the bot."""
    try:
        keep = (settings.operator_name,) if settings.operator_name else ()
        await send_html(bot, case.chat_id, text, markup, case.cyrillic, keep=keep)
    except TelegramForbiddenError:
        return False
    return True


def _header(settings: Settings) -> str:
    if settings.operator_name:
        return _("Reply from the consultant of {operator}:").format(
            operator=html.escape(settings.operator_name)
        )
    return _("Reply from the consultant:")


async def _blocked(message: Message, storage: Storage, case: Case) -> None:
    await stored(storage.close_case(case.id, "blocked"), "close_case")
    await _staff_reply(
        message,
        _("The user has blocked the bot; case #{number} is closed.").format(number=case.id),
    )


@router.message(CaseOfMessage(), Command(*CASE_COMMANDS))
async def on_case_command(
    message: Message,
    bot: Bot,
    command: CommandObject,
    case: Case,
    assistant: Assistant,
    settings: Settings,
    storage: Storage,
    i18n: I18n,
) -> None:
    name, arg = command.command, (command.args or "").strip()
    if case.status != "open" and name != "teach":
        await _staff_reply(message, _("Case #{number} is already closed.").format(number=case.id))
        return
    try:
        if name == "close":
            closed = await stored(storage.close_case(case.id, "staff"), "close_case")
            if closed is None:
                await _staff_reply(
                    message, _("Case #{number} is already closed.").format(number=case.id)
                )
                return
            with i18n.use_locale(case.lang):
                text = _("The consultant closed case #{number}. Did it help you?").format(
                    number=case.id
                )
                delivered = await _to_user(
                    bot, case, text, settings, keyboards.handoff_rate(case.lang, case.id)
                )
            note = _("Case #{number} is closed; the user was told.").format(number=case.id)
            if not delivered:
                note = _("Case #{number} is closed; the user has blocked the bot.").format(
                    number=case.id
                )
            await _staff_reply(message, note)
            return
        kb = assistant.version.kb
        if not ENTRY_ID.match(arg) or arg not in kb:
            await _staff_reply(
                message,
                _("Name a topic id after /{command}, e.g. /{command} ru-patent-payment.").format(
                    command=name
                )
                + (" " + _("No topic {id}.").format(id=html.escape(arg[:60])) if arg else ""),
            )
            return
        entry = kb[arg]
        if name == "teach":
            await stored(storage.add_suggestion(entry.id, case.lang, case.question), "suggestion")
            await _staff_reply(
                message,
                _(
                    "Saved: the question of case #{number} is suggested as a paraphrase of "
                    "{id} ({lang}). Review suggestions with `migrant-bot kb inbox`."
                ).format(number=case.id, id=entry.id, lang=case.lang),
            )
            return
        # /answer: the topic's first message in the user's language, with More and votes
        fresh = await stored(
            storage.add_case_message(
                case.id, "staff", message.chat.id, message.message_id, f"/answer {entry.id}"
            ),
            "case_message",
        )
        if not fresh:
            return
        with i18n.use_locale(case.lang):
            text = "💬 " + _header(settings) + "\n\n" + render_answer(entry, case.lang, fmt="html")
            markup = keyboards.feedback(entry.id, case.lang, more=True)
            delivered = await _to_user(bot, case, text, settings, markup)
        if not delivered:
            await _blocked(message, storage, case)
            return
        await _staff_reply(
            message,
            _("Sent the topic {id} to the user (case #{number}).").format(
                id=entry.id, number=case.id
            ),
        )
    except StorageDown:
        await _staff_reply(message, _("The database is not available; nothing was done."))


@router.message(CaseOfMessage(), F.text, ~F.text.startswith("/"))
async def on_case_reply(
    message: Message,
    bot: Bot,
    case: Case,
    settings: Settings,
    storage: Storage,
    i18n: I18n,
) -> None:
    if case.status != "open":
        await _staff_reply(
            message,
            _("Case #{number} is closed; the message was not sent.").format(number=case.id),
        )
        return
    text = message.text or ""
    try:
        fresh = await stored(
            storage.add_case_message(case.id, "staff", message.chat.id, message.message_id, text),
            "case_message",
        )
        if not fresh:
            return  # the same update again (a webhook retry, another worker)
        with i18n.use_locale(case.lang):
            body = "💬 <b>" + _header(settings) + "</b>\n\n" + html.escape(text)
            markup = keyboards.handoff_open(case.lang, case.id, case.relaying)
            delivered = await _to_user(bot, case, body, settings, markup)
        if not delivered:
            await _blocked(message, storage, case)
            return
    except StorageDown:
        await _staff_reply(message, _("The database is not available; the message was not sent."))
        return
    except TelegramBadRequest as exc:
        log.warning("reply not relayed: %s", type(exc).__name__)
        await _staff_reply(message, _("Telegram refused the message; it was not sent."))
        return
    await _staff_reply(
        message, "✓ " + _("Sent to the user (case #{number}).").format(number=case.id)
    )


@router.message(CaseOfMessage())
async def on_case_not_text(message: Message) -> None:
    await _staff_reply(message, _("Only text can be sent to the user."))


@router.message(Command(*CASE_COMMANDS))
async def on_command_without_case(message: Message, command: CommandObject) -> None:
    await message.reply(
        _("Reply to a case message (or write in the case's topic) to use /{command}.").format(
            command=command.command
        )
    )


@router.message(F.reply_to_message.from_user.is_bot, ~F.text.startswith("/"))
async def on_reply_to_another_message(message: Message, bot: Bot) -> None:
    """A reply to one of the bot's notes (not a case message): say where to reply
    instead of letting the assistant answer it as a question in the staff chat."""
    replied = message.reply_to_message
    me = await bot.me()
    if replied is None or replied.from_user is None or replied.from_user.id != me.id:
        return
    await message.reply(
        _("To answer a user, reply to the case message itself (the one with the case number).")
    )
