"""One open object database and its commit pipeline (write coalescing + group commit).

Every statement runs on the event loop, on the object's own connection, as workerd runs
SQLite-backed objects: reads see every earlier write at once. The first write opens an implicit
transaction and schedules its COMMIT for when the running code next yields (``call_soon``), so
writes made without an intervening ``await`` commit together, atomically. COMMIT only appends to
the WAL; the backend's ``sync`` (an fsync in a worker thread) then makes it durable, and one sync
covers every commit made before it started, so many requests share one fsync. Each transaction
has a sequence number; ``durable(seq)`` resolves once it is durable, and the output gate waits
for the highest sequence number written by a gated write.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from .._sqlite_regulator import INTERNAL, Regulator
from .backend import AlarmUpdate, DurableObjectBackend, ObjectHandle
from .validation import DurableObjectResetError

__all__ = ["INTERNAL", "ObjectStore"]

#: Appended to the runtime's own statements. The sqlite3 module caches prepared statements by
#: text, and the authorizer only runs when a statement is prepared, so user SQL must never share
#: a cached statement with the runtime's (a user ``BEGIN`` would skip the check).
# The runtime's own statements carry this marker so their cached text never equals user SQL.

log = logging.getLogger("edgeroom.durable_objects")


class ObjectStore:
    """An object's connection, its implicit transaction and its durability sequence numbers."""

    def __init__(
        self,
        backend: DurableObjectBackend,
        handle: ObjectHandle,
        on_failure: Callable[[BaseException], None],
        on_alarm_committed: Callable[[int | None], None],
    ) -> None:
        self.backend = backend
        self.handle = handle
        self.conn = handle.conn
        self._loop = asyncio.get_running_loop()
        self._on_failure = on_failure
        self._on_alarm_committed = on_alarm_committed
        self.txn_seq: int | None = None
        self._next_seq = 1
        self.committed_seq = 0
        self.durable_seq = 0
        self.gated_seq = 0
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._sync_task: asyncio.Task[None] | None = None
        self.explicit_depth = 0
        self.alarm_touched = False
        self._alarm_update: AlarmUpdate | None = None
        self.broken: BaseException | None = None
        self.regulator = Regulator()  # workerd's rules for user SQL (on only while it runs)
        self._savepoints = 0
        self.transaction_lock = asyncio.Lock()

    # -- writes ----------
    def check(self) -> None:
        if self.broken is not None:
            raise DurableObjectResetError(
                f"Durable Object storage is no longer usable: {self.broken}"
            ) from self.broken

    def begin(self, gated: bool = True) -> int:
        """Join (or open) the implicit transaction; returns its sequence number."""
        self.check()
        if self.txn_seq is None:
            with self.regulator.internal():
                self.conn.execute("BEGIN" + INTERNAL)
            self.txn_seq = self._next_seq
            self._next_seq += 1
            self._loop.call_soon(self._commit_soon)
        if gated and self.txn_seq > self.gated_seq:
            self.gated_seq = self.txn_seq
        return self.txn_seq

    def savepoint_name(self) -> str:
        self._savepoints += 1
        return f"_cf_sp_{self._savepoints}"

    def after_statement(self) -> None:
        """SQLite rolls a whole transaction back on some errors (FULL, IOERR): that resets us."""
        if self.txn_seq is not None and not self.conn.in_transaction:
            self.fail(DurableObjectResetError("the implicit transaction was rolled back by SQLite"))
            self.check()

    def _commit_soon(self) -> None:
        if self.explicit_depth == 0:
            self.commit()

    def commit(self) -> None:
        """COMMIT the implicit transaction now (WAL append only) and start a sync."""
        seq = self.txn_seq
        if seq is None or self.broken is not None:
            return
        try:
            self.conn.execute("COMMIT" + INTERNAL)
        except sqlite3.Error as exc:
            self.fail(exc)
            return
        self.txn_seq = None
        self.committed_seq = seq
        if self.alarm_touched:
            self.alarm_touched = False
            ms = self.read_alarm()
            self._alarm_update = AlarmUpdate(self.handle.id, ms)
            self._on_alarm_committed(ms)
        if self.backend.durable_on_commit:
            self._alarm_update = None
            self._mark_durable(seq)
        elif self._sync_task is None:
            self._sync_task = self._loop.create_task(self._sync_loop())

    async def _sync_loop(self) -> None:
        try:
            while self.durable_seq < self.committed_seq and self.broken is None:
                target = self.committed_seq
                alarm, self._alarm_update = self._alarm_update, None
                await self.backend.sync(self.handle, alarm)
                self._mark_durable(target)
        except Exception as exc:
            self.fail(exc)
        finally:
            self._sync_task = None

    def _mark_durable(self, seq: int) -> None:
        self.durable_seq = max(self.durable_seq, seq)
        for key in [k for k in self._waiters if k <= self.durable_seq]:
            future = self._waiters.pop(key)
            if not future.done():
                future.set_result(None)

    # -- durability ----------
    def durable(self, seq: int) -> asyncio.Future[None]:
        """A future resolved once transaction ``seq`` (and all before it) is durable."""
        future = self._waiters.get(seq)
        if future is None:
            future = self._loop.create_future()
            if self.broken is not None:
                future.set_exception(self._reset_error())
                future.exception()  # not an error if nobody awaits it
            elif seq <= self.durable_seq:
                future.set_result(None)
            else:
                self._waiters[seq] = future
        return future

    def pending_gate(self) -> int | None:
        """The sequence number outgoing messages must wait for now, or None if none."""
        if self.gated_seq > self.durable_seq:
            return self.gated_seq
        return None

    @property
    def idle(self) -> bool:
        return self.txn_seq is None and self._sync_task is None and self.explicit_depth == 0

    async def flush(self) -> None:
        """Commit what is open and wait until every commit is durable (``sync()``/shutdown)."""
        if self.explicit_depth == 0:
            self.commit()
        if self.committed_seq > self.durable_seq:
            await self.durable(self.committed_seq)
        self.check()

    # -- failure ----------
    def _reset_error(self) -> DurableObjectResetError:
        err = DurableObjectResetError(
            f"Durable Object storage failed; the object was reset: {self.broken}"
        )
        err.__cause__ = self.broken
        return err

    def fail(self, exc: BaseException) -> None:
        """A write could not be made durable: drop what is pending and reset the object."""
        if self.broken is not None:
            return
        log.error("Durable Object %s storage failed: %s", self.handle.id, exc)
        self.broken = exc
        self.abandon()
        err = self._reset_error()
        for future in self._waiters.values():
            if not future.done():
                future.set_exception(err)
                future.exception()
        self._waiters.clear()
        self._on_failure(exc)

    def abandon(self) -> None:
        """Roll back what was not committed (the object is being reset)."""
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK" + INTERNAL)
            except sqlite3.Error:
                pass
        self.txn_seq = None
        self.explicit_depth = 0

    # -- alarm row ----------
    def read_alarm(self) -> int | None:
        row = self.execute('SELECT value FROM "_cf_METADATA" WHERE key = ?', ("alarm",)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def write_alarm(self, ms: int | None, gated: bool = True) -> int:
        seq = self.begin(gated)
        if ms is None:
            self.execute('DELETE FROM "_cf_METADATA" WHERE key = ?', ("alarm",))
        else:
            self.execute(
                'INSERT OR REPLACE INTO "_cf_METADATA" (key, value) VALUES (?, ?)', ("alarm", ms)
            )
        self.alarm_touched = True
        return seq

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        """Run an internal statement (never subject to the user-SQL authorizer)."""
        return self.conn.execute(sql + INTERNAL, params)
