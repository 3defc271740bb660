"""Staff commands, for the Telegram ids in STAFF_IDS only: /stats, /gaps, /reload,
/preview. For anyone else the router's filter does not match, so these fall through to
the unknown-command reply like any other unknown command."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
from typing import Any

from aiogram import Bot, Router
from aiogram.filters import BaseFilter, Command, CommandObject
from aiogram.types import Message, TelegramObject
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.i18n import format_day
from bot.retrieval.assistant import Assistant
from bot.retrieval.index import IndexProblem
from bot.settings import Settings
from bot.storage import Storage
from bot.telegram.common import StorageDown, send_html, stored

router = Router(name="staff")
DEFAULT_STATS_DAYS = 30
DEFAULT_GAPS_DAYS = 7
MAX_DAYS = 366
GAPS_SHOWN = 15
PREVIEW_ROWS = 10
QUOTE_CHARS = 200


class StaffFilter(BaseFilter):
    """True when the event comes from a configured staff member (STAFF_IDS) or is
    written in the staff chat (STAFF_CHAT_ID: its members are staff)."""

    async def __call__(self, event: TelegramObject, settings: Settings, **_: Any) -> bool:
        chat = getattr(event, "chat", None)
        if (
            settings.staff_chat_id is not None
            and chat is not None
            and chat.id == settings.staff_chat_id
        ):
            return True
        user = getattr(event, "from_user", None)
        return user is not None and user.id in settings.staff_ids


router.message.filter(StaffFilter())


def _days(command: CommandObject, default: int) -> int | None:
    """The optional day count argument: None when it is not a number in range."""
    arg = (command.args or "").strip()
    if not arg:
        return default
    if not arg.isdigit() or not 1 <= int(arg) <= MAX_DAYS:
        return None
    return int(arg)


def _since(days: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)


def _counts(counts: dict[str, int]) -> str:
    if not counts:
        return "—"
    return ", ".join(
        f"{html.escape(k)}: {n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )


@router.message(Command("stats"))
async def cmd_stats(
    message: Message,
    bot: Bot,
    command: CommandObject,
    storage: Storage,
    settings: Settings,
    i18n: I18n,
) -> None:
    days = _days(command, DEFAULT_STATS_DAYS)
    if days is None:
        await message.answer(_("Usage: /stats [days], days from 1 to {max}").format(max=MAX_DAYS))
        return
    since = _since(days)
    try:
        stats = await stored(storage.stats(since), "stats")
    except StorageDown:
        await message.answer(_("Statistics are temporarily unavailable (database)."))
        return
    votes = stats.helpful + stats.unhelpful
    ratio = f"{100 * stats.helpful / votes:.0f}%" if votes else "—"
    lines = [
        "<b>"
        + _("Statistics since {date}").format(date=format_day(since.date(), i18n.current_locale))
        + "</b>",
        _("Questions by decision: {counts}").format(counts=_counts(stats.by_decision)),
        _("By language: {counts}").format(counts=_counts(stats.by_lang)),
        _("By topic: {counts}").format(counts=_counts(stats.by_entry)),
        _("Feedback: 👍 {up}, 👎 {down} (helpful: {ratio})").format(
            up=stats.helpful, down=stats.unhelpful, ratio=ratio
        ),
    ]
    if settings.handoff_enabled:
        lines += await _case_lines(storage, since, i18n)
    await send_html(bot, message.chat.id, "\n".join(lines))


async def _case_lines(storage: Storage, since: dt.datetime, i18n: I18n) -> list[str]:
    """Cases with a consultant: open now, opened since, median wait for a first reply."""
    try:
        cases = await stored(storage.case_stats(since), "case_stats")
    except StorageDown:
        return []
    median = "—"
    if cases.first_reply_median is not None:
        minutes = int(cases.first_reply_median.total_seconds() // 60)
        median = f"{minutes // 60} h {minutes % 60:02d} min"
    return [
        "",
        "<b>" + _("Cases with a consultant") + "</b>",
        _("Open now: {open}; opened in the period: {opened}").format(
            open=cases.open, opened=cases.opened
        ),
        _("Median time to the first reply: {median}").format(median=median),
        _("Cases by language: {counts}").format(counts=_counts(cases.by_lang)),
    ]


@router.message(Command("gaps"))
async def cmd_gaps(
    message: Message, bot: Bot, command: CommandObject, storage: Storage, i18n: I18n
) -> None:
    days = _days(command, DEFAULT_GAPS_DAYS)
    if days is None:
        await message.answer(_("Usage: /gaps [days], days from 1 to {max}").format(max=MAX_DAYS))
        return
    try:
        gaps = await stored(storage.gaps(_since(days), GAPS_SHOWN), "gaps")
    except StorageDown:
        await message.answer(_("The gaps log is temporarily unavailable (database)."))
        return
    if not gaps:
        await message.answer(
            _("No unanswered or down-voted questions in the last {days} days.").format(days=days)
        )
        return
    reasons = {"abstain": _("unanswered"), "downvote": "👎"}
    lines = [
        "<b>"
        + _("Most frequent unanswered or down-voted questions, last {days} days:").format(days=days)
        + "</b>"
    ]
    for i, gap in enumerate(gaps, 1):
        quote = html.escape(gap.text[:QUOTE_CHARS])
        reason = reasons.get(gap.reason, html.escape(gap.reason))
        lines.append(f"{i}. ×{gap.count} [{gap.lang}, {reason}] {quote}")
    await send_html(bot, message.chat.id, "\n".join(lines))


@router.message(Command("reload"))
async def cmd_reload(message: Message, assistant: Assistant) -> None:
    before = assistant.version.name
    try:
        name = await asyncio.to_thread(assistant.reload)
    except IndexProblem as exc:
        await message.answer(
            _(
                "The new index version was refused; still serving {version}. Reason: {reason}"
            ).format(version=html.escape(assistant.version.name), reason=html.escape(str(exc)))
        )
        return
    if name == before:
        await message.answer(
            _("Already serving the newest index version, {version}.").format(
                version=html.escape(name)
            )
        )
    else:
        await message.answer(
            _("Switched from {old} to {new}.").format(
                old=html.escape(before), new=html.escape(name)
            )
        )


@router.message(Command("preview"))
async def cmd_preview(
    message: Message, bot: Bot, command: CommandObject, assistant: Assistant, i18n: I18n
) -> None:
    text = (command.args or "").strip()
    if not text:
        await message.answer(_("Usage: /preview question text"))
        return
    result = await assistant.aask(text, hint=i18n.current_locale)
    kb = result.kb or assistant.version.kb
    lines = [
        "<b>" + _("Preview") + "</b>: " + html.escape(text[:QUOTE_CHARS]),
        _("Decision: {decision}; language: {lang}; index: {version}").format(
            decision=result.decision, lang=result.lang, version=html.escape(result.index_version)
        ),
        "",
    ]
    for i, c in enumerate(result.ranking[:PREVIEW_ROWS], 1):
        title = kb[c.entry_id].local(i18n.current_locale)[1].title if c.entry_id in kb else ""
        lines.append(
            f"{i}. <code>{c.score:.4f}</code> {html.escape(c.entry_id)} — {html.escape(title)}"
        )
    await send_html(bot, message.chat.id, "\n".join(lines))
