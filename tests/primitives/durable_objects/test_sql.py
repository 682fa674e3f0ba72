"""ctx.storage.sql: cursor API, workerd's errors, and KV + SQL in one transaction."""

from __future__ import annotations

from typing import Any

import pytest

from primitives.durable_objects import DurableObject, SqlError
from primitives.testing import run_in_durable_object

from .conftest import HeldSyncBackend, MakeNamespace


class Db(DurableObject):
    pass


@pytest.fixture
def stub(make_ns: MakeNamespace, backend_url: str) -> Any:
    return make_ns(Db, backend_url).getByName("db")


async def sql(stub: Any, fn: Any) -> Any:
    return await run_in_durable_object(stub, lambda obj, ctx: fn(ctx.storage.sql))


async def test_exec_returns_rows_as_dicts(stub: Any) -> None:
    def go(db: Any) -> Any:
        db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
        inserted = db.exec(
            "INSERT INTO t (name, data) VALUES (?, ?), (?, ?)", "a", b"\x00", "b", None
        )
        cursor = db.exec("SELECT * FROM t ORDER BY id")
        return inserted.rowsWritten, cursor.columnNames, cursor.toArray(), cursor.rowsRead

    written, columns, rows, read = await sql(stub, go)
    assert written == 2 and columns == ["id", "name", "data"] and read == 2
    assert rows == [{"id": 1, "name": "a", "data": b"\x00"}, {"id": 2, "name": "b", "data": None}]
    assert rows[0].name == "a"  # dict-like with attribute access


async def test_cursor_iteration_raw_and_next(stub: Any) -> None:
    def go(db: Any) -> Any:
        cursor = db.exec("SELECT 1 AS a UNION ALL SELECT 2 UNION ALL SELECT 3")
        first = next(cursor)
        raw = next(cursor.raw())
        step = cursor.next()
        end = cursor.next()
        return first, raw, step, end, cursor.columnNames

    first, raw, step, end, columns = await sql(stub, go)
    assert first == {"a": 1} and raw == [2] and step == {"done": False, "value": {"a": 3}}
    assert end == {"done": True} and columns == ["a"]


async def test_one_needs_exactly_one_row(stub: Any) -> None:
    assert await sql(stub, lambda db: db.exec("SELECT 5 AS v").one()) == {"v": 5}
    with pytest.raises(
        SqlError.__mro__[1],
        match=r"^Expected exactly one result from SQL query, but got no results.$",
    ):
        await sql(stub, lambda db: db.exec("SELECT 1 WHERE 0").one())
    with pytest.raises(Exception, match=r"but got multiple results.$"):
        await sql(stub, lambda db: db.exec("SELECT 1 UNION ALL SELECT 2").one())


async def test_multiple_statements_return_the_last(stub: Any) -> None:
    rows = await sql(
        stub,
        lambda db: db.exec(
            "CREATE TABLE m (x); INSERT INTO m VALUES (1); SELECT x FROM m;"
        ).toArray(),
    )
    assert rows == [{"x": 1}]
    assert await sql(stub, lambda db: db.exec("SELECT 'a;b' AS s -- c;\n").toArray()) == [
        {"s": "a;b"}
    ]


@pytest.mark.parametrize("query", ["", ";", "  ", "SELECT 1; -- trailing comment"])
async def test_empty_sql_is_rejected(stub: Any, query: str) -> None:
    with pytest.raises(SqlError, match=r"^SQL code did not contain a statement.$"):
        await sql(stub, lambda db: db.exec(query))


async def test_sql_errors_read_like_workerd(stub: Any) -> None:
    with pytest.raises(SqlError, match=r'^near "bunk": syntax error.*: SQLITE_ERROR$'):
        await sql(stub, lambda db: db.exec("bunk"))
    with pytest.raises(SqlError, match=r"^no such table: nope: SQLITE_ERROR$"):
        await sql(stub, lambda db: db.exec("SELECT * FROM nope"))
    with pytest.raises(SqlError, match=r"^Wrong number of parameter bindings for SQL query.$"):
        await sql(stub, lambda db: db.exec("SELECT ?, ?", 1))
    with pytest.raises(TypeError, match=r"Unsupported type for a SQL binding: dict"):
        await sql(stub, lambda db: db.exec("SELECT ?", {}))


@pytest.mark.parametrize("query", ["BEGIN TRANSACTION", "BEGIN", "SAVEPOINT x", "COMMIT"])
async def test_transaction_statements_are_refused(stub: Any, query: str) -> None:
    with pytest.raises(
        SqlError, match=r"^To execute a transaction, please use the state.storage.transaction\(\)"
    ):
        await sql(stub, lambda db: db.exec(query))


async def test_hidden_tables_are_off_limits(stub: Any) -> None:
    with pytest.raises(SqlError, match=r"^access to _cf_KV.key is prohibited: SQLITE_AUTH$"):
        await sql(stub, lambda db: db.exec("SELECT key FROM _cf_KV"))
    with pytest.raises(SqlError, match=r"not authorized"):
        await sql(stub, lambda db: db.exec("DELETE FROM _cf_KV"))
    with pytest.raises(SqlError, match=r"not authorized"):
        await sql(stub, lambda db: db.exec("PRAGMA journal_mode=DELETE"))
    assert await sql(stub, lambda db: db.exec("PRAGMA table_list").columnNames)


async def test_kv_and_sql_writes_commit_together(make_ns: MakeNamespace) -> None:
    backend = HeldSyncBackend()
    backend.release.set()
    stub = make_ns(Db, backend=backend).getByName("x")

    def go(ctx: Any) -> Any:
        before = ctx.storage._live.committed_seq
        ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS log (v)")
        ctx.storage.sql.exec("INSERT INTO log VALUES (1)")
        ctx.storage.put("count", 1)
        return before, ctx.storage._live.txn_seq

    before, txn = await run_in_durable_object(stub, lambda obj, ctx: go(ctx))
    committed = await run_in_durable_object(stub, lambda obj, ctx: ctx.storage._live.committed_seq)
    assert txn == before + 1 and committed == before + 1  # one transaction for both


async def test_transactionSync_nests_and_rolls_back(stub: Any) -> None:
    async def go(ctx: Any) -> Any:
        db = ctx.storage.sql
        db.exec("CREATE TABLE n (v)")

        def inner() -> None:
            db.exec("INSERT INTO n VALUES ('inner')")
            raise ValueError("inner fails")

        def outer() -> str:
            db.exec("INSERT INTO n VALUES ('outer')")
            ctx.storage.put("kv", "outer")
            with pytest.raises(ValueError):
                ctx.storage.transactionSync(inner)
            return "ok"

        result = ctx.storage.transactionSync(outer)
        return result, db.exec("SELECT v FROM n").toArray(), await ctx.storage.get("kv")

    assert await run_in_durable_object(stub, lambda obj, ctx: go(ctx)) == (
        "ok",
        [{"v": "outer"}],
        "outer",
    )


async def test_databaseSize_grows(stub: Any) -> None:
    def go(db: Any) -> Any:
        before = db.databaseSize
        db.exec("CREATE TABLE big (v)")
        db.exec("INSERT INTO big VALUES (?)", b"x" * 100_000)
        return before, db.databaseSize

    before, after = await sql(stub, go)
    assert before >= 4096 and after > before + 90_000
