"""Reminders of deadlines: taking the one offered under a result, listing them, and the
one-tap unsubscribe under each (`rem:off:<id>`, see bot/telegram/sender.py) that works
for as long as the reminder exists. Only the user's own reminders, by the salted key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.storage import Storage
from bot.telegram.callbacks import DeadlineCb
from bot.telegram.common import StorageDown, stored
from bot.telegram.deadlines.keyboards import unsubscribe_keyboard
from bot.telegram.deadlines.views import day, lang
from bot.telegram.sender import CALLBACK_PREFIX

router = Router(name="reminders")
KINDS = ("registration", "stay", "patent")


def _today(deadline_today: Callable[[], dt.date] | None) -> dt.date:
    return deadline_today() if deadline_today is not None else dt.date.today()


@router.callback_query(DeadlineCb.filter(F.action == "remind"))
async def on_remind(
    query: CallbackQuery,
    state: FSMContext,
    storage: Storage,
    user_key: str = "",
    deadline_today: Callable[[], dt.date] | None = None,
) -> None:
    data = (await state.get_data()).get("dl") or {}
    if not isinstance(query.message, Message) or data.get("kind") not in KINDS or "due" not in data:
        await query.answer(_("This button is out of date. Send /deadlines to begin again."))
        return
    due = dt.date.fromisoformat(data["due"])
    remind_on = max(dt.date.fromisoformat(data["remind_on"]), _today(deadline_today))
    if remind_on > due:  # the deadline passed while the offer was on the screen
        await state.update_data(dl=None)
        await query.answer(_("This date has already passed: a reminder cannot help now."))
        return
    try:
        reminder = await stored(
            storage.add_reminder(
                user_key, query.message.chat.id, data["kind"], due, remind_on, lang()
            ),
            "add reminder",
        )
    except StorageDown:
        await query.answer()
        await query.message.answer(
            _("Sorry, reminders are temporarily unavailable. Please try again later.")
        )
        return
    await state.update_data(dl=None)
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    await query.message.answer(
        "🔔 "
        + _("Done: I will remind you on {date}. To stop it, press “Unsubscribe”.").format(
            date=day(reminder.remind_on)
        ),
        reply_markup=unsubscribe_keyboard(reminder.id),
    )


@router.callback_query(DeadlineCb.filter(F.action == "list"))
async def on_list(query: CallbackQuery, storage: Storage, user_key: str = "") -> None:
    await query.answer()
    if query.message is None:
        return
    try:
        pending = await stored(storage.reminders(user_key), "list reminders")
    except StorageDown:
        await query.message.answer(
            _("Sorry, reminders are temporarily unavailable. Please try again later.")
        )
        return
    if not pending:
        await query.message.answer(_("You have no reminders."))
        return
    titles = {
        "registration": _("Registration"),
        "stay": _("Stay limit"),
        "patent": _("Patent payment"),
    }
    for reminder in pending:
        await query.message.answer(
            _("{what}: deadline {due}, reminder on {date}.").format(
                what=titles.get(reminder.kind, reminder.kind),
                due=day(reminder.due),
                date=day(reminder.remind_on),
            ),
            reply_markup=unsubscribe_keyboard(reminder.id),
        )


@router.callback_query(F.data.startswith(CALLBACK_PREFIX))
async def on_unsubscribe(query: CallbackQuery, storage: Storage, user_key: str = "") -> None:
    """One tap under a reminder (or the confirmation) cancels it; only the user's own."""
    raw = (query.data or "")[len(CALLBACK_PREFIX) :]
    if not raw.isdigit() or len(raw) > 18:
        await query.answer(_("This button is out of date."))
        return
    try:
        cancelled = await stored(storage.cancel_reminder(user_key, int(raw)), "cancel reminder")
    except StorageDown:
        await query.answer(
            _("Sorry, reminders are temporarily unavailable. Please try again later.")
        )
        return
    if not cancelled:
        await query.answer(_("This reminder is already cancelled."))
        return
    await query.answer(_("Reminder cancelled."))
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer("🔕 " + _("Reminder cancelled. I will not send it."))
