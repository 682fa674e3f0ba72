"""Short calls run on the writer's connection from the loop; long, blocked or queued ones do not."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from primitives._sqlite_thread import ConnectionThread
from primitives.d1 import D1Database, D1Error
from primitives.d1.backends import _inline

SCHEMA = "CREATE TABLE items (id INTEGER PRIMARY KEY, owner TEXT NOT NULL UNIQUE, n INTEGER)"
INSERT = "INSERT INTO items (owner, n) VALUES (?, ?)"
#: Rows enough that inserting them takes far more VM steps than the inline budget.
BULK_ROWS = 50_000
BULK_INSERT = (
    "INSERT INTO items (owner, n) WITH RECURSIVE c(i) AS"
    f" (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {BULK_ROWS}) SELECT 'bulk-' || i, i FROM c"
)


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Jobs handed to each connection thread, by thread name (d1-writer, d1-reader-0, ...)."""
    counts: Counter[str] = Counter()
    real = ConnectionThread.submit

    def spy(self: ConnectionThread, fn: Any) -> Any:
        counts[self.name] += 1
        return real(self, fn)

    monkeypatch.setattr(ConnectionThread, "submit", spy)
    yield counts


@pytest.fixture
async def items(db: D1Database, hops: Counter[str]) -> AsyncIterator[D1Database]:
    await db.exec(SCHEMA)  # a schema change: on the thread, which also opens the connection
    hops.clear()
    yield db


async def settled(db: D1Database) -> None:
    """Wait until the writer's thread has finished what it was given."""
    for _ in range(500):
        if not db._backend._writer.in_flight:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the writer's thread did not finish")


async def thread_setting(db: D1Database, pragma: str) -> int:
    """``PRAGMA <pragma>`` as a job on the writer's thread sees it."""
    backend: Any = db._backend  # type: ignore[attr-defined]
    return int(
        await backend._writer.call(lambda conn: conn.execute(f"PRAGMA {pragma}").fetchone()[0])
    )


async def test_point_writes_and_reads_run_inline_with_exact_meta(
    items: D1Database, hops: Counter[str]
) -> None:
    first = await items.prepare(INSERT).bind("ann", 1).run()
    second = await items.prepare(INSERT).bind("bob", 2).run()
    row = await items.prepare("SELECT owner, n FROM items WHERE id = ?").bind(2).first()
    assert hops == Counter()  # no job went to any thread
    assert (first.meta.last_row_id, second.meta.last_row_id) == (1, 2)
    assert second.meta.changes == 1 and second.meta.changed_db is True
    assert row == {"owner": "bob", "n": 2}


async def test_a_write_over_the_step_budget_is_rolled_back_and_runs_once_on_the_thread(
    items: D1Database, hops: Counter[str]
) -> None:
    result = await items.prepare(BULK_INSERT).run()
    assert hops["d1-writer"] == 1
    assert result.meta.changes == BULK_ROWS
    count = await items.prepare(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT owner) AS d FROM items"
    ).first()
    assert count == {"n": BULK_ROWS, "d": BULK_ROWS}


async def test_a_read_over_the_step_budget_goes_to_a_reader(
    items: D1Database, hops: Counter[str]
) -> None:
    await items.exec(BULK_INSERT.replace(str(BULK_ROWS), "500"))
    hops.clear()
    pairs = await items.prepare(
        "SELECT COUNT(*) AS n FROM items a, items b WHERE a.n <= b.n"
    ).first("n")
    assert pairs == 500 * 501 // 2
    assert sum(n for name, n in hops.items() if name.startswith("d1-reader")) == 1
    assert hops["d1-writer"] == 0


async def test_a_lock_held_elsewhere_sends_the_write_to_the_thread_and_the_loop_runs_on(
    items: D1Database, db_path: Path
) -> None:
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process's write lock
        write = asyncio.ensure_future(items.prepare(INSERT).bind("ann", 1).run())
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.sleep(0.05)
        # Waiting for the lock inline would have held the loop for busy_timeout (10 s).
        assert loop.time() - started < 1.0
        assert not write.done()
        other.execute("COMMIT")
        result = await write
    finally:
        other.close()
    assert result.meta.last_row_id == 1
    assert await thread_setting(items, "busy_timeout") == 10_000


async def test_a_call_never_overtakes_one_queued_on_the_thread(
    items: D1Database, hops: Counter[str]
) -> None:
    release = threading.Event()
    backend: Any = items._backend  # type: ignore[attr-defined]
    held = backend._writer.submit(lambda conn: release.wait(5))
    queued = asyncio.ensure_future(items.prepare(INSERT).bind("first", 1).run())
    await asyncio.sleep(0)
    later = asyncio.ensure_future(items.prepare(INSERT).bind("second", 2).run())
    await asyncio.sleep(0.01)
    assert not later.done()  # it waits behind the queued call instead of running inline
    release.set()
    await held
    await asyncio.gather(queued, later)
    rows = await items.prepare("SELECT owner FROM items ORDER BY id").raw()
    assert rows == [["first"], ["second"]]


async def test_an_error_inline_is_the_error_the_thread_gives_and_changes_nothing(
    items: D1Database, hops: Counter[str]
) -> None:
    await items.prepare(INSERT).bind("ann", 1).run()
    with pytest.raises(D1Error) as caught:
        await items.batch(
            [items.prepare(INSERT).bind("bob", 2), items.prepare(INSERT).bind("ann", 3)]
        )
    assert "UNIQUE constraint failed: items.owner: SQLITE_CONSTRAINT" in str(caught.value)
    assert hops == Counter()
    assert await items.prepare("SELECT owner FROM items ORDER BY id").raw() == [["ann"]]


async def test_inline_commits_are_checkpointed_on_the_thread_with_its_settings_back(
    items: D1Database, hops: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_inline, "CHECKPOINT_EVERY", 3)
    for n in range(3):
        await items.prepare(INSERT).bind(f"user-{n}", n).run()
    assert hops["d1-writer"] == 1  # the checkpoint
    await settled(items)
    assert await thread_setting(items, "wal_autocheckpoint") == 1000
    assert await thread_setting(items, "busy_timeout") == 10_000


async def test_pragmas_and_schema_changes_always_go_to_the_thread(
    items: D1Database, hops: Counter[str]
) -> None:
    await items.exec("CREATE INDEX items_n ON items (n)")
    await items.prepare("PRAGMA table_list").all()
    assert hops["d1-writer"] == 2


async def test_the_in_memory_database_runs_calls_inline_too(
    mem_db: D1Database, hops: Counter[str]
) -> None:
    await mem_db.exec(SCHEMA)
    hops.clear()
    await mem_db.prepare(INSERT).bind("ann", 1).run()
    assert await mem_db.prepare("SELECT COUNT(*) AS n FROM items").first("n") == 1
    assert hops == Counter()


async def test_awaiting_an_inline_call_still_lets_other_tasks_run(
    items: D1Database, hops: Counter[str]
) -> None:
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    task = asyncio.ensure_future(other())
    await items.prepare("SELECT COUNT(*) AS n FROM items").first("n")
    assert hops == Counter() and ran == ["other"]
    await task


async def test_a_write_cancelled_after_it_committed_inline_still_moves_the_bookmark(
    items: D1Database,
) -> None:
    backend: Any = items._backend  # type: ignore[attr-defined]
    before = backend.bookmark()
    task = asyncio.ensure_future(items.prepare(INSERT).bind("ann", 1).run())
    await asyncio.sleep(0)  # the call runs inline, commits, and yields once to the loop
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await items.prepare("SELECT COUNT(*) AS n FROM items").first("n") == 1
    assert backend.bookmark() > before
