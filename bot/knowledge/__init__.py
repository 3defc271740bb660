"""The knowledge base staff curate: entries as typed data (`entries`), the YAML toolkit
both validators share (`yamldoc`), validation of entries (`validation`), the coverage
report (`report`) and the source-link check (`links`).

May import: bot.domain, bot.errors, bot.settings. Nothing about search or Telegram.
"""
