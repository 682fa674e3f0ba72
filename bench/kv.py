"""KV benchmark: the binding against the raw library doing the same storage work, in one run.

    python bench/kv.py            # 24 alternating slices of 500 ops per figure
    python bench/kv.py --quick    # a few seconds (make bench)
    python bench/kv.py --redis-url redis://127.0.0.1:6379/15   # use this Redis (default: start one)

For each backend, ``get`` and ``put`` are timed through ``KVNamespace`` and through the raw
library with the same durability and the same statements:

* SQLite: aiosqlite in autocommit mode with the backend's own PRAGMAs (WAL, synchronous=NORMAL),
  the same table, one ``INSERT ... ON CONFLICT`` (one commit) per put and one ``SELECT`` per get.
  The backend runs small point operations on the event loop (primitives/kv/backends/sqlite.py),
  so it also runs next to the stdlib ``sqlite3`` doing the same statements on the loop: that row
  is the binding's own cost (validation, options, result objects), printed for information.
* Redis: redis-py asyncio with the backend's own Lua put script (hash + index + expiry set in one
  EVALSHA) per put and one ``HMGET`` per get.

Ops run one after another (no concurrency), so the figures are per-operation cost. The two
sides run in short alternating slices; ops/s is total ops over total time. Target: overhead <= 25%.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosqlite
import redis.asyncio as aioredis

from primitives.clock import SystemClock
from primitives.kv import open_kv_namespace
from primitives.kv.backends.redis import _PUT_LUA, redis_key_layout
from primitives.kv.backends.sqlite import _GET, _PUT, _SCHEMA, SQLITE_PRAGMAS

TARGET_OVERHEAD = 0.25


@dataclass
class Result:
    ops_per_s: float
    p50_us: float
    p99_us: float


@dataclass
class Sample:
    seconds: float
    latencies_ns: list[int]


async def measure(op: Callable[[int], Awaitable[object]], n: int) -> Sample:
    latencies = []
    start = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter_ns()
        await op(i)
        latencies.append(time.perf_counter_ns() - t0)
    return Sample(time.perf_counter() - start, latencies)


def combine(samples: list[Sample]) -> Result:
    latencies = sorted(ns for sample in samples for ns in sample.latencies_ns)
    seconds = sum(sample.seconds for sample in samples)
    return Result(
        len(latencies) / seconds,
        latencies[len(latencies) // 2] / 1000,
        latencies[int(len(latencies) * 0.99)] / 1000,
    )


def keys(n: int) -> list[str]:
    return [f"bench:{i:06d}" for i in range(n)]


class SQLiteRaw:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: aiosqlite.Connection | None = None

    async def open(self) -> None:
        self.conn = await aiosqlite.connect(self.path, isolation_level=None)
        for statement in (*SQLITE_PRAGMAS, *_SCHEMA):
            await self.conn.execute(statement)

    async def put(self, key: str, value: bytes) -> None:
        assert self.conn is not None
        await self.conn.execute(_PUT, (key.encode(), value, None, None))

    async def get(self, key: str) -> str | None:
        assert self.conn is not None
        rows = list(await self.conn.execute_fetchall(_GET, (key.encode(), time.time())))
        return rows[0][0].decode() if rows else None

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


class SQLiteOnLoop:
    """The stdlib ``sqlite3`` on the event loop: the same work as the binding's inline path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        for statement in (*SQLITE_PRAGMAS, *_SCHEMA):
            self.conn.execute(statement)

    async def put(self, key: str, value: bytes) -> None:
        assert self.conn is not None
        self.conn.execute(_PUT, (key.encode(), value, None, None))

    async def get(self, key: str) -> str | None:
        assert self.conn is not None
        row = self.conn.execute(_GET, (key.encode(), time.time())).fetchone()
        return row[0].decode() if row else None

    async def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


class RedisRaw:
    def __init__(self, url: str, namespace: str) -> None:
        self.client = aioredis.Redis.from_url(url)
        self.hash_prefix, self.index, self.expiry = redis_key_layout(namespace)
        self.script = self.client.register_script(_PUT_LUA)

    async def open(self) -> None:
        await self.client.ping()

    async def put(self, key: str, value: bytes) -> None:
        raw = key.encode()
        await self.script(
            keys=[self.hash_prefix + raw, self.index, self.expiry], args=[raw, value, b"", b"", b""]
        )

    async def get(self, key: str) -> str | None:
        fields = await self.client.hmget(self.hash_prefix + key.encode(), [b"v", b"m", b"e"])
        value = fields[0]
        return value.decode() if isinstance(value, bytes) else value

    async def close(self) -> None:
        await self.client.aclose()


async def bench_backend(
    label: str,
    binding_url: str,
    raw: SQLiteRaw | SQLiteOnLoop | RedisRaw,
    n: int,
    chunks: int,
    value: bytes,
) -> list[tuple[str, str, Result, Result]]:
    """Time each op on both sides in ``chunks`` interleaved slices of ``n`` ops.

    Thread wake-ups (aiosqlite) and the shared CPUs make latency drift between a few levels for
    seconds at a time; short alternating slices expose both sides to the same drift.
    """
    kv = open_kv_namespace(binding_url, clock=SystemClock(), name="bench")
    names = keys(n)
    text = value.decode()
    await raw.open()
    await kv.put("warmup", text)
    ops: dict[tuple[str, str], Callable[[int], Awaitable[object]]] = {
        ("put", "raw"): lambda i: raw.put(names[i], value),
        ("get", "raw"): lambda i: raw.get(names[i]),
        ("put", "binding"): lambda i: kv.put(names[i], text),
        ("get", "binding"): lambda i: kv.get(names[i]),
    }
    samples: dict[tuple[str, str], list[Sample]] = {key: [] for key in ops}
    try:
        for chunk in range(chunks):
            for op in ("put", "get"):
                order = ("raw", "binding") if chunk % 2 == 0 else ("binding", "raw")
                for side in order:
                    samples[(op, side)].append(await measure(ops[(op, side)], n))
    finally:
        await kv.aclose()
        await raw.close()
    return [
        (label, op, combine(samples[(op, "binding")]), combine(samples[(op, "raw")]))
        for op in ("get", "put")
    ]


def redis_binary() -> str | None:
    found = shutil.which("redis-server")
    return found or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)


def start_redis(directory: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = redis_binary() or "redis-server"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", directory],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise SystemExit("redis-server did not start")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a few seconds: 6 slices of 250 ops")
    parser.add_argument("--ops", type=int, default=None, help="operations per slice")
    parser.add_argument("--slices", type=int, default=None, help="alternating slices per side")
    parser.add_argument("--value-bytes", type=int, default=128)
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL"))
    args = parser.parse_args(argv)
    n = args.ops or (250 if args.quick else 500)
    rounds = args.slices or (6 if args.quick else 24)
    value = b"v" * args.value_bytes
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgeroom-bench-") as tmp:
        sqlite_baselines: tuple[tuple[str, type[SQLiteRaw | SQLiteOnLoop]], ...] = (
            ("sqlite", SQLiteRaw),
            ("sqlite-loop", SQLiteOnLoop),
        )
        for label, raw_class in sqlite_baselines:
            rows += await bench_backend(
                label,
                f"sqlite:///{tmp}/{label}-binding.sqlite3",
                raw_class(Path(tmp) / f"{label}-raw.sqlite3"),
                n, rounds, value,
            )  # fmt: skip
        process = None
        redis_url = args.redis_url
        if redis_url is None and redis_binary() is not None:
            process, redis_url = start_redis(tmp)
        try:
            if redis_url is None:
                print("redis: skipped (no redis-server and no --redis-url)")
            else:
                binding_url = f"{redis_url}?namespace=bench-binding"
                rows += await bench_backend(
                    "redis", binding_url, RedisRaw(redis_url, "bench-raw"), n, rounds, value
                )
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=5)

    print(
        f"KV benchmark: {n * rounds} sequential ops per figure ({rounds} alternating slices), "
        f"{args.value_bytes}-byte values, keys like {keys(1)[0]!r}"
    )
    missed = []
    for backend, op, binding, raw in rows:
        overhead = raw.ops_per_s / binding.ops_per_s - 1
        if backend == "sqlite-loop":
            print(
                f"sqlite {op}: binding {binding.ops_per_s:,.0f} ops/s (p50 {binding.p50_us:.0f} us), "
                f"stdlib sqlite3 on the loop {raw.ops_per_s:,.0f} ops/s (p50 {raw.p50_us:.0f} us): "
                f"the binding's own cost {overhead:.1%} (information; no target)"
            )
            continue
        ok = overhead <= TARGET_OVERHEAD
        if not ok:
            missed.append(f"{backend} {op}")
        library = "aiosqlite" if backend == "sqlite" else "redis-py"
        print(
            f"{backend} {op}: binding {binding.ops_per_s:,.0f} ops/s "
            f"(p50 {binding.p50_us:.0f} us, p99 {binding.p99_us:.0f} us), "
            f"raw {library} {raw.ops_per_s:,.0f} ops/s "
            f"(p50 {raw.p50_us:.0f} us, p99 {raw.p99_us:.0f} us), "
            f"overhead {overhead:.1%} (target <= {TARGET_OVERHEAD:.0%}) {'ok' if ok else 'MISSED'}"
        )
    if missed:
        print(f"target missed for: {', '.join(missed)}")
        return 0 if args.quick else 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
