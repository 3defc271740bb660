"""The staff chat seen from the bot: where cases are posted, whether it has forum topics,
and what happens when it cannot be reached.

One `StaffDesk` per process (in the dispatcher's data as `desk`). Messages to staff are
written in STAFF_LANGUAGE and never carry the user's Telegram id, name or username: a
case is known to staff by its number only. When the staff chat is missing or the bot
was removed from it, users are told a person is not reachable now, and the log gets one
line per minute, not one per message.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import time

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import Message, ReplyParameters
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.handoff.hours import OpeningHours
from bot.i18n import BABEL_LOCALES
from bot.retrieval.assistant import Assistant
from bot.settings import Settings
from bot.storage import Case, Storage
from bot.telegram.text import split_html

log = logging.getLogger(__name__)
UNREACHABLE_LOG_EVERY = 60.0  # seconds between log lines about a missing staff chat
TOPIC_NAME_CHARS = 128  # Telegram's limit for a forum topic name


class StaffUnreachable(Exception):
    """The staff chat is missing, or the bot is not allowed to write there."""


class StaffDesk:
    def __init__(self, settings: Settings, assistant: Assistant | None = None) -> None:
        self.settings = settings
        self.assistant = assistant  # for the topics shown with a case and to users
        self.chat_id = settings.staff_chat_id
        self.hours = OpeningHours.parse(settings.handoff_hours, settings.handoff_timezone)
        self._forum: bool | None = None
        self._last_warning = -UNREACHABLE_LOG_EVERY

    @property
    def enabled(self) -> bool:
        return self.chat_id is not None

    def language_label(self, case: Case) -> str:
        """The case's language named in the staff's language ("узбекский, кириллица")."""
        from babel import Locale

        staff = BABEL_LOCALES.get(self.settings.staff_language, "ru")
        try:
            name = Locale.parse(case.lang).get_display_name(staff) or case.lang
        except (ValueError, LookupError):
            name = case.lang
        return name + (", " + _("Cyrillic") if case.cyrillic else "")

    def unreachable(self, exc: BaseException) -> StaffUnreachable:
        """Log (at most once a minute) and return the error for the caller to raise."""
        now = time.monotonic()
        if now - self._last_warning >= UNREACHABLE_LOG_EVERY:
            self._last_warning = now
            log.warning(
                "staff chat STAFF_CHAT_ID is not reachable (%s): add the bot to the group "
                "as an administrator, or fix STAFF_CHAT_ID; users are told to use "
                "HELP_CONTACT meanwhile",
                type(exc).__name__,
            )
        self._forum = None  # look again next time: the group may have been fixed
        return StaffUnreachable(str(exc))

    async def is_forum(self, bot: Bot) -> bool:
        if self._forum is None:
            assert self.chat_id is not None
            try:
                chat = await bot.get_chat(self.chat_id)
            except (TelegramForbiddenError, TelegramBadRequest) as exc:
                raise self.unreachable(exc) from exc
            self._forum = bool(chat.is_forum)
        return self._forum

    async def _send(
        self, bot: Bot, text: str, *, thread_id: int | None = None, reply_to: int | None = None
    ) -> Message:
        assert self.chat_id is not None
        message: Message | None = None
        try:
            for part in split_html(text):
                reply = None
                if reply_to is not None and message is None:
                    reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
                message = await bot.send_message(
                    self.chat_id, part, message_thread_id=thread_id, reply_parameters=reply
                )
        except (TelegramForbiddenError, TelegramBadRequest) as exc:
            raise self.unreachable(exc) from exc
        assert message is not None
        return message

    async def post_case(
        self, bot: Bot, storage: Storage, i18n: I18n, case: Case, topics: list[str]
    ) -> None:
        """The case's first message (in its own forum topic when the group has them);
        raises StaffUnreachable."""
        thread_id = None
        assert self.chat_id is not None
        with i18n.use_locale(self.settings.staff_language):
            if await self.is_forum(bot):
                name = _("Case #{number}").format(number=case.id) + f" · {case.lang}"
                try:
                    topic = await bot.create_forum_topic(self.chat_id, name[:TOPIC_NAME_CHARS])
                except (TelegramForbiddenError, TelegramBadRequest) as exc:
                    raise self.unreachable(exc) from exc
                thread_id = topic.message_thread_id
            lines = [
                "📨 <b>"
                + _("Case #{number}").format(number=case.id)
                + "</b> · "
                + html.escape(self.language_label(case)),
                "",
                html.escape(case.question),
            ]
            if topics:
                lines += ["", _("The assistant's closest topics:"), *map(html.escape, topics)]
            where = (
                _("Write in this topic to answer.")
                if thread_id
                else _("Reply to this message to answer.")
            )
            lines += [
                "",
                where
                + " "
                + _(
                    "As a reply: /close closes the case, /answer TOPIC_ID sends that topic's "
                    "short answer, /teach TOPIC_ID suggests this question as a paraphrase."
                ),
            ]
            sent = await self._send(bot, "\n".join(lines), thread_id=thread_id)
        await storage.attach_post(case.id, sent.chat.id, sent.message_id, thread_id)

    async def post_user_message(self, bot: Bot, i18n: I18n, case: Case, text: str) -> Message:
        """A further message of the user, under the case; raises StaffUnreachable."""
        with i18n.use_locale(self.settings.staff_language):
            head = "💬 <b>" + _("Case #{number}").format(number=case.id) + "</b>"
        return await self._send(
            bot,
            head + "\n" + html.escape(text),
            thread_id=case.thread_id,
            reply_to=None if case.thread_id else case.post_message,
        )

    async def note(self, bot: Bot, case: Case, text: str) -> None:
        """A short note about the case to staff (closed, rated, withdrawn); a failure
        is logged, never raised: the user's action already happened."""
        if not self.enabled:
            return
        try:
            await self._send(
                bot,
                text,
                thread_id=case.thread_id,
                reply_to=None if case.thread_id else case.post_message,
            )
        except StaffUnreachable:
            pass
        except TelegramAPIError as exc:
            log.warning("note to staff not sent: %s", type(exc).__name__)

    def expectation(self, lang: str, now: dt.datetime | None = None) -> str:
        """What to expect, in the current locale: usual reply time, opening hours, and
        when the consultants are next at work if they are not now."""
        now = now or dt.datetime.now(dt.UTC)
        hours = self.settings.handoff_reply_hours
        parts = [_("A consultant usually answers within {hours} hours.").format(hours=hours)]
        if self.hours.stated:
            parts.append(
                _("Opening hours: {hours} ({zone}).").format(
                    hours=html.escape(self.hours.describe(BABEL_LOCALES.get(lang, "ru"))),
                    zone=self.hours.utc_offset(now),
                )
            )
            if not self.hours.is_open(now):
                opening = self.hours.next_opening(now)
                if opening is not None:
                    parts.append(
                        _("It is outside opening hours now: expect an answer after {when}.").format(
                            when=opening.strftime("%d.%m %H:%M ") + self.hours.utc_offset(now)
                        )
                    )
        return " ".join(parts)
