"""What the deadline tools say: results, errors and questions in the user's language.

Figures come from the core calculators; this module only words them (the caveats too,
by their codes: `bot.deadlines.caveats`), so the flow can be read without the texts
and the texts without the flow.
"""

from __future__ import annotations

import datetime as dt
import html

from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _

from bot.deadlines import calculators as calc
from bot.deadlines.caveats import Caveat, CaveatCode
from bot.deadlines.dates import DateInputError
from bot.i18n import format_day


def lang() -> str:
    return get_i18n().current_locale


def day(value: dt.date) -> str:
    return format_day(value, lang())


def country_name(code: str) -> str:
    return {"ru": _("Russia"), "kz": _("Kazakhstan")}[code]


def citizenship_name(code: str) -> str:
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


def authority(country: str) -> str:
    if country == "kz":
        return _("the migration police")
    return _("the MVD migration office")


def date_error(error: DateInputError) -> str:
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
        "which_year": _("Which year do you mean? Choose below, or send the date with the year."),
    }
    return texts.get(
        error.code,
        _("I cannot read this as a date. Please write it like 05.03.2026 or 5 March."),
    )


def _sources_html(result) -> str:
    """The rule's sources and the date it is valid as of (no internal rule ids: they
    mean nothing to the person reading)."""
    links = [
        f'• <a href="{html.escape(s.url, quote=True)}">{html.escape(s.title)}</a>'
        for s in result.rule.sources
    ]
    return (
        _("Sources (valid as of {date}):").format(date=day(result.rule.as_of))
        + "\n"
        + "\n".join(links)
    )


def caveat_lines(caveats: tuple[Caveat, ...], country: str) -> list[str]:
    """The caveats a user can act on, in their language. Days off at the deadline are
    said by the result itself; staff notes (the rule's and the calendar's `caveat:`)
    are English text for reviewers, summed up for users by the draft note."""
    lines = []
    for caveat in caveats:
        p = caveat.params
        if caveat.code == CaveatCode.EARLIER_BREACH:
            text = _(
                "Your trips already went over the limit on {date}: an overstay may be on "
                "record. Ask {who} before you travel."
            ).format(date=day(p["day"]), who=authority(country))
        elif caveat.code == CaveatCode.RULE_ENDS:
            text = _(
                "The rule used here ends on {date}; after that day the count may be different."
            ).format(date=day(p["end"]))
        elif caveat.code == CaveatCode.CALENDAR_UNCONFIRMED:
            text = _(
                "Moves of days off for {year} are not yet confirmed; I counted the safe way, "
                "with the earlier date."
            ).format(year=p["year"])
        elif caveat.code == CaveatCode.DAY_OFF_UNKNOWN:
            text = _(
                "I do not know yet whether {date} is a day off: do it on an earlier working "
                "day to be safe."
            ).format(date=day(p["day"]))
        else:
            continue
        lines.append("• " + html.escape(text))
    return lines


def _notes_html(result, country: str) -> str:
    """The sources, the caveats and the estimate note that close every result."""
    parts = [_sources_html(result)]
    caveats = caveat_lines(result.caveats, country)
    if caveats:
        parts.append("\n".join(caveats))
    parts.append(_estimate_html(result, country))
    return "\n\n".join(parts)


def _estimate_html(result, country: str) -> str:
    if result.rule.status == "draft":
        note = _(
            "This is an estimate from a rule that staff have not yet checked against the "
            "official text, and some details are unconfirmed. Check the date with {who} "
            "before you rely on it."
        )
    else:
        note = _("This is an estimate, not a decision about your case. Check the date with {who}.")
    return "⚠️ " + note.format(who=authority(country))


def registration_html(result: calc.RegistrationResult, country: str) -> str:
    if result.counting == "working":
        how = _("{term} working days from your arrival on {date}; weekends and holidays skipped.")
    else:
        how = _("{term} calendar days from your arrival on {date}.")
    lines = [
        "🏠 <b>" + _("Registration deadline: {date}").format(date=day(result.deadline)) + "</b>",
        how.format(term=result.term, date=day(result.arrived)),
    ]
    if result.deadline_is_day_off:
        lines.append(_("That day is a day off: do it before, on a working day."))
    return "\n".join(lines) + "\n\n" + _notes_html(result, country)


def stay_html(result: calc.StayResult, country: str) -> str:
    used = _("Days counted: {used} of {limit}.").format(used=result.days_used, limit=result.limit)
    if result.last_legal_day is None:
        main = (
            "🛑 <b>"
            + _("By this count you are over the limit by {days} day(s).").format(
                days=result.overstay_days
            )
            + "</b>\n"
            + _("Contact {who} or a lawyer at once; do not wait for a police check.").format(
                who=authority(country)
            )
        )
    else:
        main = (
            "🗓 <b>"
            + _("You may stay until {date} inclusive.").format(date=day(result.last_legal_day))
            + "</b>\n"
            + _("That is {days} more day(s).").format(days=result.days_left)
        )
    note = _(
        "A patent, study, a residence permit or a work contract (for EAEU citizens) can "
        "allow a longer stay; this count does not know about them."
    )
    return "\n".join([main, used, note]) + "\n\n" + _notes_html(result, country)


def patent_html(result: calc.PatentResult) -> str:
    lines = [
        "💳 <b>"
        + _("Pay the next month no later than {date}.").format(date=day(result.due))
        + "</b>",
        _("If it is not paid, the patent is void from {date}.").format(
            date=day(result.next_period_start)
        ),
    ]
    if result.due_is_day_off:
        lines.append(_("That day is a day off: pay a few days earlier, on a working day."))
    return "\n".join(lines) + "\n\n" + _notes_html(result, "ru")


# ------------------------------------------------------------------ questions


def ask_arrival(country: str) -> str:
    return _(
        "When did you arrive at your place of stay in {country}? For example 05.03.2026 or 5 March."
    ).format(country=country_name(country))


def ask_entry(country: str) -> str:
    return _("When did you enter {country} this time? For example 05.03.2026 or 5 March.").format(
        country=country_name(country)
    )


def ask_trips(country: str) -> str:
    return _(
        "Were you in {country} earlier in the last 12 months? Send each trip on its own "
        "line as entry – exit, for example:\n10.01.2026 – 08.02.2026\nor press “No "
        "earlier trips”."
    ).format(country=country_name(country))


def ask_paid_until() -> str:
    return _(
        "Until what date is your patent paid? Send the last paid day from your "
        "receipt, for example 05.03.2026 or 5 March."
    )


def ask_basis() -> str:
    return _(
        "Do you have a document that lets you stay longer: a work patent, a work contract "
        "(for citizens of EAEU countries), a residence permit, or a place of study?"
    )


def basis_explained(country: str) -> str:
    return _(
        "Then the day limit for visitors does not decide how long you may stay: the "
        "document does, as long as it is valid and its conditions are kept (a patent paid "
        "on time; some documents must be extended or exchanged before a set day). Check "
        "the dates on your document; if in doubt, ask {who}."
    ).format(who=authority(country))


def registration_passed(deadline: dt.date, country: str) -> str:
    return (
        "🛑 <b>"
        + html.escape(_("This deadline has passed ({date}).").format(date=day(deadline)))
        + "</b>\n"
        + html.escape(
            _(
                "If you are not registered yet, do it now: ask your host (landlord or "
                "employer) to file the notice of arrival, and ask {who} or a migrant "
                "resource centre what applies in your case."
            ).format(who=authority(country))
        )
    )


def aside_prompt() -> str:
    return _("You were counting a deadline. Continue where you stopped?")
