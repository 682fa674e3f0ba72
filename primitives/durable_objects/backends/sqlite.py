"""``sqlite:///<dir>``: one SQLite file per object (``<dir>/<id>.sqlite3``, WAL mode).

Durability: the runtime COMMITs on the event loop with ``synchronous=NORMAL``, which only appends
frames to the WAL (no fsync: safe against a killed process, as the data is in the OS page
cache). :meth:`sync` then fsyncs the WAL in a worker thread; one fsync covers every commit made
before it started (group commit), and the output gate opens only after it. Checkpoints run in the
worker thread too, on a second connection, so the event loop never waits for the disk.
``<dir>/_alarms.sqlite3`` indexes the objects that may have an alarm.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ...errors import BackendError
from ..backend import AlarmUpdate, ObjectHandle, init_schema

__all__ = ["SQLiteDurableObjectBackend"]

T = TypeVar("T")
_ID_FILE = re.compile(r"^([0-9a-f]{64})\.sqlite3$")
#: Checkpoint the WAL into the database file once it grows past this.
CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024
BUSY_TIMEOUT_MS = 5000


def _fsync_path(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SQLiteDurableObjectBackend:
    durable_on_commit = False

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._executor: ThreadPoolExecutor | None = None
        self._index: sqlite3.Connection | None = None
        self._index_lock = threading.Lock()

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="edgeroom-do")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except (sqlite3.Error, OSError) as exc:
            raise BackendError(f"Durable Object storage in {self.directory} failed: {exc}") from exc

    # -- objects ---------------------------------------------------------------------------------
    def _open(self, id_hex: str) -> ObjectHandle:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{id_hex}.sqlite3"
        created = not path.exists()
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            init_schema(conn)
            if created:
                _fsync_path(path)
                _fsync_path(self.directory, directory=True)
        except BaseException:
            conn.close()
            raise
        return ObjectHandle(id_hex, conn, path)

    async def open(self, id_hex: str) -> ObjectHandle:
        handle: ObjectHandle = await self._run(self._open, id_hex)
        return handle

    def _sync(self, handle: ObjectHandle, alarm: AlarmUpdate | None) -> None:
        if alarm is not None:
            self._record_alarm(alarm)  # the index first: it may list too much, never too little
        assert handle.path is not None
        wal = Path(f"{handle.path}-wal")
        try:
            fd = os.open(wal, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > CHECKPOINT_WAL_BYTES:
            checkpointer = sqlite3.connect(handle.path, isolation_level=None)
            try:
                checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                checkpointer.close()

    async def sync(self, handle: ObjectHandle, alarm: AlarmUpdate | None) -> None:
        await self._run(self._sync, handle, alarm)

    async def close(self, handle: ObjectHandle) -> None:
        await self._run(handle.conn.close)

    async def object_ids(self) -> list[str]:
        def scan() -> list[str]:
            if not self.directory.is_dir():
                return []
            return sorted(
                m.group(1) for p in os.listdir(self.directory) if (m := _ID_FILE.match(p))
            )

        ids: list[str] = await self._run(scan)
        return ids

    # -- alarm index -----------------------------------------------------------------------------
    def _index_conn(self) -> sqlite3.Connection:
        if self._index is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.directory / "_alarms.sqlite3", isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS alarms (id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)"
            )
            self._index = conn
        return self._index

    def _record_alarm(self, alarm: AlarmUpdate) -> None:
        with self._index_lock:
            conn = self._index_conn()
            if alarm.ms is None:
                conn.execute("DELETE FROM alarms WHERE id = ?", (alarm.id,))
            else:
                conn.execute(
                    "INSERT INTO alarms (id, at_ms) VALUES (?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET at_ms = excluded.at_ms",
                    (alarm.id, alarm.ms),
                )

    async def load_alarms(self) -> dict[str, int]:
        def load() -> dict[str, int]:
            if not (self.directory / "_alarms.sqlite3").exists():
                return {}
            with self._index_lock:
                rows = self._index_conn().execute("SELECT id, at_ms FROM alarms").fetchall()
            return {str(i): int(ms) for i, ms in rows}

        alarms: dict[str, int] = await self._run(load)
        return alarms

    async def aclose(self) -> None:
        if self._index is not None:
            with self._index_lock:
                self._index.close()
            self._index = None
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)
