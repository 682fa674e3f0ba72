"""``ctx.storage.sql``: SQL on the object's own database, with workerd's rules and messages.

Statements run at ``exec()`` time and the cursor holds the last statement's rows (fetched at
once: the implicit transaction may commit before the cursor is read). Writes join the implicit
transaction, so KV and SQL writes made without an ``await`` commit together.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .._dictlike import JsDict
from .validation import DurableObjectError, DurableObjectTypeError, SqlError

if TYPE_CHECKING:
    from .store import ObjectStore

__all__ = ["SqlStorage", "SqlStorageCursor", "install_authorizer"]

_READ_ONLY_START = re.compile(r"^\s*(SELECT|VALUES)\b", re.IGNORECASE)
_LEADING_COMMENTS = re.compile(r"^(\s+|--[^\n]*(\n|$)|/\*.*?\*/|;)*", re.DOTALL)


def install_authorizer(store: ObjectStore) -> None:
    """Apply workerd's rules to user SQL (see :mod:`primitives._sqlite_regulator`)."""
    store.conn.set_authorizer(store.regulator)


def split_statements(query: str) -> list[str]:
    """Split on ``;`` where SQLite says a statement is complete (quotes and comments respected)."""
    pieces: list[str] = []
    start = 0
    index = query.find(";")
    while index != -1:
        if sqlite3.complete_statement(query[start : index + 1]):
            pieces.append(query[start : index + 1])
            start = index + 1
        index = query.find(";", index + 1)
    if query[start:].strip():
        pieces.append(query[start:])
    return pieces


def _is_empty(statement: str) -> bool:
    return not statement[_LEADING_COMMENTS.match(statement).end() :].strip()  # type: ignore[union-attr]


def _binding(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"  # workerd binds a JS boolean as its string
    if value is None or isinstance(value, int | float | str | bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise DurableObjectTypeError(f"Unsupported type for a SQL binding: {type(value).__name__}")


_NEWER_CODES = {3091: "SQLITE_CONSTRAINT_DATATYPE", 2835: "SQLITE_CONSTRAINT_PINNED"}


def _describe(exc: sqlite3.Error) -> str:
    """workerd's text: ``<message>: <primary code>[ (extended: <extended code>)]``."""
    name = getattr(exc, "sqlite_errorname", "SQLITE_ERROR")
    if name == "unknown":
        name = _NEWER_CODES.get(getattr(exc, "sqlite_errorcode", -1), "SQLITE_ERROR")
    primary = "_".join(name.split("_")[:2])
    if primary != name:
        return f"{exc}: {primary} (extended: {name})"
    return f"{exc}: {primary}"


class SqlStorageCursor:
    """The result of :meth:`SqlStorage.exec`: iterate rows (dicts) or arrays, or take them all."""

    def __init__(
        self, columns: list[str], rows: list[tuple[Any, ...]], read: int, written: int
    ) -> None:
        self._columns = columns
        self._rows = rows
        self._pos = 0
        self._base_read = read
        self._written = written

    @property
    def columnNames(self) -> list[str]:
        return list(self._columns)

    @property
    def rowsRead(self) -> int:
        return self._base_read + self._pos

    @property
    def rowsWritten(self) -> int:
        return self._written

    def _take(self) -> tuple[Any, ...] | None:
        if self._pos >= len(self._rows):
            return None
        row = self._rows[self._pos]
        self._pos += 1
        return row

    def _as_dict(self, row: tuple[Any, ...]) -> JsDict:
        return JsDict(zip(self._columns, row, strict=True))

    def __iter__(self) -> Iterator[JsDict]:
        return self

    def __next__(self) -> JsDict:
        row = self._take()
        if row is None:
            raise StopIteration
        return self._as_dict(row)

    def next(self) -> JsDict:
        """The JavaScript iterator protocol: ``{done, value}``."""
        row = self._take()
        return JsDict(done=True) if row is None else JsDict(done=False, value=self._as_dict(row))

    def toArray(self) -> list[JsDict]:
        return list(self)

    def one(self) -> JsDict:
        rest = self.toArray()
        if not rest:
            raise DurableObjectError(
                "Expected exactly one result from SQL query, but got no results."
            )
        if len(rest) > 1:
            raise DurableObjectError(
                "Expected exactly one result from SQL query, but got multiple results."
            )
        return rest[0]

    def raw(self) -> Iterator[list[Any]]:
        """Rows as value lists; shares its position with the cursor."""
        while (row := self._take()) is not None:
            yield list(row)


class SqlStorage:
    """``ctx.storage.sql``."""

    def __init__(self, store_of: Any) -> None:
        self._store_of = store_of  # callable returning the live ObjectStore

    def exec(self, query: str, *bindings: Any) -> SqlStorageCursor:
        store: ObjectStore = self._store_of()
        store.check()
        if not isinstance(query, str):
            raise DurableObjectTypeError("exec() takes the SQL text as a string")
        params = tuple(_binding(b) for b in bindings)
        statements = [s for s in split_statements(query)]
        if not statements or _is_empty(statements[-1]):
            raise SqlError("SQL code did not contain a statement.")
        statements = [s for s in statements if not _is_empty(s)]
        conn = store.conn
        before = conn.total_changes
        columns: list[str] = []
        rows: list[tuple[Any, ...]] = []
        try:
            with store.regulator.user():
                for number, statement in enumerate(statements, start=1):
                    last = number == len(statements)
                    if not _READ_ONLY_START.match(statement):
                        store.begin()
                    try:
                        cursor = conn.execute(statement, params if last else ())
                    except sqlite3.ProgrammingError as exc:
                        if not last and "bindings" in str(exc):
                            raise SqlError(
                                "When executing multiple SQL statements in a single call, "
                                "only the last statement can have parameters."
                            ) from exc
                        raise
                    fetched = cursor.fetchall()
                    if last:
                        rows = fetched
                        columns = [d[0] for d in cursor.description] if cursor.description else []
        except sqlite3.ProgrammingError as exc:
            if "bindings" in str(exc):
                raise SqlError("Wrong number of parameter bindings for SQL query.") from exc
            raise SqlError(str(exc)) from exc
        except OverflowError as exc:
            raise DurableObjectTypeError(f"SQL binding out of range: {exc}") from exc
        except sqlite3.Error as exc:
            if store.regulator.denial is not None:
                raise SqlError(store.regulator.denial) from exc
            raise SqlError(_describe(exc)) from exc
        finally:
            store.after_statement()
        written = conn.total_changes - before
        return SqlStorageCursor(columns, rows, written, written)

    @property
    def databaseSize(self) -> int:
        store: ObjectStore = self._store_of()
        conn = store.conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        return int(pages) * int(size)
