"""The Telegram layer (aiogram 3): routers per feature, the language middleware, polling
and webhook runners, and a local Bot API stand-in for end-to-end tests.

Only this package imports aiogram; the core (bot.retrieval, bot.deadlines...) stays
Telegram-free.
"""

from bot.telegram.app import build_dispatcher, create_bot, run_bot

__all__ = ["build_dispatcher", "create_bot", "run_bot"]
