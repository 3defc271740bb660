"""A route to a person: what the core knows about consultant handoff (opening hours,
what a case looks like to staff). The Telegram side lives in bot/telegram/handoff.py
(users) and bot/telegram/casework.py (the staff chat); cases are kept by bot.storage."""
