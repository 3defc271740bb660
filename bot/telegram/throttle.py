"""Per-user throttling: at most THROTTLE_RATE messages per THROTTLE_PERIOD seconds.

Why: every question costs an embedding and a FAISS search; one user pasting fifty
messages (or a script) must not slow the bot down for everyone else. Over the limit the
user gets ONE polite reply per period ("You are sending messages too fast..."), further
messages are dropped silently so the bot never answers spam with spam. Callback queries
over the limit are always answered (answerCallbackQuery with the same text), because an
unanswered button keeps spinning on the user's phone.

The window is sliding: a message is let through when fewer than `rate` messages were let
through in the last `period` seconds. Dropped messages do not count, so a user who keeps
typing is served again as soon as their earlier messages leave the window.

Two backends behind one small interface (`ThrottleBackend.hit`):

- `MemoryThrottleBackend` (default, one process): a dict of per-user windows ordered by
  last activity. Users idle for longer than the period are evicted on every call (their
  state can no longer matter), and at most `max_users` are kept, so memory is bounded
  even under a flood of distinct senders.
- `RedisThrottleBackend` (REDIS_URL set, several webhook workers): the same sliding
  window as a sorted set per user, checked and updated by one Lua script (atomic, Redis
  server time, so workers with skewed clocks agree). Keys contain `bot.privacy.user_key`
  (salted HMAC), never a raw Telegram id.

Redis down: the Redis backend FAILS OPEN. Every message is let through (answers keep
flowing; throttling is a protection, not a feature users need), a warning is logged at
most once per minute, and Redis is not tried again for `retry_interval` seconds so an
unreachable host adds no latency to each message.

Wiring (one instance on both observers, so messages and button presses share a limit):

    throttle = ThrottlingMiddleware(make_throttle_backend(settings),
                                    settings.throttle_rate, settings.throttle_period)
    dp.message.outer_middleware(throttle)
    dp.callback_query.outer_middleware(throttle)

Registered on `dp.message`/`dp.callback_query` (not `dp.update`) it runs inside the
update-level middlewares, so the i18n context is already set and the reply is in the
user's language.
"""

from __future__ import annotations

import enum
import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User
from aiogram.utils.i18n import gettext as _

from bot.privacy import salt_from, user_key

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bot.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_MAX_USERS = 100_000
REDIS_PREFIX = "migrant-bot:throttle"
WARN_EVERY = 60.0  # seconds between "Redis is down" warnings


class Verdict(enum.Enum):
    ALLOW = "allow"  # under the limit: handle the update
    WARN = "warn"  # first refusal in this period: send the polite reply
    DROP = "drop"  # further refusals: drop silently


class ThrottleBackend(Protocol):
    async def hit(self, user_id: int, rate: int, period: float) -> Verdict:
        """Record one message from the user and say what to do with it."""
        ...

    async def close(self) -> None: ...


# -- in memory ----------------------------------------------------------------------


@dataclass
class _Window:
    hits: deque[float] = field(default_factory=deque)  # times of let-through messages
    warned_at: float = float("-inf")
    last_seen: float = 0.0


class MemoryThrottleBackend:
    """One process's sliding windows; bounded memory (idle users evicted, `max_users` cap)."""

    def __init__(
        self, max_users: int = DEFAULT_MAX_USERS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_users < 1:
            raise ValueError("max_users must be at least 1")
        self.max_users = max_users
        self._clock = clock
        self._users: OrderedDict[int, _Window] = OrderedDict()

    def __len__(self) -> int:
        return len(self._users)

    async def hit(self, user_id: int, rate: int, period: float) -> Verdict:
        now = self._clock()
        self._evict_idle(now, period)
        window = self._users.get(user_id)
        if window is None:
            window = self._users[user_id] = _Window()
            if len(self._users) > self.max_users:
                # Least recently active first; losing their window only means they may
                # get a few extra messages through.
                self._users.popitem(last=False)
        else:
            self._users.move_to_end(user_id)
        window.last_seen = now
        hits = window.hits
        while hits and now - hits[0] >= period:
            hits.popleft()
        if len(hits) < rate:
            hits.append(now)
            return Verdict.ALLOW
        if now - window.warned_at >= period:
            window.warned_at = now
            return Verdict.WARN
        return Verdict.DROP

    def _evict_idle(self, now: float, period: float) -> None:
        # The dict is ordered by last activity, so idle users are at the front; a user
        # idle for a whole period has no hit and no warning left in the window.
        users = self._users
        while users:
            oldest = next(iter(users.values()))
            if now - oldest.last_seen < period:
                break
            users.popitem(last=False)

    async def close(self) -> None:
        self._users.clear()


# -- Redis --------------------------------------------------------------------------

# KEYS[1]: sorted set of let-through messages (score = ms), KEYS[2]: "warned" flag.
# ARGV[1]: rate, ARGV[2]: period in ms, ARGV[3]: a unique member for this message.
# Returns 0 allow, 1 warn, 2 drop. Uses the server clock so all workers agree.
_SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local period = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], period)
  return 0
end
if redis.call('SET', KEYS[2], '1', 'PX', period, 'NX') then
  return 1
end
return 2
"""
_VERDICTS = {0: Verdict.ALLOW, 1: Verdict.WARN, 2: Verdict.DROP}


class RedisThrottleBackend:
    """Sliding windows shared by every worker that uses the same Redis and prefix.

    Fails open: while Redis is unreachable every message is allowed (see module doc).
    """

    def __init__(
        self,
        redis: Redis,
        salt: str,
        prefix: str = REDIS_PREFIX,
        retry_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not salt:
            raise ValueError("RedisThrottleBackend needs the user-hash salt")
        self.redis = redis
        self.prefix = prefix
        self.retry_interval = retry_interval
        self._salt = salt
        self._clock = clock
        self._script = redis.register_script(_SLIDING_WINDOW_LUA)
        self._down_until = float("-inf")
        self._warned_at = float("-inf")

    def keys_for(self, user_id: int) -> tuple[str, str]:
        """The two Redis keys of a user: hashed id, hash tag so both share a cluster slot."""
        tag = user_key(user_id, self._salt)
        return f"{self.prefix}:{{{tag}}}:w", f"{self.prefix}:{{{tag}}}:warned"

    async def hit(self, user_id: int, rate: int, period: float) -> Verdict:
        now = self._clock()
        if now < self._down_until:
            return Verdict.ALLOW
        period_ms = max(1, int(period * 1000))
        try:
            code = await self._script(
                keys=list(self.keys_for(user_id)), args=[rate, period_ms, uuid.uuid4().hex]
            )
        except Exception as exc:  # noqa: BLE001 - any Redis/network failure fails open
            self._failed(now, exc)
            return Verdict.ALLOW
        return _VERDICTS.get(int(code), Verdict.ALLOW)

    def _failed(self, now: float, exc: Exception) -> None:
        self._down_until = now + self.retry_interval
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning(
                "throttling: Redis unavailable (%s: %s); letting messages through "
                "unthrottled (fail open), retrying every %.0f s",
                type(exc).__name__,
                exc,
                self.retry_interval,
            )

    async def close(self) -> None:
        await self.redis.aclose()


def redis_client(url: str, timeout: float = 1.0) -> Redis:
    """A Redis client that gives up fast: short timeouts and a single immediate retry
    (the library default backs off for seconds, which would stall every message)."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
    )


def make_throttle_backend(settings: Settings, salt: str | None = None) -> ThrottleBackend:
    """Redis when REDIS_URL is set (several workers share one limit), else in memory.
    `salt` defaults to the user-hash salt of the settings (bot.privacy.salt_from)."""
    if settings.redis_url:
        return RedisThrottleBackend(redis_client(settings.redis_url), salt or salt_from(settings))
    return MemoryThrottleBackend()


# -- middleware ---------------------------------------------------------------------


def default_reply() -> str:
    """The polite refusal, in the user's language when an i18n context is set."""
    try:
        return _("You are sending messages too fast. Please wait a few seconds.")
    except LookupError:  # no i18n middleware (e.g. a bare dispatcher): English source
        return "You are sending messages too fast. Please wait a few seconds."


class ThrottlingMiddleware(BaseMiddleware):
    """Outer middleware for `dp.message` and `dp.callback_query` (or `dp.update`)."""

    def __init__(
        self,
        backend: ThrottleBackend,
        rate: int,
        period: float,
        reply: Callable[[], str] = default_reply,
    ) -> None:
        if rate < 1 or period <= 0:
            raise ValueError("throttling needs rate >= 1 and period > 0")
        self.backend = backend
        self.rate = rate
        self.period = period
        self.reply = reply

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:  # channel posts and the like: nothing to throttle per user
            return await handler(event, data)
        verdict = await self.backend.hit(user.id, self.rate, self.period)
        if verdict is Verdict.ALLOW:
            return await handler(event, data)
        target = event.event if isinstance(event, Update) else event
        await self._refuse(target, data["bot"], verdict)
        return None

    async def _refuse(self, target: Any, bot: Bot, verdict: Verdict) -> None:
        try:
            if isinstance(target, CallbackQuery):
                await bot.answer_callback_query(target.id, text=self.reply())
            elif verdict is Verdict.WARN and isinstance(target, Message):
                await bot.send_message(target.chat.id, self.reply())
        except TelegramAPIError as exc:
            # The refusal is a courtesy; never let it crash the update.
            log.info("throttling: could not send the refusal (%s)", type(exc).__name__)
