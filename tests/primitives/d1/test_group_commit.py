"""Group commit: writer calls waiting together share one transaction, yet each keeps its outcome."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any

import pytest

from primitives.d1 import D1Database, D1Error
from primitives.d1.backend import D1Query, D1QueryError
from primitives.d1.backends import sqlite as sqlite_backend

SCHEMA = "CREATE TABLE items (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, n INTEGER NOT NULL)"
INSERT = "INSERT INTO items (owner, n) VALUES (?, ?)"


@pytest.fixture
def group_sizes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The number of calls in each group the writer's thread runs."""
    sizes: list[int] = []
    real = sqlite_backend.run_write_group  # type: ignore[attr-defined]

    def spy(conn: Any, calls: Any, **kwargs: Any) -> Any:
        sizes.append(len(calls))
        return real(conn, calls, **kwargs)

    monkeypatch.setattr(sqlite_backend, "run_write_group", spy)
    yield sizes


@pytest.fixture
async def items(db: D1Database) -> AsyncIterator[D1Database]:
    await db.exec(SCHEMA)
    yield db


async def together(db: D1Database, *calls: Awaitable[Any]) -> list[Any]:
    """Run ``calls`` while the writer's thread is held, so they all wait for it together."""
    release = threading.Event()
    held = db._backend._writer.submit(lambda conn: release.wait(5))  # type: ignore[attr-defined]
    tasks = [asyncio.ensure_future(call) for call in calls]
    await asyncio.sleep(0.01)
    release.set()
    await held
    return await asyncio.gather(*tasks, return_exceptions=True)


async def count(db: D1Database) -> int:
    return int(await db.prepare("SELECT COUNT(*) AS n FROM items").first("n"))


async def test_calls_waiting_together_share_one_commit_with_their_own_meta(
    items: D1Database, group_sizes: list[int]
) -> None:
    insert = items.prepare(INSERT)
    results = await together(items, *(insert.bind("ann", i).run() for i in range(10)))
    assert group_sizes == [10]
    assert [r.meta.last_row_id for r in results] == list(range(1, 11))
    assert all(r.meta.changes == 1 and r.meta.changed_db for r in results)
    assert await count(items) == 10


async def test_a_failing_call_fails_alone_and_a_batch_stays_atomic(
    items: D1Database, group_sizes: list[int]
) -> None:
    insert = items.prepare(INSERT)
    results = await together(
        items,
        insert.bind("ann", 1).run(),
        insert.bind("bob", None).run(),  # NOT NULL
        items.batch([insert.bind("cat", 3), insert.bind("cat", None)]),  # all or nothing
        insert.bind("dan", 4).run(),
    )
    assert group_sizes == [4]
    assert isinstance(results[1], D1Error) and "NOT NULL" in str(results[1])
    assert isinstance(results[2], D1Error)
    assert results[0].success and results[3].success
    rows = await items.prepare("SELECT owner FROM items ORDER BY id").raw()
    assert rows == [["ann"], ["dan"]]
    assert results[3].meta.last_row_id == 2  # rowids as if the failed calls had never run


async def test_with_keys_checked_at_commit_each_call_is_its_own_transaction(
    db: D1Database, group_sizes: list[int]
) -> None:
    """Grouped, the second call would satisfy the first's deferred key; alone it cannot."""
    await db.exec("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    await db.prepare(  # exec() would take the line break for the end of a statement
        "CREATE TABLE child (id INTEGER PRIMARY KEY,"
        " parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY\n    DEFERRED)"
    ).run()
    results = await together(
        db,
        db.prepare("INSERT INTO child (id, parent) VALUES (1, 7)").run(),
        db.prepare("INSERT INTO parent (id) VALUES (7)").run(),
    )
    assert group_sizes[-1] == 2  # offered together, then run one transaction each
    assert isinstance(results[0], D1Error) and "FOREIGN KEY" in str(results[0])
    assert results[1].success
    assert await db.prepare("SELECT COUNT(*) AS n FROM child").first("n") == 0


async def test_a_pragma_keeps_its_effect_to_its_own_call(
    db: D1Database, group_sizes: list[int]
) -> None:
    await db.exec("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    await db.exec("CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent)")
    results = await together(
        db,
        db.prepare("PRAGMA defer_foreign_keys = on").run(),
        db.prepare("INSERT INTO child (id, parent) VALUES (1, 7)").run(),  # checked at once
        db.prepare("INSERT INTO parent (id) VALUES (7)").run(),
    )
    assert group_sizes[-1] == 3
    assert results[0].success and results[2].success
    assert isinstance(results[1], D1Error) and "FOREIGN KEY" in str(results[1])


async def test_a_commit_that_fails_reruns_each_call_alone(
    items: D1Database, group_sizes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from primitives.d1.backends import _engine

    class RefusingCommit:
        """The writer's connection, except that COMMIT fails (as a disk error would)."""

        def __init__(self, conn: sqlite3.Connection) -> None:
            self._conn = conn

        def __getattr__(self, name: str) -> Any:
            return getattr(self._conn, name)

        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if sql.startswith("COMMIT"):
                raise sqlite3.OperationalError("disk I/O error")
            return self._conn.execute(sql, *args)

    real_grouped = _engine._grouped
    monkeypatch.setattr(
        _engine,
        "_grouped",
        lambda conn, *a, **k: real_grouped(RefusingCommit(conn), *a, **k),  # type: ignore[arg-type]
    )
    insert = items.prepare(INSERT)
    results = await together(items, *(insert.bind("ann", i).run() for i in range(3)))
    assert group_sizes[-1] == 3
    assert [r.meta.last_row_id for r in results] == [1, 2, 3]
    assert await count(items) == 3  # the group was rolled back; each call then ran alone


async def test_a_long_burst_is_split_into_groups_of_at_most_256(
    items: D1Database, group_sizes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_backend, "INLINE_AFTER_GROUP_SECONDS", -1.0)  # all on the thread
    insert = items.prepare(INSERT)
    results = await together(items, *(insert.bind("ann", i).run() for i in range(300)))
    assert group_sizes == [256, 44]
    assert [r.meta.last_row_id for r in results] == list(range(1, 301))


async def test_calls_that_gathered_during_a_group_run_inline_after_it_in_order(
    items: D1Database, group_sizes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_backend, "INLINE_AFTER_GROUP_SECONDS", 60.0)  # no time limit here
    insert = items.prepare(INSERT)
    results = await together(items, *(insert.bind("ann", i).run() for i in range(300)))
    assert group_sizes == [256]  # the other 44 ran on the loop once the thread was idle
    assert [r.meta.last_row_id for r in results] == list(range(1, 301))
    assert await count(items) == 300


async def test_a_write_after_the_writer_stopped_fails_and_leaves_nothing_behind(
    items: D1Database,
) -> None:
    backend = items._backend  # type: ignore[attr-defined]
    assert isinstance(backend, sqlite_backend.SQLiteD1Backend)
    await backend._writer.stop()
    query = D1Query(INSERT, ("ann", 1))
    for _ in range(2):  # the second must fail the same way, not wait for a group never sent
        with pytest.raises(D1QueryError, match="database is closed"):
            await asyncio.wait_for(backend._write([query]), 1)


async def test_calls_left_when_inline_time_is_up_go_to_the_thread_as_the_next_group(
    items: D1Database, group_sizes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter(range(1_000_000))
    monkeypatch.setattr(sqlite_backend, "_elapsed", lambda: next(ticks) * 0.001)
    insert = items.prepare(INSERT)
    results = await together(items, *(insert.bind("ann", i).run() for i in range(300)))
    # 1 ms per clock read against a 2 ms allowance: two calls inline, the rest as a group
    assert group_sizes == [256, 42]
    assert [r.meta.last_row_id for r in results] == list(range(1, 301))
