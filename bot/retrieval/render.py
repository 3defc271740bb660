"""Turn a decision into the text a person reads, in their language.

Plain text for the terminal, Telegram HTML (escaped) for the bot. An answer is two
messages: the first (title, short answer, three sources, a status line with the date it
is valid as of and whether staff checked it) fits one phone screen; the full answer
follows on "More".
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from bot.i18n import format_day, gettext_for, language_name
from bot.knowledge.entries import FIRST_SOURCES, Entry, KnowledgeBase, Source
from bot.retrieval.results import Result
from bot.retrieval.transliterate import uz_latin_to_cyrillic

_TAG = re.compile(r"<[^>]+>")


def _fmt(fmt: str) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """(escape, bold) for the output format."""
    if fmt == "html":
        return html.escape, lambda s: f"<b>{s}</b>"
    return (lambda s: s), (lambda s: s)


def _source_lines(sources: tuple[Source, ...], lang: str, fmt: str) -> list[str]:
    esc, _bold = _fmt(fmt)
    if fmt == "html":
        return [
            f'• <a href="{html.escape(s.url, quote=True)}">{esc(s.title_in(lang))}</a>'
            for s in sources
        ]
    return [f"• {s.title_in(lang)}: {s.url}" for s in sources]


def status_line(entry: Entry, lang: str) -> str:
    """One line under an answer: the date it is valid as of and whether staff checked it."""
    _ = gettext_for(lang)
    line = _("Valid as of {date}").format(date=format_day(entry.as_of, lang))
    if entry.review is not None and not entry.is_draft:
        return (
            line
            + " · ✅ "
            + _("checked by staff on {date}").format(date=format_day(entry.review.date, lang))
        )
    if entry.is_draft:
        return line + " · ⚠️ " + _("draft, not yet checked by staff")
    return line


def render_answer(entry: Entry, lang: str, fmt: str = "text") -> str:
    """The first message a user reads: the title, the short answer, the three most useful
    sources and one status line. The full answer comes with `render_details` ("More")."""
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
    parts.append(bold(esc(local.title)))
    parts.append(esc((local.short or local.answer).strip()))
    first = entry.sources[:FIRST_SOURCES]
    parts.append("\n".join([_("Sources:"), *_source_lines(first, used, fmt)]))
    parts.append(status_line(entry, lang))
    return "\n\n".join(parts)


def render_details(entry: Entry, lang: str, fmt: str = "text") -> str:
    """The full answer behind "More", with the sources the first message left out."""
    _ = gettext_for(lang)
    esc, bold = _fmt(fmt)
    used, local = entry.local(lang)
    parts = [bold(esc(local.title)), esc(local.answer.strip())]
    rest = entry.sources[FIRST_SOURCES:]
    if rest:
        parts.append("\n".join([_("More sources:"), *_source_lines(rest, used, fmt)]))
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
            "I answer only from the knowledge base that resource centre staff keep about "
            "migration to Russia and Kazakhstan."
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
    # plain text: a source line ("• title: url") keeps its address as written
    return "\n".join(_line_in_cyrillic(line, keep) for line in text.split("\n"))


def _line_in_cyrillic(line: str, keep: tuple[str, ...]) -> str:
    if line.startswith("• ") and "://" in line:
        title, sep, url = line.rpartition(": ")
        if sep and "://" in url:
            return uz_latin_to_cyrillic(title, keep=keep) + sep + url
        return line
    return uz_latin_to_cyrillic(line, keep=keep)


def render(result: Result, kb: KnowledgeBase, contact: str = "", fmt: str = "text") -> str:
    text = _render(result, kb, contact, fmt)
    return in_script(text, result.lang, result.script == "cyrl", fmt, keep=(contact,))


def as_shown(html_text: str) -> str:
    """Telegram HTML as the user sees it: link texts without their addresses, no tags."""
    return html.unescape(_TAG.sub("", html_text))


def render_more(result: Result, fmt: str = "text") -> str | None:
    """The full answer behind "More" for an answer, in the user's script; else None."""
    if result.decision != "answer" or result.entry is None:
        return None
    text = render_details(result.entry, result.lang, fmt)
    return in_script(text, result.lang, result.script == "cyrl", fmt)


def _render(result: Result, kb: KnowledgeBase, contact: str, fmt: str) -> str:
    if result.decision == "smalltalk":
        return render_smalltalk(result.smalltalk or "", result.lang, fmt)
    if result.decision == "answer" and result.entry is not None:
        return render_answer(result.entry, result.lang, fmt)
    if result.decision == "clarify":
        return render_clarify(result, kb, result.lang, fmt)
    return render_abstain(result.lang, contact, fmt)
