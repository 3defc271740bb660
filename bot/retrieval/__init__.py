"""Question in, decision out: text handling (`normalize`, `transliterate`, `language`,
`countries`, `queries`), the model (`embed`), versioned FAISS indexes (`index`), the
lexical signal (`lexical`), ranking and the decision (`ranking`), the assistant that
serves one index version at a time (`assistant`), light results (`results`), replies in
the user's language (`render`) and quality measurement (`evaluate`).

May import: bot.domain, bot.errors, bot.settings, bot.i18n, bot.knowledge.
"""
