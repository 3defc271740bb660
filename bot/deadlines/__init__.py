"""Deadline tools: rules as data (`rules`, read and validated by `rulebook`), the
calculators (`calculators`) with structured caveats (`caveats`), dates and trips typed
the way people type them (`dates`), and the reminder scheduler (`reminders`).

May import: bot.domain, bot.errors, bot.settings, bot.i18n, bot.knowledge, bot.storage.
"""
