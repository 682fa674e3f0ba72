"""D1 binding vs raw aiosqlite, same work, same run: point lookups, single inserts, a batch.

    python bench/d1.py            # full run
    python bench/d1.py --quick    # a few seconds (used by `make bench`)

The two sides run in alternating chunks and each figure is a median over the chunks; the
overhead is the median of back-to-back pairs, so load from other processes affects both sides
alike. Both sides use a SQLite file in WAL mode with ``synchronous=NORMAL`` and foreign keys on, and
every write is committed before the next call starts, except in the concurrent case: 100 inserts
in flight at once, each its own call (the binding's writer groups those that wait together into
one commit, each in its own savepoint). The raw side is what a careful
aiosqlite user writes: one ``execute_fetchall`` per lookup (one thread hop), one autocommit
``execute`` per insert, ``BEGIN`` + ``executemany`` + ``COMMIT`` for the batch. The binding side
also validates values, builds D1's result dicts and computes ``meta`` (changes, size_after…).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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


async def _compare(
    ours: Callable[[int], Awaitable[object]],
    raw: Callable[[int], Awaitable[object]],
    ops: int,
    chunks: int,
) -> tuple[float, float, float]:
    """Run both sides in alternating chunks of ``ops`` sequential calls (order swapped each time).

    Returns the median rate of each side and the median of the paired overheads: each pair ran
    back to back, so load from other processes on the machine hits both sides of a pair alike.
    """
    counter = itertools.count()
    ours_rates: list[float] = []
    raw_rates: list[float] = []
    overheads: list[float] = []
    for chunk in range(chunks):
        sides = [(ours_rates, ours), (raw_rates, raw)]
        for rates, body in sides if chunk % 2 == 0 else reversed(sides):
            started = time.perf_counter()
            for _ in range(ops):
                await body(next(counter))
            rates.append(ops / (time.perf_counter() - started))
        overheads.append(raw_rates[-1] / ours_rates[-1] - 1.0)
    return statistics.median(ours_rates), statistics.median(raw_rates), statistics.median(overheads)


async def _open_raw(path: Path) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _line(
    label: str, measured: tuple[float, float, float], unit: str, target: float | None = None
) -> str:
    ours, raw, overhead = measured
    text = (
        f"{label}: binding {ours:,.0f} {unit}, raw aiosqlite {raw:,.0f} {unit}, "
        f"ratio {1 / (1 + overhead):.2f}, overhead {overhead * 100:.1f}%"
    )
    if target is not None:
        verdict = "ok" if overhead <= target else "MISSED"
        text += f" (target <= {target * 100:.0f}%: {verdict})"
    return text


async def main(quick: bool) -> int:
    rows = 2_000 if quick else 20_000
    lookup_ops = 500 if quick else 2_000
    insert_ops = 100 if quick else 300
    chunks = 6 if quick else 20
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

            print(
                _line(
                    "point lookup (prepare().bind().first())",
                    await _compare(ours_lookup, raw_lookup, lookup_ops, chunks),
                    "ops/s",
                    TARGET_LOOKUP_OVERHEAD,
                )
            )

            async def ours_insert(n: int) -> object:
                return await insert.bind(f"new{n}@example.com", "New", 30).run()

            async def raw_insert(n: int) -> object:
                return await raw.execute(INSERT, (f"new-{n}@example.com", "New", 30))

            print(
                _line(
                    "insert one by one (bind().run())",
                    await _compare(ours_insert, raw_insert, insert_ops, chunks),
                    "rows/s",
                )
            )

            async def ours_concurrent(n: int) -> object:
                return await asyncio.gather(
                    *(insert.bind(f"c{n}-{j}@example.com", "C", 30).run() for j in range(100))
                )

            async def raw_concurrent(n: int) -> object:
                return await asyncio.gather(
                    *(raw.execute(INSERT, (f"c{n}-{j}@example.com", "C", 30)) for j in range(100))
                )

            ours_c, raw_c, overhead_c = await _compare(ours_concurrent, raw_concurrent, 1, chunks)
            print(
                _line(
                    "100 concurrent inserts (gather of bind().run(); group commit)",
                    (ours_c * 100, raw_c * 100, overhead_c),
                    "rows/s",
                )
            )

            async def ours_batch(n: int) -> object:
                return await db.batch(
                    [insert.bind(f"b{n}-{j}@example.com", "Batch", j % 90) for j in range(1000)]
                )

            async def raw_batch(n: int) -> object:
                await raw.execute("BEGIN")
                await raw.executemany(
                    INSERT, [(f"b{n}-{j}@example.com", "Batch", j % 90) for j in range(1000)]
                )
                return await raw.execute("COMMIT")

            ours_b, raw_b, overhead_b = await _compare(ours_batch, raw_batch, 1, chunks)
            print(
                _line(
                    "batch of 1,000 inserts (batch([...]))",
                    (ours_b * 1000, raw_b * 1000, overhead_b),
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
