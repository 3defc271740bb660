"""A local stand-in for the Telegram Bot API, for end-to-end tests and benchmarks.

It is an aiohttp server on 127.0.0.1 (random port) that answers the Bot API methods the
bot uses the way Telegram does: `getUpdates` long-polls a queue of updates the test
puts in, `sendMessage` and the edit methods return real `Message` objects, and every
request is recorded with its method and parsed parameters, so a test can assert on
exactly what the bot sent. Like Telegram, it refuses HTML it cannot parse and messages
over 4096 characters (400 Bad Request), so a rendering bug fails a test instead of
passing silently.

Point the bot at it with `TELEGRAM_API_URL=standin.base_url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

MAX_TEXT = 4096
# Tags Telegram accepts with parse_mode=HTML.
ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
    "tg-spoiler", "span", "blockquote", "tg-emoji",
}  # fmt: skip
# Parameters that are always plain strings (never JSON-decoded).
STRING_PARAMS = {
    "text", "caption", "callback_query_id", "parse_mode", "url", "secret_token",
    "inline_message_id", "description", "short_description", "name", "emoji",
}  # fmt: skip
BOT_USER = {
    "id": 4242,
    "is_bot": True,
    "first_name": "Migrant helper (stand-in)",
    "username": "migrant_helper_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

# The fields getChat always returns (ChatFullInfo), beyond id and type.
FULL_INFO = {
    "accent_color_id": 0,
    "max_reaction_count": 11,
    "accepted_gift_types": {
        "unlimited_gifts": False,
        "limited_gifts": False,
        "unique_gifts": False,
        "premium_subscription": False,
        "gifts_from_channels": False,
    },
}


class BadHTML(ValueError):
    """The text is not HTML that Telegram would accept."""


class _Checker(HTMLParser):
    """Rejects what Telegram's HTML parser rejects: unknown tags, unclosed or crossed tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.plain: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag not in ALLOWED_TAGS:
            raise BadHTML(f"Unsupported start tag {tag!r}")
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise BadHTML(f"Unexpected end tag {tag!r}")
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.plain.append(data)


_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")
_ENTITY = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def check_html(text: str) -> str:
    """The plain text Telegram would show for `text`, or `BadHTML`: every '<', '>' and
    '&' outside a tag or an entity must be escaped, tags must be known and balanced."""
    bare = _ENTITY.sub("", _TAG.sub("", text))
    for ch in "<>&":
        if ch in bare:
            raise BadHTML(f"unescaped {ch!r}")
    checker = _Checker()
    checker.feed(text)
    checker.close()
    if checker.stack:
        raise BadHTML(f"Unclosed tag {checker.stack[-1]!r}")
    return "".join(checker.plain)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def shown(self) -> str:
        """The text as the user sees it (HTML parsed, entities decoded)."""
        if self.params.get("parse_mode") == "HTML":
            try:
                return check_html(self.text)
            except BadHTML:
                return self.text
        return self.text

    @property
    def links(self) -> list[str]:
        """The href of every link in the HTML text."""
        checker = _Checker()
        checker.feed(self.text)
        return checker.links

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Every inline button in the request's reply_markup, row by row."""
        markup = self.params.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]


class BotAPIStandIn:
    """The stand-in server. Use as `async with BotAPIStandIn() as api: ...`."""

    def __init__(self, token: str = "42:stand-in-token") -> None:
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.webhook: dict[str, Any] | None = None
        # Command menus by (scope, language_code): scope "default" or "chat:<id>".
        self.menus: dict[tuple[str, str], list[dict[str, str]]] = {}
        # Groups the bot is in (getChat, forum topics); chats that answer 403/400.
        self.groups: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()  # users who blocked the bot: 403
        self.kicked: set[int] = set()  # groups the bot was removed from: 403
        self.missing: set[int] = set()  # chats that do not exist: 400 chat not found
        self.topics: dict[int, list[dict[str, Any]]] = {}
        self._thread_ids = itertools.count(70)
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._callback_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._new_call = asyncio.Event()
        self._since = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> BotAPIStandIn:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotAPIStandIn:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------ building updates

    @staticmethod
    def user(user_id: int, lang_code: str | None = "ru") -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User{user_id}",
            "last_name": f"Family{user_id}",
            "username": f"user{user_id}_tg",
        }
        if lang_code:
            user["language_code"] = lang_code
        return user

    def _message(
        self,
        user_id: int,
        lang_code: str | None,
        chat: dict[str, Any] | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        chat = chat or {"id": user_id, "type": "private", "first_name": f"User{user_id}"}
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": self.user(user_id, lang_code),
            **content,
        }

    def put_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (an update_id is added) for the next getUpdates."""
        update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        self._since = len(self.calls)
        self._new_update.set()
        return update

    async def send_text(
        self,
        user_id: int,
        text: str,
        lang_code: str | None = "ru",
        chat: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The user sends `text` (commands are marked as bot_command entities)."""
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        message = self._message(user_id, lang_code, chat, **content)
        self.put_update({"message": message})
        return message

    async def send_message(
        self, user_id: int, lang_code: str | None = "ru", **content: Any
    ) -> dict[str, Any]:
        """The user sends a message with arbitrary content (sticker=..., photo=...)."""
        message = self._message(user_id, lang_code, content.pop("chat", None), **content)
        self.put_update({"message": message})
        return message

    async def edit_text(self, message: dict[str, Any], text: str) -> dict[str, Any]:
        """The user edits one of their messages."""
        edited = {**message, "text": text, "edit_date": int(time.time())}
        self.put_update({"edited_message": edited})
        return edited

    async def press(
        self,
        callback_data: str,
        message: dict[str, Any] | Call,
        user_id: int | None = None,
        lang_code: str | None = "ru",
    ) -> dict[str, Any]:
        """The user taps an inline button with `callback_data` under the bot's `message`
        (a Message dict or the recorded Call that sent it)."""
        if isinstance(message, Call):
            message = self.message_of(message)
        chat_id = int(message["chat"]["id"])
        query = {
            "id": str(next(self._callback_ids)),
            "from": self.user(user_id if user_id is not None else chat_id, lang_code),
            "chat_instance": "stand-in",
            "message": message,
            "data": callback_data,
        }
        self.put_update({"callback_query": query})
        return query

    def add_group(self, chat_id: int, forum: bool = False, title: str = "Staff") -> dict[str, Any]:
        """A (super)group the bot is a member of; `forum`: it has topics."""
        chat = {"id": chat_id, "type": "supergroup", "title": title}
        if forum:
            chat["is_forum"] = True
        self.groups[chat_id] = chat
        return chat

    async def group_message(
        self,
        user: dict[str, Any],
        chat_id: int,
        text: str,
        reply_to: dict[str, Any] | Call | None = None,
        thread_id: int | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        """A member of group `chat_id` writes `text`, as a reply to the bot's message
        `reply_to` and/or in forum topic `thread_id`."""
        if isinstance(reply_to, Call):
            reply_to = self.message_of(reply_to)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.groups.get(chat_id) or {"id": chat_id, "type": "supergroup"},
            "from": user,
            **content,
        }
        if text:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
                ]
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        self.put_update({"message": message})
        return message

    def message_of(self, call: Call) -> dict[str, Any]:
        """The current state of the message a recorded sendMessage call created."""
        result = call.params.get("_result")
        if not result:
            raise LookupError(f"{call.method} did not create a message")
        return self.messages[(result["chat"]["id"], result["message_id"])]

    # ------------------------------------------------------------ inspecting calls

    def mark(self) -> int:
        """A position in the call log; later `wait_for(..., since=mark)` counts from it."""
        return len(self.calls)

    def since(self, method: str | None = None, since: int | None = None) -> list[Call]:
        start = self._since if since is None else since
        return [c for c in self.calls[start:] if method is None or c.method == method]

    async def wait_for(
        self, method: str, count: int = 1, since: int | None = None, timeout: float = 15.0
    ) -> list[Call]:
        """Wait until the bot has made `count` calls of `method` after the last update
        was queued (or after `since`), and return them."""
        start = self._since if since is None else since
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.calls[start:] if c.method == method]
            if len(found) >= count:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [c.method for c in self.calls[start:]]
                raise TimeoutError(f"expected {count} {method} call(s), saw {seen}")
            self._new_call.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_call.wait(), min(remaining, 0.2))

    async def settle(self, seconds: float = 0.5) -> None:
        """Give the bot time to (not) react; use before asserting that nothing was sent."""
        await asyncio.sleep(seconds)

    # ------------------------------------------------------------ the API

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        if request.method == "GET":
            raw: dict[str, Any] = dict(request.query)
        else:
            raw = dict(await request.post())
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if not isinstance(value, str):
                params[key] = "<file>"
            elif key in STRING_PARAMS:
                params[key] = value
            else:
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    params[key] = value
        return params

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(code: int, description: str) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": code, "description": description}, status=code
        )

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params)
        if method != "getUpdates":
            self.calls.append(call)
            self._new_call.set()
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        try:
            response = await handler(params)
        except BadHTML as exc:
            call.params["_error"] = str(exc)
            return self._error(400, f"Bad Request: can't parse entities: {exc}")
        except KeyError as exc:
            call.params["_error"] = str(exc)
            return self._error(400, f"Bad Request: {exc.args[0]} is required")
        except LookupError as exc:
            call.params["_error"] = str(exc)
            return self._error(400, f"Bad Request: {exc}")
        return response

    def _check_text(self, params: dict[str, Any]) -> None:
        text = params["text"]
        if not str(text).strip():
            raise LookupError("message text is empty")
        shown = check_html(text) if params.get("parse_mode") == "HTML" else text
        if utf16_len(shown) > MAX_TEXT:
            raise LookupError("message is too long")

    async def _api_getMe(self, params):  # noqa: N802 (Bot API method names)
        return self._ok(BOT_USER)

    async def _api_getUpdates(self, params):  # noqa: N802
        offset = int(params.get("offset") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        timeout = min(float(params.get("timeout") or 0), 1.0)
        if not self._updates and timeout:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout)
        limit = int(params.get("limit") or 100)
        return self._ok(self._updates[:limit])

    async def _api_setWebhook(self, params):  # noqa: N802
        self.webhook = params
        return self._ok(True)

    async def _api_deleteWebhook(self, params):  # noqa: N802
        self.webhook = None
        return self._ok(True)

    async def _api_getWebhookInfo(self, params):  # noqa: N802
        url = (self.webhook or {}).get("url", "")
        return self._ok({"url": url, "has_custom_certificate": False, "pending_update_count": 0})

    @staticmethod
    def _menu_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if scope.get("type") == "chat":
            where = f"chat:{int(scope['chat_id'])}"
        elif scope.get("type") == "default":
            where = "default"
        else:
            raise LookupError(f"scope type {scope.get('type')!r} is not supported here")
        return where, str(params.get("language_code") or "")

    async def _api_setMyCommands(self, params):  # noqa: N802
        # Telegram's limits: 1-100 commands, 1-32 characters of a-z, 0-9 and _, a
        # description of 1-256 characters; otherwise 400.
        commands = params["commands"]
        if not 0 < len(commands) <= 100:
            raise LookupError("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise LookupError("BOT_COMMAND_INVALID")
            if not 0 < len(str(command.get("description", ""))) <= 256:
                raise LookupError("BOT_COMMAND_DESCRIPTION_INVALID")
        self.menus[self._menu_key(params)] = list(commands)
        return self._ok(True)

    async def _api_deleteMyCommands(self, params):  # noqa: N802
        self.menus.pop(self._menu_key(params), None)
        return self._ok(True)

    def menu_for(self, chat_id: int, app_language: str | None) -> list[dict[str, str]]:
        """The menu a user sees in a private chat, resolved as Telegram does: the
        chat's own menu (in the app's language, then any), else the default (in the
        app's language, then any)."""
        lang = app_language or ""
        for key in ((f"chat:{chat_id}", lang), (f"chat:{chat_id}", ""), ("default", lang)):
            if key in self.menus:
                return self.menus[key]
        return self.menus.get(("default", ""), [])

    async def _api_sendChatAction(self, params):  # noqa: N802
        return self._ok(True)

    async def _api_answerCallbackQuery(self, params):  # noqa: N802
        return self._ok(True)

    async def _api_deleteMessage(self, params):  # noqa: N802
        self.messages.pop((int(params["chat_id"]), int(params["message_id"])), None)
        return self._ok(True)

    def _reachable(self, chat_id: int) -> web.Response | None:
        """Telegram's answers for a user who blocked the bot, a group that removed it,
        and a chat that does not exist."""
        if chat_id in self.blocked:
            return self._error(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.kicked:
            return self._error(403, "Forbidden: bot was kicked from the supergroup chat")
        if chat_id in self.missing:
            return self._error(400, "Bad Request: chat not found")
        return None

    async def _api_getChat(self, params):  # noqa: N802
        chat_id = int(params["chat_id"])
        refused = self._reachable(chat_id)
        if refused is not None:
            return refused
        if chat_id in self.groups:
            return self._ok({**self.groups[chat_id], **FULL_INFO})
        if chat_id > 0:
            return self._ok({"id": chat_id, "type": "private", **FULL_INFO})
        return self._error(400, "Bad Request: chat not found")

    async def _api_createForumTopic(self, params):  # noqa: N802
        chat_id = int(params["chat_id"])
        refused = self._reachable(chat_id)
        if refused is not None:
            return refused
        if not self.groups.get(chat_id, {}).get("is_forum"):
            return self._error(400, "Bad Request: the chat is not a forum")
        name = str(params["name"])
        if not 1 <= len(name) <= 128:
            return self._error(400, "Bad Request: TOPIC_TITLE_INVALID")
        topic = {"message_thread_id": next(self._thread_ids), "name": name, "icon_color": 7322096}
        self.topics.setdefault(chat_id, []).append(topic)
        return self._ok(topic)

    async def _api_sendMessage(self, params):  # noqa: N802
        self._check_text(params)
        chat_id = int(params["chat_id"])
        refused = self._reachable(chat_id)
        if refused is not None:
            return refused
        thread_id = params.get("message_thread_id")
        if thread_id is not None:
            known = [t["message_thread_id"] for t in self.topics.get(chat_id, [])]
            if int(thread_id) not in known:
                return self._error(400, "Bad Request: message thread not found")
        chat = self.groups.get(chat_id) or {
            "id": chat_id,
            "type": "private" if chat_id > 0 else "group",
        }
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": BOT_USER,
            "text": check_html(params["text"])
            if params.get("parse_mode") == "HTML"
            else params["text"],
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        if thread_id is not None:
            message["message_thread_id"] = int(thread_id)
            message["is_topic_message"] = True
        reply = params.get("reply_parameters") or {}
        replied = self.messages.get((chat_id, int(reply.get("message_id", 0) or 0)))
        if replied is not None:
            message["reply_to_message"] = {
                k: v for k, v in replied.items() if k != "reply_to_message"
            }
        self.messages[(chat_id, message["message_id"])] = message
        self.calls[-1].params["_result"] = message
        return self._ok(message)

    def _existing(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            raise LookupError("message to edit not found")
        return self.messages[key]

    async def _api_editMessageText(self, params):  # noqa: N802
        self._check_text(params)
        message = self._existing(params)
        message["text"] = (
            check_html(params["text"]) if params.get("parse_mode") == "HTML" else params["text"]
        )
        message["edit_date"] = int(time.time())
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        return self._ok(message)

    async def _api_editMessageReplyMarkup(self, params):  # noqa: N802
        message = self._existing(params)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        return self._ok(message)
