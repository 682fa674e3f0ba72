"""The D1 contract: one suite, written against the binding, run over every backend URL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from primitives._dictlike import JsDict
from primitives._sqlite_regulator import TRANSACTION_MESSAGE
from primitives.clock import FakeClock
from primitives.d1 import (
    D1ColumnNotFoundError,
    D1Database,
    D1DatabaseSession,
    D1Error,
    D1ExecError,
    D1PreparedStatement,
    D1SessionError,
    D1TypeError,
    open_d1_database,
)
from primitives.d1.errors import D1CauseError

pytestmark = pytest.mark.contract

META_KEYS = {
    "served_by",
    "duration",
    "changes",
    "last_row_id",
    "changed_db",
    "size_after",
    "rows_read",
    "rows_written",
}
D1_BACKENDS = [
    pytest.param("memory:", id="memory"),
    pytest.param("sqlite:///{tmp}/d1/contract.sqlite3", id="sqlite"),
]


@pytest.fixture(params=D1_BACKENDS)
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, fake_clock: FakeClock
) -> AsyncIterator[D1Database]:
    database = open_d1_database(request.param.format(tmp=tmp_path), clock=fake_clock, name="DB")
    await database.exec(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER, avatar BLOB)"
    )
    yield database
    await database.aclose()


async def add(db: D1Database, name: str, age: int | None = None) -> int:
    result = await db.prepare("INSERT INTO users (name, age) VALUES (?, ?)").bind(name, age).run()
    return int(result["meta"]["last_row_id"])


# -- prepare / bind ---------------------------------------------------------------------------


async def test_bind_returns_a_new_statement(db: D1Database) -> None:
    stmt = db.prepare("SELECT ? AS v")
    bound = stmt.bind(1)
    assert isinstance(bound, D1PreparedStatement)
    assert bound is not stmt
    assert stmt.params == ()
    assert await bound.first("v") == 1
    assert await stmt.bind(2).first("v") == 2


async def test_bind_supports_ordered_parameters(db: D1Database) -> None:
    row = await db.prepare("SELECT ?2 AS b, ?1 AS a").bind("x", "y").first()
    assert row == {"b": "y", "a": "x"}


# -- run / all / first / raw ------------------------------------------------------------------


async def test_run_returns_d1_result_shape(db: D1Database) -> None:
    result = await db.prepare("INSERT INTO users (name) VALUES (?)").bind("ada").run()
    assert isinstance(result, JsDict)
    assert result["success"] is True
    assert result.success is True
    assert result["results"] == []
    meta = result["meta"]
    assert set(meta) == META_KEYS
    assert meta["changes"] == 1
    assert meta["last_row_id"] == 1
    assert meta["changed_db"] is True
    assert meta["rows_written"] == 1
    assert meta["size_after"] > 0
    assert meta.duration >= 0


async def test_all_returns_rows_as_dicts(db: D1Database) -> None:
    await add(db, "ada", 36)
    await add(db, "bob", 40)
    result = await db.prepare("SELECT name, age FROM users ORDER BY id").all()
    assert result["results"] == [{"name": "ada", "age": 36}, {"name": "bob", "age": 40}]
    assert result["results"][0].name == "ada"
    assert result["meta"]["changes"] == 0
    assert result["meta"]["changed_db"] is False
    assert result["meta"]["rows_read"] == 2
    assert result["meta"]["rows_written"] == 0


async def test_all_with_duplicate_column_names_keeps_the_last(db: D1Database) -> None:
    result = await db.prepare("SELECT 1 AS a, 2 AS a").all()
    assert result["results"] == [{"a": 2}]


async def test_run_returns_rows_for_returning(db: D1Database) -> None:
    result = await db.prepare("INSERT INTO users (name) VALUES ('x') RETURNING id, name").run()
    assert result["results"] == [{"id": 1, "name": "x"}]
    assert result["meta"]["changes"] == 1


async def test_first_returns_first_row_or_none(db: D1Database) -> None:
    assert await db.prepare("SELECT * FROM users").first() is None
    await add(db, "ada", 36)
    await add(db, "bob")
    row = await db.prepare("SELECT name, age FROM users ORDER BY id").first()
    assert row == {"name": "ada", "age": 36}
    assert isinstance(row, JsDict)


async def test_first_with_column_returns_value(db: D1Database) -> None:
    await add(db, "bob")
    assert await db.prepare("SELECT name, age FROM users").first("name") == "bob"
    assert await db.prepare("SELECT name, age FROM users").first("age") is None
    assert await db.prepare("SELECT name FROM users WHERE id = 99").first("name") is None


async def test_first_with_missing_column_raises_column_notfound(db: D1Database) -> None:
    await add(db, "bob")
    with pytest.raises(D1ColumnNotFoundError) as info:
        await db.prepare("SELECT name FROM users").first("nope")
    assert str(info.value) == "D1_COLUMN_NOTFOUND: Column not found (nope)"
    assert str(info.value.__cause__) == "Column not found"


async def test_first_runs_write_statements(db: D1Database) -> None:
    assert await db.prepare("INSERT INTO users (name) VALUES ('w')").first() is None
    assert await db.prepare("SELECT count(*) AS n FROM users").first("n") == 1


async def test_raw_returns_lists_with_optional_header(db: D1Database) -> None:
    await add(db, "ada", 36)
    stmt = db.prepare("SELECT name, age, age AS age FROM users")
    assert await stmt.raw() == [["ada", 36, 36]]
    assert await stmt.raw(None) == [["ada", 36, 36]]
    expected = [["name", "age", "age"], ["ada", 36, 36]]
    assert await stmt.raw(columnNames=True) == expected
    assert await stmt.raw({"columnNames": True}) == expected
    assert await db.prepare("SELECT name FROM users WHERE 0").raw(columnNames=True) == [["name"]]


async def test_update_and_delete_report_changes(db: D1Database) -> None:
    await add(db, "a")
    await add(db, "b")
    update = await db.prepare("UPDATE users SET age = 1 WHERE name = ?").bind("a").run()
    assert update["meta"]["changes"] == 1
    delete = await db.prepare("DELETE FROM users").run()
    assert delete["meta"]["changes"] == 2
    assert delete["meta"]["rows_written"] == 2


async def test_multi_statement_returns_last_result(db: D1Database) -> None:
    result = await db.prepare("INSERT INTO users (name) VALUES ('m'); SELECT name FROM users").all()
    assert result["results"] == [{"name": "m"}]
    assert result["meta"]["changes"] == 1


async def test_multi_statement_allows_parameters_only_in_the_last(db: D1Database) -> None:
    ok = await db.prepare("SELECT 1; SELECT ? AS v").bind(5).all()
    assert ok["results"] == [{"v": 5}]
    with pytest.raises(D1Error) as info:
        await db.prepare("SELECT ?; SELECT ?").bind(1).all()
    assert str(info.value) == (
        "D1_ERROR: When executing multiple SQL statements in a single call, "
        "only the last statement can have parameters."
    )


# -- types ----------------------------------------------------------------------------------------


async def test_types_round_trip_as_d1(db: D1Database) -> None:
    row = (
        await db.prepare("SELECT ? AS n, ? AS t, ? AS f, ? AS i, ? AS r, ? AS s, ? AS b")
        .bind(None, True, False, 2**63 - 1, 1.25, "héllo", b"\x00\x01\xff")
        .first()
    )
    assert row == {
        "n": None,
        "t": 1,
        "f": 0,
        "i": 2**63 - 1,
        "r": 1.25,
        "s": "héllo",
        "b": [0, 1, 255],
    }


async def test_blob_comes_back_as_list_of_bytes(db: D1Database) -> None:
    await (
        db.prepare("INSERT INTO users (name, avatar) VALUES (?, ?)")
        .bind("p", bytes(range(5)))
        .run()
    )
    await db.prepare("INSERT INTO users (name, avatar) VALUES (?, ?)").bind("q", [9, 8]).run()
    rows = await db.prepare("SELECT avatar FROM users ORDER BY id").raw()
    assert rows == [[[0, 1, 2, 3, 4]], [[9, 8]]]


async def test_bind_rejects_unsupported_type(db: D1Database) -> None:
    with pytest.raises(D1TypeError) as info:
        db.prepare("SELECT ?").bind({"a": 1})
    assert (
        str(info.value) == "D1_TYPE_ERROR: Type 'object' not supported for value '[object Object]'"
    )


async def test_bound_injection_strings_are_stored_verbatim(db: D1Database) -> None:
    evil = ["'; DROP TABLE users; --", "x'); DELETE FROM users; --", "1 OR 1=1", '"; SELECT 1; "']
    for value in evil:
        await add(db, value)
    names = [r[0] for r in await db.prepare("SELECT name FROM users ORDER BY id").raw()]
    assert names == evil
    found = (
        await db.prepare("SELECT count(*) AS n FROM users WHERE name = ?")
        .bind("1 OR 1=1")
        .first("n")
    )
    assert found == 1


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC 1", 'near "SELEC": syntax error: SQLITE_ERROR'),
        ("SELECT * FROM nope", "no such table: nope: SQLITE_ERROR"),
        ("", "No SQL statements detected."),
        ("   ", "No SQL statements detected."),
        ("-- only a comment", "SQL code did not contain a statement."),
        (";", "SQL code did not contain a statement."),
        ("SELECT 1; -- trailing comment", "SQL code did not contain a statement."),
        (
            "INSERT INTO users (id, name) VALUES (1, NULL)",
            "NOT NULL constraint failed: users.name: SQLITE_CONSTRAINT"
            " (extended: SQLITE_CONSTRAINT_NOTNULL)",
        ),
        ("ATTACH DATABASE 'x.db' AS x", "not authorized: SQLITE_AUTH"),
        ("PRAGMA journal_mode", "not authorized: SQLITE_AUTH"),
        ("SELECT * FROM temp.nope", "no such table: temp.nope: SQLITE_ERROR"),
        ("SELECT sqlite_version()", "not authorized to use function: sqlite_version: SQLITE_ERROR"),
    ],
)
async def test_errors_are_d1_errors_with_sqlite_cause(
    db: D1Database, sql: str, message: str
) -> None:
    with pytest.raises(D1Error) as info:
        await db.prepare(sql).run()
    assert type(info.value) is D1Error
    assert str(info.value) == f"D1_ERROR: {message}"
    assert isinstance(info.value.__cause__, D1CauseError)
    assert str(info.value.__cause__) == message


async def test_sqlite_error_is_cause_of_the_cause(db: D1Database) -> None:
    with pytest.raises(D1Error) as info:
        await db.prepare("SELECT * FROM nope").all()
    assert isinstance(info.value.__cause__, D1CauseError)
    assert isinstance(info.value.__cause__.__cause__, sqlite3.OperationalError)


@pytest.mark.parametrize("values", [(), (1, 2)])
async def test_wrong_parameter_count_is_d1_error(db: D1Database, values: tuple[int, ...]) -> None:
    with pytest.raises(D1Error) as info:
        await db.prepare("SELECT ? AS v").bind(*values).all()
    assert str(info.value) == "D1_ERROR: Wrong number of parameter bindings for SQL query."


async def test_more_than_100_parameters_is_d1_error(db: D1Database) -> None:
    sql = "SELECT " + ", ".join("?" for _ in range(101))
    with pytest.raises(D1Error) as info:
        await db.prepare(sql).bind(*range(101)).all()
    assert str(info.value) == "D1_ERROR: too many SQL variables: SQLITE_ERROR"
    sql100 = "SELECT " + ", ".join("?" for _ in range(100))
    assert len((await db.prepare(sql100).bind(*range(100)).raw())[0]) == 100


async def test_oversized_row_is_rejected_and_data_intact(db: D1Database) -> None:
    await add(db, "keep")
    half = "x" * 1_200_000
    with pytest.raises(D1Error) as info:
        await db.prepare("INSERT INTO users (name, age) VALUES (? || ?, 1)").bind(half, half).run()
    assert str(info.value) == "D1_ERROR: string or blob too big: SQLITE_TOOBIG"
    assert await db.prepare("SELECT name FROM users").raw() == [["keep"]]


async def test_statement_over_100kb_is_rejected_when_run(db: D1Database) -> None:
    statement = db.prepare("SELECT '" + "x" * 100_000 + "'")
    with pytest.raises(D1Error, match=r"^D1_ERROR: statement too long: SQLITE_TOOBIG$"):
        await statement.run()
    with pytest.raises(D1ExecError) as info:
        await db.exec("SELECT 1\nSELECT '" + "x" * 100_000 + "'")
    # workerd's client names line 1 whichever line failed (d1-api.ts: one error for the batch)
    assert str(info.value).startswith("D1_EXEC_ERROR: Error in line 1: SELECT 1: statement too")
    assert str(info.value).endswith(": statement too long: SQLITE_TOOBIG")
    await db.exec(
        "\n".join(f"INSERT INTO users (name) VALUES ('{'n' * 60_000}')" for _ in range(3))
    )
    assert await db.prepare("SELECT count(*) AS n FROM users").first("n") == 3


async def test_oversized_bound_value_fails_when_run_not_when_bound(db: D1Database) -> None:
    statement = db.prepare("INSERT INTO users (name) VALUES (?)").bind("x" * 2_000_001)
    with pytest.raises(D1Error) as info:
        await statement.run()
    assert str(info.value) == "D1_ERROR: string or blob too big: SQLITE_TOOBIG"
    assert await db.prepare("INSERT INTO users (name) VALUES (?)").bind("x" * 1_999_900).run()


# -- batch ------------------------------------------------------------------------------------


async def test_batch_returns_results_in_order(db: D1Database) -> None:
    insert = db.prepare("INSERT INTO users (name) VALUES (?)")
    results = await db.batch(
        [insert.bind("a"), insert.bind("b"), db.prepare("SELECT name FROM users ORDER BY id")]
    )
    assert [r["meta"]["last_row_id"] for r in results[:2]] == [1, 2]
    assert results[2]["results"] == [{"name": "a"}, {"name": "b"}]
    assert all(r["success"] is True for r in results)


async def test_batch_rolls_back_entirely_on_failure(db: D1Database) -> None:
    await add(db, "before")
    insert = db.prepare("INSERT INTO users (name) VALUES (?)")
    with pytest.raises(D1Error) as info:
        await db.batch(
            [insert.bind("a"), insert.bind("b"), db.prepare("INSERT INTO nope VALUES (1)")]
        )
    assert str(info.value) == "D1_ERROR: no such table: nope: SQLITE_ERROR"
    assert await db.prepare("SELECT name FROM users").raw() == [["before"]]


async def test_batch_of_nothing_is_an_error(db: D1Database) -> None:
    with pytest.raises(D1Error) as info:
        await db.batch([])
    assert str(info.value) == "D1_ERROR: No SQL statements detected."


async def test_first_refuses_several_statements(db: D1Database) -> None:
    with pytest.raises(D1Error) as info:
        await db.prepare("SELECT 1 AS a; SELECT 2 AS b").first()
    message = "A SQL prepared statement can only be executed once at a time."
    assert str(info.value) == f"D1_ERROR: {message}"


async def test_batch_rejects_non_statements(db: D1Database) -> None:
    with pytest.raises(TypeError, match="list of prepared statements, got str"):
        await db.batch(["SELECT 1"])  # type: ignore[list-item]


# -- exec -----------------------------------------------------------------------------------------


async def test_exec_runs_lines_and_counts_them(db: D1Database) -> None:
    result = await db.exec(
        "INSERT INTO users (name) VALUES ('a')\n\n  \n"
        "INSERT INTO users (name) VALUES ('b')\n"
        "INSERT INTO users (name) VALUES ('c')"
    )
    assert result["count"] == 3
    assert result["duration"] >= 0
    assert await db.prepare("SELECT count(*) AS n FROM users").first("n") == 3


async def test_exec_reports_failing_line(db: D1Database) -> None:
    with pytest.raises(D1ExecError) as info:
        await db.exec("INSERT INTO users (name) VALUES ('a')\nINSERTZ INTO users VALUES ()")
    # As workerd's client reports it: line 1 and its text, with the failing line's error.
    message = (
        "Error in line 1: INSERT INTO users (name) VALUES ('a'): "
        'near "INSERTZ": syntax error: SQLITE_ERROR'
    )
    assert str(info.value) == f"D1_EXEC_ERROR: {message}"
    assert str(info.value.__cause__) == message
    assert await db.prepare("SELECT count(*) AS n FROM users").first("n") == 0


async def test_exec_without_statements_is_exec_error(db: D1Database) -> None:
    with pytest.raises(D1ExecError) as info:
        await db.exec("  \n-- nothing\n")
    assert str(info.value) == (
        "D1_EXEC_ERROR: Error in line 1: -- nothing: SQL code did not contain a statement."
    )


async def test_exec_comment_line_is_an_empty_statement(db: D1Database) -> None:
    with pytest.raises(D1ExecError) as info:
        await db.exec("INSERT INTO users (name) VALUES ('a')\n-- a comment")
    assert str(info.value).endswith(": SQL code did not contain a statement.")
    assert await db.prepare("SELECT count(*) AS n FROM users").first("n") == 0


# -- sessions -------------------------------------------------------------------------------------


async def test_session_bookmark_is_none_before_first_query(db: D1Database) -> None:
    session = db.withSession()
    assert isinstance(session, D1DatabaseSession)
    assert session.getBookmark() is None
    await session.prepare("SELECT 1").all()
    bookmark = session.getBookmark()
    assert isinstance(bookmark, str)
    assert bookmark


@pytest.mark.parametrize("anchor", ["first-primary", "first-unconstrained", None, "", "  "])
async def test_session_accepts_constraints(db: D1Database, anchor: str | None) -> None:
    session = db.withSession(anchor)
    assert session.getBookmark() is None
    await session.batch([session.prepare("INSERT INTO users (name) VALUES ('s')")])
    assert session.getBookmark() is not None


async def test_session_bookmarks_sort_by_commit_order(db: D1Database) -> None:
    session = db.withSession("first-primary")
    seen: list[str] = []
    for name in ("a", "b", "c"):
        await session.prepare("INSERT INTO users (name) VALUES (?)").bind(name).run()
        seen.append(session.getBookmark() or "")
    assert seen == sorted(seen)
    assert len(set(seen)) == 3


async def test_session_from_bookmark_sees_the_writes_before_it(db: D1Database) -> None:
    writer = db.withSession()
    await writer.prepare("INSERT INTO users (name) VALUES ('w')").run()
    bookmark = writer.getBookmark()
    assert bookmark is not None
    resumed = db.withSession(f" {bookmark} ")
    assert resumed.getBookmark() == bookmark
    assert await resumed.prepare("SELECT count(*) AS n FROM users").first("n") == 1
    assert (resumed.getBookmark() or "") >= bookmark


async def test_session_with_invalid_bookmark_fails_on_first_query(db: D1Database) -> None:
    session = db.withSession("%%%not-a-bookmark%%%")
    with pytest.raises(D1SessionError) as info:
        await session.prepare("SELECT 1").all()
    assert str(info.value) == "D1_SESSION_ERROR: invalid bookmark or constraint"


# -- dump -----------------------------------------------------------------------------------------


async def test_dump_returns_a_sqlite_database(db: D1Database, tmp_path: Path) -> None:
    await add(db, "dumped")
    data = await db.dump()
    assert data.startswith(b"SQLite format 3\x00")
    copy = tmp_path / "copy.sqlite3"
    copy.write_bytes(data)
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("SELECT name FROM users").fetchall() == [("dumped",)]
    finally:
        conn.close()


async def test_foreign_keys_are_enforced(db: D1Database) -> None:
    await db.exec(
        "CREATE TABLE rooms (id INTEGER PRIMARY KEY)\n"
        "CREATE TABLE msgs (id INTEGER PRIMARY KEY, room INTEGER REFERENCES rooms(id))"
    )
    with pytest.raises(D1Error, match="FOREIGN KEY constraint failed: SQLITE_CONSTRAINT"):
        await db.prepare("INSERT INTO msgs (room) VALUES (1)").run()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "CREATE TABLE wide (" + ", ".join(f"c{i}" for i in range(101)) + ")",
            "too many columns on wide: SQLITE_ERROR",
        ),
        ("SELECT 'a' LIKE '" + "a" * 51 + "'", "LIKE or GLOB pattern too complex: SQLITE_ERROR"),
        (
            "SELECT max(" + ", ".join("1" for _ in range(33)) + ")",
            "too many arguments on function max: SQLITE_ERROR",
        ),
    ],
)
async def test_sqlite_limits_are_d1_limits(db: D1Database, sql: str, message: str) -> None:
    with pytest.raises(D1Error) as info:
        await db.prepare(sql).run()
    assert str(info.value) == f"D1_ERROR: {message}"


async def test_sqlite_limits_allow_d1_maximums(db: D1Database) -> None:
    await db.prepare("CREATE TABLE wide (" + ", ".join(f"c{i}" for i in range(100)) + ")").run()
    assert await db.prepare("SELECT 'a' LIKE '" + "%" * 50 + "' AS m").first("m") == 1
    assert (
        await db.prepare("SELECT max(" + ", ".join(str(i) for i in range(32)) + ") AS m").first("m")
        == 31
    )


async def test_transaction_statements_are_refused_and_database_stays_usable(db: D1Database) -> None:
    for sql in (
        "BEGIN",
        "BEGIN IMMEDIATE",
        "COMMIT",
        "ROLLBACK",
        "END",
        "SAVEPOINT s",
        "RELEASE s",
    ):
        with pytest.raises(D1Error) as info:
            await db.prepare(sql).run()
        assert str(info.value) == f"D1_ERROR: {TRANSACTION_MESSAGE}"
    await add(db, "after")
    assert await db.prepare("SELECT count(*) AS n FROM users").first("n") == 1


async def test_unencodable_or_odd_text_never_breaks_the_database(db: D1Database) -> None:
    await add(db, "\ud800 lone surrogate")  # JavaScript would send U+FFFD
    await add(db, "nul \x00 inside")
    with pytest.raises(D1Error) as info:
        await db.prepare("INSERT INTO users (name) VALUES ('a\x00b')").run()
    assert str(info.value) == "D1_ERROR: the query contains a null character"
    with pytest.raises(D1Error, match="surrogates not allowed"):
        await db.prepare("INSERT INTO users (name) VALUES ('\udc00')").run()
    await add(db, "still usable")
    names = [r[0] for r in await db.prepare("SELECT name FROM users ORDER BY id").raw()]
    assert names == ["\ufffd lone surrogate", "nul \x00 inside", "still usable"]


async def test_concurrent_writers_and_readers_complete_without_lock_errors(db: D1Database) -> None:
    insert = db.prepare("INSERT INTO users (name, age) VALUES (?, ?)")

    async def writer(n: int) -> None:
        for i in range(5):
            await insert.bind(f"w{n}", i).run()

    async def reader() -> None:
        for _ in range(5):
            await db.prepare("SELECT count(*) AS c FROM users").first("c")

    await asyncio.gather(*[writer(n) for n in range(50)], *[reader() for _ in range(50)])
    assert await db.prepare("SELECT count(*) AS c FROM users").first("c") == 250


async def test_readers_never_see_half_a_batch(db: D1Database) -> None:
    insert = db.prepare("INSERT INTO users (name) VALUES (?)")
    batch = asyncio.ensure_future(db.batch([insert.bind(f"b{i}") for i in range(500)]))
    seen = set()
    while not batch.done():
        seen.add(await db.prepare("SELECT count(*) AS c FROM users").first("c"))
    await batch
    seen.add(await db.prepare("SELECT count(*) AS c FROM users").first("c"))
    assert seen <= {0, 500}
    assert 500 in seen
