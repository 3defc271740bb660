"""Inline keyboards. Button labels go through gettext in the current locale; entry
titles come from the knowledge base in the reply's language."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.domain import LANGUAGES
from bot.i18n import language_name
from bot.knowledge.entries import Entry, KnowledgeBase
from bot.telegram.callbacks import (
    TOPIC_COUNTRIES,
    EntryCb,
    ForgetCb,
    HumanCb,
    LangCb,
    MoreCb,
    PrivacyCb,
    TopicsCb,
    VoteCb,
    WayOutCb,
)

TOPICS_PER_PAGE = 6
MAX_LABEL = 60  # characters on a button before it is shortened


def _label(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1].rstrip() + "…"


def languages() -> InlineKeyboardMarkup:
    """Each language in its own name ("Русский", "Oʻzbek"...), two per row."""
    builder = InlineKeyboardBuilder()
    for code in LANGUAGES:
        name = language_name(code)
        builder.button(text=name[:1].upper() + name[1:], callback_data=LangCb(code=code))
    builder.adjust(2)
    return builder.as_markup()


def start(include_languages: bool = True) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    if include_languages:
        builder.attach(InlineKeyboardBuilder.from_markup(languages()))
    builder.row(
        InlineKeyboardButton(text="📚 " + _("Browse topics"), callback_data=TopicsCb().pack()),
        InlineKeyboardButton(text="🔒 " + _("Privacy"), callback_data=PrivacyCb().pack()),
    )
    return builder.as_markup()


def feedback(entry_id: str, lang: str, more: bool = False) -> InlineKeyboardMarkup:
    """👍/👎 under an answer; above them "More" while the full answer is not shown yet."""
    builder = InlineKeyboardBuilder()
    if more:
        builder.row(
            InlineKeyboardButton(
                text="📖 " + _("More"), callback_data=MoreCb(id=entry_id, lang=lang).pack()
            )
        )
    builder.row(
        InlineKeyboardButton(
            text="👍 " + _("Helpful"), callback_data=VoteCb(id=entry_id, lang=lang, up=1).pack()
        ),
        InlineKeyboardButton(
            text="👎 " + _("Not helpful"),
            callback_data=VoteCb(id=entry_id, lang=lang, up=0).pack(),
        ),
    )
    return builder.as_markup()


def entries(
    items: list[Entry],
    lang: str,
    via: str,
    with_browse: bool = False,
    contacts: list[Entry] | None = None,
    none_of_these: bool = False,
    ask_person: bool = False,
) -> InlineKeyboardMarkup:
    """One button per entry (its title in `lang`), one per row; first the entries that
    say whom to contact (☎️), last "None of these", "Ask a person" and "All topics"
    when asked for."""
    builder = InlineKeyboardBuilder()
    for entry in contacts or []:
        builder.button(
            text=_label("☎️ " + entry.local(lang)[1].title),
            callback_data=EntryCb(id=entry.id, lang=lang, via="a"),
        )
    for entry in items:
        builder.button(
            text=_label(entry.local(lang)[1].title),
            callback_data=EntryCb(id=entry.id, lang=lang, via=via),
        )
    builder.adjust(1)
    if none_of_these:
        builder.row(
            InlineKeyboardButton(
                text="🤷 " + _("None of these"),
                callback_data=WayOutCb(action="none", lang=lang).pack(),
            )
        )
    if ask_person:
        builder.row(ask_person_button(lang))
    if with_browse:
        builder.row(
            InlineKeyboardButton(text="📚 " + _("All topics"), callback_data=TopicsCb().pack())
        )
    return builder.as_markup()


def ask_person_button(lang: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text="💬 " + _("Ask a person"), callback_data=HumanCb(action="ask", lang=lang).pack()
    )


def _human(text: str, action: str, lang: str, case: int = 0, v: int = 0) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=HumanCb(action=action, lang=lang, case=case, v=v).pack()
    )


def handoff_consent(lang: str) -> InlineKeyboardMarkup:
    """Under the consent message: go ahead (the label begins with ✅) or cancel."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_human("✅ " + _("Yes, write to a consultant"), "go", lang)],
            [_human("✖️ " + _("Cancel"), "cancel", lang)],
        ]
    )


def handoff_question(lang: str, offer_last: bool) -> InlineKeyboardMarkup:
    """While the user is to type the question: send the one just asked, or cancel."""
    rows = []
    if offer_last:
        rows.append([_human("📨 " + _("Send the question I just asked"), "send", lang)])
    rows.append([_human("✖️ " + _("Cancel"), "cancel", lang)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def handoff_open(lang: str, case: int, relaying: bool = True) -> InlineKeyboardMarkup:
    """Under the messages of an open case: back to the assistant (or write to the
    consultant again), and close the case."""
    first = (
        _human("↩️ " + _("Back to the assistant"), "back", lang, case)
        if relaying
        else _human("✍️ " + _("Write to the consultant"), "resume", lang, case)
    )
    return InlineKeyboardMarkup(
        inline_keyboard=[[first], [_human("✅ " + _("Close the case"), "close", lang, case)]]
    )


def handoff_rate(lang: str, case: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _human("👍 " + _("Helpful"), "rate", lang, case, 1),
                _human("👎 " + _("Not helpful"), "rate", lang, case, 0),
            ]
        ]
    )


def countries(kb: KnowledgeBase) -> InlineKeyboardMarkup:
    """The countries the knowledge base has entries for."""
    names = {
        "ru": "🇷🇺 " + _("Russia"),
        "kz": "🇰🇿 " + _("Kazakhstan"),
        "any": _("Both"),
        "uz": "🇺🇿 " + _("Uzbekistan"),
        "tj": "🇹🇯 " + _("Tajikistan"),
        "kg": "🇰🇬 " + _("Kyrgyzstan"),
    }
    present = {e.country for e in kb}
    builder = InlineKeyboardBuilder()
    for code in TOPIC_COUNTRIES:
        if code in present:
            builder.button(text=names[code], callback_data=TopicsCb(country=code, page=0))
    builder.adjust(2)
    return builder.as_markup()


def topics_page(
    kb: KnowledgeBase, country: str, page: int, lang: str, per_page: int | None = None
) -> tuple[InlineKeyboardMarkup, int, int]:
    """A page of the country's topics (alphabetical by title in `lang`), with
    previous/next and back buttons. Returns (keyboard, page shown, number of pages)."""
    items = sorted(
        (e for e in kb if e.country == country), key=lambda e: e.local(lang)[1].title.lower()
    )
    per_page = per_page or TOPICS_PER_PAGE
    pages = max(1, -(-len(items) // per_page))
    page = min(max(page, 0), pages - 1)
    builder = InlineKeyboardBuilder()
    for entry in items[page * per_page : (page + 1) * per_page]:
        builder.row(
            InlineKeyboardButton(
                text=_label(entry.local(lang)[1].title),
                callback_data=EntryCb(id=entry.id, lang=lang, via="t").pack(),
            )
        )
    nav = []
    if page > 0:
        nav.append(
            InlineKeyboardButton(
                text="◀️", callback_data=TopicsCb(country=country, page=page - 1).pack()
            )
        )
    if page < pages - 1:
        nav.append(
            InlineKeyboardButton(
                text="▶️", callback_data=TopicsCb(country=country, page=page + 1).pack()
            )
        )
    if nav:
        builder.row(*nav)
    builder.row(InlineKeyboardButton(text="⬅️ " + _("Countries"), callback_data=TopicsCb().pack()))
    return builder.as_markup(), page, pages


def forget_confirm() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text="🗑 " + _("Yes, delete my data"), callback_data=ForgetCb(ok=1))
    builder.button(text=_("Cancel"), callback_data=ForgetCb(ok=0))
    builder.adjust(1)
    return builder.as_markup()
