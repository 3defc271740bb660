"""/deadlines: registration deadline, stay-limit counter and patent payment date, with
buttons, typed dates and reminders.

The figures come from the core calculators (`bot.calc` over `knowledge/rules`); this
module only asks, parses what people type (`bot.dates`), shows the result in the user's
language with the rule and its sources, and offers a reminder. Every result says it is
an estimate to check with the authority, because a wrong date can cost a person years.

The conversation state (aiogram FSM) holds only what the next step needs: the chosen
calculator, country, citizenship and the pending reminder dates; no names, no documents.
Dates that cannot be right (31.02, an arrival in the future) are refused with a message
and the same question stays open. Reminders carry a one-tap unsubscribe button
(`rem:off:<id>`, see bot/telegram/sender.py) that works for as long as the reminder
exists.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Callable

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.deadlines import calculators as calc
from bot.deadlines.dates import DateInputError, parse_user_date
from bot.deadlines.rulebook import InvalidRules, load_rules_cached, rules_dir_for
from bot.deadlines.rules import RuleSet
from bot.i18n import format_day
from bot.settings import Settings
from bot.storage import Storage
from bot.telegram.common import StorageDown, stored
from bot.telegram.sender import CALLBACK_PREFIX, unsubscribe_data

log = logging.getLogger(__name__)
router = Router(name="deadlines")

KINDS = ("registration", "stay", "patent")
COUNTRIES = ("ru", "kz")
# Citizenships offered as buttons (ISO 3166 alpha-2); the country of stay is left out.
CITIZENSHIPS = ("uz", "tj", "kg", "kz", "ru", "am", "by")
FLAGS = {"uz": "🇺🇿", "tj": "🇹🇯", "kg": "🇰🇬", "kz": "🇰🇿", "ru": "🇷🇺", "am": "🇦🇲", "by": "🇧🇾"}
REGISTRATION_REMIND_DAYS = 2
STAY_REMIND_DAYS = 7
MAX_PAST_TRIPS = 10
MAX_PAST_DAYS = 2 * 366  # an arrival or entry longer ago than this is surely a typo


class DeadlineForm(StatesGroup):
    country = State()
    citizenship = State()
    arrival = State()  # registration: the arrival date
    entry = State()  # stay: the entry date of the current trip
    trips = State()  # stay: earlier trips, or "none"
    paid_until = State()  # patent: the last paid day


class DeadlineCb(CallbackData, prefix="dl"):
    """A step of /deadlines. action: kind | country | cit | none | remind | list | cancel."""

    action: str
    value: str = ""


def _lang() -> str:
    return get_i18n().current_locale


def _today(deadline_today: Callable[[], dt.date] | None) -> dt.date:
    return deadline_today() if deadline_today is not None else dt.date.today()


def _rules(settings: Settings) -> RuleSet:
    return load_rules_cached(rules_dir_for(settings.kb_dir))


def _day(day: dt.date) -> str:
    return format_day(day, _lang())


def _country_name(code: str) -> str:
    return {"ru": _("Russia"), "kz": _("Kazakhstan")}[code]


def _citizenship_name(code: str) -> str:
    names = {
        "uz": _("Uzbekistan"),
        "tj": _("Tajikistan"),
        "kg": _("Kyrgyzstan"),
        "kz": _("Kazakhstan"),
        "ru": _("Russia"),
        "am": _("Armenia"),
        "by": _("Belarus"),
    }
    return names[code]


def _authority(country: str) -> str:
    if country == "kz":
        return _("the migration police")
    return _("the MVD migration office")


# ------------------------------------------------------------------ keyboards


def _cancel_row(builder: InlineKeyboardBuilder) -> None:
    builder.row(
        InlineKeyboardButton(
            text="✖ " + _("Cancel"), callback_data=DeadlineCb(action="cancel").pack()
        )
    )


def menu_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="🏠 " + _("Registration deadline"),
        callback_data=DeadlineCb(action="kind", value="registration"),
    )
    builder.button(
        text="🗓 " + _("Days of stay left"), callback_data=DeadlineCb(action="kind", value="stay")
    )
    builder.button(
        text="💳 " + _("Patent payment date"),
        callback_data=DeadlineCb(action="kind", value="patent"),
    )
    builder.button(text="🔔 " + _("My reminders"), callback_data=DeadlineCb(action="list"))
    builder.adjust(1)
    return builder.as_markup()


def _countries_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text="🇷🇺 " + _("Russia"), callback_data=DeadlineCb(action="country", value="ru"))
    builder.button(
        text="🇰🇿 " + _("Kazakhstan"), callback_data=DeadlineCb(action="country", value="kz")
    )
    builder.adjust(2)
    _cancel_row(builder)
    return builder.as_markup()


def _citizenship_keyboard(country: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code in CITIZENSHIPS:
        if code != country:
            builder.button(
                text=f"{FLAGS[code]} {_citizenship_name(code)}",
                callback_data=DeadlineCb(action="cit", value=code),
            )
    builder.adjust(2)
    _cancel_row(builder)
    return builder.as_markup()


def _only_cancel() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    _cancel_row(builder)
    return builder.as_markup()


def _no_trips_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("No earlier trips"), callback_data=DeadlineCb(action="none"))
    _cancel_row(builder)
    builder.adjust(1)
    return builder.as_markup()


def _remind_keyboard(remind_on: dt.date) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text="🔔 " + _("Remind me on {date}").format(date=_day(remind_on)),
        callback_data=DeadlineCb(action="remind"),
    )
    return builder.as_markup()


def _unsubscribe_keyboard(reminder_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("Unsubscribe"), callback_data=unsubscribe_data(reminder_id)
                )
            ]
        ]
    )


# ------------------------------------------------------------------ texts


def _date_error(error: DateInputError) -> str:
    texts = {
        "empty": _("Please send a date, for example 05.03.2026 or 5 March."),
        "impossible": _(
            "There is no such date (for example, February has no 30th). Please check the "
            "day and the month and send the date again."
        ),
        "ambiguous": _(
            "I cannot tell which date you mean. Please write the day, the month and the "
            "year, for example 05.03.2026."
        ),
    }
    return texts.get(
        error.code,
        _("I cannot read this as a date. Please write it like 05.03.2026 or 5 March."),
    )


def _sources_html(result) -> str:
    links = [
        f'• <a href="{html.escape(s.url, quote=True)}">{html.escape(s.title)}</a>'
        for s in result.rule.sources
    ]
    return (
        _("Rule: {rule} (as of {date})").format(
            rule=html.escape(result.rule.rule_id), date=_day(result.rule.as_of)
        )
        + "\n"
        + "\n".join(links)
    )


def _estimate_html(result, country: str) -> str:
    if result.rule.status == "draft":
        note = _(
            "This is an estimate from a rule that staff have not yet checked against the "
            "official text, and some details are unconfirmed. Check the date with {who} "
            "before you rely on it."
        )
    else:
        note = _("This is an estimate, not a decision about your case. Check the date with {who}.")
    return "⚠️ " + note.format(who=_authority(country))


def _registration_html(result: calc.RegistrationResult, country: str) -> str:
    if result.counting == "working":
        how = _("{term} working days from your arrival on {date}; weekends and holidays skipped.")
    else:
        how = _("{term} calendar days from your arrival on {date}.")
    lines = [
        "🏠 <b>" + _("Registration deadline: {date}").format(date=_day(result.deadline)) + "</b>",
        how.format(term=result.term, date=_day(result.arrived)),
    ]
    if result.deadline_is_day_off:
        lines.append(_("That day is a day off: do it before, on a working day."))
    return (
        "\n".join(lines) + "\n\n" + _sources_html(result) + "\n\n" + _estimate_html(result, country)
    )


def _stay_html(result: calc.StayResult, country: str) -> str:
    used = _("Days counted: {used} of {limit}.").format(used=result.days_used, limit=result.limit)
    if result.last_legal_day is None:
        main = (
            "🛑 <b>"
            + _("By this count you are over the limit by {days} day(s).").format(
                days=result.overstay_days
            )
            + "</b>\n"
            + _("Contact {who} or a lawyer at once; do not wait for a police check.").format(
                who=_authority(country)
            )
        )
    else:
        main = (
            "🗓 <b>"
            + _("You may stay until {date} inclusive.").format(date=_day(result.last_legal_day))
            + "</b>\n"
            + _("That is {days} more day(s).").format(days=result.days_left)
        )
    note = _(
        "A patent, study, a residence permit or a work contract (for EAEU citizens) can "
        "allow a longer stay; this count does not know about them."
    )
    return (
        "\n".join([main, used, note])
        + "\n\n"
        + _sources_html(result)
        + "\n\n"
        + (_estimate_html(result, country))
    )


def _patent_html(result: calc.PatentResult) -> str:
    lines = [
        "💳 <b>"
        + _("Pay the next month no later than {date}.").format(date=_day(result.due))
        + "</b>",
        _("If it is not paid, the patent is void from {date}.").format(
            date=_day(result.next_period_start)
        ),
    ]
    if result.due_is_day_off:
        lines.append(_("That day is a day off: pay a few days earlier, on a working day."))
    return "\n".join(lines) + "\n\n" + _sources_html(result) + "\n\n" + _estimate_html(result, "ru")


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
        reply_markup=menu_keyboard(),
    )


@router.callback_query(DeadlineCb.filter(F.action == "cancel"))
async def on_cancel(query: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(None)
    await state.update_data(dl=None)
    await query.answer()
    if query.message is not None:
        await query.message.edit_text(
            _("Cancelled. Send /deadlines to start again."), reply_markup=None
        )


@router.callback_query(DeadlineCb.filter(F.action == "kind"))
async def on_kind(query: CallbackQuery, callback_data: DeadlineCb, state: FSMContext) -> None:
    if callback_data.value not in KINDS or query.message is None:
        await query.answer(_("This button is out of date. Send /deadlines to begin again."))
        return
    await query.answer()
    kind = callback_data.value
    if kind == "patent":
        await state.update_data(dl={"kind": "patent", "country": "ru"})
        await state.set_state(DeadlineForm.paid_until)
        await query.message.answer(
            _(
                "Until what date is your patent paid? Send the last paid day from your "
                "receipt, for example 05.03.2026 or 5 March."
            ),
            reply_markup=_only_cancel(),
        )
        return
    await state.update_data(dl={"kind": kind})
    await state.set_state(DeadlineForm.country)
    await query.message.answer(_("Which country are you in?"), reply_markup=_countries_keyboard())


@router.callback_query(DeadlineForm.country, DeadlineCb.filter(F.action == "country"))
async def on_country(query: CallbackQuery, callback_data: DeadlineCb, state: FSMContext) -> None:
    data = (await state.get_data()).get("dl") or {}
    if callback_data.value not in COUNTRIES or query.message is None or not data:
        await query.answer(_("This button is out of date. Send /deadlines to begin again."))
        return
    await query.answer()
    data["country"] = callback_data.value
    await state.update_data(dl=data)
    await state.set_state(DeadlineForm.citizenship)
    await query.message.answer(
        _("Your citizenship?"), reply_markup=_citizenship_keyboard(callback_data.value)
    )


@router.callback_query(DeadlineForm.citizenship, DeadlineCb.filter(F.action == "cit"))
async def on_citizenship(
    query: CallbackQuery, callback_data: DeadlineCb, state: FSMContext
) -> None:
    data = (await state.get_data()).get("dl") or {}
    if callback_data.value not in CITIZENSHIPS or query.message is None or "country" not in data:
        await query.answer(_("This button is out of date. Send /deadlines to begin again."))
        return
    await query.answer()
    data["citizenship"] = callback_data.value
    await state.update_data(dl=data)
    where = _country_name(data["country"])
    if data["kind"] == "registration":
        await state.set_state(DeadlineForm.arrival)
        text = _(
            "When did you arrive at your place of stay in {country}? For example 05.03.2026 "
            "or 5 March."
        ).format(country=where)
    else:
        await state.set_state(DeadlineForm.entry)
        text = _(
            "When did you enter {country} this time? For example 05.03.2026 or 5 March."
        ).format(country=where)
    await query.message.answer(text, reply_markup=_only_cancel())


# ------------------------------------------------------------------ typed dates


async def _read_date(message: Message, today: dt.date, *, past_only: bool) -> dt.date | None:
    """The date in the message, or None after telling the user what is wrong."""
    try:
        day = parse_user_date(message.text or "", today, _lang())
    except DateInputError as exc:
        await message.answer(_date_error(exc), reply_markup=_only_cancel())
        return None
    if past_only and day > today:
        await message.answer(
            _("{date} is in the future. Please send the date it actually happened.").format(
                date=_day(day)
            ),
            reply_markup=_only_cancel(),
        )
        return None
    if past_only and (today - day).days > MAX_PAST_DAYS:
        await message.answer(
            _("{date} is more than two years ago. Please check the year.").format(date=_day(day)),
            reply_markup=_only_cancel(),
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
    await message.answer(text, reply_markup=_remind_keyboard(remind_on))


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
            ).format(who=_authority(country))
        )
        return
    log.warning("deadline calculation failed: %s", exc)
    await message.answer(
        _("Sorry, I cannot calculate this date now. Please ask {who}.").format(
            who=_authority(country)
        )
    )


@router.message(DeadlineForm.arrival, F.text)
async def on_arrival(
    message: Message,
    state: FSMContext,
    settings: Settings,
    deadline_today: Callable[[], dt.date] | None = None,
) -> None:
    today = _today(deadline_today)
    arrived = await _read_date(message, today, past_only=True)
    if arrived is None:
        return
    data = (await state.get_data()).get("dl") or {}
    try:
        result = calc.registration_deadline(
            _rules(settings), data["country"], data["citizenship"], arrived
        )
    except (calc.CalcError, InvalidRules, KeyError) as exc:
        await _calc_failed(message, state, exc, data.get("country", "ru"))
        return
    remind_on = result.deadline - dt.timedelta(days=REGISTRATION_REMIND_DAYS)
    await _offer(
        message,
        state,
        _registration_html(result, data["country"]),
        "registration",
        result.deadline,
        remind_on,
        today,
    )


@router.message(DeadlineForm.entry, F.text)
async def on_entry(
    message: Message, state: FSMContext, deadline_today: Callable[[], dt.date] | None = None
) -> None:
    entered = await _read_date(message, _today(deadline_today), past_only=True)
    if entered is None:
        return
    data = (await state.get_data()).get("dl") or {}
    data["entered"] = entered.isoformat()
    await state.update_data(dl=data)
    await state.set_state(DeadlineForm.trips)
    await message.answer(
        _(
            "Were you in {country} earlier in the last 12 months? Send each trip on its own "
            "line as entry – exit, for example:\n10.01.2026 – 08.02.2026\nor press “No "
            "earlier trips”."
        ).format(country=_country_name(data.get("country", "ru"))),
        reply_markup=_no_trips_keyboard(),
    )


def _parse_trip_lines(text: str, today: dt.date, lang: str) -> list[calc.Trip]:
    """Lines like '10.01.2026 – 08.02.2026' into closed trips (raises DateInputError)."""
    trips = []
    for line in [ln.strip() for ln in text.splitlines() if ln.strip()][: MAX_PAST_TRIPS + 1]:
        for dash in ("–", "—", " - ", "-", "…", ".."):
            if dash in line and not (dash == "-" and line.count("-") != 1):
                left, right = line.split(dash, 1)
                break
        else:
            raise DateInputError("trip", line)
        trips.append(
            calc.Trip(parse_user_date(left, today, lang), parse_user_date(right, today, lang))
        )
    if len(trips) > MAX_PAST_TRIPS:
        raise DateInputError("too_many", text)
    return sorted(trips, key=lambda t: t.entered)


async def _finish_stay(
    message: Message,
    state: FSMContext,
    settings: Settings,
    earlier: list[calc.Trip],
    today: dt.date,
) -> None:
    data = (await state.get_data()).get("dl") or {}
    try:
        entered = dt.date.fromisoformat(data["entered"])
        trips = [*earlier, calc.Trip(entered, None)]
        calc.parse_trips(  # the same order and overlap checks as the CLI
            ",".join(f"{t.entered}:{t.left or ''}" for t in trips), today
        )
        result = calc.stay_counter(
            _rules(settings), data["country"], data["citizenship"], trips, today
        )
    except calc.CalcError as exc:
        if exc.code == "trips":
            await message.answer(
                _(
                    "These trips overlap, end before they start, or overlap this trip. "
                    "Please send them again, oldest first."
                ),
                reply_markup=_no_trips_keyboard(),
            )
            return
        await _calc_failed(message, state, exc, data.get("country", "ru"))
        return
    except (InvalidRules, KeyError, ValueError) as exc:
        await _calc_failed(message, state, exc, data.get("country", "ru"))
        return
    last = result.last_legal_day
    await _offer(
        message,
        state,
        _stay_html(result, data["country"]),
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
    deadline_today: Callable[[], dt.date] | None = None,
) -> None:
    today = _today(deadline_today)
    try:
        earlier = _parse_trip_lines(message.text or "", today, _lang())
    except DateInputError as exc:
        if exc.code in ("trip", "too_many", "unparseable"):
            text = _(
                "I cannot read these trips. Send each trip on its own line as entry – exit, "
                "for example 10.01.2026 – 08.02.2026, or press “No earlier trips”."
            )
        else:
            text = _date_error(exc)
        await message.answer(text, reply_markup=_no_trips_keyboard())
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


@router.message(DeadlineForm.paid_until, F.text)
async def on_paid_until(
    message: Message,
    state: FSMContext,
    settings: Settings,
    deadline_today: Callable[[], dt.date] | None = None,
) -> None:
    today = _today(deadline_today)
    paid_until = await _read_date(message, today, past_only=False)
    if paid_until is None:
        return
    if (paid_until - today).days > 366:
        await message.answer(
            _("A patent is paid for at most 12 months ahead. Please check the date."),
            reply_markup=_only_cancel(),
        )
        return
    try:
        result = calc.patent_due(_rules(settings), paid_until)
    except (calc.CalcError, InvalidRules) as exc:
        await _calc_failed(message, state, exc)
        return
    text = _patent_html(result)
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


@router.message(DeadlineForm.country)
@router.message(DeadlineForm.citizenship)
async def text_instead_of_button(message: Message) -> None:
    """Typed text where a button is expected: say so, keep the question open."""
    await message.answer(_("Please choose with the buttons above, or press Cancel."))


# ------------------------------------------------------------------ reminders


@router.callback_query(DeadlineCb.filter(F.action == "remind"))
async def on_remind(
    query: CallbackQuery,
    state: FSMContext,
    storage: Storage,
    user_key: str = "",
    deadline_today: Callable[[], dt.date] | None = None,
) -> None:
    data = (await state.get_data()).get("dl") or {}
    if query.message is None or data.get("kind") not in KINDS or "due" not in data:
        await query.answer(_("This button is out of date. Send /deadlines to begin again."))
        return
    due = dt.date.fromisoformat(data["due"])
    remind_on = max(dt.date.fromisoformat(data["remind_on"]), _today(deadline_today))
    if remind_on > due:  # the deadline passed while the offer was on the screen
        await state.update_data(dl=None)
        await query.answer(_("This date has already passed: a reminder cannot help now."))
        return
    try:
        reminder = await stored(
            storage.add_reminder(
                user_key, query.message.chat.id, data["kind"], due, remind_on, _lang()
            ),
            "add reminder",
        )
    except StorageDown:
        await query.answer()
        await query.message.answer(
            _("Sorry, reminders are temporarily unavailable. Please try again later.")
        )
        return
    await state.update_data(dl=None)
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)
    await query.message.answer(
        "🔔 "
        + _("Done: I will remind you on {date}. To stop it, press “Unsubscribe”.").format(
            date=_day(reminder.remind_on)
        ),
        reply_markup=_unsubscribe_keyboard(reminder.id),
    )


@router.callback_query(DeadlineCb.filter(F.action == "list"))
async def on_list(query: CallbackQuery, storage: Storage, user_key: str = "") -> None:
    await query.answer()
    if query.message is None:
        return
    try:
        pending = await stored(storage.reminders(user_key), "list reminders")
    except StorageDown:
        await query.message.answer(
            _("Sorry, reminders are temporarily unavailable. Please try again later.")
        )
        return
    if not pending:
        await query.message.answer(_("You have no reminders."))
        return
    titles = {
        "registration": _("Registration"),
        "stay": _("Stay limit"),
        "patent": _("Patent payment"),
    }
    for reminder in pending:
        await query.message.answer(
            _("{what}: deadline {due}, reminder on {date}.").format(
                what=titles.get(reminder.kind, reminder.kind),
                due=_day(reminder.due),
                date=_day(reminder.remind_on),
            ),
            reply_markup=_unsubscribe_keyboard(reminder.id),
        )


@router.callback_query(F.data.startswith(CALLBACK_PREFIX))
async def on_unsubscribe(query: CallbackQuery, storage: Storage, user_key: str = "") -> None:
    """One tap under a reminder (or the confirmation) cancels it; only the user's own."""
    raw = (query.data or "")[len(CALLBACK_PREFIX) :]
    if not raw.isdigit() or len(raw) > 18:
        await query.answer(_("This button is out of date."))
        return
    try:
        cancelled = await stored(storage.cancel_reminder(user_key, int(raw)), "cancel reminder")
    except StorageDown:
        await query.answer(
            _("Sorry, reminders are temporarily unavailable. Please try again later.")
        )
        return
    if not cancelled:
        await query.answer(_("This reminder is already cancelled."))
        return
    await query.answer(_("Reminder cancelled."))
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer("🔕 " + _("Reminder cancelled. I will not send it."))
