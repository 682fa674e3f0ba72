"""D1 binding vs raw aiosqlite, same work, same run: point lookups, single inserts, a batch.

    python bench/d1.py            # full run
    python bench/d1.py --quick    # a few seconds (used by `make bench`)

Both sides use a SQLite file in WAL mode with ``synchronous=NORMAL`` and foreign keys on, and
every write is committed before the next call starts. The raw side is what a careful
aiosqlite user writes: one ``execute_fetchall`` per lookup (one thread hop), one autocommit
``execute`` per insert, ``BEGIN`` + ``executemany`` + ``COMMIT`` for the batch. The binding side
also validates values, builds D1's result dicts and computes ``meta`` (changes, size_after…).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosqlite

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from primitives.clock import SystemClock
from primitives.d1 import D1Database, open_d1_database

SCHEMA = (
    "CREATE TABLE users "
    "(id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT, age INTEGER)"
)
LOOKUP = "SELECT id, email, name, age FROM users WHERE email = ?"
INSERT = "INSERT INTO users (email, name, age) VALUES (?, ?, ?)"
TARGET_LOOKUP_OVERHEAD = 0.25


async def _rate(
    n: int, body: Callable[[int], Awaitable[object]], repeats: int, offset: int = 0
) -> float:
    """Best-of-``repeats`` operations per second for ``n`` sequential calls."""
    rates = []
    for r in range(repeats):
        started = time.perf_counter()
        for i in range(n):
            await body(offset + r * n + i)
        rates.append(n / (time.perf_counter() - started))
    return max(rates)


async def _open_raw(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _line(label: str, ours: float, raw: float, unit: str, target: float | None = None) -> str:
    overhead = raw / ours - 1.0
    text = (
        f"{label}: binding {ours:,.0f} {unit}, raw aiosqlite {raw:,.0f} {unit}, "
        f"ratio {ours / raw:.2f}, overhead {overhead * 100:.1f}%"
    )
    if target is not None:
        verdict = "ok" if overhead <= target else "MISSED"
        text += f" (target <= {target * 100:.0f}%: {verdict})"
    return text


async def main(quick: bool) -> int:
    rows = 2_000 if quick else 20_000
    lookups = 2_000 if quick else 20_000
    inserts = 300 if quick else 3_000
    repeats = 3 if quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        db: D1Database = open_d1_database(
            f"sqlite:///{tmp}/binding.sqlite3", clock=SystemClock(), name="DB"
        )
        raw = await _open_raw(Path(tmp) / "raw.sqlite3")
        try:
            await db.exec(SCHEMA)
            await raw.execute(SCHEMA)
            seed = [(f"user{i}@example.com", f"User {i}", i % 90) for i in range(rows)]
            insert = db.prepare(INSERT)
            await db.batch([insert.bind(*row) for row in seed])
            await raw.execute("BEGIN")
            await raw.executemany(INSERT, seed)
            await raw.execute("COMMIT")

            lookup = db.prepare(LOOKUP)

            async def ours_lookup(i: int) -> object:
                return await lookup.bind(f"user{i % rows}@example.com").first()

            async def raw_lookup(i: int) -> object:
                found = await raw.execute_fetchall(LOOKUP, (f"user{i % rows}@example.com",))
                return next(iter(found), None)

            # Interleave the two sides so machine noise hits both alike.
            ours_rates, raw_rates = [], []
            for _ in range(repeats):
                ours_rates.append(await _rate(lookups, ours_lookup, 1))
                raw_rates.append(await _rate(lookups, raw_lookup, 1))
            print(
                _line(
                    "point lookup (prepare().bind().first())",
                    statistics.median(ours_rates),
                    statistics.median(raw_rates),
                    "ops/s",
                    TARGET_LOOKUP_OVERHEAD,
                )
            )

            counter = iter(range(10**9))

            async def ours_insert(i: int) -> object:
                n = next(counter)
                return await insert.bind(f"new{n}@example.com", "New", 30).run()

            async def raw_insert(i: int) -> object:
                n = next(counter)
                return await raw.execute(INSERT, (f"new{n}@example.com", "New", 30))

            ours_ins, raw_ins = [], []
            for _ in range(repeats):
                ours_ins.append(await _rate(inserts, ours_insert, 1))
                raw_ins.append(await _rate(inserts, raw_insert, 1))
            print(
                _line(
                    "insert one by one (bind().run())",
                    statistics.median(ours_ins),
                    statistics.median(raw_ins),
                    "rows/s",
                )
            )

            async def ours_batch(i: int) -> object:
                return await db.batch(
                    [insert.bind(f"b{i}-{j}@example.com", "Batch", j % 90) for j in range(1000)]
                )

            async def raw_batch(i: int) -> object:
                await raw.execute("BEGIN")
                await raw.executemany(
                    INSERT, [(f"b{i}-{j}@example.com", "Batch", j % 90) for j in range(1000)]
                )
                return await raw.execute("COMMIT")

            batches = 3 if quick else 10
            ours_b, raw_b = [], []
            for r in range(repeats):
                ours_b.append(await _rate(batches, ours_batch, 1, offset=r * 100))
                raw_b.append(await _rate(batches, raw_batch, 1, offset=r * 100))
            print(
                _line(
                    "batch of 1,000 inserts (batch([...]))",
                    statistics.median(ours_b) * 1000,
                    statistics.median(raw_b) * 1000,
                    "rows/s",
                )
            )
        finally:
            await db.aclose()
            await raw.close()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a few seconds instead of a full run")
    sys.exit(asyncio.run(main(parser.parse_args().quick)))
