"""The live preview: an entry exactly as Telegram will show it, in every language.

The text comes from the same renderer the bot uses (`bot.retrieval.render`, Telegram
HTML), so what staff see is what a migrant reads: the first message (title, short
answer, three sources, the status line) with its buttons, and the full answer behind
"More". Uzbek is shown in both scripts, as the bot answers a question typed in
Cyrillic in Cyrillic. The button labels are the bot's own catalogue texts.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import gettext_for
from bot.knowledge.entries import Entry
from bot.retrieval.render import as_shown, in_script, render_answer, render_details

TELEGRAM_LIMIT = 4096  # characters of one Telegram message


@dataclass(frozen=True)
class Preview:
    lang: str
    label: str  # "uz", "uz (Cyrillic)"
    first: str  # Telegram HTML (already escaped by the renderer)
    more: str
    buttons: tuple[tuple[str, ...], ...]
    first_chars: int  # as the user sees it (tags and addresses left out)
    more_chars: int

    @property
    def too_long(self) -> bool:
        return max(self.first_chars, self.more_chars) > TELEGRAM_LIMIT


def previews(entry: Entry) -> list[Preview]:
    found = []
    for lang in entry.text:
        scripts = (False, True) if lang == "uz" else (False,)
        for cyrillic in scripts:
            first = in_script(render_answer(entry, lang, "html"), lang, cyrillic, "html")
            more = in_script(render_details(entry, lang, "html"), lang, cyrillic, "html")
            _ = gettext_for(lang)
            buttons: tuple[tuple[str, ...], ...] = (
                ("📖 " + _("More"),),
                ("👍 " + _("Helpful"), "👎 " + _("Not helpful")),
            )
            if cyrillic:
                buttons = tuple(tuple(in_script(b, lang, True) for b in row) for row in buttons)
            found.append(
                Preview(
                    lang,
                    f"{lang} (Cyrillic)" if cyrillic else lang,
                    first,
                    more,
                    buttons,
                    len(as_shown(first)),
                    len(as_shown(more)),
                )
            )
    return found
