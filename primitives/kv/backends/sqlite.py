"""``sqlite:///path``: the embedded default, one SQLite file per namespace (aiosqlite, WAL).

Keys are stored as UTF-8 BLOBs, so SQLite's ``memcmp`` ordering is Cloudflare's byte order and a
prefix is the half-open range ``[prefix, prefix + 0xFF)`` (0xFF never occurs in UTF-8). The
connection runs in autocommit mode: every put or delete is one statement and one commit, with
``journal_mode=WAL`` and ``synchronous=NORMAL`` (durable across a process crash; a power cut may
lose the last commits). All SQLite work happens on aiosqlite's thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from ..backend import KVEntry, KVListedKey, KVPage
from ..errors import KVStorageError

__all__ = ["SQLITE_PRAGMAS", "SQLiteKVBackend"]

#: Shared with the benchmark's raw baseline, so both run with the same durability.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kv_entries ("
    " key BLOB PRIMARY KEY, value BLOB NOT NULL, expiration INTEGER, metadata BLOB)",
    "CREATE INDEX IF NOT EXISTS kv_entries_expiration ON kv_entries(expiration)"
    " WHERE expiration IS NOT NULL",
)
_GET = (
    "SELECT value, expiration, metadata FROM kv_entries"
    " WHERE key = ? AND (expiration IS NULL OR expiration > ?)"
)
_PUT = (
    "INSERT INTO kv_entries (key, value, expiration, metadata) VALUES (?, ?, ?, ?)"
    " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
    " expiration = excluded.expiration, metadata = excluded.metadata"
)
_DELETE = "DELETE FROM kv_entries WHERE key = ?"
_SWEEP = (
    "DELETE FROM kv_entries WHERE rowid IN (SELECT rowid FROM kv_entries"
    " WHERE expiration IS NOT NULL AND expiration <= ? LIMIT ?)"
)
_SWEEP_BATCH = 1000


class _MappedErrors:
    """Translate sqlite3/aiosqlite (and filesystem) errors at the boundary; kept cheap."""

    __slots__ = ("_path",)

    def __init__(self, path: Path) -> None:
        self._path = path

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, sqlite3.Error | OSError):
            raise KVStorageError(f"SQLite KV store {self._path}: {exc}") from exc


class SQLiteKVBackend:
    """One SQLite file; the connection opens on first use, inside the running loop."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._errors = _MappedErrors(self.path)
        self._conn: aiosqlite.Connection | None = None
        self._opening = asyncio.Lock()

    @property
    def remote(self) -> bool:
        return False

    def _prepare_file(self) -> None:
        """Create the folder, the schema and WAL mode with plain sqlite3, on a worker thread.

        Done before aiosqlite connects, so a bad path or a corrupt file fails here: aiosqlite
        leaves its worker thread behind when its own connect fails.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path)
        try:
            for statement in (*SQLITE_PRAGMAS, *_SCHEMA):
                conn.execute(statement)
            conn.commit()
        finally:
            conn.close()

    async def _connection(self) -> aiosqlite.Connection:
        conn = self._conn
        if conn is not None:
            return conn
        async with self._opening:
            if self._conn is None:
                with self._errors:
                    await asyncio.to_thread(self._prepare_file)
                    conn = await aiosqlite.connect(self.path, isolation_level=None)
                    try:
                        for statement in SQLITE_PRAGMAS:
                            await conn.execute(statement)
                    except BaseException:
                        await conn.close()
                        raise
                self._conn = conn
            return self._conn

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        conn = self._conn or await self._connection()
        with self._errors:
            return list(await conn.execute_fetchall(sql, params))

    async def _run(self, sql: str, params: Sequence[Any]) -> int:
        conn = self._conn or await self._connection()
        with self._errors:
            cursor = await conn.execute(sql, params)
            return int(cursor.rowcount)

    async def get(self, key: str, *, now: float) -> KVEntry | None:
        conn = self._conn or await self._connection()
        with self._errors:
            rows = await conn.execute_fetchall(_GET, (key.encode(), now))
        if not rows:
            return None
        value, expiration, metadata = next(iter(rows))
        return KVEntry(value, expiration, metadata)

    async def get_many(self, keys: Sequence[str], *, now: float) -> dict[str, KVEntry | None]:
        found: dict[str, KVEntry | None] = dict.fromkeys(keys)
        marks = ", ".join("?" * len(found))
        sql = (
            "SELECT key, value, expiration, metadata FROM kv_entries"
            f" WHERE key IN ({marks}) AND (expiration IS NULL OR expiration > ?)"
        )
        for raw, value, expiration, metadata in await self._fetch(
            sql, [key.encode() for key in found] + [now]
        ):
            found[raw.decode()] = KVEntry(value, expiration, metadata)
        return found

    async def put(self, key: str, entry: KVEntry, *, now: float) -> None:
        conn = self._conn or await self._connection()
        with self._errors:
            await conn.execute(_PUT, (key.encode(), entry.value, entry.expiration, entry.metadata))

    async def delete(self, key: str) -> None:
        conn = self._conn or await self._connection()
        with self._errors:
            await conn.execute(_DELETE, (key.encode(),))

    async def list(self, *, prefix: str, start_after: str | None, limit: int, now: float) -> KVPage:
        conditions = ["(expiration IS NULL OR expiration > ?)"]
        params: list[Any] = [now]
        if prefix:
            raw_prefix = prefix.encode()
            conditions.append("key >= ? AND key < ?")
            params += [raw_prefix, raw_prefix + b"\xff"]
        if start_after is not None:
            conditions.append("key > ?")
            params.append(start_after.encode())
        sql = (
            "SELECT key, expiration, metadata FROM kv_entries"
            f" WHERE {' AND '.join(conditions)} ORDER BY key LIMIT ?"
        )
        rows = await self._fetch(sql, [*params, limit + 1])
        keys = [KVListedKey(raw.decode(), exp, meta) for raw, exp, meta in rows[:limit]]
        return KVPage(keys, more=len(rows) > limit)

    async def sweep(self, *, now: float) -> int:
        removed = 0
        while True:
            count = await self._run(_SWEEP, (now, _SWEEP_BATCH))
            removed += count
            if count < _SWEEP_BATCH:
                return removed

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with self._errors:
                await conn.close()
