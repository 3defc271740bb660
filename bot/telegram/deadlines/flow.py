"""The /deadlines conversation: registration deadline, stay-limit counter and patent
payment date, asked with buttons and typed dates.

The figures come from the core calculators (`bot.deadlines.calculators` over
`knowledge/rules`) and dates and trips are read by `bot.deadlines.dates`; this module
only asks, keeps the state and hands results to `views` (the wording) and `keyboards`
(the buttons), then offers a reminder (taken by `bot.telegram.reminders`). Every result
says it is an estimate to check with the authority, because a wrong date can cost a
person years.

The conversation state (aiogram FSM) holds only what the next step needs: the chosen
calculator, country, citizenship and the pending reminder dates; no names, no documents.
Dates that cannot be right (31.02, an arrival in the future) are refused with a message
and the same question stays open; a date without a year is read by what it is for
(an arrival looks back, a paid-until date looks ahead, and when both are plausible the
user picks); a question typed instead of a date is answered, and the calculation can
then be continued or cancelled. Before counting days of stay it asks whether a document
(patent, contract, permit, study) allows a longer stay, rather than opening with an
overstay that does not apply.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import gettext as _

from bot.deadlines import calculators as calc
from bot.deadlines.dates import (
    AHEAD,
    BACK,
    DateInputError,
    Trip,
    check_trips,
    parse_trip_lines,
    parse_user_dates,
)
from bot.deadlines.rulebook import InvalidRules, RuleSet, load_rules_cached, rules_dir_for
from bot.domain import COMMON_CITIZENSHIPS, STAY_COUNTRIES
from bot.settings import Settings
from bot.telegram import questions
from bot.telegram.callbacks import DeadlineCb
from bot.telegram.deadlines import keyboards, views
from bot.telegram.deadlines.views import lang

log = logging.getLogger(__name__)
router = Router(name="deadlines")


class _AsideContext(BaseMiddleware):
    """Gives the date steps what answering a question typed instead of a date needs:
    the question handler's dependencies, as `aside`."""

    NAMES = ("bot", "assistant", "storage", "settings", "i18n", "metrics", "user_key")

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        data["aside"] = {name: data[name] for name in self.NAMES if name in data}
        return await handler(event, data)


router.message.middleware(_AsideContext())

KINDS = ("registration", "stay", "patent")
REGISTRATION_REMIND_DAYS = 2
STAY_REMIND_DAYS = 7
MAX_PAST_TRIPS = 10
MAX_PAST_DAYS = 2 * 366  # an arrival or entry longer ago than this is surely a typo
MAX_PATENT_DAYS_AHEAD = 366  # a patent is paid for at most 12 months ahead
# Text at a date step that reads as a question rather than a date: a question mark, or
# three words and more without a digit ("а если я через Казахстан заехал").
_QUESTION_MARK = re.compile(r"[?？؟]")
_DIGIT = re.compile(r"\d")


class DeadlineForm(StatesGroup):
    country = State()
    citizenship = State()
    arrival = State()  # registration: the arrival date
    basis = State()  # stay: is there a patent, contract, permit or study?
    entry = State()  # stay: the entry date of the current trip
    trips = State()  # stay: earlier trips, or "none"
    paid_until = State()  # patent: the last paid day


def _today(deadline_today: Callable[[], dt.date] | None) -> dt.date:
    return deadline_today() if deadline_today is not None else dt.date.today()


def _rules(settings: Settings) -> RuleSet:
    return load_rules_cached(rules_dir_for(settings.kb_dir))


def looks_like_question(text: str) -> bool:
    words = [w for w in text.split() if any(ch.isalpha() for ch in w)]
    if not words:
        return False
    return bool(_QUESTION_MARK.search(text)) or (len(words) >= 3 and not _DIGIT.search(text))


async def _data(state: FSMContext) -> dict:
    return (await state.get_data()).get("dl") or {}


async def _ask_current(message: Message, state: FSMContext) -> None:
    """Ask the question of the step the conversation is at (after a pause)."""
    current = await state.get_state()
    data = await _data(state)
    country = data.get("country", "ru")
    if current == DeadlineForm.arrival.state:
        await message.answer(views.ask_arrival(country), reply_markup=keyboards.only_cancel())
    elif current == DeadlineForm.entry.state:
        await message.answer(views.ask_entry(country), reply_markup=keyboards.only_cancel())
    elif current == DeadlineForm.trips.state:
        await message.answer(views.ask_trips(country), reply_markup=keyboards.no_trips_keyboard())
    elif current == DeadlineForm.paid_until.state:
        await message.answer(views.ask_paid_until(), reply_markup=keyboards.only_cancel())
    elif current == DeadlineForm.basis.state:
        await message.answer(views.ask_basis(), reply_markup=keyboards.basis_keyboard())
    else:
        await message.answer(_("This button is out of date. Send /deadlines to begin again."))


# ------------------------------------------------------------------ entry points


@router.message(Command("deadlines"))
async def cmd_deadlines(message: Message, state: FSMContext) -> None:
    await state.set_state(None)
    await state.update_data(dl=None)
    await message.answer(
        "<b>"
        + _("Deadlines")
        + "</b>\n"
        + _(
            "I can estimate your registration deadline, the days of stay you have left, "
            "or the last day to pay your patent, and remind you in time. What do you need?"
        ),
        reply_markup=keyboards.menu_keyboard(),
    )


@router.callback_query(DeadlineCb.filter(F.action == "cancel"))
async def on_cancel(query: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(None)
    await state.update_data(dl=None)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("Cancelled. Send /deadlines to start again."), reply_markup=None
        )


@router.callback_query(DeadlineCb.filter(F.action == "resume"))
async def on_resume(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await _ask_current(query.message, state)


@router.callback_query(DeadlineCb.filter(F.action == "kind"))
async def on_kind(query: CallbackQuery, callback_data: DeadlineCb, state: FSMContext) -> None:
    if callback_data.value not in KINDS or not isinstance(query.message, Message):
        await query.answer(_("This button is out of date. Send /deadlines to begin again."))
        return
    await query.answer()
    kind = callback_data.value
    if kind == "patent":
        await state.update_data(dl={"kind": "patent", "country": "ru"})
        await state.set_state(DeadlineForm.paid_until)
        await _ask_current(query.message, state)
        return
    await state.update_data(dl={"kind": kind})
    await state.set_state(DeadlineForm.country)
    await query.message.answer(
        _("Which country are you in?"), reply_markup=keyboards.countries_keyboard()
    )


@router.callback_query(DeadlineForm.country, DeadlineCb.filter(F.action == "country"))
async def on_country(query: CallbackQuery, callback_data: DeadlineCb, state: FSMContext) -> None:
    data = await _data(state)
    if callback_data.value not in STAY_COUNTRIES or query.message is None or not data:
        await query.answer(_("This button is out of date. Send /deadlines to begin again."))
        return
    await query.answer()
    data["country"] = callback_data.value
    await state.update_data(dl=data)
    await state.set_state(DeadlineForm.citizenship)
    await query.message.answer(
        _("Your citizenship?"), reply_markup=keyboards.citizenship_keyboard(callback_data.value)
    )


@router.callback_query(DeadlineForm.citizenship, DeadlineCb.filter(F.action == "cit"))
async def on_citizenship(
    query: CallbackQuery, callback_data: DeadlineCb, state: FSMContext
) -> None:
    data = await _data(state)
    known = callback_data.value in COMMON_CITIZENSHIPS
    if not known or not isinstance(query.message, Message) or "country" not in data:
        await query.answer(_("This button is out of date. Send /deadlines to begin again."))
        return
    await query.answer()
    data["citizenship"] = callback_data.value
    await state.update_data(dl=data)
    if data["kind"] == "registration":
        await state.set_state(DeadlineForm.arrival)
    else:  # stay: first, whether the day limit is what decides at all
        await state.set_state(DeadlineForm.basis)
    await _ask_current(query.message, state)


@router.callback_query(DeadlineForm.basis, DeadlineCb.filter(F.action == "basis"))
async def on_basis(query: CallbackQuery, callback_data: DeadlineCb, state: FSMContext) -> None:
    if callback_data.value not in ("yes", "no", "count") or not isinstance(query.message, Message):
        await query.answer(_("This button is out of date. Send /deadlines to begin again."))
        return
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    if callback_data.value == "yes":
        country = (await _data(state)).get("country", "ru")
        await query.message.answer(
            views.basis_explained(country), reply_markup=keyboards.count_anyway_keyboard()
        )
        return
    await state.set_state(DeadlineForm.entry)
    await _ask_current(query.message, state)


# ------------------------------------------------------------------ typed dates


async def _aside(message: Message, state: FSMContext, context: dict) -> None:
    """A question typed where a date was asked: answer it as a question, keep the
    calculation where it was, and offer to continue it or cancel."""
    await questions.on_question(message, question=message.text or "", state=state, **context)
    await message.answer(views.aside_prompt(), reply_markup=keyboards.resume_keyboard())


async def _read_date(
    message: Message,
    state: FSMContext,
    today: dt.date,
    context: dict,
    *,
    look: str = BACK,
) -> dt.date | None:
    """The date in the message, or None after telling the user what is wrong (or
    answering the question they typed instead, or asking which year they mean)."""
    text = message.text or ""
    try:
        dates = parse_user_dates(text, today, lang(), look)
    except DateInputError as exc:
        if looks_like_question(text):
            await _aside(message, state, context)
            return None
        await message.answer(views.date_error(exc), reply_markup=keyboards.only_cancel())
        return None
    if len(dates) > 1:
        data = await _data(state)
        data["choices"] = [d.isoformat() for d in dates]
        await state.update_data(dl=data)
        await message.answer(
            views.date_error(DateInputError("which_year", text)),
            reply_markup=keyboards.which_date_keyboard(dates),
        )
        return None
    day = dates[0]
    past_only = look == BACK
    if past_only and day > today:
        await message.answer(
            _("{date} is in the future. Please send the date it actually happened.").format(
                date=views.day(day)
            ),
            reply_markup=keyboards.only_cancel(),
        )
        return None
    if past_only and (today - day).days > MAX_PAST_DAYS:
        await message.answer(
            _("{date} is more than two years ago. Please check the year.").format(
                date=views.day(day)
            ),
            reply_markup=keyboards.only_cancel(),
        )
        return None
    return day


async def _offer(
    message: Message,
    state: FSMContext,
    text: str,
    kind: str,
    due: dt.date | None,
    remind_on: dt.date | None,
    today: dt.date,
) -> None:
    """Show the result; keep a pending reminder in the conversation when one makes sense."""
    await state.set_state(None)
    if due is None or remind_on is None or due < today:
        await state.update_data(dl=None)
        await message.answer(text)
        return
    remind_on = max(remind_on, today)
    await state.update_data(
        dl={"kind": kind, "due": due.isoformat(), "remind_on": remind_on.isoformat()}
    )
    await message.answer(text, reply_markup=keyboards.remind_keyboard(remind_on))


async def _calc_failed(
    message: Message, state: FSMContext, exc: Exception, country: str = "ru"
) -> None:
    await state.set_state(None)
    await state.update_data(dl=None)
    if isinstance(exc, calc.CalcError) and exc.code == "no_rule":
        await message.answer(
            _(
                "I have no checked rule for this case yet. Please ask {who}, or a migrant "
                "resource centre."
            ).format(who=views.authority(country))
        )
        return
    log.warning("deadline calculation failed: %s", exc)
    await message.answer(
        _("Sorry, I cannot calculate this date now. Please ask {who}.").format(
            who=views.authority(country)
        )
    )


@router.message(DeadlineForm.arrival, F.text)
async def on_arrival(
    message: Message,
    state: FSMContext,
    settings: Settings,
    aside: dict,
    deadline_today: Callable[[], dt.date] | None = None,
) -> None:
    today = _today(deadline_today)
    arrived = await _read_date(message, state, today, aside)
    if arrived is None:
        return
    data = await _data(state)
    try:
        result = calc.registration_deadline(
            _rules(settings), data["country"], data["citizenship"], arrived
        )
    except (calc.CalcError, InvalidRules, KeyError) as exc:
        await _calc_failed(message, state, exc, data.get("country", "ru"))
        return
    text = views.registration_html(result, data["country"])
    if result.deadline < today:
        text = views.registration_passed(result.deadline, data["country"]) + "\n\n" + text
    remind_on = result.deadline - dt.timedelta(days=REGISTRATION_REMIND_DAYS)
    await _offer(message, state, text, "registration", result.deadline, remind_on, today)


@router.message(DeadlineForm.entry, F.text)
async def on_entry(
    message: Message,
    state: FSMContext,
    settings: Settings,
    aside: dict,
    deadline_today: Callable[[], dt.date] | None = None,
) -> None:
    entered = await _read_date(message, state, _today(deadline_today), aside)
    if entered is None:
        return
    data = await _data(state)
    data["entered"] = entered.isoformat()
    await state.update_data(dl=data)
    await state.set_state(DeadlineForm.trips)
    await _ask_current(message, state)


async def _finish_stay(
    message: Message,
    state: FSMContext,
    settings: Settings,
    earlier: list[Trip],
    today: dt.date,
) -> None:
    data = await _data(state)
    try:
        entered = dt.date.fromisoformat(data["entered"])
        trips = check_trips([*earlier, Trip(entered, None)], today)
        result = calc.stay_counter(
            _rules(settings), data["country"], data["citizenship"], trips, today
        )
    except DateInputError:  # the trips cannot be counted (order, overlaps)
        await message.answer(
            _(
                "These trips overlap, end before they start, or overlap this trip. "
                "Please send them again, oldest first."
            ),
            reply_markup=keyboards.no_trips_keyboard(),
        )
        return
    except (calc.CalcError, InvalidRules, KeyError, ValueError) as exc:
        await _calc_failed(message, state, exc, data.get("country", "ru"))
        return
    last = result.last_legal_day
    await _offer(
        message,
        state,
        views.stay_html(result, data["country"]),
        "stay",
        last,
        last - dt.timedelta(days=STAY_REMIND_DAYS) if last else None,
        today,
    )


@router.message(DeadlineForm.trips, F.text)
async def on_trips(
    message: Message,
    state: FSMContext,
    settings: Settings,
    aside: dict,
    deadline_today: Callable[[], dt.date] | None = None,
) -> None:
    today = _today(deadline_today)
    text = message.text or ""
    try:
        earlier = parse_trip_lines(text, today, lang(), MAX_PAST_TRIPS)
    except DateInputError as exc:
        if looks_like_question(text):
            await _aside(message, state, aside)
            return
        if exc.code in ("trip", "too_many", "unparseable"):
            reply = _(
                "I cannot read these trips. Send each trip on its own line as entry – exit, "
                "for example 10.01.2026 – 08.02.2026, or press “No earlier trips”."
            )
        else:
            reply = views.date_error(exc)
        await message.answer(reply, reply_markup=keyboards.no_trips_keyboard())
        return
    await _finish_stay(message, state, settings, earlier, today)


@router.callback_query(DeadlineForm.trips, DeadlineCb.filter(F.action == "none"))
async def on_no_trips(
    query: CallbackQuery,
    state: FSMContext,
    settings: Settings,
    deadline_today: Callable[[], dt.date] | None = None,
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await _finish_stay(query.message, state, settings, [], _today(deadline_today))


async def _finish_patent(
    message: Message, state: FSMContext, settings: Settings, paid_until: dt.date, today: dt.date
) -> None:
    if (paid_until - today).days > MAX_PATENT_DAYS_AHEAD:
        await message.answer(
            _("A patent is paid for at most 12 months ahead. Please check the date."),
            reply_markup=keyboards.only_cancel(),
        )
        return
    try:
        result = calc.patent_due(_rules(settings), paid_until)
    except (calc.CalcError, InvalidRules) as exc:
        await _calc_failed(message, state, exc)
        return
    text = views.patent_html(result)
    if result.due < today:
        text = (
            "🛑 <b>"
            + _(
                "This date has passed: if the next month was not paid in time, the patent "
                "is void. Go to the MVD migration office at once."
            )
            + "</b>\n\n"
            + text
        )
    remind_on = result.due - dt.timedelta(days=settings.patent_reminder_days)
    await _offer(message, state, text, "patent", result.due, remind_on, today)


@router.message(DeadlineForm.paid_until, F.text)
async def on_paid_until(
    message: Message,
    state: FSMContext,
    settings: Settings,
    aside: dict,
    deadline_today: Callable[[], dt.date] | None = None,
) -> None:
    today = _today(deadline_today)
    # A paid-until date looks ahead: "5 марта" typed in December is next March.
    paid_until = await _read_date(message, state, today, aside, look=AHEAD)
    if paid_until is not None:
        await _finish_patent(message, state, settings, paid_until, today)


@router.callback_query(DeadlineForm.paid_until, DeadlineCb.filter(F.action == "date"))
async def on_date_choice(
    query: CallbackQuery,
    callback_data: DeadlineCb,
    state: FSMContext,
    settings: Settings,
    deadline_today: Callable[[], dt.date] | None = None,
) -> None:
    """The year picked for a paid-until date typed without one."""
    data = await _data(state)
    if callback_data.value not in data.get("choices", []) or not isinstance(query.message, Message):
        await query.answer(_("This button is out of date. Send /deadlines to begin again."))
        return
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    paid_until = dt.date.fromisoformat(callback_data.value)
    await _finish_patent(query.message, state, settings, paid_until, _today(deadline_today))


@router.message(DeadlineForm.country)
@router.message(DeadlineForm.citizenship)
@router.message(DeadlineForm.basis)
async def text_instead_of_button(message: Message) -> None:
    """Typed text where a button is expected: say so, keep the question open."""
    await message.answer(_("Please choose with the buttons above, or press Cancel."))
