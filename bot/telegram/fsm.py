"""FSM storage for multi-step conversations (/deadlines): in memory or in Redis.

Why Redis: with several webhook workers behind one URL, consecutive messages of one
user land on different workers; a conversation kept in one worker's memory would be
forgotten at the next step. With REDIS_URL set every worker reads and writes the same
state.

Privacy: aiogram's default Redis keys contain the raw chat and user ids. Here keys are
`<prefix>:<hmac>:<part>` with the HMAC of bot, chat, thread, user and destiny under the
user-hash salt (bot.privacy), so a Redis dump cannot be joined to Telegram accounts.
Conversation state expires after `ttl` seconds (a day by default): nothing lingers from
conversations people abandoned.

Redis down at run time: aiogram's FSM middleware reads the state of EVERY update before
any handler runs, so a failing storage would stop plain questions too. The Redis storage
is therefore wrapped in `FailSoftStorage`: while Redis fails, reads return "no state, no
data" and writes are dropped (warning logged at most once per minute). Questions are
answered as usual; a /deadlines conversation in progress is lost (the next message is
treated as a new question), and a new one cannot get past its first step until Redis is
back. Nothing is written to Redis later from that period.

At start-up call `await check_redis(settings.redis_url)` to fail fast, with a message ops
can act on, when REDIS_URL points nowhere.

Wiring:

    dp = Dispatcher(storage=make_fsm_storage(settings))
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from aiogram.fsm.storage.base import BaseStorage, KeyBuilder, StateType, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from bot.errors import ConfigError
from bot.privacy import salt_from

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

FSM_PREFIX = "migrant-bot:fsm"
DEFAULT_TTL = 24 * 3600
WARN_EVERY = 60.0


class RedisUnreachable(ConfigError):
    """REDIS_URL is set but Redis does not answer; the message says what to change."""


def redact_url(url: str) -> str:
    """The URL with its password replaced by ***, safe for logs and error messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable REDIS_URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class HashedKeyBuilder(KeyBuilder):
    """Redis keys that carry no Telegram id: `<prefix>:<hmac-sha256>:<part>`."""

    def __init__(self, salt: str, prefix: str = FSM_PREFIX) -> None:
        if not salt:
            raise ValueError("HashedKeyBuilder needs the user-hash salt")
        self.prefix = prefix
        self._salt = salt.encode()

    def build(self, key: StorageKey, part: Literal["data", "state", "lock"] | None = None) -> str:
        ident = "\x1f".join(
            str(value)
            for value in (
                key.bot_id,
                key.business_connection_id or "",
                key.chat_id,
                key.thread_id or "",
                key.user_id,
                key.destiny,
            )
        )
        digest = hmac.new(self._salt, ident.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{self.prefix}:{digest}:{part}" if part else f"{self.prefix}:{digest}"


class FailSoftStorage(BaseStorage):
    """Wraps a storage so that its failures never stop an update (see module doc)."""

    def __init__(
        self,
        inner: BaseStorage,
        retry_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.retry_interval = retry_interval
        self._clock = clock
        self._down_until = float("-inf")
        self._warned_at = float("-inf")

    def _down(self) -> bool:
        """After a failure the backend is left alone for `retry_interval` seconds, so an
        unreachable host does not add a connect timeout to every update."""
        return self._clock() < self._down_until

    def _failed(self, operation: str, exc: Exception) -> None:
        now = self._clock()
        self._down_until = now + self.retry_interval
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning(
                "FSM storage unavailable (%s on %s: %s); conversations (/deadlines) are "
                "not kept until it is back, questions are still answered",
                type(exc).__name__,
                operation,
                exc,
            )

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        if self._down():
            return
        try:
            await self.inner.set_state(key, state)
        except Exception as exc:  # noqa: BLE001 - any backend failure degrades softly
            self._failed("set_state", exc)

    async def get_state(self, key: StorageKey) -> str | None:
        if self._down():
            return None
        try:
            return await self.inner.get_state(key)
        except Exception as exc:  # noqa: BLE001
            self._failed("get_state", exc)
            return None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if self._down():
            return
        try:
            await self.inner.set_data(key, data)
        except Exception as exc:  # noqa: BLE001
            self._failed("set_data", exc)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        if self._down():
            return {}
        try:
            return await self.inner.get_data(key)
        except Exception as exc:  # noqa: BLE001
            self._failed("get_data", exc)
            return {}

    async def close(self) -> None:
        await self.inner.close()


def make_fsm_storage(
    settings: Settings, ttl: int = DEFAULT_TTL, prefix: str = FSM_PREFIX, salt: str | None = None
) -> BaseStorage:
    """MemoryStorage when REDIS_URL is empty (one process), else Redis shared by workers
    (keys `<prefix>:<hmac>:state|data`, expiring after `ttl` seconds)."""
    if not settings.redis_url:
        return MemoryStorage()
    from aiogram.fsm.storage.redis import RedisStorage
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    storage = RedisStorage.from_url(
        settings.redis_url,
        connection_kwargs={
            "socket_connect_timeout": 1.0,
            "socket_timeout": 1.0,
            "retry": Retry(NoBackoff(), 1),
        },
        key_builder=HashedKeyBuilder(salt or salt_from(settings), prefix),
        state_ttl=ttl,
        data_ttl=ttl,
    )
    return FailSoftStorage(storage)


async def check_redis(url: str, timeout: float = 2.0) -> None:
    """Start-up probe: PING the Redis at `url`; raise RedisUnreachable with a message
    ops can act on. Does nothing when `url` is empty (single-worker mode)."""
    if not url:
        return
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    where = redact_url(url)
    try:
        client = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    except ValueError as exc:
        raise RedisUnreachable(
            f"REDIS_URL {where!r} is not a Redis URL ({exc}); use redis://host:6379/0 "
            "or leave it empty for single-worker mode"
        ) from exc
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        raise RedisUnreachable(
            f"Redis at {where} is unreachable: {type(exc).__name__}: {exc}; check "
            "REDIS_URL or leave it empty for single-worker mode"
        ) from exc
    finally:
        await client.aclose()
