"""The buttons of the deadline tools."""

from __future__ import annotations

import datetime as dt

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.domain import COMMON_CITIZENSHIPS, STAY_COUNTRIES
from bot.telegram.callbacks import DeadlineCb
from bot.telegram.deadlines.views import citizenship_name, country_name, day
from bot.telegram.sender import unsubscribe_data

FLAGS = {"uz": "🇺🇿", "tj": "🇹🇯", "kg": "🇰🇬", "kz": "🇰🇿", "ru": "🇷🇺", "am": "🇦🇲", "by": "🇧🇾"}


def _cancel_row(builder: InlineKeyboardBuilder) -> None:
    builder.row(
        InlineKeyboardButton(
            text="✖ " + _("Cancel"), callback_data=DeadlineCb(action="cancel").pack()
        )
    )


def menu_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="🏠 " + _("Registration deadline"),
        callback_data=DeadlineCb(action="kind", value="registration"),
    )
    builder.button(
        text="🗓 " + _("Days of stay left"), callback_data=DeadlineCb(action="kind", value="stay")
    )
    builder.button(
        text="💳 " + _("Patent payment date"),
        callback_data=DeadlineCb(action="kind", value="patent"),
    )
    builder.button(text="🔔 " + _("My reminders"), callback_data=DeadlineCb(action="list"))
    builder.adjust(1)
    return builder.as_markup()


def countries_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code in STAY_COUNTRIES:
        builder.button(
            text=f"{FLAGS[code]} {country_name(code)}",
            callback_data=DeadlineCb(action="country", value=code),
        )
    builder.adjust(2)
    _cancel_row(builder)
    return builder.as_markup()


def citizenship_keyboard(country: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code in COMMON_CITIZENSHIPS:
        if code != country:
            builder.button(
                text=f"{FLAGS[code]} {citizenship_name(code)}",
                callback_data=DeadlineCb(action="cit", value=code),
            )
    builder.adjust(2)
    _cancel_row(builder)
    return builder.as_markup()


def only_cancel() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    _cancel_row(builder)
    return builder.as_markup()


def no_trips_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("No earlier trips"), callback_data=DeadlineCb(action="none"))
    _cancel_row(builder)
    builder.adjust(1)
    return builder.as_markup()


def remind_keyboard(remind_on: dt.date) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="🔔 " + _("Remind me on {date}").format(date=day(remind_on)),
        callback_data=DeadlineCb(action="remind"),
    )
    return builder.as_markup()


def unsubscribe_keyboard(reminder_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("Unsubscribe"), callback_data=unsubscribe_data(reminder_id)
                )
            ]
        ]
    )


def basis_keyboard() -> InlineKeyboardMarkup:
    """Before counting days of stay: is there a document that allows a longer stay?"""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Yes, I have one"), callback_data=DeadlineCb(action="basis", value="yes"))
    builder.button(text=_("No"), callback_data=DeadlineCb(action="basis", value="no"))
    builder.adjust(2)
    _cancel_row(builder)
    return builder.as_markup()


def count_anyway_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="🗓 " + _("Count the days anyway"),
        callback_data=DeadlineCb(action="basis", value="count"),
    )
    _cancel_row(builder)
    builder.adjust(1)
    return builder.as_markup()


def which_date_keyboard(dates: list[dt.date]) -> InlineKeyboardMarkup:
    """A date typed without a year that could mean either of `dates`."""
    builder = InlineKeyboardBuilder()
    for option in dates:
        builder.button(
            text=day(option), callback_data=DeadlineCb(action="date", value=option.isoformat())
        )
    builder.adjust(1)
    _cancel_row(builder)
    return builder.as_markup()


def resume_keyboard() -> InlineKeyboardMarkup:
    """After a question answered in the middle of the calculation."""
    builder = InlineKeyboardBuilder()
    builder.button(
        text="▶️ " + _("Continue the calculation"), callback_data=DeadlineCb(action="resume")
    )
    _cancel_row(builder)
    builder.adjust(1)
    return builder.as_markup()
