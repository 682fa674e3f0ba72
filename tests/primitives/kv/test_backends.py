"""Backend URLs, storage details and error mapping (SQLite and a real redis-server)."""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from primitives.clock import FakeClock
from primitives.errors import BackendError, ConfigError, UnsupportedBackend
from primitives.kv import (
    KVBackendError,
    KVNamespace,
    KVStorageError,
    open_kv_backend,
    open_kv_namespace,
)
from primitives.kv.backend import KVEntry
from primitives.kv.backends import (
    MemoryKVBackend,
    SQLiteKVBackend,
    sqlite as sqlite_backend,
    sqlite_path_from_url,
)
from primitives.kv.backends.redis import (
    NATIVE_EXPIRY_GRACE_MS,
    RedisKVBackend,
    _MappedErrors,
    redis_key_layout,
)
from primitives.kv.backends.sqlite import INLINE_MAX_BYTES
from tests.support.redis_server import RedisServer, redis_server_binary

# -- URLs ----------------------------------------------------------------------------------------


def test_open_kv_backend_maps_schemes(tmp_path: Path) -> None:
    assert isinstance(open_kv_backend("memory:"), MemoryKVBackend)
    backend = open_kv_backend(f"sqlite:///{tmp_path}/kv.sqlite3")
    assert isinstance(backend, SQLiteKVBackend)
    assert backend.path == tmp_path / "kv.sqlite3"
    redis_backend = open_kv_backend("redis://127.0.0.1:1/3?namespace=flags")
    assert isinstance(redis_backend, RedisKVBackend)
    assert redis_backend.namespace == "flags"
    assert open_kv_backend("redis://127.0.0.1:1/3", namespace="SESSIONS").namespace == "SESSIONS"  # type: ignore[attr-defined]


def test_open_kv_backend_rejects_unknown_scheme() -> None:
    with pytest.raises(UnsupportedBackend) as info:
        open_kv_backend("s3://bucket/kv")
    assert str(info.value).startswith("unsupported backend 's3' for KV: s3://bucket/kv")


def test_open_kv_backend_rejects_bad_urls() -> None:
    with pytest.raises(ConfigError, match="sqlite URL must not name a host"):
        open_kv_backend("sqlite://host/kv.sqlite3")
    with pytest.raises(ConfigError, match="sqlite URL has no path"):
        open_kv_backend("sqlite:")


def test_open_kv_backend_without_redis_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    monkeypatch.delitem(sys.modules, "primitives.kv.backends.redis", raising=False)
    with pytest.raises(ConfigError, match=r"pip install 'edgeroom\[redis\]'"):
        open_kv_backend("redis://127.0.0.1:6379/0")


def test_open_kv_backend_rejects_malformed_redis_url() -> None:
    with pytest.raises(ConfigError, match="invalid Redis URL"):
        open_kv_backend("redis://127.0.0.1:notaport/0")


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///abs/kv.sqlite3", "/abs/kv.sqlite3"),
        ("sqlite:////abs/kv.sqlite3", "/abs/kv.sqlite3"),
        ("sqlite:relative/kv.sqlite3", "relative/kv.sqlite3"),
        ("sqlite:///with%20space.sqlite3", "/with space.sqlite3"),
    ],
)
def test_sqlite_path_from_url(url: str, path: str) -> None:
    assert sqlite_path_from_url(url) == Path(path)


# -- SQLite --------------------------------------------------------------------------------------


async def test_sqlite_uses_wal_and_sweeps_rows(tmp_path: Path, fake_clock: FakeClock) -> None:
    path = tmp_path / "kv.sqlite3"
    async with open_kv_namespace(f"sqlite:///{path}", clock=fake_clock, name="KV") as kv:
        await kv.put("old", "v", expirationTtl=60)
        await kv.put("new", "v")
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert raw.execute("SELECT count(*) FROM kv_entries").fetchone() == (2,)
        fake_clock.advance(60)
        for _ in range(400):
            await fake_clock.settle()
            if kv.sweeps:
                break
            await asyncio.sleep(0.005)
        with sqlite3.connect(path) as raw:
            assert raw.execute("SELECT key FROM kv_entries").fetchall() == [(b"new",)]


async def test_sqlite_failure_becomes_kv_backend_error(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    (tmp_path / "kv.sqlite3").mkdir()  # a directory where the database file should be
    async with open_kv_namespace(
        f"sqlite:///{tmp_path / 'kv.sqlite3'}", clock=fake_clock, name="KV"
    ) as kv:
        with pytest.raises(KVBackendError) as info:
            await kv.get("k")
    assert str(info.value).startswith("KV GET failed: 500 Internal Server Error (SQLite KV store ")
    assert isinstance(info.value, BackendError)
    assert isinstance(info.value.__cause__, KVStorageError)
    assert isinstance(info.value.__cause__.__cause__, sqlite3.Error)


async def test_sqlite_corrupt_file_gives_specific_error(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    path = tmp_path / "kv.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    async with open_kv_namespace(f"sqlite:///{path}", clock=fake_clock, name="KV") as kv:
        with pytest.raises(KVBackendError, match=r"KV PUT failed: 500 .*not a database"):
            await kv.put("k", "v")
    assert path.read_bytes().startswith(b"this is not a database")


async def test_sqlite_read_never_overtakes_a_queued_write(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    """A large put goes to the thread; a get issued behind it must not run inline before it."""
    async with open_kv_namespace(
        f"sqlite:///{tmp_path / 'kv.sqlite3'}", clock=fake_clock, name="KV"
    ) as kv:
        await kv.put("small", "s")  # opens the file: later small operations may run inline
        big = "b" * (INLINE_MAX_BYTES + 1)
        for round_ in range(20):
            put = asyncio.ensure_future(kv.put(f"k{round_}", big))
            await asyncio.sleep(0)  # the put is now queued on the thread
            assert await kv.get(f"k{round_}") == big
            await put
        assert await kv.get("small") == "s"


async def test_sqlite_small_ops_run_on_the_loop_and_large_values_do_not(tmp_path: Path) -> None:
    backend = SQLiteKVBackend(tmp_path / "kv.sqlite3")
    try:
        await backend.put("warm", KVEntry(b"w"), now=0)  # the first call opens on the thread
        calls = 0
        real_call = backend._call

        async def counting_call(fn):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            return await real_call(fn)

        backend._call = counting_call  # type: ignore[method-assign]
        await backend.put("a", KVEntry(b"x" * 100, None, b'{"m":1}'), now=0)
        assert await backend.get("a", now=0) == KVEntry(b"x" * 100, None, b'{"m":1}')
        await backend.delete("a")
        assert await backend.get("a", now=0) is None
        assert calls == 0
        large = b"y" * (INLINE_MAX_BYTES + 1)
        await backend.put("big", KVEntry(large), now=0)
        assert calls == 1
        assert await backend.get("big", now=0) == KVEntry(large)
        assert calls == 2  # read inline up to the size check, then the value on the thread
    finally:
        await backend.aclose()


async def test_sqlite_inline_write_waits_for_a_lock_on_the_thread(tmp_path: Path) -> None:
    """Another writer holds the lock: the put neither fails nor blocks the loop, and lands."""
    path = tmp_path / "kv.sqlite3"
    backend = SQLiteKVBackend(path)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        await backend.put("warm", KVEntry(b"w"), now=0)
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        put = asyncio.ensure_future(backend.put("k", KVEntry(b"v"), now=0))
        started = time.monotonic()
        for _ in range(5):
            await asyncio.sleep(0)  # the loop keeps running while the put waits
        assert time.monotonic() - started < 1  # not stuck in a busy wait (its timeout is 5 s)
        assert not put.done()
        other.execute("COMMIT")
        await asyncio.wait_for(put, timeout=10)
        assert await backend.get("k", now=0) == KVEntry(b"v")
    finally:
        other.close()
        await backend.aclose()


async def test_sqlite_inline_writes_are_checkpointed_on_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "kv.sqlite3"
    monkeypatch.setattr(sqlite_backend, "CHECKPOINT_EVERY_BYTES", 256 * 1024)
    backend = SQLiteKVBackend(path)
    try:
        await backend.put("warm", KVEntry(b"w"), now=0)
        size_before = path.stat().st_size
        for i in range(64):
            await backend.put(f"k{i:03d}", KVEntry(bytes([i]) * 8192), now=0)
        await backend.list(prefix="", start_after=None, limit=1, now=0)  # queued behind it
        assert path.stat().st_size >= size_before + 256 * 1024  # pages copied out of the WAL
        assert not backend._checkpointing
    finally:
        await backend.aclose()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT count(*) FROM kv_entries").fetchone() == (65,)


# -- Redis ---------------------------------------------------------------------------------------


@pytest.fixture
async def redis_kv(
    redis_server: RedisServer, fake_clock: FakeClock
) -> AsyncIterator[tuple[KVNamespace, aioredis.Redis, str]]:
    namespace = f"t-{uuid.uuid4().hex}"
    kv = open_kv_namespace(redis_server.url, clock=fake_clock, name=namespace)
    raw = aioredis.Redis.from_url(redis_server.url)
    try:
        yield kv, raw, namespace
    finally:
        await kv.aclose()
        await raw.aclose()


async def test_redis_stores_value_metadata_expiration_in_one_hash(
    redis_kv: tuple[KVNamespace, aioredis.Redis, str], fake_clock: FakeClock
) -> None:
    kv, raw, namespace = redis_kv
    hash_prefix, index, expiry = redis_key_layout(namespace)
    await kv.put("k", "v", metadata={"m": 1}, expirationTtl=120)
    expiration = int(fake_clock.now()) + 120
    assert await raw.hgetall(hash_prefix + b"k") == {
        b"v": b"v",
        b"m": b'{"m":1}',
        b"e": str(expiration).encode(),
    }
    assert await raw.zrange(index, 0, -1, withscores=True) == [(b"k", 0.0)]
    assert await raw.zrange(expiry, 0, -1, withscores=True) == [(b"k", float(expiration))]
    # Native expiry is relative to the write plus a grace period, whatever the clock says.
    pttl = await raw.pttl(hash_prefix + b"k")
    assert 120_000 + NATIVE_EXPIRY_GRACE_MS - 5_000 < pttl <= 120_000 + NATIVE_EXPIRY_GRACE_MS
    await kv.put("k", "v2")
    assert await raw.pttl(hash_prefix + b"k") == -1
    assert await raw.zrange(expiry, 0, -1) == []
    await kv.delete("k")
    assert await raw.exists(hash_prefix + b"k") == 0
    assert await raw.zrange(index, 0, -1) == []


async def test_redis_fake_clock_in_the_past_does_not_drop_live_keys(
    redis_kv: tuple[KVNamespace, aioredis.Redis, str], fake_clock: FakeClock
) -> None:
    # The fake clock starts in 2023; an absolute PEXPIREAT would delete the key at once.
    kv, _, _ = redis_kv
    await kv.put("k", "v", expirationTtl=60)
    assert await kv.get("k") == "v"
    fake_clock.advance(60)
    assert await kv.get("k") is None


async def test_redis_list_skips_hashes_redis_already_expired(
    redis_kv: tuple[KVNamespace, aioredis.Redis, str],
) -> None:
    kv, raw, namespace = redis_kv
    hash_prefix, _, _ = redis_key_layout(namespace)
    for name in ("a", "b", "c"):
        await kv.put(name, "v", expirationTtl=600)
    await raw.delete(hash_prefix + b"b")  # as if Redis's own expiry had fired
    page = await kv.list(limit=1)
    assert [k["name"] for k in page["keys"]] == ["a"]
    rest = await kv.list(cursor=page["cursor"])
    assert [k["name"] for k in rest["keys"]] == ["c"]
    assert await kv.get("b") is None


async def test_redis_namespaces_are_isolated(
    redis_server: RedisServer, fake_clock: FakeClock
) -> None:
    one = open_kv_namespace(redis_server.url, clock=fake_clock, name=f"a-{uuid.uuid4().hex}")
    two = open_kv_namespace(redis_server.url, clock=fake_clock, name=f"b-{uuid.uuid4().hex}")
    async with one, two:
        await one.put("k", "one")
        assert await two.get("k") is None
        assert (await two.list())["keys"] == []


async def test_redis_cache_ttl_serves_cached_value_until_ttl(
    redis_server: RedisServer, fake_clock: FakeClock
) -> None:
    namespace = f"c-{uuid.uuid4().hex}"
    reader = open_kv_namespace(redis_server.url, clock=fake_clock, name=namespace)
    writer = open_kv_namespace(redis_server.url, clock=fake_clock, name=namespace)
    async with reader, writer:
        await writer.put("k", "one")
        assert await reader.get("k", cacheTtl=60) == "one"
        await writer.put("k", "two")  # another process's write
        assert await reader.get("k", cacheTtl=60) == "one"  # cached
        assert await reader.get("k") == "two"  # no cacheTtl: read through
        fake_clock.advance(60)
        assert await reader.get("k", cacheTtl=60) == "two"
        # A cached miss is a miss until the cache TTL passes.
        assert await reader.get("new", cacheTtl=30) is None
        await writer.put("new", "x")
        assert await reader.get("new", cacheTtl=30) is None
        fake_clock.advance(30)
        assert await reader.get("new", cacheTtl=30) == "x"


async def test_redis_cache_never_serves_past_expiration(
    redis_server: RedisServer, fake_clock: FakeClock
) -> None:
    namespace = f"e-{uuid.uuid4().hex}"
    async with open_kv_namespace(redis_server.url, clock=fake_clock, name=namespace) as kv:
        await kv.put("k", "v", expirationTtl=60)
        assert await kv.getWithMetadata("k", cacheTtl=3600) == {
            "value": "v",
            "metadata": None,
            "cacheStatus": None,
        }
        fake_clock.advance(60)
        assert await kv.get("k", cacheTtl=3600) is None
        assert await kv.get(["k"], cacheTtl=3600) == {"k": None}


async def test_redis_unreachable_gives_503(fake_clock: FakeClock) -> None:
    from tests.support import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    async with open_kv_namespace(url, clock=fake_clock, name="down") as kv:
        for method, call in (
            ("GET", kv.get("k")),
            ("PUT", kv.put("k", "v")),
            ("DELETE", kv.delete("k")),
            ("GET", kv.list()),
            ("GET_BULK", kv.get(["a", "b"])),
        ):
            with pytest.raises(KVBackendError) as info:
                await call
            assert str(info.value).startswith(
                f"KV {method} failed: 503 Service Unavailable (Redis at 127.0.0.1:"
            )
            assert info.value.status == 503


async def test_redis_going_away_mid_run_recovers(tmp_path: Path, fake_clock: FakeClock) -> None:
    binary = redis_server_binary()
    if binary is None:
        from tests.support import skip_or_fail

        skip_or_fail("redis-server is not installed")
        return
    server = RedisServer(binary, tmp_path)
    server.start()
    try:
        async with open_kv_namespace(server.url, clock=fake_clock, name="flaky") as kv:
            await kv.put("k", "v")
            server.stop()
            with pytest.raises(KVBackendError, match=r"^KV GET failed: 503 "):
                await kv.get("k")
            with pytest.raises(KVBackendError, match=r"^KV PUT failed: 503 "):
                await kv.put("k", "v2")
            server.start()  # same port, empty (no persistence)
            assert await kv.get("k") is None
            await kv.put("k", "v3", metadata={"m": 1})
            assert await kv.getWithMetadata("k") == {
                "value": "v3",
                "metadata": {"m": 1},
                "cacheStatus": None,
            }
    finally:
        server.stop()


def test_redis_every_exception_is_mapped() -> None:
    errors = _MappedErrors("127.0.0.1:6379/0")
    classes = [
        cls
        for _, cls in inspect.getmembers(redis.exceptions, inspect.isclass)
        if issubclass(cls, redis.exceptions.RedisError)
    ]
    assert len(classes) > 10
    for cls in classes:
        try:
            exc = cls("boom")
        except (TypeError, ValueError):  # cluster redirections need a structured message
            exc = cls("1 127.0.0.1:7000")
        with pytest.raises(KVStorageError) as info, errors:
            raise exc
        unavailable = isinstance(
            exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError
        )
        assert info.value.status == (503 if unavailable else 500), cls
        assert info.value.__cause__ is exc
