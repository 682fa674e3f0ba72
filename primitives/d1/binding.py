"""``D1Database``: Cloudflare's D1 binding, in the Python Workers SDK's shape.

``prepare(sql).bind(*values)`` builds statements; ``first(colName=None)``, ``all()``, ``run()``
and ``raw(columnNames=False)`` run them; ``batch([...])`` runs several in one transaction;
``exec(sql)`` runs newline-separated lines; ``withSession(constraint_or_bookmark)`` gives a
session with bookmarks; ``dump()`` returns the database file. Results are
:class:`~primitives._dictlike.JsDict` objects shaped as D1's, BLOBs come back as lists of byte
values, and every failure is a :class:`~primitives.d1.errors.D1Error` with D1's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._dictlike import JsDict
from .._lifecycle import AsyncClosing
from ..errors import BackendError
from ._sql import split_statements
from .backend import D1Backend, D1Query, D1QueryError, D1StatementResult
from .errors import (
    D1ColumnNotFoundError,
    D1DumpError,
    D1Error,
    D1ExecError,
    D1SessionError,
    d1_cause,
)
from .validation import check_query, check_sql, convert_values, raw_column_names

__all__ = ["D1Database", "D1DatabaseSession", "D1PreparedStatement"]

SERVED_BY = "edgeroom.db"
CONSTRAINTS = ("first-unconstrained", "first-primary")
INVALID_SESSION = "invalid bookmark or constraint"
NO_STATEMENTS = "No SQL statements detected."
ONCE_AT_A_TIME = "A SQL prepared statement can only be executed once at a time."


def _cells(row: tuple[Any, ...]) -> tuple[Any, ...]:
    for value in row:
        if type(value) is bytes:
            return tuple(list(v) if type(v) is bytes else v for v in row)
    return row


def _to_result(result: D1StatementResult) -> JsDict:
    columns = result.columns
    meta = JsDict(
        served_by=SERVED_BY,
        duration=result.duration_ms,
        changes=result.changes,
        last_row_id=result.last_row_id,
        changed_db=result.changed_db,
        size_after=result.size_after,
        rows_read=result.rows_read,
        rows_written=result.rows_written,
    )
    rows = [JsDict(zip(columns, _cells(row), strict=True)) for row in result.rows]
    return JsDict(success=True, results=rows, meta=meta)


class D1PreparedStatement:
    """A SQL statement and its bound values; ``bind`` returns a new statement."""

    __slots__ = ("_runner", "params", "statement")

    def __init__(self, runner: _Runner, statement: str, params: tuple[Any, ...] = ()) -> None:
        self._runner = runner
        self.statement = statement
        self.params = params

    def __repr__(self) -> str:
        return f"<D1PreparedStatement {self.statement!r} params={list(self.params)!r}>"

    def bind(self, *values: object) -> D1PreparedStatement:
        """A new statement with ``values`` bound (``?`` / ``?NNN`` parameters, in order)."""
        return D1PreparedStatement(self._runner, self.statement, convert_values(values))

    def _query(self) -> D1Query:
        return D1Query(self.statement, self.params)

    async def _one(self) -> D1StatementResult:
        return (await self._runner._execute((self._query(),)))[0]

    async def all(self) -> JsDict:
        """``{"success": True, "results": [row dicts], "meta": {...}}``."""
        return _to_result(await self._one())

    async def run(self) -> JsDict:
        """The same as :meth:`all` (D1: "functionally equivalent")."""
        return _to_result(await self._one())

    async def first(self, colName: str | None = None) -> Any:
        """The first row as a dict (``None`` if no rows), or one column of it.

        As on workerd, ``first()`` refuses SQL holding several statements (``all()``,
        ``run()`` and ``raw()`` return the last statement's result).
        """
        if len(split_statements(self.statement)) > 1:
            raise D1Error(ONCE_AT_A_TIME) from d1_cause(ONCE_AT_A_TIME)
        result = await self._one()
        if not result.rows:
            return None
        row = JsDict(zip(result.columns, _cells(result.rows[0]), strict=True))
        if colName is None:
            return row
        if colName not in row:
            raise D1ColumnNotFoundError(f"Column not found ({colName})") from d1_cause(
                "Column not found"
            )
        return row[colName]

    async def raw(
        self, options: Mapping[str, Any] | None = None, *, columnNames: bool | None = None
    ) -> list[list[Any]]:
        """Rows as lists; with ``columnNames=True`` the first list holds the column names."""
        with_names = raw_column_names(options, columnNames)
        result = await self._one()
        rows = [list(_cells(row)) for row in result.rows]
        return [list(result.columns), *rows] if with_names else rows


class _Runner:
    """What statements run through: the database itself, or a session of it."""

    _backend: D1Backend

    async def _execute(self, queries: Sequence[D1Query]) -> list[D1StatementResult]:
        for query in queries:
            check_query(query.sql, query.params)
        try:
            return await self._backend.run(queries)
        except D1QueryError as exc:
            raise D1Error(exc.message) from d1_cause(exc.message, exc.__cause__ or exc)
        except BackendError as exc:
            raise D1Error(str(exc)) from d1_cause(str(exc), exc)

    def prepare(self, query: str) -> D1PreparedStatement:
        """A statement for ``query`` (its limits are checked when it runs, as on D1)."""
        return D1PreparedStatement(self, check_sql(query))

    async def batch(self, statements: Sequence[D1PreparedStatement]) -> list[JsDict]:
        """Run ``statements`` in order in one transaction; if one fails, none has an effect."""
        queries = []
        for statement in statements:
            if not isinstance(statement, D1PreparedStatement):
                raise TypeError(
                    f"batch() takes a list of prepared statements, got {type(statement).__name__}"
                )
            queries.append(statement._query())
        if not queries:
            raise D1Error(NO_STATEMENTS) from d1_cause(NO_STATEMENTS)
        return [_to_result(result) for result in await self._execute(queries)]


class D1DatabaseSession(_Runner):
    """Queries with sequential consistency; ``getBookmark()`` is the latest commit seen."""

    def __init__(self, backend: D1Backend, constraint_or_bookmark: str) -> None:
        self._backend = backend
        self._anchor = constraint_or_bookmark
        self._checked = constraint_or_bookmark in CONSTRAINTS
        self._bookmark: str | None = None if self._checked else constraint_or_bookmark

    def __repr__(self) -> str:
        return f"<D1DatabaseSession anchor={self._anchor!r} bookmark={self._bookmark!r}>"

    def getBookmark(self) -> str | None:
        """``None`` before the first query (unless anchored at a bookmark), then the latest one."""
        return self._bookmark

    async def _execute(self, queries: Sequence[D1Query]) -> list[D1StatementResult]:
        if not self._checked:
            if not self._backend.owns_bookmark(self._anchor):
                raise D1SessionError(INVALID_SESSION) from d1_cause(INVALID_SESSION)
            self._checked = True
        results = await super()._execute(queries)
        seen = self._backend.bookmark()
        if self._bookmark is None or seen > self._bookmark:
            self._bookmark = seen
        return results


class D1Database(_Runner, AsyncClosing):
    """The ``env.DB`` object: Cloudflare's ``D1Database``."""

    def __init__(self, backend: D1Backend, *, name: str = "DB") -> None:
        self._backend = backend
        self.name = name

    def __repr__(self) -> str:
        return f"<D1Database {self.name} {self._backend!r}>"

    @property
    def backend(self) -> D1Backend:
        return self._backend

    async def exec(self, query: str) -> JsDict:
        """Run ``query`` line by line (D1 splits on newlines): ``{"count", "duration"}``.

        Whitespace-only lines are skipped; a comment-only line is an empty statement and fails.
        All lines run in one transaction; if one fails, none has an effect. As workerd's client
        (``d1-api.ts``) reports it, the error always names line 1 and its text:
        ``D1_EXEC_ERROR: Error in line 1: <first line>: <message of the failing line>``.
        """
        lines = check_sql(query).strip().split("\n")
        first = lines[0]
        statements = [line for line in lines if line.strip()]
        for line in statements:
            try:
                check_query(line, ())
            except D1Error as exc:
                message = f"Error in line 1: {first}: {exc.message}"
                raise D1ExecError(message) from d1_cause(message, exc)
        if not statements:
            message = f"Error in line 1: {first}: {NO_STATEMENTS}"
            raise D1ExecError(message) from d1_cause(message)
        try:
            results = await self._backend.run([D1Query(line) for line in statements])
        except D1QueryError as exc:
            message = f"Error in line 1: {first}: {exc.message}"
            raise D1ExecError(message) from d1_cause(message, exc)
        except BackendError as exc:
            message = f"Error in line 1: {lines[0]}: {exc}"
            raise D1ExecError(message) from d1_cause(message, exc)
        return JsDict(count=len(results), duration=sum(r.duration_ms for r in results))

    def withSession(self, constraintOrBookmark: str | None = None) -> D1DatabaseSession:
        """A session from ``first-unconstrained`` (default), ``first-primary`` or a bookmark."""
        if constraintOrBookmark is not None and not isinstance(constraintOrBookmark, str):
            raise D1SessionError(INVALID_SESSION) from d1_cause(INVALID_SESSION)
        anchor = (constraintOrBookmark or "").strip() or "first-unconstrained"
        return D1DatabaseSession(self._backend, anchor)

    async def dump(self) -> bytes:
        """The database as the bytes of a SQLite file."""
        try:
            return await self._backend.dump()
        except (D1QueryError, BackendError) as exc:
            raise D1DumpError(str(exc)) from d1_cause(str(exc), exc)

    async def aclose(self) -> None:
        """Close the database's connections (idempotent)."""
        await self._backend.aclose()
