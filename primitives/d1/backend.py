"""The D1 storage contract: what a backend must do, in plain data.

A D1 backend is a SQL engine. The binding hands it :class:`D1Query` objects whose values are
already checked and converted to SQLite's types (``None``, ``int``, ``float``, ``str``,
``bytes``); the backend runs them and answers with :class:`D1StatementResult` objects holding
raw rows and the numbers D1 reports in ``meta``. A failing statement raises
:class:`D1QueryError` with D1's message text (``no such table: x: SQLITE_ERROR``) and the index
of the failing query; the binding adds the ``D1_ERROR`` / ``D1_EXEC_ERROR`` framing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import BackendError

__all__ = ["D1Backend", "D1Query", "D1QueryError", "D1StatementResult", "D1Value"]

D1Value = None | int | float | str | bytes


@dataclass(slots=True)
class D1Query:
    """One call's SQL (one or more statements) and its bound values (for the last statement)."""

    sql: str
    params: tuple[D1Value, ...] = ()


@dataclass(slots=True)
class D1StatementResult:
    """What one query produced: the last statement's rows, and D1's ``meta`` numbers."""

    columns: tuple[str, ...]
    rows: list[tuple[D1Value, ...]]
    duration_ms: float
    changes: int
    last_row_id: int
    changed_db: bool
    size_after: int
    rows_read: int
    rows_written: int


class D1QueryError(BackendError):
    """A query failed; ``message`` is D1's text for it, ``index`` the failing query's position."""

    def __init__(self, message: str, index: int = 0) -> None:
        self.message = message
        self.index = index
        super().__init__(message)


class D1Backend(Protocol):
    """A SQL database that runs D1 queries."""

    async def run(self, queries: Sequence[D1Query]) -> list[D1StatementResult]:
        """Run ``queries`` in order, all in one transaction: all succeed or none has an effect."""
        ...

    async def dump(self) -> bytes:
        """The whole database as a SQLite database file."""
        ...

    def bookmark(self) -> str:
        """A token for the latest commit; tokens sort (as strings) in commit order."""
        ...

    def owns_bookmark(self, bookmark: str) -> bool:
        """Whether ``bookmark`` was made by this database (and so can anchor a session)."""
        ...

    async def aclose(self) -> None:
        """Close the database; idempotent."""
        ...
