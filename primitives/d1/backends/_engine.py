"""The thread-side half of the SQLite backend: run D1 queries on one ``sqlite3`` connection.

Everything here is synchronous and runs on the connection's own thread. ``sqlite3`` errors are
translated into :class:`~primitives.d1.backend.D1QueryError` with the message workerd's SQLite
wrapper gives (``<sqlite message>: <primary result code name>``).

How ``meta`` is computed (Python's ``sqlite3`` has no per-statement row counters):

* ``changes``: ``total_changes`` after minus before (as Miniflare), so rows changed by triggers
  and foreign-key actions count too. Exact.
* ``last_row_id``: ``sqlite3_last_insert_rowid()`` of the writing connection after the query. Exact.
* ``size_after``: ``page_count * page_size`` after the query. Exact.
* ``changed_db``: ``changes != 0`` or ``last_row_id`` or ``size_after`` changed (as Miniflare).
* ``rows_read``: the number of result rows the query's statements returned. D1 counts every row
  SQLite visits (scans, index entries); this is a lower bound of that, never a guess.
* ``rows_written``: equal to ``changes``. D1 also counts index entries written; lower bound.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..._sqlite_regulator import INTERNAL, Regulator
from .._sql import first_keyword, has_empty_statement, split_statements
from ..backend import D1Query, D1QueryError, D1StatementResult
from ..limits import (
    MAX_BOUND_PARAMETERS,
    MAX_COLUMNS_PER_TABLE,
    MAX_COMPOUND_SELECT_TERMS,
    MAX_FUNCTION_ARGS,
    MAX_LIKE_PATTERN_BYTES,
    MAX_SQL_STATEMENT_BYTES,
    MAX_VALUE_BYTES,
)

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DatabaseState",
    "NeedsWriterError",
    "describe_sqlite_error",
    "file_token",
    "open_connection",
    "read_size",
    "run_queries",
    "run_write_group",
    "runs_alone",
]

NO_STATEMENTS = "No SQL statements detected."
EMPTY_STATEMENT = "SQL code did not contain a statement."
WRONG_BINDINGS = "Wrong number of parameter bindings for SQL query."
PRELUDE_BINDINGS = (
    "When executing multiple SQL statements in a single call, "
    "only the last statement can have parameters."
)
_LIMITS = (
    (sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES),
    (sqlite3.SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_STATEMENT_BYTES),
    (sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, MAX_BOUND_PARAMETERS),
    (sqlite3.SQLITE_LIMIT_COLUMN, MAX_COLUMNS_PER_TABLE),
    (sqlite3.SQLITE_LIMIT_FUNCTION_ARG, MAX_FUNCTION_ARGS),
    (sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, MAX_LIKE_PATTERN_BYTES),
    (sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, MAX_COMPOUND_SELECT_TERMS),
)


#: How long a connection waits for a lock another process holds before SQLITE_BUSY.
BUSY_TIMEOUT_MS = 10_000

_PAGE_SIZE_CHANGERS = frozenset({"PRAGMA", "VACUUM"})


@lru_cache(maxsize=1024)
def _may_change_page_size(sql: str) -> bool:
    return any(first_keyword(s) in _PAGE_SIZE_CHANGERS for s in split_statements(sql))


class NeedsWriterError(Exception):
    """A statement sent to a read-only reader connection turned out to write."""


@dataclass(slots=True)
class DatabaseState:
    """What readers report from the writer: its last insert rowid and the database size."""

    last_row_id: int = 0
    size_after: int = 0
    #: cached; forgotten after a PRAGMA or VACUUM statement (the only ways it changes)
    page_size: int = 0
    #: whether the schema (at ``schema_version``) declares foreign keys checked only at COMMIT
    deferred_keys: bool = False
    schema_version: int = -1


# Extended result codes that Python 3.11's sqlite3 module cannot name (sqlite3.h).
_NEWER_CODES = {
    3091: "SQLITE_CONSTRAINT_DATATYPE",
    2835: "SQLITE_CONSTRAINT_PINNED",
    1038: "SQLITE_CANTOPEN_SYMLINK",
    1288: "SQLITE_IOERR_DATA",
    6410: "SQLITE_IOERR_CORRUPTFS",
    523: "SQLITE_ERROR_SNAPSHOT",
}


class RegulatedConnection(sqlite3.Connection):
    """A connection that carries its :class:`Regulator` (workerd's authorizer rules)."""

    regulator: Regulator


def _regulator(conn: sqlite3.Connection) -> Regulator | None:
    return getattr(conn, "regulator", None)


def describe_sqlite_error(exc: BaseException, regulator: Regulator | None = None) -> str:
    """workerd's text for a SQLite error: ``no such table: x: SQLITE_ERROR``.

    An extended result code is named too, as workerd does:
    ``UNIQUE constraint failed: t.k: SQLITE_CONSTRAINT (extended: SQLITE_CONSTRAINT_UNIQUE)``.
    """
    text = str(exc)
    name = getattr(exc, "sqlite_errorname", None)
    if name == "unknown":  # codes newer than this Python's table, e.g. SQLITE_CONSTRAINT_DATATYPE
        name = _NEWER_CODES.get(getattr(exc, "sqlite_errorcode", -1), name)
    if name == "SQLITE_AUTH" and regulator is not None and regulator.denial:
        return regulator.denial
    if isinstance(exc, sqlite3.ProgrammingError) and text.startswith(
        "Incorrect number of bindings"
    ):
        return WRONG_BINDINGS
    if isinstance(name, str) and name.startswith("SQLITE_"):
        primary = "_".join(name.split("_")[:2])  # SQLITE_CONSTRAINT_UNIQUE -> SQLITE_CONSTRAINT
        if primary != name:
            return f"{text}: {primary} (extended: {name})"
        return f"{text}: {primary}"
    return text


def open_connection(target: str, *, uri: bool, reader: bool, wal: bool) -> sqlite3.Connection:
    """Open and configure one connection (D1's limits, foreign keys on, WAL when on disk)."""
    if not uri and target != ":memory:":
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        target,
        uri=uri,
        isolation_level=None,
        check_same_thread=False,
        cached_statements=512,
        factory=RegulatedConnection,
    )
    try:
        for category, limit in _LIMITS:
            conn.setlimit(category, limit)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")  # D1 enforces foreign keys
        if wal and not reader:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.OperationalError:
                pass  # a read-only file: queries will report SQLITE_READONLY themselves
        if reader:
            conn.execute("PRAGMA query_only = ON")
        regulator = Regulator()
        conn.set_authorizer(regulator)
        conn.regulator = regulator  # type: ignore[attr-defined]
    except BaseException:
        conn.close()
        raise
    return conn


def read_size(cur: sqlite3.Cursor, state: DatabaseState | None = None) -> int:
    """``page_count * page_size``; ``page_size`` is cached in ``state`` when given."""
    if state is None or not state.page_size:
        row = cur.execute("PRAGMA page_size" + INTERNAL).fetchone()
        page_size = int(row[0]) if row else 0
        if state is not None:
            state.page_size = page_size
    else:
        page_size = state.page_size
    row = cur.execute("PRAGMA page_count" + INTERNAL).fetchone()
    return (int(row[0]) if row else 0) * page_size


def _run_one(
    cur: sqlite3.Cursor, query: D1Query, index: int
) -> tuple[tuple[str, ...], list[tuple[object, ...]], int]:
    if not query.sql.strip():
        raise D1QueryError(NO_STATEMENTS, index)
    statements = split_statements(query.sql)
    if not statements or has_empty_statement(query.sql):
        raise D1QueryError(EMPTY_STATEMENT, index)
    rows_read = 0
    regulator = _regulator(cur.connection)
    if regulator is not None:
        regulator.active, regulator.denial = True, None
    try:
        for prelude in statements[:-1]:
            try:
                cur.execute(prelude)
            except sqlite3.ProgrammingError as exc:
                if str(exc).startswith("Incorrect number of bindings"):
                    raise D1QueryError(PRELUDE_BINDINGS, index) from exc
                raise
            rows_read += len(cur.fetchall())
        cur.execute(statements[-1], query.params)
    finally:
        if regulator is not None:
            regulator.active = False
    rows = cur.fetchall()
    description = cur.description
    columns = tuple(d[0] for d in description) if description else ()
    return columns, rows, rows_read + len(rows)


def run_queries(
    conn: sqlite3.Connection,
    *,
    queries: Sequence[D1Query],
    state: DatabaseState,
    writer: bool,
    begin: str | None = "BEGIN IMMEDIATE",
) -> list[D1StatementResult]:
    """Run ``queries``; on the writer all inside one ``begin`` … ``COMMIT`` transaction.

    With ``begin=None`` the caller holds the transaction (a savepoint of :func:`run_write_group`):
    nothing is begun, committed or rolled back here.
    """
    if not writer and len(queries) == 1:
        fast = _read_one(conn, queries[0], state)
        if fast is not None:
            return [fast]
    cur = conn.cursor()
    results: list[D1StatementResult] = []
    index = 0
    try:
        if writer and begin is not None:
            if conn.in_transaction:  # never left open by us; be safe against the unexpected
                conn.execute("ROLLBACK" + INTERNAL)
            cur.execute(begin + INTERNAL)
        for index, query in enumerate(queries):
            before_changes = conn.total_changes
            started = time.perf_counter()
            columns, rows, rows_read = _run_one(cur, query, index)
            duration = (time.perf_counter() - started) * 1000.0
            if writer:
                changes = conn.total_changes - before_changes
                last_row_id = cur.lastrowid if cur.lastrowid is not None else state.last_row_id
                if state.page_size and _may_change_page_size(query.sql):
                    state.page_size = 0
                size = read_size(cur, state)
                changed = (
                    changes != 0 or last_row_id != state.last_row_id or size != state.size_after
                )
                state.last_row_id, state.size_after = last_row_id, size
            else:
                changes, last_row_id, size, changed = 0, state.last_row_id, state.size_after, False
            results.append(
                D1StatementResult(
                    columns=columns,
                    rows=rows,  # type: ignore[arg-type]
                    duration_ms=duration,
                    changes=changes,
                    last_row_id=last_row_id,
                    changed_db=changed,
                    size_after=size,
                    rows_read=rows_read,
                    rows_written=changes,
                )
            )
        if writer and begin is not None:
            cur.execute("COMMIT" + INTERNAL)
    except D1QueryError:
        _abort(conn, state, writer=writer, owned=begin is not None)
        raise
    except sqlite3.Error as exc:
        _abort(conn, state, writer=writer, owned=begin is not None)
        if not writer and getattr(exc, "sqlite_errorname", "").startswith("SQLITE_READONLY"):
            raise NeedsWriterError from exc
        raise D1QueryError(describe_sqlite_error(exc, _regulator(conn)), index) from exc
    except Exception as exc:  # e.g. text that cannot be encoded: never leave the transaction open
        _abort(conn, state, writer=writer, owned=begin is not None)
        raise D1QueryError(describe_sqlite_error(exc), index) from exc
    finally:
        cur.close()
    return results


#: One call's outcome in a group: its results, or the error it raises.
CallOutcome = tuple[bool, "list[D1StatementResult] | D1QueryError"]
_CALL = "d1_call" + INTERNAL


def run_write_group(
    conn: sqlite3.Connection,
    calls: Sequence[Sequence[D1Query]],
    *,
    state: DatabaseState,
    begin: str = "BEGIN IMMEDIATE",
) -> list[CallOutcome]:
    """Run independent writer calls (each a query or a batch) in one transaction: group commit.

    Each call runs inside its own savepoint, so it still succeeds or fails as a whole and on its
    own, exactly as in a transaction of its own; the group shares one ``COMMIT`` (and one trip
    to the writer's thread). Where a shared transaction could change an outcome, the calls run
    one transaction each, so every caller sees what it would have seen alone: a call with a
    PRAGMA (``defer_foreign_keys`` lasts until COMMIT) or a schema change; a schema with foreign
    keys checked only at COMMIT (a later call could satisfy an earlier one's); and, after the
    fact, a refused savepoint or ``COMMIT`` or an error that ended the transaction.
    """
    if (
        len(calls) > 1
        and not any(runs_alone(query.sql) for call in calls for query in call)
        and not _has_deferred_keys(conn, state)
    ):
        try:
            return _grouped(conn, calls, state, begin)
        except _GroupAborted:
            _rollback(conn, state)
    return [_alone(conn, call, state, begin) for call in calls]


class _GroupAborted(Exception):
    """The shared transaction cannot be committed as it is: run each call on its own."""


def _grouped(
    conn: sqlite3.Connection,
    calls: Sequence[Sequence[D1Query]],
    state: DatabaseState,
    begin: str,
) -> list[CallOutcome]:
    outcomes: list[CallOutcome] = []
    try:
        if conn.in_transaction:  # never left open by us; be safe against the unexpected
            conn.execute("ROLLBACK" + INTERNAL)
        conn.execute(begin + INTERNAL)
        for call in calls:
            conn.execute("SAVEPOINT " + _CALL)
            try:
                results = run_queries(conn, queries=call, state=state, writer=True, begin=None)
            except D1QueryError as exc:
                if not conn.in_transaction:  # SQLite ended the transaction (SQLITE_FULL, ...)
                    raise _GroupAborted from exc
                conn.execute("ROLLBACK TO " + _CALL)
                _refresh_state(conn, state)
                outcomes.append((False, exc))
            else:
                outcomes.append((True, results))
            conn.execute("RELEASE " + _CALL)
        conn.execute("COMMIT" + INTERNAL)
    except sqlite3.Error as exc:  # a savepoint or the COMMIT refused
        raise _GroupAborted from exc
    return outcomes


def _alone(
    conn: sqlite3.Connection, call: Sequence[D1Query], state: DatabaseState, begin: str
) -> CallOutcome:
    try:
        return True, run_queries(conn, queries=call, state=state, writer=True, begin=begin)
    except D1QueryError as exc:
        return False, exc


_ALONE_KEYWORDS = frozenset({"PRAGMA", "CREATE", "ALTER", "DROP"})


@lru_cache(maxsize=1024)
def runs_alone(sql: str) -> bool:
    """Whether ``sql`` has a PRAGMA or a schema change: never grouped, never run inline."""
    return any(first_keyword(s) in _ALONE_KEYWORDS for s in split_statements(sql))


#: ``INITIALLY DEFERRED`` however it is spaced or commented; a false match only costs speed.
_DEFERRED = re.compile(r"\bDEFERRED\b", re.IGNORECASE)


def _has_deferred_keys(conn: sqlite3.Connection, state: DatabaseState) -> bool:
    """Whether a table may declare keys checked only at COMMIT (read again after DDL).

    Any error reading the schema answers yes: the calls then simply run one transaction each.
    """
    try:
        version = int(conn.execute("PRAGMA schema_version" + INTERNAL).fetchone()[0])
        if version != state.schema_version:
            tables = conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table'" + INTERNAL
            ).fetchall()
            state.deferred_keys = any(_DEFERRED.search(sql or "") for (sql,) in tables)
            state.schema_version = version
    except sqlite3.Error:
        return True
    return state.deferred_keys


def _read_one(
    conn: sqlite3.Connection, query: D1Query, state: DatabaseState
) -> D1StatementResult | None:
    """The common case on a reader, without the general loop: one single-statement query."""
    statements = split_statements(query.sql)
    if len(statements) != 1 or has_empty_statement(query.sql):
        return None
    regulator = _regulator(conn)
    started = time.perf_counter()
    if regulator is not None:
        regulator.active, regulator.denial = True, None
    try:
        try:
            cur = conn.execute(statements[0], query.params)
        finally:
            if regulator is not None:
                regulator.active = False
        rows = cur.fetchall()
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorname", "").startswith("SQLITE_READONLY"):
            raise NeedsWriterError from exc
        raise D1QueryError(describe_sqlite_error(exc, regulator), 0) from exc
    except Exception as exc:
        raise D1QueryError(describe_sqlite_error(exc), 0) from exc
    duration = (time.perf_counter() - started) * 1000.0
    description = cur.description
    return D1StatementResult(
        columns=tuple(d[0] for d in description) if description else (),
        rows=rows,
        duration_ms=duration,
        changes=0,
        last_row_id=state.last_row_id,
        changed_db=False,
        size_after=state.size_after,
        rows_read=len(rows),
        rows_written=0,
    )


def _abort(conn: sqlite3.Connection, state: DatabaseState, *, writer: bool, owned: bool) -> None:
    """After a failed query: roll back the transaction this call began (not the caller's)."""
    if owned:
        _rollback(conn, state if writer else None)


def _rollback(conn: sqlite3.Connection, state: DatabaseState | None) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK" + INTERNAL)
        except sqlite3.Error:
            pass
    if state is not None:
        _refresh_state(conn, state)


def _refresh_state(conn: sqlite3.Connection, state: DatabaseState) -> None:
    """Read ``last_row_id`` and the size again after a rollback."""
    try:
        state.last_row_id = int(conn.execute("SELECT last_insert_rowid()" + INTERNAL).fetchone()[0])
        state.size_after = read_size(conn.cursor())
    except sqlite3.Error:
        pass


def file_token(path: str) -> str:
    """A stable 32-hex-digit identity for a database file (for bookmarks)."""
    import hashlib

    return hashlib.sha256(os.path.realpath(path).encode()).hexdigest()[:32]
