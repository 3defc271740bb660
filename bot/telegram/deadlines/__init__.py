"""/deadlines: registration deadline, stay-limit counter and patent payment date, with
buttons and typed dates: the conversation (`flow`), what it says (`views`) and its
buttons (`keyboards`). Taking, listing and cancelling reminders is its own router,
`bot.telegram.reminders`.
"""

from bot.telegram.deadlines.flow import router

__all__ = ["router"]
