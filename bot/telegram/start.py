"""/start, /help, /language, /privacy and the language picker."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.i18n import language_name
from bot.knowledge.entries import KnowledgeBase
from bot.retrieval.assistant import Assistant
from bot.settings import Settings
from bot.storage import Storage
from bot.telegram import keyboards
from bot.telegram.callbacks import LangCb, PrivacyCb, valid_lang
from bot.telegram.common import StorageDown, stored
from bot.telegram.menu import set_chat_menu

router = Router(name="start")


def base_status(kb: KnowledgeBase) -> str:
    """What /start and /help promise, as it is: how many topics a staff member has
    checked, and that the rest are drafts marked as such."""
    total = len(kb)
    checked = sum(not e.is_draft for e in kb)
    if total and checked == total:
        return _(
            "Staff have checked every answer against its official source; each answer shows "
            "the source and the date it is valid as of."
        )
    return _(
        "Answers are written by staff from official sources. So far staff have checked "
        "{checked} of {total} topics; the others are marked as drafts: check them with the "
        "sources shown under each answer, and the date it is valid as of."
    ).format(checked=checked, total=total)


def intro_text(settings: Settings, kb: KnowledgeBase) -> str:
    import html

    operator = html.escape(settings.operator_name) if settings.operator_name else ""
    run_by = (
        _("This assistant is run by {operator}.").format(operator=operator)
        if operator
        else _("This assistant is run by a migrant resource centre.")
    )
    return "\n\n".join(
        [
            "👋 <b>"
            + _("Hello! I answer questions about migration to Russia and Kazakhstan.")
            + "</b>",
            base_status(kb) + " " + _("When I am not sure, I say so and suggest whom to ask."),
            _(
                "I am not a lawyer and do not give legal advice about your personal case. "
                "I never ask for your name, passport number or address."
            ),
            run_by,
            _("Write your question in your own words, or browse the topics. Choose your language:"),
            _("How your data is handled: /privacy"),
        ]
    )


def help_text(kb: KnowledgeBase) -> str:
    return "\n".join(
        [
            "<b>" + _("How to use this assistant") + "</b>",
            "",
            _(
                "Type a question in Russian, Kazakh, Uzbek, Kyrgyz, Tajik or English, for "
                "example: how do I pay for the patent?"
            ),
            _("Under each answer, tell me with 👍 or 👎 whether it helped."),
            "",
            base_status(kb),
            "",
            "/topics — " + _("browse all topics by country"),
            "/deadlines — " + _("count your deadlines and set reminders"),
            "/human — " + _("write to a person (a consultant)"),
            "/language — " + _("change the interface language"),
            "/privacy — " + _("what is stored about you"),
            "/forget — " + _("delete everything stored about you"),
            "/help — " + _("this message"),
        ]
    )


def privacy_text(settings: Settings) -> str:
    return "\n\n".join(
        [
            "🔒 <b>" + _("Privacy notice") + "</b>",
            _(
                "I serve everyone, whatever their migration status. I never ask for your "
                "name, passport number, address or location."
            ),
            _(
                "What is stored: your interface language, under a coded key instead of your "
                "Telegram id; anonymous counts of questions by topic; your 👍/👎 votes; "
                "reminders you ask for (only the chat to send them to and the dates)."
            ),
            _(
                "The text of your questions is not stored, except questions I could not "
                "answer or that got a 👎: these are kept without numbers, phone numbers, "
                "e-mail addresses or links, so that staff can add missing answers, and are "
                "deleted after {days} days."
            ).format(days=settings.gaps_retention_days)
            + " "
            + _(
                "A message being answered is kept only until the answer is sent, so that "
                "a restart of the bot does not lose it."
            ),
            _(
                "If you write to a consultant (/human), the case is kept: your messages and "
                "the replies, without phone numbers, e-mail addresses or document numbers, "
                "and the chat to send replies to; the consultant does not see your name or "
                "Telegram account. Cases are deleted {days} days after their last message."
            ).format(days=settings.case_retention_days),
            _("/forget deletes everything stored about you at any time."),
        ]
    )


@router.message(CommandStart())
async def cmd_start(message: Message, settings: Settings, assistant: Assistant) -> None:
    text = intro_text(settings, assistant.version.kb)
    await message.answer(text, reply_markup=keyboards.start())


@router.message(Command("help"))
async def cmd_help(message: Message, assistant: Assistant, settings: Settings, i18n: I18n) -> None:
    markup = None
    if settings.handoff_enabled and message.chat.type == "private":
        markup = InlineKeyboardMarkup(
            inline_keyboard=[[keyboards.ask_person_button(i18n.current_locale)]]
        )
    await message.answer(help_text(assistant.version.kb), reply_markup=markup)


@router.message(Command("language"))
async def cmd_language(message: Message) -> None:
    await message.answer(_("Choose your language:"), reply_markup=keyboards.languages())


@router.message(Command("privacy"))
async def cmd_privacy(message: Message, settings: Settings) -> None:
    await message.answer(privacy_text(settings))


@router.callback_query(PrivacyCb.filter())
async def on_privacy(query: CallbackQuery, settings: Settings) -> None:
    await query.answer()
    if query.message is not None:
        await query.message.answer(privacy_text(settings))


@router.callback_query(LangCb.filter(F.code.func(valid_lang)))
async def on_language(
    query: CallbackQuery,
    callback_data: LangCb,
    bot: Bot,
    storage: Storage,
    i18n: I18n,
    user_key: str = "",
) -> None:
    code = callback_data.code
    try:
        await stored(storage.set_language(user_key, code), "set_language")
    except StorageDown:
        await query.answer(
            _("Sorry, I cannot save your choice right now. Please try again later."),
            show_alert=True,
        )
        return
    if isinstance(query.message, Message) and query.message.chat.type == "private":
        await set_chat_menu(bot, query.message.chat.id, code, i18n)
    with i18n.use_locale(code):
        name = language_name(code)
        text = "✅ " + _("Language: {language}").format(language=name[:1].upper() + name[1:])
        await query.answer(text)
        if query.message is not None:
            await query.message.answer(
                text + "\n\n" + _("Write your question in your own words, or browse the topics."),
                reply_markup=keyboards.start(include_languages=False),
            )
