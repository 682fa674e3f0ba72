"""What user SQL may do in D1 and in a Durable Object's ``ctx.storage.sql``: workerd's rules.

workerd prepares every D1 query and every Durable Object SQL statement under the same authorizer
(``workerd/util/sqlite.c++``, ``SqliteDatabase::isAuthorized``). The rules copied here, checked
against workerd by the conformance suite (``conformance/cases/d1.json``, ``do.json``):

* ``BEGIN``/``COMMIT``/``ROLLBACK``/``END``/``SAVEPOINT``/``RELEASE`` fail with
  :data:`TRANSACTION_MESSAGE` (D1 runs each query or batch in its own transaction);
* ``ATTACH``/``DETACH``, any schema but ``main`` (so no ``TEMP`` tables), unlisted ``PRAGMA`` s and the
  ``sqlite_*`` functions are "not authorized";
* tables named ``_cf_*`` are workerd's own and cannot be touched.

The rules apply only while a query's own statements are prepared (:meth:`Regulator.user`);
the backend's bookkeeping statements run unregulated (:meth:`Regulator.internal`). Because ``sqlite3`` caches prepared
statements by text, bookkeeping statements carry :data:`INTERNAL` so their text never equals a
user's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["INTERNAL", "TRANSACTION_MESSAGE", "Regulator"]

INTERNAL = " /* edgeroom internal */"

TRANSACTION_MESSAGE = (
    "To execute a transaction, please use the state.storage.transaction() or "
    "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT "
    "statements. The JavaScript API is safer because it will automatically roll back on "
    "exceptions, and because it interacts correctly with Durable Objects' automatic atomic "
    "write coalescing."
)

# workerd's ALLOWED_PRAGMAS: name -> whether an argument is required (True), optional (None)
# or not allowed (False). Boolean pragmas may be read (no argument) or set.
_PRAGMAS: dict[str, bool | None] = {
    "data_version": False,
    "case_sensitive_like": None,
    "foreign_keys": None,
    "defer_foreign_keys": None,
    "ignore_check_constraints": None,
    "legacy_alter_table": None,
    "recursive_triggers": None,
    "reverse_unordered_selects": None,
    "foreign_key_check": None,
    "foreign_key_list": True,
    "index_info": True,
    "index_list": True,
    "index_xinfo": True,
    "quick_check": None,
    "table_info": True,
    "table_xinfo": True,
    "table_list": None,
    "optimize": None,
}

# ALTER TABLE runs these internally; every other sqlite_* function is refused.
_SQLITE_FUNCTIONS = frozenset(
    {
        "sqlite_rename_column",
        "sqlite_rename_table",
        "sqlite_rename_test",
        "sqlite_drop_column",
        "sqlite_rename_quotefix",
    }
)

_TABLE_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_CREATE_TABLE,
        sqlite3.SQLITE_DELETE,
        sqlite3.SQLITE_DROP_TABLE,
        sqlite3.SQLITE_INSERT,
        sqlite3.SQLITE_READ,
        sqlite3.SQLITE_UPDATE,
        sqlite3.SQLITE_CREATE_INDEX,
        sqlite3.SQLITE_DROP_INDEX,
        sqlite3.SQLITE_CREATE_TRIGGER,
        sqlite3.SQLITE_DROP_TRIGGER,
        sqlite3.SQLITE_CREATE_VIEW,
        sqlite3.SQLITE_DROP_VIEW,
    }
)


class Regulator:
    """A ``sqlite3`` authorizer callback that applies workerd's rules while :meth:`user` is on."""

    __slots__ = ("active", "denial")

    def __init__(self) -> None:
        self.active = False
        #: a better message than "not authorized" for the last refusal, if there is one
        self.denial: str | None = None

    @contextmanager
    def user(self) -> Iterator[None]:
        """Regulate the statements prepared inside this block."""
        self.active, self.denial = True, None
        try:
            yield
        finally:
            self.active = False

    @contextmanager
    def internal(self) -> Iterator[None]:
        """Let the runtime's own statements through, even inside a user block."""
        active, self.active = self.active, False
        try:
            yield
        finally:
            self.active = active

    def __call__(
        self,
        action: int,
        arg1: str | None,
        arg2: str | None,
        db_name: str | None,
        trigger: str | None,
    ) -> int:
        if not self.active:
            return sqlite3.SQLITE_OK
        if action in (sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_SAVEPOINT):
            self.denial = TRANSACTION_MESSAGE
            return sqlite3.SQLITE_DENY
        if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
            return sqlite3.SQLITE_DENY
        if db_name is not None and db_name != "main":  # also TEMP tables (workerd refuses them)
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_PRAGMA:
            return self._pragma((arg1 or "").lower(), arg2)
        if action == sqlite3.SQLITE_FUNCTION:
            name = (arg2 or "").lower()
            if name.startswith("sqlite_") and name not in _SQLITE_FUNCTIONS:
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK
        if action in _TABLE_ACTIONS and (arg1 or "").lower().startswith("_cf_"):
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    @staticmethod
    def _pragma(name: str, argument: str | None) -> int:
        if name not in _PRAGMAS:
            return sqlite3.SQLITE_DENY
        needs = _PRAGMAS[name]
        if needs is True and argument is None:
            return sqlite3.SQLITE_DENY
        if needs is False and argument is not None:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK
