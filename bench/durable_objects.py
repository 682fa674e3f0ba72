"""Durable Objects benchmark: RPC and fetch round trips, coalesced storage ops, durable
acknowledged writes of one object (group commit), and memory of 10,000 hibernated rooms.

Each figure is printed next to a baseline measured in the same run:

    python bench/durable_objects.py          # full
    python bench/durable_objects.py --quick  # a few seconds (make bench)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # type: ignore[import-untyped]

from primitives.clock import FakeClock, SystemClock
from primitives.durable_objects import DurableObject, DurableObjectNamespace
from primitives.durable_objects.backends import backend_for_url
from primitives.http import Request, Response
from primitives.testing import run_in_durable_object
from primitives.websocket import WebSocketPair

RPC_TARGET_US = 50.0
DURABLE_TARGET = 5_000


class Bench(DurableObject):
    def echo(self, value: Any) -> Any:
        return value

    async def fetch(self, request: Request) -> Response:
        return Response("ok")

    async def write(self, i: int) -> int:
        self.ctx.storage.put(f"k{i % 1000}", i)
        return i


class Room(DurableObject):
    async def fetch(self, request: Request) -> Response:
        client, server = WebSocketPair()
        self.ctx.acceptWebSocket(server, ["member"])
        server.serializeAttachment({"user": "u"})
        return Response(None, status=101, web_socket=client)


def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


async def timed(n: int, fn: Any) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        await fn()
        out.append((time.perf_counter_ns() - t) / 1000)
    return out


def namespace(cls: type, url: str, clock: Any = None, idle: float = 10.0) -> DurableObjectNamespace:
    return DurableObjectNamespace(
        backend_for_url(url),
        object_class=cls,
        env=None,
        clock=clock or SystemClock(),
        idle_seconds=idle,
    )


async def bench_round_trips(n: int) -> bool:
    ns = namespace(Bench, "memory:")
    stub = ns.getByName("b")
    plain = Bench(None, None)  # type: ignore[arg-type]
    await stub.echo(0)

    async def direct_echo() -> Any:
        return plain.echo(1)

    request = Request("https://do/")
    rpc = await timed(n, lambda: stub.echo(1))
    base = await timed(n, direct_echo)
    fetch = await timed(n, lambda: stub.fetch(request))
    base_fetch = await timed(n, lambda: plain.fetch(request))
    await ns.aclose()
    (r50, r99), (b50, b99) = percentiles(rpc), percentiles(base)
    (f50, f99), (c50, c99) = percentiles(fetch), percentiles(base_fetch)
    ok = r50 < RPC_TARGET_US
    print(
        f"rpc round trip:   p50 {r50:6.1f} us  p99 {r99:6.1f} us | "
        f"plain method call p50 {b50:5.2f} us "
        f"p99 {b99:5.2f} us | overhead {r50 - b50:5.1f} us (target p50 < {RPC_TARGET_US:.0f} us) "
        f"{'OK' if ok else 'MISSED'}"
    )
    print(
        f"fetch round trip: p50 {f50:6.1f} us  p99 {f99:6.1f} us | "
        f"plain fetch() call p50 {c50:5.2f} us "
        f"p99 {c99:5.2f} us | overhead {f50 - c50:5.1f} us"
    )
    return ok


async def bench_storage_ops(n: int, directory: Path) -> None:
    ns = namespace(Bench, f"sqlite:///{directory / 'ops'}")
    stub = ns.getByName("ops")

    def puts_and_gets(obj: Any, ctx: Any) -> float:
        t = time.perf_counter()
        storage = ctx.storage
        for i in range(n):
            storage.put(f"key{i % 500}", i)
        for i in range(n):
            storage.get(f"key{i % 500}")
        return time.perf_counter() - t

    await stub.echo(0)
    elapsed = await run_in_durable_object(stub, puts_and_gets)
    await ns.aclose()
    conn = sqlite3.connect(directory / "raw-ops.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID")
    t = time.perf_counter()
    conn.execute("BEGIN")
    for i in range(n):
        conn.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (f"key{i % 500}", b"x" * 8))
    for i in range(n):
        conn.execute("SELECT value FROM kv WHERE key = ?", (f"key{i % 500}",)).fetchone()
    conn.execute("COMMIT")
    raw = time.perf_counter() - t
    conn.close()
    ops, raw_ops = 2 * n / elapsed, 2 * n / raw
    print(
        f"coalesced put+get: binding {ops:,.0f} ops/s | raw sqlite3 (same statements, one txn) "
        f"{raw_ops:,.0f} ops/s | binding at {ops / raw_ops:.0%} of raw"
    )


async def bench_durable_writes(total: int, concurrency: int, directory: Path) -> bool:
    ns = namespace(Bench, f"sqlite:///{directory / 'durable'}")
    backend = ns.backend
    syncs = 0
    original = backend.sync

    async def counting_sync(handle: Any, alarm: Any) -> None:
        nonlocal syncs
        syncs += 1
        await original(handle, alarm)

    backend.sync = counting_sync  # type: ignore[method-assign]
    stub = ns.getByName("hot")
    await stub.write(-1)
    counter = iter(range(total))

    async def client() -> None:
        for i in counter:
            await stub.write(i)  # returns only after the write is durable (output gate)

    t = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t
    await ns.aclose()
    rate = total / elapsed

    conn = sqlite3.connect(directory / "raw-commit.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID")
    n_raw = max(200, total // 20)
    t = time.perf_counter()
    for i in range(n_raw):
        conn.execute(
            "INSERT OR REPLACE INTO kv VALUES (?, ?)", (f"k{i % 1000}", b"x")
        )  # autocommit
    raw_rate = n_raw / (time.perf_counter() - t)
    conn.close()
    ok = rate >= DURABLE_TARGET
    print(
        f"durable acked writes (1 object, {concurrency} concurrent clients): {rate:,.0f} writes/s, "
        f"{total / max(syncs, 1):.1f} writes per fsync | plain sqlite3 commit loop (fsync each) "
        f"{raw_rate:,.0f} commits/s | ratio {rate / raw_rate:.1f}x "
        f"(target >= {DURABLE_TARGET:,}/s) "
        f"{'OK' if ok else 'MISSED'}"
    )
    return ok


def _trim_heap() -> None:
    """Hand freed heap back to the OS (glibc keeps it otherwise), so RSS shows what is in use."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


async def _settle_closes(ns: DurableObjectNamespace, clock: FakeClock) -> None:
    for _ in range(5):
        await clock.settle()
    for _ in range(500):  # database files close in worker threads
        if all(a._closing is None for a in ns._actors.values()):
            return
        await asyncio.sleep(0.01)


async def bench_hibernation(rooms: int, directory: Path) -> bool:
    """Rooms connect in waves of 1,000; each wave goes idle for 11 s and hibernates."""
    clock = FakeClock()
    process = psutil.Process(os.getpid())
    gc.collect()
    _trim_heap()
    base = process.memory_info().rss
    ns = namespace(Room, f"sqlite:///{directory / 'rooms'}", clock=clock, idle=10.0)
    clients = []
    wave = min(1_000, rooms)
    awake_per_room = 0.0
    for first in range(0, rooms, wave):
        for i in range(first, min(rooms, first + wave)):
            response = await ns.getByName(f"room-{i}").fetch("https://do/ws")
            client = response.webSocket
            assert client is not None
            client._attach_transport(lambda ws, event: None)
            clients.append(client)
        if first == 0:
            gc.collect()
            awake_per_room = (process.memory_info().rss - base) / wave
        clock.advance(11)
        await _settle_closes(ns, clock)
    gc.collect()
    _trim_heap()
    asleep = process.memory_info().rss
    live_after = ns.live_instances
    open_sockets = sum(1 for c in clients if c.readyState == 1)
    await ns.aclose()
    ok = live_after == 0 and open_sockets == rooms
    print(
        f"hibernation: {rooms:,} rooms, one open socket each: instances in memory {live_after:,} "
        f"(sockets open {open_sockets:,}) | "
        f"hibernated room {(asleep - base) / rooms / 1024:.1f} KiB "
        f"RSS vs awake room {awake_per_room / 1024:.1f} KiB (instance + open SQLite database); "
        f"total +{(asleep - base) / 2**20:.0f} MiB over baseline {base / 2**20:.0f} MiB "
        f"{'OK' if ok else 'MISSED'}"
    )
    return ok


async def main(quick: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="edgeroom-bench-", dir=os.getcwd()) as tmp:
        directory = Path(tmp)
        ok = await bench_round_trips(2_000 if quick else 20_000)
        await bench_storage_ops(5_000 if quick else 50_000, directory)
        ok &= await bench_durable_writes(5_000 if quick else 50_000, 100, directory)
        ok &= await bench_hibernation(1_000 if quick else 10_000, directory)
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few seconds, for make bench")
    sys.exit(asyncio.run(main(parser.parse_args().quick)))
