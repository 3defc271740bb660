"""/deadlines end to end: the real Dispatcher polling the Bot API stand-in over HTTP,
the real rules in knowledge/rules, reminders in the real SQLite storage.

"Today" is fixed per test through the dispatcher's `deadline_today` (the handlers' only
clock), so the hand-checked dates below stay true whatever day the suite runs.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from bot.i18n import format_day, gettext_for
from bot.telegram.callbacks import DeadlineCb

REPO = Path(__file__).resolve().parents[2]
D = dt.date.fromisoformat


@pytest.fixture
async def dl(tg):
    # The handlers read the rules beside the knowledge entries; the fixture knowledge
    # base has none, so give it the repository's rules.
    shutil.copytree(REPO / "knowledge" / "rules", tg.settings.kb_dir / "rules")
    return tg


def on(tg, day: str) -> None:
    tg.dp["deadline_today"] = lambda: D(day)


def data(action: str, value: str = "") -> str:
    return DeadlineCb(action=action, value=value).pack()


async def tap_and_read(tg, callback: str, message, user: int, lang: str = "ru"):
    await tg.tap(callback, message, user, lang)
    [reply] = await tg.api.wait_for("sendMessage")
    return reply


async def start(tg, user: int, kind: str, lang: str = "ru"):
    [menu] = await tg.say(user, "/deadlines", lang)
    assert {b["callback_data"] for b in menu.buttons} >= {
        data("kind", "registration"),
        data("kind", "stay"),
        data("kind", "patent"),
        data("list"),
    }
    return await tap_and_read(tg, data("kind", kind), menu, user, lang)


async def test_registration_with_reminder_and_one_tap_unsubscribe(dl):
    tg, user = dl, 101
    on(tg, "2026-03-03")
    ask_country = await start(tg, user, "registration")
    ask_cit = await tap_and_read(tg, data("country", "ru"), ask_country, user)
    assert data("cit", "uz") in [b["callback_data"] for b in ask_cit.buttons]
    assert data("cit", "ru") not in [b["callback_data"] for b in ask_cit.buttons]
    await tap_and_read(tg, data("cit", "uz"), ask_cit, user)
    # "2 марта" without a year: the most recent 2 March not after today = 2026-03-02.
    # Hand-checked: an Uzbek citizen has 15 calendar days from entry (Russia-Uzbekistan
    # agreement), entry day 1: Mon 2 Mar (1) ... Mon 16 Mar (15) -> 16 March 2026.
    [result] = await tg.say(user, "2 марта")
    ru = gettext_for("ru")
    assert format_day(D("2026-03-16"), "ru") in result.shown
    assert "ru-registration-uz" not in result.shown  # no internal rule ids
    assert "http://sevastopol-news.com/incident/2022/07/06/225603.html" in result.links
    assert ru("the MVD migration office") in result.shown  # "estimate, check with ..."
    [remind] = result.buttons
    assert format_day(D("2026-03-14"), "ru") in remind["text"]  # 2 days before

    await tg.tap(remind["callback_data"], result, user)
    [confirm] = await tg.api.wait_for("sendMessage")
    [reminder] = await tg.storage.reminders(tg.key(user))
    assert (reminder.kind, reminder.due, reminder.remind_on, reminder.lang) == (
        "registration",
        D("2026-03-16"),
        D("2026-03-14"),
        "ru",
    )
    assert confirm.buttons[0]["callback_data"] == f"rem:off:{reminder.id}"

    answered = await tg.tap(f"rem:off:{reminder.id}", confirm, user)
    assert answered.params.get("text") == ru("Reminder cancelled.")
    assert await tg.storage.reminders(tg.key(user)) == []


async def test_impossible_and_future_dates_are_refused_and_the_question_stays(dl):
    tg, user = dl, 102
    on(tg, "2026-03-03")
    ask_country = await start(tg, user, "registration")
    ask_cit = await tap_and_read(tg, data("country", "ru"), ask_country, user)
    await tap_and_read(tg, data("cit", "tj"), ask_cit, user)
    ru = gettext_for("ru")
    [impossible] = await tg.say(user, "31.02.2026")
    assert impossible.shown == ru(
        "There is no such date (for example, February has no 30th). Please check the "
        "day and the month and send the date again."
    )
    [future] = await tg.say(user, "05.03.2026")
    assert format_day(D("2026-03-05"), "ru") in future.shown
    assert "ru-registration-tj" not in future.shown
    [garbage] = await tg.say(user, "вчера вечером")
    assert "05.03.2026" in garbage.shown  # shows how to write a date
    # Tajik citizen, 15 days with the entry day as day 1: 20 Feb + 14 = 6 Mar 2026.
    [result] = await tg.say(user, "20-fevral 2026")
    assert format_day(D("2026-03-06"), "ru") in result.shown
    assert "ru-registration-tj" not in result.shown  # no internal rule ids


async def test_stay_counter_in_kazakh(dl):
    tg, user = dl, 103
    on(tg, "2026-06-10")
    ask_country = await start(tg, user, "stay", "kk")
    ask_cit = await tap_and_read(tg, data("country", "ru"), ask_country, user, "kk")
    ask_basis = await tap_and_read(tg, data("cit", "uz"), ask_cit, user, "kk")
    await tap_and_read(tg, data("basis", "no"), ask_basis, user, "kk")
    [ask_trips] = await tg.say(user, "1 маусым", "kk")  # 1 June 2026
    assert data("none") in [b["callback_data"] for b in ask_trips.buttons]
    # Earlier in 2026: 10 Jan-8 Feb (30 days) and 1-30 Mar (30 days); in since 1 Jun,
    # on 10 Jun: 70 days used; the calendar-year limit of 90 is reached on 30 Jun.
    [result] = await tg.say(user, "10.01.2026 – 08.02.2026\n1 наурыз – 30 наурыз", "kk")
    kk = gettext_for("kk")
    assert format_day(D("2026-06-30"), "kk") in result.shown
    assert kk("Days counted: {used} of {limit}.").format(used=70, limit=90) in result.shown
    assert kk("That is {days} more day(s).").format(days=20) in result.shown
    assert kk("You may stay until {date} inclusive.") != "You may stay until {date} inclusive."
    assert "ru-stay-90-calendar-year" not in result.shown  # no internal rule ids
    [remind] = result.buttons
    assert format_day(D("2026-06-23"), "kk") in remind["text"]  # 7 days before


@pytest.mark.parametrize(("lang", "user"), [("uz", 111), ("ru", 112)])
async def test_stay_caveats_reach_the_user_in_their_language(dl, lang, user):
    # The calculator's caveats are codes; the bot words them. Trips in 2025 from 1 Jan to
    # 1 May: day 91 of the calendar year is 1 April 2025, so the count warns that an
    # overstay may be on record, in the user's language, naming whom to ask.
    tg = dl
    on(tg, "2026-06-10")
    ask_country = await start(tg, user, "stay", lang)
    ask_cit = await tap_and_read(tg, data("country", "ru"), ask_country, user, lang)
    ask_basis = await tap_and_read(tg, data("cit", "uz"), ask_cit, user, lang)
    await tap_and_read(tg, data("basis", "no"), ask_basis, user, lang)
    await tg.say(user, "01.06.2026", lang)
    [result] = await tg.say(user, "01.01.2025 - 01.05.2025", lang)
    _ = gettext_for(lang)
    english = (
        "Your trips already went over the limit on {date}: an overstay may be on "
        "record. Ask {who} before you travel."
    )
    warning = _(english)
    assert warning != english  # translated, not the English source
    expected = warning.format(
        date=format_day(D("2025-04-01"), lang), who=_("the MVD migration office")
    )
    assert expected in result.shown


async def test_patent_reminder_n_days_before(dl):
    tg, user = dl, 104
    on(tg, "2026-03-01")
    await start(tg, user, "patent")
    # Paid until Sun 8 Mar 2026: pay by that day (not moved); it is a day off, so the
    # reply says to pay earlier; the reminder goes 3 days before (PATENT_REMINDER_DAYS).
    [result] = await tg.say(user, "8 марта 2026")
    ru = gettext_for("ru")
    assert format_day(D("2026-03-08"), "ru") in result.shown
    assert format_day(D("2026-03-09"), "ru") in result.shown  # void from the next day
    assert ru("That day is a day off: pay a few days earlier, on a working day.") in result.shown
    [remind] = result.buttons
    await tg.tap(remind["callback_data"], result, user)
    await tg.api.wait_for("sendMessage")
    [reminder] = await tg.storage.reminders(tg.key(user))
    assert (reminder.kind, reminder.due, reminder.remind_on) == (
        "patent",
        D("2026-03-08"),
        D("2026-03-05"),
    )
    # "My reminders" lists it with its own unsubscribe button.
    [menu] = await tg.say(user, "/deadlines")
    listed = await tap_and_read(tg, data("list"), menu, user)
    assert listed.buttons[0]["callback_data"] == f"rem:off:{reminder.id}"


async def test_someone_elses_reminder_cannot_be_cancelled(dl):
    tg = dl
    mine = await tg.storage.add_reminder(
        tg.key(105), 105, "patent", D("2026-05-01"), D("2026-04-28"), "ru"
    )
    [menu] = await tg.say(106, "/deadlines")
    answered = await tg.tap(f"rem:off:{mine.id}", menu, 106)
    assert answered.params.get("text") == gettext_for("ru")("This reminder is already cancelled.")
    assert [r.id for r in await tg.storage.reminders(tg.key(105))] == [mine.id]
    forged = await tg.tap("rem:off:abc", menu, 106)
    assert forged.params.get("text")  # answered politely, nothing changed
    assert [r.id for r in await tg.storage.reminders(tg.key(105))] == [mine.id]


async def test_no_rule_says_whom_to_ask_and_cancel_works(dl):
    tg, user = dl, 107
    # Kazakhstan has a Tajik rule only from 1 July 2026 (the date it was confirmed from)
    on(tg, "2026-06-10")
    ask_country = await start(tg, user, "registration")
    ask_cit = await tap_and_read(tg, data("country", "kz"), ask_country, user)
    await tap_and_read(tg, data("cit", "tj"), ask_cit, user)
    [reply] = await tg.say(user, "01.06.2026")
    ru = gettext_for("ru")
    assert ru("the migration police") in reply.shown
    assert reply.buttons == []
    # A new conversation, then Cancel: the next text is a question again, not a date.
    ask_country = await start(tg, user, "registration")
    await tg.tap(data("cancel"), ask_country, user)
    await tg.api.settle(0.2)
    [answer] = await tg.say(user, "01.06.2026")
    assert "ru-registration" not in answer.shown


# ------------------------------------------------------------------ the wizard as people use it


async def _patent_prompt(tg, user: int, lang: str):
    return await start(tg, user, "patent", lang)


async def test_a_paid_until_date_without_a_year_looks_ahead(dl):
    # "5 марта" typed in December is next March: reading it as last March told a user
    # their patent was void and to go to the MVD at once.
    tg, user = dl, 120
    on(tg, "2026-12-03")
    await _patent_prompt(tg, user, "ru")
    [result] = await tg.say(user, "5 марта")
    ru = gettext_for("ru")
    assert (
        ru("Pay the next month no later than {date}.").format(
            date=format_day(D("2027-03-05"), "ru")
        )
        in result.shown
    )
    assert "🛑" not in result.shown
    passed = ru(
        "This date has passed: if the next month was not paid in time, the patent "
        "is void. Go to the MVD migration office at once."
    )
    assert passed not in result.shown


@pytest.mark.parametrize(("lang", "user", "typed"), [("uz", 121, "1 dekabr"), ("ru", 122, "01.12")])
async def test_a_paid_until_date_that_could_be_either_year_is_asked(dl, lang, user, typed):
    tg = dl
    on(tg, "2026-12-03")
    await _patent_prompt(tg, user, lang)
    [ask] = await tg.say(user, typed, lang)
    _ = gettext_for(lang)
    assert _("Which year do you mean? Choose below, or send the date with the year.") in ask.shown
    choices = {b["text"]: b["callback_data"] for b in ask.buttons}
    last_week, next_year = format_day(D("2026-12-01"), lang), format_day(D("2027-12-01"), lang)
    assert last_week in choices and next_year in choices
    [result] = [await tap_and_read(tg, choices[next_year], ask, user, lang)]
    assert format_day(D("2027-12-01"), lang) in result.shown
    assert "🛑" not in result.shown


@pytest.mark.parametrize(("lang", "user"), [("ky", 123), ("ru", 124)])
async def test_a_registration_deadline_that_has_passed_says_so_and_what_to_do(dl, lang, user):
    tg = dl
    on(tg, "2026-03-20")
    ask_country = await start(tg, user, "registration", lang)
    ask_cit = await tap_and_read(tg, data("country", "ru"), ask_country, user, lang)
    await tap_and_read(tg, data("cit", "uz"), ask_cit, user, lang)
    [result] = await tg.say(user, "02.03.2026", lang)  # Uzbek: 15 days, 16 March: passed
    _ = gettext_for(lang)
    template = _("This deadline has passed ({date}).")
    assert template != "This deadline has passed ({date})."  # translated
    assert template.format(date=format_day(D("2026-03-16"), lang)) in result.shown
    assert _("the MVD migration office") in result.shown  # whom to ask now
    assert result.buttons == []  # no reminder for a day that has gone


@pytest.mark.parametrize(("lang", "user"), [("tg", 125), ("en", 126)])
async def test_the_stay_counter_asks_about_a_patent_or_permit_first(dl, lang, user):
    tg = dl
    on(tg, "2026-06-10")
    ask_country = await start(tg, user, "stay", lang)
    ask_cit = await tap_and_read(tg, data("country", "ru"), ask_country, user, lang)
    ask_basis = await tap_and_read(tg, data("cit", "tj"), ask_cit, user, lang)
    _ = gettext_for(lang)
    asked = _(
        "Do you have a document that lets you stay longer: a work patent, a work contract "
        "(for citizens of EAEU countries), a residence permit, or a place of study?"
    )
    assert ask_basis.shown == asked
    explained = await tap_and_read(tg, data("basis", "yes"), ask_basis, user, lang)
    assert _("the MVD migration office") in explained.shown
    assert "🛑" not in explained.shown  # no overstay alarm for someone with a patent
    ask_entry = await tap_and_read(tg, data("basis", "count"), explained, user, lang)
    assert (
        _("When did you enter {country} this time? For example 05.03.2026 or 5 March.").format(
            country=_("Russia")
        )
        == ask_entry.shown
    )


@pytest.mark.parametrize(
    ("lang", "user", "question"),
    [("ru", 127, "а если я через Казахстан заехал?"), ("uz", 128, "patentni qanday to'layman?")],
)
async def test_a_question_typed_at_a_date_step_is_answered_then_the_wizard_resumes(
    dl, lang, user, question
):
    tg = dl
    on(tg, "2026-03-03")
    ask_country = await start(tg, user, "registration", lang)
    ask_cit = await tap_and_read(tg, data("country", "ru"), ask_country, user, lang)
    ask_arrival = await tap_and_read(tg, data("cit", "uz"), ask_cit, user, lang)
    answer, aside = await tg.say(user, question, lang, count=2)
    _ = gettext_for(lang)
    unreadable = _("I cannot read this as a date. Please write it like 05.03.2026 or 5 March.")
    assert answer.shown != unreadable  # the question was answered, not refused as a date
    assert aside.shown == _("You were counting a deadline. Continue where you stopped?")
    assert {b["callback_data"] for b in aside.buttons} == {data("resume"), data("cancel")}
    asked_again = await tap_and_read(tg, data("resume"), aside, user, lang)
    assert asked_again.shown == ask_arrival.shown
    [result] = await tg.say(user, "02.03.2026", lang)
    assert format_day(D("2026-03-16"), lang) in result.shown  # 15 days for Uzbek citizens
