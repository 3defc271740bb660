"""Turn a decision into the text a person reads, in their language.

Plain text for the terminal, Telegram HTML (escaped) for the bot. Every answer shows
its sources and the date it is valid as of; drafts say that they are unchecked.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from bot.i18n import format_day, gettext_for, language_name
from bot.knowledge.entries import Entry, KnowledgeBase
from bot.retrieval.results import Result
from bot.retrieval.transliterate import uz_latin_to_cyrillic


def _fmt(fmt: str) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """(escape, bold) for the output format."""
    if fmt == "html":
        return html.escape, lambda s: f"<b>{s}</b>"
    return (lambda s: s), (lambda s: s)


def render_answer(entry: Entry, lang: str, fmt: str = "text") -> str:
    _ = gettext_for(lang)
    esc, bold = _fmt(fmt)
    used, local = entry.local(lang)
    parts = []
    if used != lang:
        parts.append(
            _("This answer is not yet available in {language}; here it is in {fallback}.").format(
                language=language_name(lang), fallback=language_name(used)
            )
        )
    if entry.is_draft:
        parts.append(
            "⚠️ "
            + _("Draft: staff have not yet checked this answer. Verify it with the sources below.")
        )
    parts.append(bold(esc(local.title)))
    parts.append(esc(local.answer.strip()))
    sources = [_("Sources:")]
    for source in entry.sources:
        if fmt == "html":
            sources.append(
                f'• <a href="{html.escape(source.url, quote=True)}">{esc(source.title)}</a>'
            )
        else:
            sources.append(f"• {source.title}: {source.url}")
    parts.append("\n".join(sources))
    parts.append(_("Valid as of {date}").format(date=format_day(entry.as_of, lang)))
    return "\n\n".join(parts)


def render_clarify(result: Result, kb: KnowledgeBase, lang: str, fmt: str = "text") -> str:
    _ = gettext_for(lang)
    esc, _bold = _fmt(fmt)
    lines = [_("I am not sure which topic you mean. Is it one of these?")]
    for i, c in enumerate(result.candidates, 1):
        lines.append(f"{i}. {esc(kb[c.entry_id].local(lang)[1].title)}")
    return "\n".join(lines)


def render_abstain(lang: str, contact: str = "", fmt: str = "text") -> str:
    _ = gettext_for(lang)
    esc, _bold = _fmt(fmt)
    lines = [
        _(
            "I do not have a reliable answer to this question, and I would rather not guess. "
            "I answer only from a checked knowledge base about migration to Russia and "
            "Kazakhstan."
        )
    ]
    if contact:
        lines.append(_("To talk to a person: {contact}").format(contact=esc(contact)))
    else:
        lines.append(_("Please ask a consultant of the migrant resource centre or your consulate."))
    return "\n\n".join(lines)


def render_smalltalk(category: str, lang: str, fmt: str = "text") -> str:
    """A short friendly reply to small talk that says what the assistant can do."""
    _ = gettext_for(lang)
    esc, _bold = _fmt(fmt)
    texts = {
        "greeting": _(
            "Hello! I answer questions about stay, registration, work patents and permits, "
            "and entry bans in Russia and Kazakhstan. Write your question in your own words."
        ),
        "thanks": _("You are welcome! If you have another question, just write it."),
        "bye": _("Goodbye, and good luck! Write any time you have a question."),
        "insult": _(
            "I am sorry if I could not help. Try asking in other words, or send /topics to "
            "see all topics."
        ),
        "ok": _("Good. If you have another question, just write it."),
    }
    who = _(
        "I am a program, not a person. I answer from a knowledge base that resource centre "
        "staff keep about stay, registration, work patents and permits, and entry bans in "
        "Russia and Kazakhstan. For a personal case, ask a consultant: send /help."
    )
    return esc(texts.get(category, who))


def in_script(
    text: str, lang: str, cyrillic: bool, fmt: str = "text", keep: tuple[str, ...] = ()
) -> str:
    """`text` as the user reads it: Uzbek in Cyrillic for a user who writes in Cyrillic
    (the knowledge base and the catalogue keep Uzbek in Latin letters)."""
    if not (lang == "uz" and cyrillic):
        return text
    if fmt == "html":  # links (sources) are kept by the converter
        return uz_latin_to_cyrillic(text, html=True, keep=(*keep, *map(html.escape, keep)))
    # plain text: a source line ("• title: url") names a document as it is written
    return "\n".join(
        line if line.startswith("• ") and "://" in line else uz_latin_to_cyrillic(line, keep=keep)
        for line in text.split("\n")
    )


def render(result: Result, kb: KnowledgeBase, contact: str = "", fmt: str = "text") -> str:
    text = _render(result, kb, contact, fmt)
    return in_script(text, result.lang, result.script == "cyrl", fmt, keep=(contact,))


def _render(result: Result, kb: KnowledgeBase, contact: str, fmt: str) -> str:
    if result.decision == "smalltalk":
        return render_smalltalk(result.smalltalk or "", result.lang, fmt)
    if result.decision == "answer" and result.entry is not None:
        return render_answer(result.entry, result.lang, fmt)
    if result.decision == "clarify":
        return render_clarify(result, kb, result.lang, fmt)
    return render_abstain(result.lang, contact, fmt)
