"""Backends for the contract suites: every test runs once per backend URL.

``kv`` is a :class:`~primitives.kv.KVNamespace` on the fake clock, on ``memory:``, a fresh SQLite
file, and a real redis-server started for the session (its own namespace per test).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from primitives.clock import FakeClock
from primitives.kv import KVNamespace, open_kv_namespace
from tests.support.redis_server import RedisServer, redis_server  # noqa: F401  (fixture)

KV_BACKENDS = ["memory", "sqlite", "redis"]


def kv_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "memory":
        return "memory:"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'kv.sqlite3'}"
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


@pytest.fixture(params=KV_BACKENDS)
async def kv(
    request: pytest.FixtureRequest, tmp_path: Path, fake_clock: FakeClock
) -> AsyncIterator[KVNamespace]:
    url = kv_url(request.param, request, tmp_path)
    binding = open_kv_namespace(url, clock=fake_clock, name=f"test-{uuid.uuid4().hex}")
    try:
        yield binding
    finally:
        await binding.aclose()
