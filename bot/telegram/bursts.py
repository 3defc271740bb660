"""Questions typed in pieces: "patent" / "qancha" / "turadi" / "moskvada".

People on phones send a question as several short messages. Answered one by one, each
piece gets an unrelated reply, and the fourth hits the throttle. This middleware holds
a short piece (FRAGMENT_WORDS words or fewer, no question mark) for BURST_WINDOW
seconds; if the same chat sends more in that time, the earlier pieces are absorbed and
the last one carries the whole question (`data["burst"]`, read by the `Addressed`
filter). A message that reads as a whole question is answered at once (with any pieces
before it), so an ordinary question never waits. It runs before throttling, so the
throttle counts questions, not pieces.

Only free text in private chats with no conversation in progress (the deadline wizard
reads each message as an answer to its own question) is held. The pieces are kept in
this process's memory for the window only; with several webhook workers, pieces that
reach different workers are answered separately.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Message, TelegramObject

# A burst never grows past this: a pasted story is one message anyway.
MAX_PIECES = 8
# A message of this many words or fewer, without a question mark, may be a piece of a
# question ("patent", "qancha turadi"); a longer one is a question of its own.
FRAGMENT_WORDS = 3
_COMPLETE = re.compile(r"[?？؟]\s*$")


@dataclass
class _Burst:
    parts: list[str] = field(default_factory=list)
    latest: int = 0


class BurstMiddleware(BaseMiddleware):
    def __init__(self, window: float) -> None:
        self.window = window
        self._pending: dict[int, _Burst] = {}

    @staticmethod
    def _holdable(event: TelegramObject, data: dict[str, Any]) -> bool:
        return (
            isinstance(event, Message)
            and event.chat.type == "private"
            and bool(event.text)
            and not (event.text or "").startswith("/")
            and not data.get("raw_state")  # a conversation step: answer it as it is
        )

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if self.window <= 0 or not self._holdable(event, data):
            return await handler(event, data)
        assert isinstance(event, Message)
        chat = event.chat.id
        text = (event.text or "").strip()
        whole = len(text.split()) > FRAGMENT_WORDS or bool(_COMPLETE.search(text))
        burst = self._pending.get(chat)
        if whole and burst is None:
            return await handler(event, data)  # a question of its own: no waiting
        burst = burst or self._pending.setdefault(chat, _Burst())
        burst.parts = [*burst.parts, text][-MAX_PIECES:]
        burst.latest += 1
        mine = burst.latest
        if not whole:  # a piece: wait for the rest
            await asyncio.sleep(self.window)
            if burst.latest != mine:
                return None  # a later piece carries the whole question
        self._pending.pop(chat, None)
        if len(burst.parts) > 1:
            data["burst"] = " ".join(burst.parts)
        return await handler(event, data)
