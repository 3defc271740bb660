"""The storage tests run every case against SQLite and PostgreSQL (see
tests/storage_backends.py for the private schemas and MIGRANT_BOT_SKIP_PG)."""

from __future__ import annotations

import pytest

from tests.support.storage_backends import make_backend


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request, tmp_path):
    made = await make_backend(request.param, tmp_path)
    yield made
    await made.cleanup()
