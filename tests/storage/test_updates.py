"""Update ids claimed once across workers, against real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

from tests.support.storage_backends import Clock

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
STALE = dt.timedelta(minutes=2)


async def test_an_update_is_claimed_once_even_by_concurrent_workers(backend):
    storage = await backend.open(clock=Clock(NOW))
    claims = await asyncio.gather(*(storage.claim_update(77, STALE) for _ in range(8)))
    assert claims.count(True) == 1
    await storage.finish_update(77)
    assert not await storage.claim_update(77, STALE)  # done: never again


async def test_a_stale_claim_is_taken_over_and_a_released_one_is_free(backend):
    clock = Clock(NOW)
    storage = await backend.open(clock=clock)
    assert await storage.claim_update(5, STALE)
    assert not await storage.claim_update(5, STALE)  # someone is handling it
    clock.now = NOW + STALE + dt.timedelta(seconds=1)
    assert await storage.claim_update(5, STALE)  # that worker stopped mid-way
    await storage.release_update(5)
    assert await storage.claim_update(5, STALE)
    assert await storage.claim_update(6, STALE)
    assert await storage.release_updates() == 2
    await storage.finish_update(6)  # nothing to finish: released
    assert await storage.claim_update(6, STALE)


async def test_old_update_ids_are_purged(backend):
    clock = Clock(NOW)
    storage = await backend.open(clock=clock)
    await storage.claim_update(1, STALE)
    await storage.finish_update(1)
    clock.now = NOW + dt.timedelta(days=3)
    await storage.claim_update(2, STALE)
    assert await storage.purge_updates(NOW + dt.timedelta(days=1)) == 1
    assert await storage.claim_update(1, STALE)  # forgotten, as Telegram has too


async def test_a_batch_is_accepted_into_the_inbox_and_cleared_when_handled(backend):
    storage = await backend.open(clock=Clock(NOW))
    await storage.claim_update(2, STALE)
    await storage.finish_update(2)  # handled before
    taken = await storage.accept_updates([(1, '{"a": 1}'), (2, '{"b": 2}'), (3, '{"c": 3}')], STALE)
    assert taken == {1, 3}
    assert await storage.unfinished_updates() == [(1, '{"a": 1}'), (3, '{"c": 3}')]
    await storage.finish_update(1)
    assert await storage.unfinished_updates() == [(3, '{"c": 3}')]
    assert await storage.release_updates() == 0  # inbox entries are kept for the restart
