from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from primitives.clock import FakeClock
from primitives.kv import KVNamespace, open_kv_namespace
from tests.support.redis_server import redis_server  # noqa: F401  (fixture)


@pytest.fixture
async def kv(fake_clock: FakeClock) -> AsyncIterator[KVNamespace]:
    """A binding on ``memory:`` (validation does not depend on the backend)."""
    binding = open_kv_namespace("memory:", clock=fake_clock, name="KV")
    try:
        yield binding
    finally:
        await binding.aclose()
