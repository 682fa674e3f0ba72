"""Backends for the contract suites: every test runs once per backend URL.

``kv`` is a :class:`~primitives.kv.KVNamespace` on the fake clock, on ``memory:``, a fresh SQLite
file, and a real redis-server started for the session (its own namespace per test).

``r2`` is an :class:`~primitives.r2.R2Bucket` on ``memory:``, ``file://<tmp>`` and ``s3://`` against
a real moto_server started for the session (its own bucket per test); multipart's minimum part
size is cut to 50 bytes (moto_server is started with the same minimum).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from primitives.clock import FakeClock
from primitives.kv import KVNamespace, open_kv_namespace
from primitives.r2 import R2Bucket, open_r2_backend
from tests.support.moto_server import MOTO_MIN_PART_BYTES, moto_endpoint, s3_client, s3_url
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


R2_BACKENDS = ["memory", "file", "s3"]
_bucket_ids = itertools.count()


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    yield from moto_endpoint()


def r2_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "memory":
        return "memory:"
    if kind == "file":
        return f"file://{tmp_path}/r2"
    endpoint = request.getfixturevalue("moto_url")
    name = f"contract-{next(_bucket_ids)}"
    client: Any = s3_client(endpoint)
    client.create_bucket(Bucket=name)
    client.close()
    return s3_url(endpoint, name)


@pytest.fixture(params=R2_BACKENDS)
async def r2(
    request: pytest.FixtureRequest, tmp_path: Path, fake_clock: FakeClock
) -> AsyncIterator[R2Bucket]:
    """An R2 binding over each backend, with multipart's minimum part size cut to 50 bytes."""
    url = r2_url(request.param, tmp_path, request)
    bucket = R2Bucket(
        open_r2_backend(url), clock=fake_clock, name="BUCKET", min_part_bytes=MOTO_MIN_PART_BYTES
    )
    try:
        yield bucket
    finally:
        await bucket.aclose()
