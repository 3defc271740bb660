"""RetryMiddleware against a real Bot API stand-in over HTTP on 127.0.0.1.

The stand-in is the project's `BotAPIStandIn` with scripted faults in front of it: for a
method, the next N requests get a 429 with retry_after, a 500, a 400/403, a dropped
connection or a slow answer; after the script runs out it answers like Telegram. Every
assertion counts requests and measures their spacing on the server side.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import defaultdict

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiohttp import web

from bot.telegram.retry import RetryMiddleware
from tests.support.standin import BotAPIStandIn

CHAT = 777001


class FaultyAPI(BotAPIStandIn):
    """The stand-in, with a per-method queue of faults served before real answers."""

    def __init__(self) -> None:
        super().__init__()
        self.faults: dict[str, list[tuple]] = defaultdict(list)
        self.hits: dict[str, list[float]] = defaultdict(list)  # arrival time per request

    def fail(self, method: str, *faults: tuple) -> None:
        self.faults[method].extend(faults)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        self.hits[method].append(time.monotonic())
        if self.faults[method]:
            kind, *args = self.faults[method].pop(0)
            if kind == "status":
                code, extra = args[0], (args[1] if len(args) > 1 else {})
                body = {"ok": False, "error_code": code, "description": f"error {code}", **extra}
                return web.json_response(body, status=code)
            if kind == "drop":  # close the connection without an answer
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            if kind == "slow":  # answer after the client gave up, like a lost response
                await request.read()  # the request did arrive in full
                await asyncio.sleep(args[0])
        return await super()._handle(request)

    def sent(self, method: str = "sendMessage") -> int:
        """How many requests of `method` reached the real API (the fault script excluded)."""
        return sum(1 for call in self.calls if call.method == method)


def flood(seconds: int) -> tuple:
    return ("status", 429, {"parameters": {"retry_after": seconds}})


@pytest.fixture
async def api():
    async with FaultyAPI() as server:
        yield server


def make_bot(base_url: str, middleware: RetryMiddleware | None, timeout: float = 5.0) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(base_url), timeout=timeout)
    if middleware is not None:
        session.middleware(middleware)
    return Bot("42:stand-in-token", session=session)


@pytest.fixture
async def bot(api):
    bot = make_bot(api.base_url, RetryMiddleware(base_delay=0.05, max_delay=0.4))
    yield bot
    await bot.session.close()


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


async def test_success_is_one_request(api, bot):
    message = await bot.send_message(CHAT, "hello")
    assert message.text == "hello"
    assert len(api.hits["sendMessage"]) == 1


async def test_flood_control_waits_retry_after_then_sends_once(api, bot):
    api.fail("sendMessage", flood(1))
    started = time.monotonic()
    message = await bot.send_message(CHAT, "after the flood")
    assert message.text == "after the flood"
    hits = api.hits["sendMessage"]
    assert len(hits) == 2
    assert gaps(hits)[0] >= 0.95  # waited the retry_after Telegram asked for
    assert time.monotonic() - started < 3
    assert api.sent() == 1


async def test_flood_control_longer_than_the_cap_propagates_at_once(api):
    bot = make_bot(api.base_url, RetryMiddleware(max_retry_after=2))
    try:
        api.fail("sendMessage", flood(30))
        started = time.monotonic()
        with pytest.raises(TelegramRetryAfter) as info:
            await bot.send_message(CHAT, "x")
        assert info.value.retry_after == 30
        assert time.monotonic() - started < 1
        assert len(api.hits["sendMessage"]) == 1
    finally:
        await bot.session.close()


async def test_server_errors_back_off_exponentially(api, bot):
    api.fail("sendMessage", ("status", 500), ("status", 502), ("status", 500))
    message = await bot.send_message(CHAT, "eventually")
    assert message.text == "eventually"
    hits = api.hits["sendMessage"]
    assert len(hits) == 4
    # base 0.05 s, equal jitter: retry n waits between 0.05*2**(n-1)/2 and 0.05*2**(n-1)
    first, second, third = gaps(hits)
    assert first >= 0.025 and second >= 0.05 and third >= 0.1
    assert third > first
    assert api.sent() == 1


async def test_server_errors_give_up_after_max_attempts(api):
    bot = make_bot(api.base_url, RetryMiddleware(max_attempts=3, base_delay=0.01))
    try:
        api.fail("sendMessage", *[("status", 500)] * 10)
        with pytest.raises(TelegramServerError):
            await bot.send_message(CHAT, "never")
        assert len(api.hits["sendMessage"]) == 3
        assert api.sent() == 0
    finally:
        await bot.session.close()


@pytest.mark.parametrize(
    ("code", "error"), [(400, TelegramBadRequest), (403, TelegramForbiddenError)]
)
async def test_client_errors_are_never_retried(api, bot, code, error):
    api.fail("sendMessage", ("status", code))
    started = time.monotonic()
    with pytest.raises(error):
        await bot.send_message(CHAT, "x")
    assert len(api.hits["sendMessage"]) == 1
    assert time.monotonic() - started < 0.5


async def test_real_bad_request_from_the_api_is_not_retried(api, bot):
    # The stand-in itself refuses broken HTML with 400, as Telegram does.
    with pytest.raises(TelegramBadRequest):
        await bot.send_message(CHAT, "<b>unclosed", parse_mode="HTML")
    assert len(api.hits["sendMessage"]) == 1


async def test_dropped_connection_on_send_is_retried_at_most_once(api, bot):
    # The request reached the server, the answer never came back: it may have been
    # delivered, so one retry and no more.
    api.fail("sendMessage", ("drop",), ("drop",), ("drop",))
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(CHAT, "maybe delivered")
    assert len(api.hits["sendMessage"]) == 2


async def test_dropped_connection_once_then_delivered(api, bot):
    api.fail("sendMessage", ("drop",))
    message = await bot.send_message(CHAT, "second try")
    assert message.text == "second try"
    assert len(api.hits["sendMessage"]) == 2
    assert api.sent() == 1


async def test_read_timeout_on_send_is_retried_at_most_once(api):
    bot = make_bot(api.base_url, RetryMiddleware(base_delay=0.01), timeout=0.3)
    try:
        api.fail("sendMessage", ("slow", 1.0), ("slow", 1.0), ("slow", 1.0))
        with pytest.raises(TelegramNetworkError):
            await bot.send_message(CHAT, "slow")
        await asyncio.sleep(0.8)  # let the server finish the slow requests it received
        assert len(api.hits["sendMessage"]) == 2
        # The slow answers did reach the API: this is the duplicate the rule bounds.
        assert api.sent() == 2
    finally:
        await bot.session.close()


async def test_timeouts_on_idempotent_methods_are_retried_fully(api):
    bot = make_bot(api.base_url, RetryMiddleware(base_delay=0.01), timeout=0.3)
    try:
        api.fail("getMe", ("slow", 1.0), ("slow", 1.0), ("drop",))
        me = await bot.get_me()
        assert me.username == "migrant_helper_test_bot"
        assert len(api.hits["getMe"]) == 4
    finally:
        await bot.session.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connection_refused_is_retried_with_backoff():
    # Nothing listens: the request was never sent, so every attempt is safe.
    port = closed_port()
    bot = make_bot(f"http://127.0.0.1:{port}", RetryMiddleware(max_attempts=4, base_delay=0.1))
    try:
        started = time.monotonic()
        with pytest.raises(TelegramNetworkError):
            await bot.send_message(CHAT, "x")
        # three backoffs: at least 0.05 + 0.1 + 0.2
        assert time.monotonic() - started >= 0.35
    finally:
        await bot.session.close()


async def test_connection_refused_then_server_up_delivers_once():
    port = closed_port()
    api = FaultyAPI()
    bot = make_bot(f"http://127.0.0.1:{port}", RetryMiddleware(max_attempts=6, base_delay=0.2))

    async def start_late() -> None:
        await asyncio.sleep(0.15)
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", api._handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        api._runner = runner

    try:
        starter = asyncio.create_task(start_late())
        message = await bot.send_message(CHAT, "late server")
        await starter
        assert message.text == "late server"
        assert api.sent() == 1
    finally:
        await bot.session.close()
        await api.stop()


async def test_without_the_middleware_a_429_is_lost(api):
    # The control: the same fault with no middleware reaches the caller.
    bot = make_bot(api.base_url, None)
    try:
        api.fail("sendMessage", flood(1))
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(CHAT, "x")
        assert api.sent() == 0
    finally:
        await bot.session.close()


async def test_get_updates_is_passed_through(api, bot):
    api.fail("getUpdates", ("status", 500))
    with pytest.raises(TelegramServerError):
        await bot.get_updates(timeout=0)
    assert len(api.hits["getUpdates"]) == 1


def test_backoff_is_capped_and_jittered():
    middleware = RetryMiddleware(base_delay=1.0, max_delay=4.0)
    delays = [middleware.backoff(n) for n in range(1, 8) for _ in range(20)]
    assert all(0.5 <= d <= 4.0 for d in delays)
    assert max(middleware.backoff(7) for _ in range(50)) <= 4.0
    assert len({round(d, 6) for d in delays}) > 20  # jitter spreads retries out


async def test_total_wait_is_bounded(api):
    # Two floods of 1 s each would be allowed one by one, but not 1.5 s in all.
    bot = make_bot(api.base_url, RetryMiddleware(max_total_delay=1.5))
    try:
        api.fail("sendMessage", flood(1), flood(1))
        started = time.monotonic()
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(CHAT, "x")
        assert 0.95 <= time.monotonic() - started < 1.5
        assert len(api.hits["sendMessage"]) == 2
        assert api.sent() == 0
    finally:
        await bot.session.close()
