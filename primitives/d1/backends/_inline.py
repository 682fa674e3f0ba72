"""Run a short D1 call on the writer's connection from the event loop: no thread hop.

A trip to the writer's thread wakes that thread and then the loop again; on a busy core that is
several context switches and about 0.1 ms of CPU, more than a point insert or read costs. So
while the writer's thread is idle (nothing queued or running on it, no group waiting for it), a
call runs on the same connection right where it is awaited, as Durable Object storage does.
Three guards keep the loop from stalling:

* a budget of SQLite VM steps (the progress handler): a call that needs more is interrupted,
  rolled back as a whole (it ran in a transaction of its own) and sent to the thread, which runs
  it again from the start;
* no waiting for locks: while the connection is used inline its ``busy_timeout`` is 0, so a lock
  held by another process (the CLI, a migration) sends the call to the thread, which waits;
* no checkpoints: automatic WAL checkpoints (which write and sync the database file) are off
  while the connection is used inline; after every ``CHECKPOINT_EVERY`` inline commits a passive
  checkpoint runs on the thread. A job on the thread turns both settings back first.

PRAGMAs and schema changes always go to the thread. Order is kept: a call runs inline only
when none is queued ahead of it. The caller still yields to the loop once before its ``await``
returns (``SQLiteD1Backend.run``), so awaiting D1 lets other tasks run, as any I/O does.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence

from ..._sqlite_regulator import INTERNAL
from ..._sqlite_thread import ConnectionThread
from ..backend import D1Query, D1QueryError, D1StatementResult
from ._engine import BUSY_TIMEOUT_MS, DatabaseState, run_queries, runs_alone

__all__ = ["CHECKPOINT_EVERY", "INLINE_STEP_BUDGET", "InlineRunner"]

log = logging.getLogger("edgeroom.d1")

#: SQLite VM steps an inline call may take (about a millisecond); past them it goes to the thread.
INLINE_STEP_BUDGET = 100_000
#: The progress handler runs every this many steps.
_STEPS_PER_CHECK = 1_000
#: Inline commits between passive WAL checkpoints (on the thread).
CHECKPOINT_EVERY = 256
#: SQLite's default ``wal_autocheckpoint`` (pages), restored for the thread.
_AUTOCHECKPOINT_PAGES = 1000
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class InlineRunner:
    """Runs calls on ``writer``'s connection from the loop while the thread is idle."""

    def __init__(self, writer: ConnectionThread, state: DatabaseState, begin: str) -> None:
        self._writer = writer
        self._state = state
        self._begin = begin
        #: the connection's settings are the inline ones (busy_timeout 0, no autocheckpoint)
        self._inline_settings = False
        self._checks_left = 0
        self._interrupted = False
        self._commits = 0

    def run(
        self, queries: Sequence[D1Query], *, plain_read: bool
    ) -> list[D1StatementResult] | None:
        """The call's results, or ``None`` when it must go to a thread (nothing was changed).

        A D1 error the call raises on its own (a constraint, a syntax error) is raised as it
        would be on the thread.
        """
        conn = self._writer.connection
        if conn is None or self._writer.in_flight:
            return None
        if any(runs_alone(query.sql) for query in queries):
            return None
        if not self._inline_settings:
            conn.execute("PRAGMA busy_timeout = 0" + INTERNAL)
            conn.execute("PRAGMA wal_autocheckpoint = 0" + INTERNAL)
            self._inline_settings = True
        self._interrupted = False
        self._checks_left = INLINE_STEP_BUDGET // _STEPS_PER_CHECK
        conn.set_progress_handler(self._check_budget, _STEPS_PER_CHECK)
        try:
            results = run_queries(
                conn,
                queries=queries,
                state=self._state,
                writer=not plain_read,
                begin=None if plain_read else self._begin,
            )
        except D1QueryError as exc:
            if self._interrupted or _is_busy(exc.__cause__):
                return None  # rolled back by run_queries: the thread runs it from the start
            raise
        finally:
            conn.set_progress_handler(None, 0)
        if not plain_read and any(r.changed_db for r in results):
            self._count_commit()
        return results

    def _check_budget(self) -> int:
        if self._interrupted:
            return 0  # the rollback after the interruption must run to its end
        self._checks_left -= 1
        if self._checks_left < 0:
            self._interrupted = True
            return 1
        return 0

    def thread_settings(self, conn: sqlite3.Connection) -> None:
        """(On the writer's thread, first in every job) the settings a thread call expects."""
        if self._inline_settings:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}" + INTERNAL)
            conn.execute(f"PRAGMA wal_autocheckpoint = {_AUTOCHECKPOINT_PAGES}" + INTERNAL)
            self._inline_settings = False

    def _count_commit(self) -> None:
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY:
            return
        self._commits = 0
        try:
            job = self._writer.submit(self._checkpoint)
        except RuntimeError:
            return  # the writer is stopping; closing the connection checkpoints
        job.add_done_callback(_log_checkpoint_failure)

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        self.thread_settings(conn)
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)" + INTERNAL).fetchall()


def _is_busy(cause: BaseException | None) -> bool:
    code = getattr(cause, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _BUSY_CODES


def _log_checkpoint_failure(job: asyncio.Future[None]) -> None:
    if not job.cancelled() and job.exception() is not None:
        # Every commit is in the WAL; the next checkpoint retries. Nothing is lost.
        log.warning("D1 WAL checkpoint failed: %s", job.exception())
