"""``SQLiteD1Backend``: D1 over a SQLite file (WAL, one writer, several readers) or in memory.

Concurrency without "database is locked": every write runs on one writer connection owned by
one thread, so writes queue in order and never contend with each other; single ``SELECT``
statements run on a small pool of reader connections (``PRAGMA query_only``), which in WAL mode
never block the writer or each other. A statement classified as a read that turns out to write
is rejected by ``query_only`` before it changes anything and is re-run on the writer. The
``memory:`` database is one connection serving both roles (an in-memory database cannot be
shared across connections without SQLite's shared-cache mode, whose table locks are exactly
the "database is locked" errors this avoids).

Each writer call is one transaction; it commits before its awaitable completes, so a read
issued after an awaited write always sees it (the sequential consistency D1 sessions promise).
Bookmarks are ``<commit counter as 8-8-8 hex>-<database identity>``; the counter starts at the
wall-clock time in microseconds when the backend is created, so bookmarks also sort after the
ones of an earlier run of the same file.
"""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from .._sql import first_keyword, split_statements
from ..backend import D1Query, D1QueryError, D1StatementResult
from ._engine import (
    DatabaseState,
    NeedsWriterError,
    describe_sqlite_error,
    file_token,
    open_connection,
    run_queries,
)

__all__ = ["SQLiteD1Backend"]

T = TypeVar("T")
_BOOKMARK = re.compile(r"^([0-9a-f]{8})-([0-9a-f]{8})-([0-9a-f]{8})-([0-9a-f]{32})$")
_READ_KEYWORDS = frozenset({"SELECT", "VALUES"})
DEFAULT_READERS = 2


@functools.lru_cache(maxsize=1024)
def _is_plain_read(sql: str) -> bool:
    statements = split_statements(sql)
    return len(statements) == 1 and first_keyword(statements[0]) in _READ_KEYWORDS


class SQLiteD1Backend:
    """D1 storage in one SQLite database: a file (``path``) or, with ``path=None``, memory."""

    def __init__(
        self, path: str | Path | None, *, read_only: bool = False, readers: int = DEFAULT_READERS
    ) -> None:
        self.path = None if path is None else Path(path)
        self.read_only = read_only
        self._readers = 0 if path is None else max(0, readers)
        self._state = DatabaseState()
        self._token = uuid.uuid4().hex if path is None else file_token(str(path))
        self._seq = time.time_ns() // 1000
        self._open_lock: asyncio.Lock | None = None
        self._writer_pool: ThreadPoolExecutor | None = None
        self._reader_pool: ThreadPoolExecutor | None = None
        self._writer: sqlite3.Connection | None = None
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_local = threading.local()
        self._conns_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"<SQLiteD1Backend {self.path or 'memory'}{' (read-only)' if self.read_only else ''}>"
        )

    # -- opening ---------------------------------------------------------------------------

    def _connect(self, *, reader: bool) -> sqlite3.Connection:
        if self.path is None:
            return open_connection(":memory:", uri=False, reader=False, wal=False)
        if self.read_only:
            target = f"file:{quote(str(self.path.resolve()))}?mode=ro"
            return open_connection(target, uri=True, reader=reader, wal=False)
        return open_connection(str(self.path), uri=False, reader=reader, wal=True)

    def _open_writer(self) -> sqlite3.Connection:
        conn = self._connect(reader=False)
        try:
            self._state.last_row_id = 0
            row = conn.execute(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            ).fetchone()
            self._state.size_after = int(row[0])
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    async def _ensure_open(self) -> sqlite3.Connection:
        if self._writer is not None:
            return self._writer
        if self._closed:
            raise D1QueryError("database is closed")
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._writer is None:
                pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="d1-writer")
                try:
                    writer = await asyncio.get_running_loop().run_in_executor(
                        pool, self._open_writer
                    )
                except (sqlite3.Error, OSError) as exc:
                    pool.shutdown(wait=False)
                    raise D1QueryError(_open_error(exc)) from exc
                self._writer_pool, self._writer = pool, writer
                if self._readers:
                    self._reader_pool = ThreadPoolExecutor(
                        max_workers=self._readers, thread_name_prefix="d1-reader"
                    )
        assert self._writer is not None
        return self._writer

    # -- running ---------------------------------------------------------------------------

    def _read(self, queries: Sequence[D1Query]) -> list[D1StatementResult]:
        conn: sqlite3.Connection | None = getattr(self._reader_local, "conn", None)
        if conn is None:
            try:
                conn = self._connect(reader=True)
            except (sqlite3.Error, OSError) as exc:
                raise D1QueryError(_open_error(exc)) from exc
            self._reader_local.conn = conn
            with self._conns_lock:
                self._reader_conns.append(conn)
        return run_queries(conn, queries, self._state, writer=False)

    async def _on(self, pool: ThreadPoolExecutor | None, fn: Callable[[], T]) -> T:
        if pool is None:
            raise D1QueryError("database is closed")
        return await asyncio.get_running_loop().run_in_executor(pool, fn)

    async def run(self, queries: Sequence[D1Query]) -> list[D1StatementResult]:
        writer = await self._ensure_open()
        if self._reader_pool is not None and len(queries) == 1 and _is_plain_read(queries[0].sql):
            try:
                return await self._on(self._reader_pool, functools.partial(self._read, queries))
            except NeedsWriterError:
                pass
        begin = "BEGIN" if self.read_only else "BEGIN IMMEDIATE"
        results = await self._on(
            self._writer_pool,
            functools.partial(run_queries, writer, queries, self._state, writer=True, begin=begin),
        )
        if any(r.changed_db for r in results):
            self._seq += 1
        return results

    async def dump(self) -> bytes:
        writer = await self._ensure_open()

        def serialize() -> bytes:
            try:
                return writer.serialize()
            except sqlite3.Error as exc:
                raise D1QueryError(describe_sqlite_error(exc)) from exc

        return await self._on(self._writer_pool, serialize)

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
        writer, writer_pool, reader_pool = self._writer, self._writer_pool, self._reader_pool
        self._writer = self._writer_pool = self._reader_pool = None
        loop = asyncio.get_running_loop()
        if reader_pool is not None:
            await loop.run_in_executor(None, functools.partial(reader_pool.shutdown, wait=True))
        with self._conns_lock:
            readers, self._reader_conns = self._reader_conns, []
        for conn in readers:
            conn.close()
        if writer is not None and writer_pool is not None:
            await loop.run_in_executor(writer_pool, writer.close)
            await loop.run_in_executor(None, functools.partial(writer_pool.shutdown, wait=True))


def _open_error(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"unable to open database file: {exc.strerror or exc}: SQLITE_CANTOPEN"
    return describe_sqlite_error(exc)
