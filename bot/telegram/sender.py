"""Delivers reminders through aiogram: the `bot.deadlines.reminders.Sender` for Telegram.

Each reminder carries one inline button that cancels it. Its callback data is
``rem:off:<reminder_id>`` (e.g. ``rem:off:42``); the Telegram handlers parse it and call
`Storage.cancel_reminder(user_key, reminder_id)`, which only cancels a reminder that
belongs to the user pressing the button (a forged id changes nothing).

Errors are translated into the core's three outcomes:
- TelegramForbiddenError (bot blocked, user deactivated) -> RecipientBlocked;
- TelegramRetryAfter (flood control) -> RetryLater(retry_after);
- TelegramServerError, TelegramNetworkError and other API errors -> DeliveryFailed
  (temporary: the reminder goes out on a later run);
- TelegramBadRequest / TelegramNotFound (chat not found...) -> DeliveryFailed(permanent):
  retrying cannot help.
Messages name only the error class: aiogram's texts can contain the chat id.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.deadlines.reminders import DeliveryFailed, RecipientBlocked, RetryLater

CALLBACK_PREFIX = "rem:off:"


def unsubscribe_data(reminder_id: int) -> str:
    """The callback data of the button that cancels reminder `reminder_id`."""
    return f"{CALLBACK_PREFIX}{int(reminder_id)}"


class TelegramSender:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(
        self, chat_id: int, text: str, reminder_id: int, *, button: str = "Unsubscribe"
    ) -> None:
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=button, callback_data=unsubscribe_data(reminder_id))]
            ]
        )
        try:
            await self.bot.send_message(chat_id=chat_id, text=text, reply_markup=markup)
        except TelegramForbiddenError as exc:
            raise RecipientBlocked(type(exc).__name__) from exc
        except TelegramRetryAfter as exc:
            raise RetryLater(exc.retry_after) from exc
        except (TelegramBadRequest, TelegramNotFound) as exc:
            raise DeliveryFailed(type(exc).__name__, permanent=True) from exc
        except (TelegramServerError, TelegramNetworkError, TelegramAPIError) as exc:
            raise DeliveryFailed(type(exc).__name__) from exc
