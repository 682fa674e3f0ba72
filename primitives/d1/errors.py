"""D1's errors, with D1's exact message prefixes.

* D1Error                -- ``D1_ERROR: <sqlite message>``; ``__cause__`` carries the bare message
  * D1TypeError          -- ``D1_TYPE_ERROR: Type '<type>' not supported for value '<v>'``
  * D1ColumnNotFoundError  -- ``D1_COLUMN_NOTFOUND: Column not found (<col>)``
  * D1ExecError          -- ``D1_EXEC_ERROR: Error in line <n>: <line>: <message>``
  * D1SessionError       -- ``D1_SESSION_ERROR: invalid bookmark or constraint``
  * D1DumpError          -- ``D1_DUMP_ERROR: <message>``

On Cloudflare these are all plain JavaScript ``Error`` objects whose message starts with the
prefix and whose ``cause`` is an ``Error`` holding the message without it; here every one is a
:class:`D1Error` (so ``except D1Error`` catches them all), raised ``from`` a
:class:`D1CauseError` that holds the bare message. Where SQLite produced the error, the
``sqlite3`` exception is in turn the cause of that.
"""

from __future__ import annotations

from ..errors import PrimitiveError

__all__ = [
    "D1ColumnNotFoundError",
    "D1DumpError",
    "D1Error",
    "D1CauseError",
    "D1ExecError",
    "D1SessionError",
    "D1TypeError",
    "d1_cause",
]


class D1CauseError(Exception):
    """The ``cause`` of a D1 error: the message without its ``D1_…:`` prefix."""


class D1Error(PrimitiveError):
    """``D1_ERROR: <message>``; the message is SQLite's text and code (``…: SQLITE_ERROR``)."""

    prefix = "D1_ERROR"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(f"{self.prefix}: {message}")


def d1_cause(message: str, origin: BaseException | None = None) -> D1CauseError:
    """The ``cause`` D1 attaches to an error (``raise D1Error(m) from d1_cause(m, exc)``).

    ``origin`` (for example the ``sqlite3`` exception) becomes the cause's own cause.
    """
    cause = D1CauseError(message)
    cause.__cause__ = origin
    return cause


class D1TypeError(D1Error):
    """A value of a type D1 cannot bind."""

    prefix = "D1_TYPE_ERROR"


class D1ColumnNotFoundError(D1Error):
    """``first(colName)`` named a column the row does not have."""

    prefix = "D1_COLUMN_NOTFOUND"


class D1ExecError(D1Error):
    """A line of ``exec()`` failed."""

    prefix = "D1_EXEC_ERROR"


class D1SessionError(D1Error):
    """A session was given a bookmark or constraint that is not valid for this database."""

    prefix = "D1_SESSION_ERROR"


class D1DumpError(D1Error):
    """``dump()`` failed."""

    prefix = "D1_DUMP_ERROR"
