"""The interface language of each update, and the user's salted key.

Order of preference: the language the user picked (stored under a salted hash of their
id), else Telegram's `language_code` when it is one of ours, else Russian. The stored
choice is read once per update; when the database is down the user still gets a reply,
in the language their Telegram app uses.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n.middleware import I18nMiddleware

from bot.domain import FALLBACK_LANGUAGE, LANGUAGES
from bot.privacy import user_key
from bot.storage import Storage, StorageError
from bot.telegram.common import bounded

log = logging.getLogger(__name__)


def telegram_language(code: str | None) -> str | None:
    """Our language for a Telegram language_code ("uz", "ru-RU", "kk-KZ"), or None."""
    if not code:
        return None
    lang = code.replace("_", "-").split("-")[0].lower()
    return lang if lang in LANGUAGES else None


class ReadBreaker:
    """What `common.bounded` trips when the language lookups are slow."""


class UserLanguageMiddleware(I18nMiddleware):
    """aiogram's I18n middleware, reading the stored language choice.

    It also puts `user_key` (the salted hash of the user id) into the handler data, so
    no handler needs the raw id for storage or logs.
    """

    def __init__(self, i18n: I18n, storage: Storage, salt: str, timeout: float = 0.5) -> None:
        super().__init__(i18n=i18n)
        self.storage = storage
        self.salt = salt
        self.timeout = timeout
        # The lookup's own breaker (common.bounded): a slow write (the inbox, an event
        # count) must not make every language lookup give up for the next 5 s, as one
        # slow write in a burst did (16 users at once: most first replies in Telegram's
        # language instead of the one chosen). Reads have their own connection.
        self.reads = ReadBreaker()

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("event_from_user")
        if user is None:
            return FALLBACK_LANGUAGE
        key = user_key(user.id, self.salt)
        data["user_key"] = key
        stored = None
        try:
            stored = await bounded(self.storage.get_language(key), self.timeout, self.reads)
        except StorageError as exc:
            log.warning("language of user %s not read, using Telegram's: %s", key[:12], exc)
        except TimeoutError:
            log.warning(
                "language of user %s not read within %.1f s, using Telegram's",
                key[:12],
                self.timeout,
            )
        if stored in LANGUAGES and stored in self.i18n.available_locales:
            return stored
        lang = telegram_language(user.language_code)
        if lang and lang in self.i18n.available_locales:
            return lang
        return FALLBACK_LANGUAGE
