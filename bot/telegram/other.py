"""Everything that is not a question or a known command: unknown commands, stickers,
photos, voice, documents, locations, edited messages, group chatter, stale or forged
buttons, and errors. The bot always answers politely in the user's language, or stays
silent in a group when nobody addressed it; it never shows an error to the user."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.types import CallbackQuery, ErrorEvent, Message
from aiogram.utils.i18n import gettext as _

from bot.telegram.common import Addressed

log = logging.getLogger(__name__)
router = Router(name="other")
GROUPS = {"group", "supergroup", "channel"}


@router.message(F.chat.type.in_(GROUPS), ~Addressed())
async def group_chatter(message: Message) -> None:
    """Not addressed to the bot: stay silent."""


@router.message(F.text.startswith("/"))
async def unknown_command(message: Message) -> None:
    await message.answer(_("I do not know this command. Send /help to see what I can do."))


@router.message()
async def not_text(message: Message) -> None:
    if message.voice or message.audio or message.video_note:
        text = _("I cannot listen to voice messages yet. Please type your question.")
    elif message.location or message.venue:
        text = _(
            "Thank you, but I do not need your location, and I do not keep it. "
            "Please type your question."
        )
    else:
        text = _("I can read only text. Please type your question in words.")
    await message.answer(text)


@router.edited_message(F.chat.type == "private")
async def edited(message: Message) -> None:
    await message.answer(
        _("I answer new messages only. Please send your corrected question again.")
    )


@router.edited_message()
async def edited_in_group(message: Message) -> None:
    """Edits in groups: stay silent."""


@router.callback_query()
async def stale_button(query: CallbackQuery) -> None:
    """Buttons from an old version, or data that fails validation (possibly forged)."""
    await query.answer(_("This button is out of date. Send /start to begin again."))


async def on_error(event: ErrorEvent) -> bool:
    """Log the failure (no user data) and apologise instead of going silent. Registered
    on the dispatcher, so it sees errors from every router."""
    log.error("handler failed: %r", event.exception, exc_info=event.exception)
    update = event.update
    try:
        if update.message is not None:
            await update.message.answer(
                _("Sorry, something went wrong on my side. Please try again in a minute.")
            )
        elif update.callback_query is not None:
            await update.callback_query.answer(
                _("Sorry, something went wrong on my side. Please try again in a minute.")
            )
    except Exception:  # the API itself may be what failed
        log.warning("could not send the apology", exc_info=True)
    return True
