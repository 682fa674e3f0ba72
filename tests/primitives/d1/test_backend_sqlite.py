"""The SQLite backend: lazy opening, URLs, concurrency, read-only and full databases, mapping."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from primitives.clock import FakeClock
from primitives.d1 import D1Database, D1Error, D1SessionError, open_d1_backend, open_d1_database
from primitives.d1.backend import D1Query, D1QueryError
from primitives.d1.backends import SQLiteD1Backend
from primitives.d1.backends._engine import (
    WRONG_BINDINGS,
    DatabaseState,
    NeedsWriterError,
    describe_sqlite_error,
    open_connection,
    run_queries,
)
from primitives.errors import ConfigError, UnsupportedBackend


async def _pragma(db: D1Database, sql: str) -> object:
    """Run a PRAGMA D1 refuses (workerd's authorizer) on the backend's writer connection."""
    writer = db._backend._writer  # type: ignore[attr-defined]
    await db.prepare("SELECT 1").all()  # the writer is open
    return await writer.submit(lambda conn: conn.execute(sql).fetchone()[0])


SCHEMA = "CREATE TABLE items (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, n INTEGER NOT NULL)"


def test_open_d1_database_does_no_io(db_path: Path, fake_clock: FakeClock) -> None:
    database = open_d1_database(f"sqlite:///{db_path}", clock=fake_clock, name="DB")
    assert isinstance(database, D1Database)
    assert not db_path.parent.exists()


async def test_first_use_creates_file_and_folder_in_wal_mode(db: D1Database, db_path: Path) -> None:
    await db.exec(SCHEMA)
    assert await asyncio.to_thread(db_path.exists)
    assert await _pragma(db, "PRAGMA journal_mode") == "wal"


def test_open_d1_backend_maps_urls(tmp_path: Path) -> None:
    memory = open_d1_backend("memory:")
    assert isinstance(memory, SQLiteD1Backend)
    assert memory.path is None
    file = open_d1_backend(f"sqlite:///{tmp_path}/a%20b.sqlite3?mode=ro")
    assert isinstance(file, SQLiteD1Backend)
    assert file.path == tmp_path / "a b.sqlite3"
    assert file.read_only is True


def test_open_d1_backend_rejects_unknown_scheme() -> None:
    with pytest.raises(UnsupportedBackend) as info:
        open_d1_backend("redis://127.0.0.1:6379/0")
    assert str(info.value) == "unsupported backend 'redis' for D1: redis://127.0.0.1:6379/0"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///x.db?mode=bogus"])
def test_open_d1_backend_rejects_bad_sqlite_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        open_d1_backend(url)


async def test_data_survives_reopen_and_bookmarks_keep_sorting(
    db_path: Path, fake_clock: FakeClock
) -> None:
    url = f"sqlite:///{db_path}"
    first = open_d1_database(url, clock=fake_clock, name="DB")
    session = first.withSession()
    await session.prepare(SCHEMA).run()
    await session.prepare("INSERT INTO items (owner, n) VALUES ('a', 1)").run()
    old = session.getBookmark()
    await first.aclose()
    second = open_d1_database(url, clock=fake_clock, name="DB")
    try:
        resumed = second.withSession(old)
        await resumed.prepare("INSERT INTO items (owner, n) VALUES ('b', 2)").run()
        assert (resumed.getBookmark() or "") > (old or "")
        assert await second.prepare("SELECT count(*) AS c FROM items").first("c") == 2
    finally:
        await second.aclose()


async def test_bookmark_of_another_database_is_rejected(db: D1Database, mem_db: D1Database) -> None:
    other = mem_db.withSession()
    await other.prepare("SELECT 1").run()
    with pytest.raises(D1SessionError):
        await db.withSession(other.getBookmark()).prepare("SELECT 1").run()


async def test_concurrent_writers_and_readers_never_lock_or_lose_writes(db: D1Database) -> None:
    await db.exec(SCHEMA)
    writes_per_task = 20

    async def writer(owner: int) -> None:
        insert = db.prepare("INSERT INTO items (owner, n) VALUES (?, ?)")
        for n in range(writes_per_task):
            await insert.bind(f"w{owner}", n).run()

    async def reader() -> list[int]:
        counts = []
        for _ in range(writes_per_task):
            counts.append(await db.prepare("SELECT count(*) AS c FROM items").first("c"))
        return counts

    writers = [writer(i) for i in range(50)]
    outcomes = await asyncio.gather(*writers, *[reader() for _ in range(50)])
    for counts in outcomes[50:]:
        assert counts is not None
        assert counts == sorted(counts)  # a task's later read never sees less
    assert await db.prepare("SELECT count(*) AS c FROM items").first("c") == 50 * writes_per_task
    per_owner = await db.prepare("SELECT count(DISTINCT owner) AS o FROM items").first("o")
    assert per_owner == 50


async def test_two_bindings_on_one_file_share_it_without_lock_errors(
    db_path: Path, fake_clock: FakeClock
) -> None:
    url = f"sqlite:///{db_path}"
    a = open_d1_database(url, clock=fake_clock, name="A")
    b = open_d1_database(url, clock=fake_clock, name="B")
    try:
        await a.exec(SCHEMA)

        async def write(database: D1Database, owner: str) -> None:
            for n in range(10):
                await (
                    database.prepare("INSERT INTO items (owner, n) VALUES (?, ?)")
                    .bind(owner, n)
                    .run()
                )

        await asyncio.gather(*[write(a if i % 2 else b, f"o{i}") for i in range(50)])
        assert await b.prepare("SELECT count(*) AS c FROM items").first("c") == 500
    finally:
        await a.aclose()
        await b.aclose()


async def test_read_only_database_rejects_writes_and_keeps_data(
    db_path: Path, fake_clock: FakeClock
) -> None:
    writable = open_d1_database(f"sqlite:///{db_path}", clock=fake_clock, name="DB")
    await writable.exec(SCHEMA + "\nINSERT INTO items (owner, n) VALUES ('a', 1)")
    await writable.aclose()
    read_only = open_d1_database(f"sqlite:///{db_path}?mode=ro", clock=fake_clock, name="DB")
    try:
        assert await read_only.prepare("SELECT owner FROM items").raw() == [["a"]]
        with pytest.raises(D1Error) as info:
            await read_only.prepare("INSERT INTO items (owner, n) VALUES ('b', 2)").run()
        assert str(info.value) == "D1_ERROR: attempt to write a readonly database: SQLITE_READONLY"
        with pytest.raises(D1Error, match="SQLITE_READONLY"):
            await read_only.batch([read_only.prepare("DELETE FROM items")])
        assert await read_only.prepare("SELECT owner, n FROM items").raw() == [["a", 1]]
    finally:
        await read_only.aclose()


async def test_missing_read_only_file_is_a_d1_error(tmp_path: Path, fake_clock: FakeClock) -> None:
    database = open_d1_database(
        f"sqlite:///{tmp_path}/absent.sqlite3?mode=ro", clock=fake_clock, name="DB"
    )
    try:
        with pytest.raises(D1Error) as info:
            await database.prepare("SELECT 1").all()
        assert str(info.value) == "D1_ERROR: unable to open database file: SQLITE_CANTOPEN"
    finally:
        await database.aclose()


async def test_full_database_gives_sqlite_full_and_rolls_back(db: D1Database) -> None:
    await db.exec(SCHEMA.replace("n INTEGER NOT NULL", "n BLOB"))
    await db.prepare("INSERT INTO items (owner, n) VALUES ('kept', x'00')").run()
    pages = await _pragma(db, "PRAGMA page_count")
    assert isinstance(pages, int)
    await _pragma(db, f"PRAGMA max_page_count = {pages + 4}")
    insert = db.prepare("INSERT INTO items (owner, n) VALUES (?, ?)")
    with pytest.raises(D1Error) as info:
        await db.batch([insert.bind("big", bytes(4096)) for _ in range(20)])
    assert str(info.value) == "D1_ERROR: database or disk is full: SQLITE_FULL"
    assert await db.prepare("SELECT owner FROM items").raw() == [["kept"]]
    assert await db.prepare("PRAGMA quick_check").first("quick_check") == "ok"


async def test_meta_tracks_last_row_id_and_size(db: D1Database) -> None:
    await db.exec(SCHEMA)
    inserted = await db.prepare("INSERT INTO items (owner, n) VALUES ('a', 1)").run()
    assert inserted["meta"]["last_row_id"] == 1
    updated = await db.prepare("UPDATE items SET n = 2").run()
    assert updated["meta"]["last_row_id"] == 1  # last_insert_rowid() is unchanged by UPDATE
    assert updated["meta"]["changed_db"] is True
    read = await db.prepare("SELECT * FROM items").all()
    assert read["meta"]["last_row_id"] == 1
    assert read["meta"]["size_after"] == updated["meta"]["size_after"]
    page_size = await _pragma(db, "PRAGMA page_size")
    page_count = await _pragma(db, "PRAGMA page_count")
    assert isinstance(page_size, int)
    assert isinstance(page_count, int)
    assert read["meta"]["size_after"] == page_size * page_count


async def test_aclose_is_idempotent_and_closed_database_errors(db: D1Database) -> None:
    await db.prepare("SELECT 1").all()
    await db.aclose()
    await db.aclose()
    with pytest.raises(D1Error) as info:
        await db.prepare("SELECT 1").all()
    assert str(info.value) == "D1_ERROR: database is closed"


async def test_unopened_database_closes_cleanly(fake_clock: FakeClock, db_path: Path) -> None:
    database = open_d1_database(f"sqlite:///{db_path}", clock=fake_clock, name="DB")
    await database.aclose()
    assert not await asyncio.to_thread(db_path.exists)


def test_reader_connection_refuses_writes_with_needs_writer(tmp_path: Path) -> None:
    path = str(tmp_path / "r.sqlite3")
    sqlite3.connect(path).close()
    conn = open_connection(path, uri=False, reader=True, wal=False)
    try:
        with pytest.raises(NeedsWriterError):
            run_queries(
                conn, queries=[D1Query("CREATE TABLE t (a)")], state=DatabaseState(), writer=False
            )
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("sql", "params", "expected"),
    [
        ("SELEC 1", (), 'near "SELEC": syntax error: SQLITE_ERROR'),
        ("SELECT ?", (), WRONG_BINDINGS),
        (
            "INSERT INTO u VALUES (1)",
            (),
            "UNIQUE constraint failed: u.a: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_PRIMARYKEY)",
        ),
        ("SELECT ?", ("x" * 2_000_001,), "string or blob too big: SQLITE_TOOBIG"),
    ],
)
def test_describe_sqlite_error_formats_as_workerd(
    sql: str, params: tuple[object, ...], expected: str
) -> None:
    conn = open_connection(":memory:", uri=False, reader=False, wal=False)
    try:
        conn.execute("CREATE TABLE u (a PRIMARY KEY)")
        conn.execute("INSERT INTO u VALUES (1)")
        with pytest.raises(sqlite3.Error) as info:
            conn.execute(sql, params)
        assert describe_sqlite_error(info.value) == expected
        with pytest.raises(D1QueryError) as mapped:
            run_queries(conn, queries=[D1Query(sql, params)], state=DatabaseState(), writer=True)  # type: ignore[arg-type]
        assert mapped.value.message == expected
        assert isinstance(mapped.value.__cause__, sqlite3.Error)
    finally:
        conn.close()


async def test_temp_tables_are_refused_as_by_workerd(db: D1Database) -> None:
    await db.exec(SCHEMA)
    with pytest.raises(D1Error, match=r"^D1_ERROR: not authorized: SQLITE_AUTH$"):
        await db.prepare("CREATE TEMP TABLE scratch (a)").run()
    with pytest.raises(D1Error, match="no such table: missing: SQLITE_ERROR"):
        await db.prepare("SELECT * FROM missing").all()
    assert await db.prepare("SELECT count(*) AS n FROM items").first("n") == 0
