"""``file:///dir`` -- the embedded default: content files plus a SQLite index.

Layout under ``dir``::

    index.sqlite3        objects, multipart uploads and parts (keys live only here)
    staging/<id>         a value being written; wiped when the backend opens
    blobs/<id[:2]>/<id>  published content, named by a random id -- never by the key

A put streams into ``staging/<id>``, fsyncs it, renames it into ``blobs/`` (and fsyncs that
directory), and only then commits the index row that points at it. A crash at any point leaves
either the old object or the new one, never a torn one; the worst case is an unreferenced blob
(a crash between the rename and the index commit). Keys never become paths, so ``..``, NUL bytes,
absolute paths and 1,024-byte names cannot escape the directory.

The index is the stdlib ``sqlite3`` driven from one dedicated thread (the aiosqlite model), so
every transaction -- including the condition check of a conditional put -- runs whole and
uninterrupted. Content files are written on a thread per staged value, up to 16 MiB behind the
producer with an fdatasync every 32 MiB (see ``_staging``), and read on the default thread pool
one chunk ahead (see ``_blob_reader``), so hashing, disk I/O and the caller overlap. A blob still
being read when its object is replaced or deleted is unlinked when its last reader ends.

The module is longer than the usual ~400 lines on purpose: each index transaction and the blob
files it publishes or releases are handled side by side, so the crash-ordering rules above can be
checked in one place.
"""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import json
import os
import secrets
import shutil
import sqlite3
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from ...errors import BackendError
from ..backend import (
    Condition,
    GetOutcome,
    ListPage,
    ObjectRecord,
    RangeResolver,
    Staged,
)
from ._blob_reader import BlobReader
from ._file_multipart import FileMultipartMixin, FileStaged, dump_json
from ._listing import list_ordered, prefix_upper_bound
from ._staging import StagingWriter, write_all

__all__ = ["FileR2Backend"]

T = TypeVar("T")
_WRITE_BYTES = 4 << 20
#: values up to this size live in the index row itself: one fsync (the WAL) instead of three
_INLINE_BYTES = 64 << 10
#: how much to write between fdatasync calls while staging
_SYNC_BYTES = 32 << 20
#: how far the producer (hashing, the caller's stream) may run ahead of the staging writes
_AHEAD_BYTES = 16 << 20
#: chunk size of bodies read from disk (public: the benchmark's plain read uses the same)
#: 4 MiB with one read ahead (see ``_blob_reader``): 8 MiB in flight per stream. 8 MiB chunks put
#: the 1 GiB HTTP round trip at 63.6 MiB of RSS growth (bound: 64 MiB).
READ_CHUNK_BYTES = 4 << 20
_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    key BLOB PRIMARY KEY, version TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    uploaded_ms INTEGER NOT NULL, checksums TEXT NOT NULL, http_metadata TEXT NOT NULL,
    custom_metadata TEXT NOT NULL, storage_class TEXT NOT NULL, segments TEXT NOT NULL,
    inline BLOB
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY, key BLOB NOT NULL, state TEXT NOT NULL, http_metadata TEXT NOT NULL,
    custom_metadata TEXT NOT NULL, storage_class TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, etag TEXT NOT NULL,
    size INTEGER NOT NULL, md5 TEXT NOT NULL, blob_id TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
"""
_COLUMNS = (
    "key, version, size, etag, uploaded_ms, checksums, http_metadata, custom_metadata, "
    "storage_class"
)


def _record(row: Any) -> ObjectRecord:
    return ObjectRecord(
        key=bytes(row[0]).decode("utf-8"),
        version=row[1],
        size=row[2],
        etag=row[3],
        uploaded_ms=row[4],
        checksums=json.loads(row[5]),
        http_metadata=json.loads(row[6]),
        custom_metadata=json.loads(row[7]),
        storage_class=row[8],
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileR2Backend(FileMultipartMixin):
    """A bucket in a directory (see the module docstring for the layout and guarantees)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root)
        self._db: sqlite3.Connection | None = None
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._opening: asyncio.Lock | None = None
        self._leases: Counter[str] = Counter()
        self._doomed: set[str] = set()

    # -- plumbing -----------------------------------------------------------------------------
    def _blob_path(self, blob_id: str) -> Path:
        return self._root / "blobs" / blob_id[:2] / blob_id

    def _open_sync(self) -> sqlite3.Connection:
        self._root.mkdir(parents=True, exist_ok=True)
        staging = self._root / "staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        (self._root / "blobs").mkdir(exist_ok=True)
        db = sqlite3.connect(self._root / "index.sqlite3", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        return db

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = True) -> T:
        """Run ``fn(db)`` on the index thread: as one transaction if it writes.

        Every call runs whole on the one index thread, so reads need no transaction of their own.
        """
        if self._db is None:
            if self._opening is None:
                self._opening = asyncio.Lock()
            async with self._opening:
                if self._db is None:
                    self._thread = concurrent.futures.ThreadPoolExecutor(1, "r2-index")
                    try:
                        self._db = await asyncio.get_running_loop().run_in_executor(
                            self._thread, self._open_sync
                        )
                    except (OSError, sqlite3.Error) as exc:
                        raise BackendError(f"cannot open R2 directory {self._root}: {exc}") from exc
        db = self._db

        def transaction() -> T:
            if not write:
                return fn(db)
            db.execute("BEGIN IMMEDIATE")
            try:
                result = fn(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, transaction)
        except sqlite3.Error as exc:
            raise BackendError(f"R2 index {self._root / 'index.sqlite3'} failed: {exc}") from exc

    def _release(self, blob_ids: list[str]) -> None:
        """Unlink blobs no longer referenced, now or when their last reader finishes."""
        for blob_id in blob_ids:
            if self._leases[blob_id] > 0:
                self._doomed.add(blob_id)
            else:
                self._unlink(blob_id)

    def _unlink(self, blob_id: str) -> None:
        self._doomed.discard(blob_id)
        try:
            os.unlink(self._blob_path(blob_id))
        except FileNotFoundError:
            pass

    def _unlease(self, blob_id: str) -> None:
        self._leases[blob_id] -= 1
        if self._leases[blob_id] <= 0:
            del self._leases[blob_id]
            if blob_id in self._doomed:
                self._unlink(blob_id)

    # -- objects --------------------------------------------------------------------------------
    async def head(self, key: str) -> ObjectRecord | None:
        def select(db: sqlite3.Connection) -> ObjectRecord | None:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM objects WHERE key = ?", (key.encode(),)
            ).fetchone()
            return _record(row) if row else None

        return await self._run(select, write=False)

    async def get(
        self, key: str, *, condition: Condition | None, resolve_range: RangeResolver
    ) -> GetOutcome | None:
        def select(db: sqlite3.Connection) -> tuple[ObjectRecord, list[list[Any]], Any] | None:
            row = db.execute(
                f"SELECT {_COLUMNS}, segments, inline FROM objects WHERE key = ?", (key.encode(),)
            ).fetchone()
            return (_record(row), json.loads(row[9]), row[10]) if row else None

        found = await self._run(select, write=False)
        if found is None:
            return None
        record, segments, inline = found
        if condition is not None and not condition(record):
            return GetOutcome(record, None, 0, record.size)
        offset, length = resolve_range(record.size)
        if inline is not None:
            body = _inline_body(bytes(inline)[offset : offset + length])
            return GetOutcome(record, body, offset, length)
        needed: list[tuple[str, int, int]] = []
        position, end = 0, offset + length
        for blob_id, size in segments:
            lo, hi = max(offset, position), min(end, position + size)
            if lo < hi:
                needed.append((blob_id, lo - position, hi - lo))
            position += size
        for blob_id, _, _ in needed:
            self._leases[blob_id] += 1
        return GetOutcome(record, self._read(needed), offset, length)

    async def _read(self, needed: list[tuple[str, int, int]]) -> AsyncIterator[bytes]:
        reader = BlobReader(
            asyncio.get_running_loop(),
            [(self._blob_path(blob_id), start, count) for blob_id, start, count in needed],
            READ_CHUNK_BYTES,
        )
        done = 0  # blobs read to the end of their range, their leases returned
        try:
            for blob_id, _, count in needed:
                while count > 0:  # a chunk never spans two blobs
                    chunk = await reader.take()
                    count -= len(chunk)
                    if count <= 0:  # the rest of this blob is in memory: it may go now
                        self._unlease(blob_id)
                        done += 1
                    yield chunk
        finally:
            await reader.aclose()
            for blob_id, _, _ in needed[done:]:
                self._unlease(blob_id)

    async def stage(self, chunks: AsyncIterable[bytes | memoryview]) -> Staged:
        if self._db is None:
            await self._run(lambda db: None)
        blob_id = secrets.token_hex(16)
        path = self._root / "staging" / blob_id
        writer: StagingWriter | None = None
        size = 0
        buffer = bytearray()  # small chunks gather here into writes of _WRITE_BYTES
        try:
            async for chunk in chunks:
                size += len(chunk)
                if len(chunk) < _WRITE_BYTES:
                    buffer += chunk
                    if len(buffer) < _WRITE_BYTES:
                        continue
                    writes: list[Any] = [buffer]
                else:  # a big chunk is written as it is, never copied
                    writes = [buffer, chunk] if buffer else [chunk]
                buffer = bytearray()  # the old one now belongs to the writer
                if writer is None:
                    writer = StagingWriter(path, ahead_bytes=_AHEAD_BYTES, sync_bytes=_SYNC_BYTES)
                for data in writes:
                    await writer.write(data)
            if writer is None and size <= _INLINE_BYTES:
                return FileStaged("", None, size, bytes(buffer))
            if writer is None:
                writer = StagingWriter(path, ahead_bytes=_AHEAD_BYTES, sync_bytes=_SYNC_BYTES)
            if buffer:
                await writer.write(buffer)
            await writer.finish()
        except BaseException:
            if writer is not None:
                await writer.abort()
            raise
        return FileStaged(blob_id, path, size)

    async def discard(self, staged: Staged) -> None:
        assert isinstance(staged, FileStaged)
        if staged.path is not None:
            staged.path.unlink(missing_ok=True)

    async def _to_file(self, staged: FileStaged) -> FileStaged:
        """A content file for a value staged inline (multipart parts are always files)."""
        if staged.data is None:
            return staged
        blob_id = secrets.token_hex(16)
        path = self._root / "staging" / blob_id

        def write(data: bytes) -> None:
            with open(path, "wb", buffering=0) as handle:
                write_all(handle, data)
                os.fsync(handle.fileno())

        await asyncio.to_thread(write, staged.data)
        return FileStaged(blob_id, path, staged.size)

    async def _publish(self, staged: FileStaged) -> None:
        assert staged.path is not None
        source = staged.path

        def publish() -> None:
            final = self._blob_path(staged.blob_id)
            final.parent.mkdir(exist_ok=True)
            os.replace(source, final)
            _fsync_dir(final.parent)

        try:
            await asyncio.to_thread(publish)
        except OSError as exc:
            source.unlink(missing_ok=True)
            raise BackendError(f"cannot store R2 object under {self._root}: {exc}") from exc

    async def commit(
        self, record: ObjectRecord, staged: Staged, *, condition: Condition | None
    ) -> ObjectRecord | None:
        assert isinstance(staged, FileStaged)
        if staged.data is None:
            await self._publish(staged)
        segments = [[staged.blob_id, staged.size]] if staged.data is None else []

        def upsert(db: sqlite3.Connection) -> list[str] | None:
            key = record.key.encode()
            row = db.execute(
                f"SELECT {_COLUMNS}, segments FROM objects WHERE key = ?", (key,)
            ).fetchone()
            if condition is not None and not condition(_record(row) if row else None):
                return None
            db.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key, record.version, record.size, record.etag, record.uploaded_ms,
                    dump_json(record.checksums), dump_json(record.http_metadata),
                    dump_json(record.custom_metadata),
                    record.storage_class, dump_json(segments), staged.data,
                ),
            )  # fmt: skip
            return [blob for blob, _ in json.loads(row[9])] if row else []

        try:
            old = await self._run(upsert)
        except BaseException:
            if staged.data is None:
                self._unlink(staged.blob_id)
            raise
        if old is None:
            if staged.data is None:
                self._unlink(staged.blob_id)
            return None
        self._release(old)
        return record

    async def delete(self, keys: builtins.list[str]) -> None:
        def remove(db: sqlite3.Connection) -> list[str]:
            old: list[str] = []
            for key in keys:
                row = db.execute(
                    "DELETE FROM objects WHERE key = ? RETURNING segments", (key.encode(),)
                ).fetchone()
                if row:
                    old.extend(blob for blob, _ in json.loads(row[0]))
            return old

        self._release(await self._run(remove))

    async def _scan(self, after: bytes | None, prefix: bytes, count: int) -> list[ObjectRecord]:
        upper = prefix_upper_bound(prefix)

        def select(db: sqlite3.Connection) -> list[ObjectRecord]:
            sql = f"SELECT {_COLUMNS} FROM objects WHERE key >= ?"
            args: list[Any] = [prefix]
            if after is not None:
                sql += " AND key > ?"
                args.append(after)
            if upper is not None:
                sql += " AND key < ?"
                args.append(upper)
            rows = db.execute(sql + " ORDER BY key LIMIT ?", (*args, count)).fetchall()
            return [_record(row) for row in rows]

        return await self._run(select, write=False)

    async def list(
        self,
        *,
        prefix: str,
        start_after: str | None,
        cursor: str | None,
        limit: int,
        delimiter: str | None,
        include_http: bool,
        include_custom: bool,
    ) -> ListPage:
        return await list_ordered(
            self._scan,
            prefix=prefix,
            start_after=start_after,
            cursor=cursor,
            limit=limit,
            delimiter=delimiter,
        )

    async def aclose(self) -> None:
        db, thread = self._db, self._thread
        self._db = self._thread = None
        if db is not None and thread is not None:
            await asyncio.get_running_loop().run_in_executor(thread, db.close)
            thread.shutdown(wait=True)


async def _inline_body(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data
