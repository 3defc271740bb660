"""/forget: delete everything stored about the user, after a confirmation button."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.settings import Settings
from bot.storage import Storage
from bot.telegram import keyboards
from bot.telegram.callbacks import ForgetCb
from bot.telegram.common import StorageDown, stored
from bot.telegram.desk import StaffDesk
from bot.telegram.menu import clear_chat_menu

log = logging.getLogger(__name__)
router = Router(name="forget")


@router.message(Command("forget"))
async def cmd_forget(message: Message) -> None:
    await message.answer(
        _(
            "This deletes everything stored about you: your language choice, your votes, "
            "your reminders, your cases with a consultant and any of your questions kept "
            "for staff. Delete?"
        ),
        reply_markup=keyboards.forget_confirm(),
    )


@router.callback_query(ForgetCb.filter())
async def on_forget(
    query: CallbackQuery,
    callback_data: ForgetCb,
    bot: Bot,
    storage: Storage,
    state: FSMContext,
    settings: Settings,
    desk: StaffDesk,
    i18n: I18n,
    user_key: str = "",
) -> None:
    if callback_data.ok not in (0, 1) or not isinstance(query.message, Message):
        await query.answer(_("This button is out of date."))
        return
    if callback_data.ok == 0:
        await query.answer()
        await query.message.edit_text(_("Nothing was deleted."), reply_markup=None)
        return
    try:
        open_case = await stored(storage.open_case_of(user_key), "open_case_of")
        deleted = await stored(storage.forget(user_key, query.message.chat.id), "forget")
    except StorageDown:
        await query.answer()
        await query.message.answer(
            _(
                "Sorry, deleting is temporarily unavailable, and nothing was deleted yet. "
                "Please send /forget again later."
            )
        )
        return
    if open_case is not None:  # staff learn the case is gone, never who withdrew it
        with i18n.use_locale(settings.staff_language):
            note = _(
                "Case #{number} was withdrawn by the user, and its record was deleted."
            ).format(number=open_case.id)
        await desk.note(bot, open_case, note)
    await state.clear()
    await clear_chat_menu(bot, query.message.chat.id)  # the menu in the chosen language
    log.info("forget: %s record(s) deleted for user %s", deleted, user_key[:12])
    await query.answer()
    await query.message.edit_text(
        "✅ " + _("Done: everything stored about you has been deleted."), reply_markup=None
    )
