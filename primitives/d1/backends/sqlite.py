"""``SQLiteD1Backend``: D1 over a SQLite file (WAL, one writer, several readers) or in memory.

Concurrency without "database is locked": every write runs on one writer connection owned by
one thread, so writes queue in order and never contend with each other; single ``SELECT``
statements run on a small set of reader connections (``PRAGMA query_only``), which in WAL mode
never block the writer or each other. A statement classified as a read that turns out to write
is rejected by ``query_only`` before it changes anything and is re-run on the writer. The
``memory:`` database is one connection serving both roles (an in-memory database cannot be
shared across connections without SQLite's shared-cache mode, whose table locks are exactly
the "database is locked" errors this avoids).

While the writer's thread is idle, a short call skips the trip to it and runs on the writer's
connection from the event loop, under a budget of VM steps and without waiting for locks; a call
that would take longer or wait goes to the thread as before (``_inline.InlineRunner``).

Each writer call is one transaction; it commits before its awaitable completes, so a read
issued after an awaited write always sees it (the sequential consistency D1 sessions promise).
Writer calls that wait for the writer's thread together go to it as one *group*: one trip to the
thread and one shared ``COMMIT``, each call inside its own savepoint so it still succeeds or fails
alone (``run_write_group``). A thread hop and a commit cost far more than a small insert, so a
burst of concurrent independent writes costs a fraction of what it did.
Bookmarks are ``<commit counter as 8-8-8 hex>-<database identity>``; the counter starts at the
wall-clock time in microseconds when the backend is created and grows by one per committed
change, so bookmarks sort in commit order, also after those of an earlier run of the same file.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import re
import sqlite3
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..._sqlite_thread import ConnectionThread
from .._sql import first_keyword, split_statements
from ..backend import D1Query, D1QueryError, D1StatementResult
from ._engine import (
    DatabaseState,
    NeedsWriterError,
    describe_sqlite_error,
    file_token,
    open_connection,
    read_size,
    run_queries,
    run_write_group,
)
from ._inline import InlineRunner

__all__ = ["SQLiteD1Backend"]

_BOOKMARK = re.compile(r"^([0-9a-f]{8})-([0-9a-f]{8})-([0-9a-f]{8})-([0-9a-f]{32})$")
_READ_KEYWORDS = frozenset({"SELECT", "VALUES"})
DEFAULT_READERS = 2


@functools.lru_cache(maxsize=1024)
def _is_plain_read(sql: str) -> bool:
    statements = split_statements(sql)
    return len(statements) == 1 and first_keyword(statements[0]) in _READ_KEYWORDS


#: Calls in one group at most: a longer burst is split, so no caller waits behind too many others.
MAX_GROUP_CALLS = 256


#: After a group, how long the calls that gathered meanwhile may run inline before the rest go
#: to the thread as the next group (each is also held to the inline step budget).
INLINE_AFTER_GROUP_SECONDS = 0.002

_Call = tuple[Sequence[D1Query], asyncio.Future[list[D1StatementResult]]]
#: The clock for that allowance (a module name, so a test can step it).
_elapsed = time.perf_counter


@dataclass
class _WriteGroup:
    """Writer calls waiting for one job on the writer's thread; closed once that job starts."""

    calls: list[_Call] = field(default_factory=list)
    started: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def join(
        self, queries: Sequence[D1Query], future: asyncio.Future[list[D1StatementResult]]
    ) -> bool:
        with self.lock:
            if self.started or len(self.calls) >= MAX_GROUP_CALLS:
                return False
            self.calls.append((queries, future))
            return True

    def close(self) -> list[Sequence[D1Query]]:
        """(On the thread) no more joiners; the calls to run."""
        with self.lock:
            self.started = True
            return [queries for queries, _ in self.calls]


def _copy_error(error: BaseException) -> BaseException:
    """A copy of ``error`` (with its cause), so callers that share a failure do not share tracebacks."""
    duplicate = copy.copy(error)
    duplicate.__cause__ = error.__cause__
    return duplicate


def _settle(group: _WriteGroup, outcomes: Sequence[tuple[bool, Any]]) -> None:
    """Hand each caller in ``group`` its outcome: results, or the error it raises."""
    for (_, future), (ok, value) in zip(group.calls, outcomes, strict=True):
        if future.done():
            continue  # its caller gave up; the write itself has happened
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _open_error(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"unable to open database file: {exc.strerror or exc}: SQLITE_CANTOPEN"
    return describe_sqlite_error(exc)


class SQLiteD1Backend:
    """D1 storage in one SQLite database: a file (``path``) or, with ``path=None``, memory."""

    def __init__(
        self, path: str | Path | None, *, read_only: bool = False, readers: int = DEFAULT_READERS
    ) -> None:
        self.path = None if path is None else Path(path)
        self.read_only = read_only
        self._state = DatabaseState()
        self._token = uuid.uuid4().hex if path is None else file_token(str(path))
        self._seq = time.time_ns() // 1000
        self._begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        self._writer = ConnectionThread("d1-writer", self._open_writer)
        count = 0 if path is None else max(0, readers)
        self._readers = [
            ConnectionThread(f"d1-reader-{i}", functools.partial(self._connect, reader=True))
            for i in range(count)
        ]
        self._writer_ready = False
        self._closed = False
        self._group: _WriteGroup | None = None  # the group new writer calls join
        self._job: asyncio.Future[list[Any]] | None = None  # the group on the thread
        self._waiting: deque[_WriteGroup] = deque()  # groups to send once it is done
        #: short calls run on the writer's connection from the loop while its thread is idle
        self._inline = InlineRunner(self._writer, self._state, self._begin)

    def __repr__(self) -> str:
        mode = " (read-only)" if self.read_only else ""
        return f"<SQLiteD1Backend {self.path or 'memory'}{mode}>"

    # -- connections (these run on the connection's own thread) ----------------------------

    def _connect(self, *, reader: bool) -> sqlite3.Connection:
        try:
            if self.path is None:
                return open_connection(":memory:", uri=False, reader=False, wal=False)
            if self.read_only:
                target = f"file:{quote(str(self.path.resolve()))}?mode=ro"
                return open_connection(target, uri=True, reader=reader, wal=False)
            return open_connection(str(self.path), uri=False, reader=reader, wal=True)
        except (sqlite3.Error, OSError) as exc:
            raise D1QueryError(_open_error(exc)) from exc

    def _open_writer(self) -> sqlite3.Connection:
        conn = self._connect(reader=False)
        try:
            self._state.size_after = read_size(conn.cursor())
        except sqlite3.Error as exc:
            conn.close()
            raise D1QueryError(describe_sqlite_error(exc)) from exc
        return conn

    # -- running ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise D1QueryError("database is closed")

    def _pick_reader(self) -> ConnectionThread:
        """The first idle reader (one warm thread serves sequential reads), else the least busy."""
        for reader in self._readers:
            if not reader.in_flight:
                return reader
        return min(self._readers, key=lambda r: r.in_flight)

    async def run(self, queries: Sequence[D1Query]) -> list[D1StatementResult]:
        self._check_open()
        plain_read = len(queries) == 1 and _is_plain_read(queries[0].sql)
        results = (
            None if self._group is not None else self._inline.run(queries, plain_read=plain_read)
        )
        if results is not None:
            self._committed(results)  # before yielding: a cancelled caller's write still counts
            # Awaiting D1 lets other tasks run, as any I/O does (a loop that polls D1 while a
            # batch it started is pending must see the batch proceed): one turn of the loop.
            await asyncio.sleep(0)
            return results
        if self._readers and self._writer_ready and plain_read:
            reader = self._pick_reader()
            try:
                return await reader.submit(
                    functools.partial(run_queries, queries=queries, state=self._state, writer=False)
                )
            except NeedsWriterError:
                pass  # it writes after all: run it where writes run
            except D1QueryError as exc:
                if not exc.message.startswith("no such table: "):
                    raise
                # TEMP tables live on the writer's connection only; D1 has one connection.
        results = await self._write(queries)
        self._writer_ready = True  # the file exists and is in WAL mode: readers may open it
        self._committed(results)
        return results

    def _committed(self, results: list[D1StatementResult]) -> None:
        """Advance the bookmark past a call that changed the database."""
        if any(r.changed_db for r in results):
            self._seq += 1

    def _write(self, queries: Sequence[D1Query]) -> asyncio.Future[list[D1StatementResult]]:
        """Run ``queries`` on the writer: with the calls already waiting for it, else in a new group.

        One group is on the thread at a time; calls that arrive meanwhile gather in the next
        group, which goes when the running one is done. So a steady stream of writes (one join
        after another) costs one trip per group, not one per call, and a call that could not run
        inline while the thread was busy does not start a chain of trips of one call each.
        """
        future: asyncio.Future[list[D1StatementResult]] = asyncio.get_running_loop().create_future()
        group = self._group
        if group is not None and group.join(queries, future):
            return future
        group = _WriteGroup()
        group.join(queries, future)
        if self._job is None:
            try:
                self._submit(group)
            except (
                RuntimeError
            ) as exc:  # the writer was stopped by aclose(): no group is left behind
                raise D1QueryError("database is closed") from exc
        else:
            self._waiting.append(group)
        self._group = group
        return future

    def _submit(self, group: _WriteGroup) -> None:
        job = self._writer.submit(functools.partial(self._run_group, group))
        self._job = job
        job.add_done_callback(functools.partial(self._group_done, group))

    def _run_group(self, group: _WriteGroup, conn: sqlite3.Connection) -> list[Any]:
        self._inline.thread_settings(conn)
        return run_write_group(conn, group.close(), state=self._state, begin=self._begin)

    def _group_done(self, group: _WriteGroup, job: asyncio.Future[list[Any]]) -> None:
        group.close()  # when the connection could not even be opened, nobody had closed it
        self._job = None
        if self._group is group:
            self._group = None
        error = job.exception() if not job.cancelled() else asyncio.CancelledError()
        outcomes = (
            job.result()
            if error is None
            else [(False, _copy_error(error)) for _ in group.calls]  # one per caller
        )
        _settle(group, outcomes)
        self._next_group()

    def _next_group(self) -> None:
        """Run the calls that gathered meanwhile: inline while the thread is idle and that is
        cheap, the rest as the next group on the thread.

        Without this a steady stream of writes would keep the thread busy group after group:
        each call that arrives while one group is on the thread joins the next.
        """
        deadline = _elapsed() + INLINE_AFTER_GROUP_SECONDS
        while self._waiting:
            following = self._waiting[0]
            following.calls[:] = self._run_inline_in_order(following.calls, deadline)
            if following.calls:
                self._waiting.popleft()
                try:
                    self._submit(following)
                except RuntimeError:  # stopped meanwhile: nothing waiting may be left hanging
                    self._fail_waiting(following)
                return
            self._waiting.popleft()
            following.close()
            if self._group is following:
                self._group = None

    def _run_inline_in_order(self, calls: list[_Call], deadline: float) -> list[_Call]:
        """Run ``calls`` inline one by one; the ones left (from the first that cannot) in order."""
        for index, (queries, future) in enumerate(calls):
            if _elapsed() > deadline:
                return calls[index:]
            try:
                results = self._inline.run(queries, plain_read=False)
            except D1QueryError as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            if results is None:
                return calls[index:]
            if not future.done():
                future.set_result(results)
        return []

    def _fail_waiting(self, first: _WriteGroup) -> None:
        for group in (first, *self._waiting):
            group.close()
            closed = D1QueryError("database is closed")
            _settle(group, [(False, _copy_error(closed)) for _ in group.calls])
        self._waiting.clear()
        self._group = None

    async def dump(self) -> bytes:
        self._check_open()

        def serialize(conn: sqlite3.Connection) -> bytes:
            try:
                return conn.serialize()
            except sqlite3.Error as exc:
                raise D1QueryError(describe_sqlite_error(exc)) from exc

        return await self._writer.call(serialize)

    # -- bookmarks -------------------------------------------------------------------------

    def bookmark(self) -> str:
        seq = self._seq
        return (
            f"{(seq >> 32) & 0xFFFFFFFF:08x}-{seq & 0xFFFFFFFF:08x}-{seq >> 64:08x}-{self._token}"
        )

    def owns_bookmark(self, bookmark: str) -> bool:
        match = _BOOKMARK.match(bookmark)
        return match is not None and match.group(4) == self._token and bookmark <= self.bookmark()

    # -- closing ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        while self._job is not None:  # groups accepted before closing still run
            await asyncio.wait([self._job])
        for reader in self._readers:
            await reader.stop()
        await self._writer.stop()
