"""The command menu ("/" button): one for everyone, and one per chat in the language the
user chose.

Telegram shows the menu of the app's language, and its apps offer no Kyrgyz or Tajik,
so a menu keyed only by `language_code` would show Kyrgyz and Tajik users Russian
forever. The default menu is therefore bilingual (Russian, the region's lingua franca,
and English), and once a user picks a language, their private chat gets a menu of its
own in that language (`BotCommandScopeChat`). /forget removes it with the rest.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.domain import LANGUAGES

log = logging.getLogger(__name__)

COMMANDS = ("start", "topics", "deadlines", "human", "language", "help", "privacy", "forget")
# The languages of the default menu, joined by DEFAULT_SEPARATOR.
DEFAULT_MENU_LANGUAGES = ("ru", "en")
DEFAULT_SEPARATOR = " · "
MAX_DESCRIPTION = 256  # Telegram's limit for a command description


def command_descriptions() -> dict[str, str]:
    """The command menu texts, in the current locale."""
    return {
        "start": _("what this assistant is"),
        "topics": _("browse all topics by country"),
        "deadlines": _("count your deadlines and set reminders"),
        "human": _("write to a person (a consultant)"),
        "language": _("change the interface language"),
        "help": _("how to ask"),
        "privacy": _("what is stored about you"),
        "forget": _("delete everything stored about you"),
    }


def commands_in(i18n: I18n, *langs: str) -> list[BotCommand]:
    """The menu with each description in `langs`, joined (one language: as it is)."""
    texts: dict[str, list[str]] = {c: [] for c in COMMANDS}
    for lang in langs:
        with i18n.context(), i18n.use_locale(lang):
            descriptions = command_descriptions()
        for command in COMMANDS:
            if descriptions[command] not in texts[command]:
                texts[command].append(descriptions[command])
    return [
        BotCommand(command=c, description=DEFAULT_SEPARATOR.join(texts[c])[:MAX_DESCRIPTION])
        for c in COMMANDS
    ]


async def set_default_menus(bot: Bot, i18n: I18n) -> None:
    """At start: the bilingual default, and one per language for the apps that have it."""
    await bot.set_my_commands(commands_in(i18n, *DEFAULT_MENU_LANGUAGES))
    for lang in LANGUAGES:
        await bot.set_my_commands(commands_in(i18n, lang), language_code=lang)


async def set_chat_menu(bot: Bot, chat_id: int, lang: str, i18n: I18n) -> None:
    """The menu of one private chat, in the language its user chose. A failure costs
    only the menu's language, never the choice itself: it is logged and ignored."""
    try:
        await bot.set_my_commands(
            commands_in(i18n, lang), scope=BotCommandScopeChat(chat_id=chat_id)
        )
    except TelegramAPIError as exc:
        log.warning("chat menu not set: %s", exc)


async def clear_chat_menu(bot: Bot, chat_id: int) -> None:
    try:
        await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=chat_id))
    except TelegramAPIError as exc:
        log.warning("chat menu not removed: %s", exc)
