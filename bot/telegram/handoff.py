"""A route to a person, the user's side: "💬 Ask a person" (on refusals, "None of
these", after 👎, in /help) and /human; consent first, then the question, then every
further message goes to the consultant until the user goes back to the assistant or
closes the case; the consultant's replies arrive as "Reply from the consultant of …".

Whether a user's messages go to the consultant is kept in the database (the case's
`relaying` flag), not in conversation state, so a restart or another webhook worker
changes nothing. The user's Telegram id, name and username never reach staff.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import logging
import time
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import BaseFilter, Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.privacy import mask_personal
from bot.retrieval.assistant import Assistant
from bot.settings import Settings
from bot.storage import Case, Storage, StorageError
from bot.telegram import keyboards
from bot.telegram.callbacks import HumanCb, valid_human
from bot.telegram.common import StorageDown, contacts, send_html, stored, uzbek_in_cyrillic
from bot.telegram.desk import StaffDesk, StaffUnreachable

log = logging.getLogger(__name__)
router = Router(name="handoff")
# The question just asked can be sent to the consultant with one tap for this long.
LAST_QUESTION_SECONDS = 900
BEST_TOPICS = 3  # the assistant's closest topics shown to staff with a new case


async def _drop_buttons(query: CallbackQuery) -> None:
    """Remove the buttons just used (they would do the same again); a message too old
    to edit keeps them, and a second tap is handled as out of date."""
    if isinstance(query.message, Message):
        with contextlib.suppress(TelegramBadRequest):
            await query.message.edit_reply_markup(reply_markup=None)


class Handoff(StatesGroup):
    writing = State()  # consent given; the next message is the question


def remember_last_question(data: dict[str, Any], question: str) -> dict[str, Any]:
    """FSM data to keep the question just asked (masked), for "send it to a person"."""
    return {**data, "last_question": {"text": mask_personal(question)[:2000], "at": time.time()}}


async def _last_question(state: FSMContext) -> str | None:
    last = (await state.get_data()).get("last_question") or {}
    if last.get("text") and time.time() - float(last.get("at", 0)) <= LAST_QUESTION_SECONDS:
        return str(last["text"])
    return None


def _contact(settings: Settings) -> str:
    if settings.help_contact:
        return _("To talk to a person: {contact}").format(
            contact=html.escape(settings.help_contact)
        )
    return _("Please ask the staff of the resource centre, or your consulate.")


def _operator(settings: Settings) -> str:
    return html.escape(settings.operator_name) if settings.operator_name else ""


def consent_text(settings: Settings, desk: StaffDesk, lang: str) -> str:
    operator = _operator(settings)
    who = (
        _("Your question will be read by a consultant of {operator}.").format(operator=operator)
        if operator
        else _("Your question will be read by a consultant of the resource centre.")
    )
    return "\n\n".join(
        [
            "💬 <b>" + _("Ask a person") + "</b>",
            who + " " + desk.expectation(lang),
            "⚠️ "
            + _(
                "Do not send passport numbers, addresses or photos of documents: describe "
                "your situation in words. The consultant does not see your name or your "
                "Telegram account."
            ),
        ]
    )


async def _reply(
    bot: Bot,
    chat_id: int,
    text: str,
    state: FSMContext,
    lang: str,
    markup=None,
    settings: Settings | None = None,
) -> Message:
    """Send in the user's script; configured names (operator, contact) stay as written."""
    cyrillic = await uzbek_in_cyrillic(state, lang)
    keep = tuple(filter(None, (settings.operator_name, settings.help_contact))) if settings else ()
    return await send_html(bot, chat_id, text, markup, cyrillic, keep=keep)


async def offer(
    bot: Bot,
    chat_id: int,
    lang: str,
    settings: Settings,
    desk: StaffDesk,
    storage: Storage,
    state: FSMContext,
    user_key: str,
) -> None:
    """/human and "Ask a person": the consent message, or the open case's buttons."""
    if not desk.enabled:
        text = _("Writing to a person is not possible in this bot yet.") + " " + _contact(settings)
        await _reply(
            bot, chat_id, text, state, lang, _way_on(lang, settings, desk), settings=settings
        )
        return
    try:
        case = await stored(storage.open_case_of(user_key), "open_case_of")
    except StorageDown:
        await _reply_unavailable(bot, chat_id, state, lang, settings, desk)
        return
    if case is not None:
        text = _("Your case #{number} with the consultant is open.").format(number=case.id)
        if not case.relaying:
            text += " " + _("Your messages go to the assistant now.")
        await _reply(
            bot,
            chat_id,
            text,
            state,
            lang,
            keyboards.handoff_open(lang, case.id, case.relaying),
            settings=settings,
        )
        return
    await _reply(
        bot,
        chat_id,
        consent_text(settings, desk, lang),
        state,
        lang,
        keyboards.handoff_consent(lang),
        settings=settings,
    )


async def _reply_unavailable(
    bot: Bot, chat_id: int, state: FSMContext, lang: str, settings: Settings, desk: StaffDesk
) -> None:
    """No person now: say so, whom to contact instead, and the topics (a way on)."""
    markup = _way_on(lang, settings, desk)
    await _reply(bot, chat_id, _unavailable(settings), state, lang, markup, settings=settings)


def _way_on(lang: str, settings: Settings, desk: StaffDesk) -> InlineKeyboardMarkup:
    """Whom else to ask (☎️ topics, unless HELP_CONTACT names someone) and all topics."""
    helpers = contacts(desk.assistant.version.kb, lang, settings) if desk.assistant else []
    return keyboards.entries([], lang, via="a", with_browse=True, contacts=helpers)


def _unavailable(settings: Settings) -> str:
    return (
        _("Sorry, a person cannot be reached through the bot right now.") + " " + _contact(settings)
    )


@router.message(Command("human"))
async def cmd_human(
    message: Message,
    bot: Bot,
    settings: Settings,
    desk: StaffDesk,
    storage: Storage,
    state: FSMContext,
    i18n: I18n,
    user_key: str = "",
) -> None:
    if message.chat.type != "private":
        await message.answer(_("Please write to me in a private chat to ask a person."))
        return
    await offer(bot, message.chat.id, i18n.current_locale, settings, desk, storage, state, user_key)


@router.callback_query(HumanCb.filter())
async def on_human(
    query: CallbackQuery,
    callback_data: HumanCb,
    bot: Bot,
    assistant: Assistant,
    settings: Settings,
    desk: StaffDesk,
    storage: Storage,
    state: FSMContext,
    i18n: I18n,
    user_key: str = "",
) -> None:
    if (
        not valid_human(callback_data)
        or not isinstance(query.message, Message)
        or query.message.chat.type != "private"
    ):
        await query.answer(_("This button is out of date."))
        return
    await query.answer()
    lang, action, chat_id = callback_data.lang, callback_data.action, query.message.chat.id
    with i18n.use_locale(lang):
        if not desk.enabled and action in ("ask", "go", "send"):  # STAFF_CHAT_ID removed
            await state.set_state(None)
            await offer(bot, chat_id, lang, settings, desk, storage, state, user_key)
            return
        if action == "ask":
            await offer(bot, chat_id, lang, settings, desk, storage, state, user_key)
        elif action == "cancel":
            await state.set_state(None)
            await _drop_buttons(query)
            await _reply(
                bot,
                chat_id,
                _("Cancelled. Write your question to the assistant."),
                state,
                lang,
                settings=settings,
            )
        elif action == "go":
            await _drop_buttons(query)
            await state.set_state(Handoff.writing)
            await state.update_data(handoff_lang=lang)
            last = await _last_question(state)
            text = _("Write your question in one message; I will pass it to the consultant.")
            if last:
                text += (
                    "\n\n"
                    + _("Or send the question you just asked:")
                    + "\n«"
                    + html.escape(last)
                    + "»"
                )
            await _reply(
                bot,
                chat_id,
                text,
                state,
                lang,
                keyboards.handoff_question(lang, bool(last)),
                settings=settings,
            )
        elif action == "send":
            last = await _last_question(state)
            await _drop_buttons(query)
            if not last:
                await _reply(
                    bot,
                    chat_id,
                    _("Please write your question in one message."),
                    state,
                    lang,
                    settings=settings,
                )
                return
            await open_case(
                bot, chat_id, last, query.message.message_id, lang, assistant, settings, desk,
                storage, state, i18n, user_key,
            )  # fmt: skip
        else:
            try:
                await _case_action(
                    query, callback_data, bot, settings, desk, storage, state, i18n, user_key
                )
            except StorageDown:
                await _reply_unavailable(bot, chat_id, state, lang, settings, desk)


async def _case_action(
    query: CallbackQuery,
    data: HumanCb,
    bot: Bot,
    settings: Settings,
    desk: StaffDesk,
    storage: Storage,
    state: FSMContext,
    i18n: I18n,
    user_key: str,
) -> None:
    assert isinstance(query.message, Message)
    lang, chat_id = data.lang, query.message.chat.id
    try:
        case = await stored(storage.case_of(user_key, data.case), "case_of")
    except StorageDown:
        await _reply_unavailable(bot, chat_id, state, lang, settings, desk)
        return
    if case is None:  # not this user's case, or deleted by /forget or retention
        await _reply(bot, chat_id, _("This case no longer exists."), state, lang, settings=settings)
        return
    if data.action == "rate":
        if await stored(storage.rate_case(user_key, case.id, data.v == 1), "rate_case"):
            await _drop_buttons(query)
            await _reply(
                bot, chat_id, _("Thank you for your rating!"), state, lang, settings=settings
            )
            with i18n.use_locale(settings.staff_language):
                mark = "👍" if data.v == 1 else "👎"
                note = _("Case #{number}: the user rated the help {mark}").format(
                    number=case.id, mark=mark
                )
            await desk.note(bot, case, note)
        return
    if case.status != "open":
        await _drop_buttons(query)
        await _reply(
            bot,
            chat_id,
            _("Case #{number} is already closed.").format(number=case.id),
            state,
            lang,
            settings=settings,
        )
        return
    if data.action == "close":
        closed = await stored(storage.close_case(case.id, "user"), "close_case")
        await _drop_buttons(query)
        if closed is None:
            return  # closed by someone else a moment ago; they told the user
        await _reply(
            bot,
            chat_id,
            _("Case #{number} is closed. Did the consultant help you?").format(number=case.id),
            state,
            lang,
            keyboards.handoff_rate(lang, case.id),
            settings=settings,
        )
        with i18n.use_locale(settings.staff_language):
            note = _("Case #{number} was closed by the user.").format(number=case.id)
        await desk.note(bot, case, note)
    elif data.action in ("back", "resume"):
        relaying = data.action == "resume"
        await stored(storage.set_relaying(case.id, relaying), "set_relaying")
        await _drop_buttons(query)
        if relaying:
            text = _("Your messages go to the consultant again (case #{number}).").format(
                number=case.id
            )
        else:
            text = _(
                "Your messages go to the assistant again. Case #{number} stays open: the "
                "consultant's reply will come here. To write to the consultant again: /human"
            ).format(number=case.id)
        await _reply(
            bot,
            chat_id,
            text,
            state,
            lang,
            keyboards.handoff_open(lang, case.id, relaying),
            settings=settings,
        )


async def open_case(
    bot: Bot,
    chat_id: int,
    question: str,
    source: int,
    lang: str,
    assistant: Assistant,
    settings: Settings,
    desk: StaffDesk,
    storage: Storage,
    state: FSMContext,
    i18n: I18n,
    user_key: str,
) -> None:
    """Open the case, post it to the staff chat, tell the user what happens next."""
    await state.set_state(None)
    cyrillic = await uzbek_in_cyrillic(state, lang)
    try:
        day_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        opened = await stored(storage.cases_opened_since(user_key, day_ago), "cases_opened")
        if opened >= settings.handoff_cases_per_day:
            await _reply(
                bot,
                chat_id,
                _(
                    "You have already written to a consultant {count} times today. Please "
                    "try again tomorrow, or use your open case: /human"
                ).format(count=opened),
                state,
                lang,
                settings=settings,
            )
            return
        case, created = await stored(
            storage.open_case(user_key, chat_id, lang, cyrillic, question, source), "open_case"
        )
    except StorageDown:
        await _reply_unavailable(bot, chat_id, state, lang, settings, desk)
        return
    if not created:  # an open case already: this is one more message for it
        await relay_user_message(
            bot, chat_id, question, source, case, settings, desk, storage, state, i18n
        )
        return
    result = await assistant.aask(question, hint=lang)
    kb = result.kb or assistant.version.kb
    topics = [
        f"{i}. {c.entry_id} — {kb[c.entry_id].local(settings.staff_language)[1].title}"
        for i, c in enumerate(result.ranking[:BEST_TOPICS], 1)
        if c.entry_id in kb
    ]
    try:
        await desk.post_case(bot, storage, i18n, case, topics)
    except (StaffUnreachable, StorageError) as exc:
        log.info("case not posted (%s); withdrawn", type(exc).__name__)
        try:
            await storage.drop_case(case.id)
        except Exception:
            log.warning("could not drop case %s", case.id)
        await _reply_unavailable(bot, chat_id, state, lang, settings, desk)
        return
    operator = _operator(settings)
    sent = (
        _("📨 Sent to a consultant of {operator} (case #{number}).").format(
            operator=operator, number=case.id
        )
        if operator
        else _("📨 Sent to a consultant (case #{number}).").format(number=case.id)
    )
    text = "\n\n".join(
        [
            sent + " " + desk.expectation(lang),
            _(
                "Your next messages in this chat also go to the consultant. The reply will "
                "come here."
            ),
        ]
    )
    await _reply(
        bot, chat_id, text, state, lang, keyboards.handoff_open(lang, case.id), settings=settings
    )


class OpenCase(BaseFilter):
    """A private message while the user's case is open and relaying: passes `case`.
    Asks the database only when handoff is on; a database problem lets the message
    through to the assistant (answering beats waiting)."""

    async def __call__(
        self, message: Message, settings: Settings, storage: Storage, user_key: str = ""
    ) -> bool | dict[str, Any]:
        if not settings.handoff_enabled or message.chat.type != "private" or not user_key:
            return False
        if message.text and message.text.startswith("/"):
            return False
        try:
            case = await stored(
                storage.open_case_of(user_key), "open_case_of", settings.storage_timeout, storage
            )
        except StorageDown:
            return False
        if case is None or not case.relaying:
            return False
        return {"case": case}


@router.message(StateFilter(Handoff.writing), F.text, ~F.text.startswith("/"))
async def on_case_question(
    message: Message,
    bot: Bot,
    assistant: Assistant,
    settings: Settings,
    desk: StaffDesk,
    storage: Storage,
    state: FSMContext,
    i18n: I18n,
    user_key: str = "",
    burst: str | None = None,
) -> None:
    lang = (await state.get_data()).get("handoff_lang") or i18n.current_locale
    text = burst or message.text or ""
    with i18n.use_locale(lang):
        await open_case(
            bot, message.chat.id, text, message.message_id, lang, assistant, settings, desk,
            storage, state, i18n, user_key,
        )  # fmt: skip


@router.message(OpenCase(), F.text)
async def on_case_message(
    message: Message,
    bot: Bot,
    case: Case,
    settings: Settings,
    desk: StaffDesk,
    storage: Storage,
    state: FSMContext,
    i18n: I18n,
    burst: str | None = None,
) -> None:
    with i18n.use_locale(case.lang):
        await relay_user_message(
            bot, message.chat.id, burst or message.text or "", message.message_id, case,
            settings, desk, storage, state, i18n,
        )  # fmt: skip


@router.message(OpenCase())
async def on_case_not_text(message: Message, case: Case, state: FSMContext, i18n: I18n) -> None:
    with i18n.use_locale(case.lang):
        await message.answer(
            _(
                "Only text goes to the consultant. Please describe it in words, and do not "
                "send photos of documents."
            )
        )


async def relay_user_message(
    bot: Bot,
    chat_id: int,
    text: str,
    source: int,
    case: Case,
    settings: Settings,
    desk: StaffDesk,
    storage: Storage,
    state: FSMContext,
    i18n: I18n,
) -> None:
    lang = case.lang
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=settings.case_message_period)
    try:
        recent = await stored(storage.case_messages_since(case.id, "user", since), "case_rate")
        if recent >= settings.case_message_rate:
            await _reply(
                bot,
                chat_id,
                _("Too many messages in a short time. Please wait a few minutes and write again."),
                state,
                lang,
                settings=settings,
            )
            return
        fresh = await stored(
            storage.add_case_message(case.id, "user", chat_id, source, text), "case_message"
        )
    except StorageDown:
        await _reply_unavailable(bot, chat_id, state, lang, settings, desk)
        return
    if not fresh:
        return  # the same Telegram message delivered again
    try:
        posted = await desk.post_user_message(bot, i18n, case, mask_personal(text))
    except StaffUnreachable:
        await _reply_unavailable(bot, chat_id, state, lang, settings, desk)
        return
    await storage.link_staff_message(case.id, posted.message_id)
    await _reply(
        bot,
        chat_id,
        _("📨 Sent to the consultant (case #{number}).").format(number=case.id),
        state,
        lang,
        settings=settings,
    )
