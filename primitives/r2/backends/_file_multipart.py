"""Multipart uploads for :class:`~primitives.r2.backends.file.FileR2Backend`.

Parts are content files like any value (a small part is written to a file too); completing an
upload links its parts to the object in the index, without copying them. Upload records stay in
the index after completing or aborting, so ``complete``/``abort`` can answer as R2 does.
"""

from __future__ import annotations

import builtins
import json
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..backend import ObjectRecord, PartRecord, Staged, UploadRecord
from ..errors import InternalError, InvalidPart, NoSuchUpload

__all__ = ["FileMultipartMixin", "FileStaged", "dump_json"]

T = TypeVar("T")


@dataclass(slots=True)
class FileStaged:
    """A value written to staging (or, when small, held for the index row)."""

    blob_id: str
    path: Path | None
    size: int
    #: a small value kept in the index row itself (no content file)
    data: bytes | None = None


def dump_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class _Host(Protocol):
    """What the mixin uses of ``FileR2Backend``."""

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = True) -> T: ...

    async def _publish(self, staged: FileStaged) -> None: ...

    async def _to_file(self, staged: FileStaged) -> FileStaged: ...

    def _release(self, blob_ids: builtins.list[str]) -> None: ...

    def _unlink(self, blob_id: str) -> None: ...


def _upload_row(db: sqlite3.Connection, key: str, upload_id: str) -> Any:
    return db.execute(
        "SELECT state, http_metadata, custom_metadata, storage_class FROM uploads "
        "WHERE upload_id = ? AND key = ?",
        (upload_id, key.encode()),
    ).fetchone()


class FileMultipartMixin:
    """The multipart half of the file backend (mixed into ``FileR2Backend``)."""

    async def create_upload(self: _Host, upload: UploadRecord) -> str:
        upload_id = upload.upload_id or secrets.token_urlsafe(32)

        def insert(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO uploads VALUES (?, ?, 'in_progress', ?, ?, ?)",
                (upload_id, upload.key.encode(), dump_json(upload.http_metadata),
                 dump_json(upload.custom_metadata), upload.storage_class),
            )  # fmt: skip

        await self._run(insert)
        return upload_id

    async def get_upload(self: _Host, key: str, upload_id: str) -> UploadRecord | None:
        def select(db: sqlite3.Connection) -> UploadRecord | None:
            row = _upload_row(db, key, upload_id)
            if row is None:
                return None
            parts = {
                number: PartRecord(number, etag, size, md5)
                for number, etag, size, md5 in db.execute(
                    "SELECT part_number, etag, size, md5 FROM parts WHERE upload_id = ?",
                    (upload_id,),
                )
            }
            return UploadRecord(
                key, upload_id, row[0], json.loads(row[1]), json.loads(row[2]), row[3], parts
            )

        return await self._run(select, write=False)

    async def put_part(
        self: _Host, key: str, upload_id: str, part: PartRecord, staged: Staged
    ) -> PartRecord:
        assert isinstance(staged, FileStaged)
        staged = await self._to_file(staged)
        await self._publish(staged)

        def upsert(db: sqlite3.Connection) -> list[str]:
            row = _upload_row(db, key, upload_id)
            if row is None or row[0] != "in_progress":
                raise NoSuchUpload()
            old = db.execute(
                "SELECT blob_id FROM parts WHERE upload_id = ? AND part_number = ?",
                (upload_id, part.part_number),
            ).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?, ?)",
                (upload_id, part.part_number, part.etag, part.size, part.md5_hex, staged.blob_id),
            )
            return [old[0]] if old else []

        try:
            old = await self._run(upsert)
        except BaseException:
            self._unlink(staged.blob_id)
            raise
        self._release(old)
        return part

    async def complete_upload(
        self: _Host,
        key: str,
        upload_id: str,
        parts: builtins.list[PartRecord],
        record: ObjectRecord,
    ) -> ObjectRecord:
        def complete(db: sqlite3.Connection) -> list[str]:
            row = _upload_row(db, key, upload_id)
            if row is None:
                raise InternalError()
            if row[0] != "in_progress":
                raise NoSuchUpload()
            current = {
                number: (etag, blob, size)
                for number, etag, blob, size in db.execute(
                    "SELECT part_number, etag, blob_id, size FROM parts WHERE upload_id = ?",
                    (upload_id,),
                )
            }
            segments = []
            for part in parts:
                found = current.pop(part.part_number, None)
                if found is None or found[0] != part.etag:
                    raise InvalidPart()
                segments.append([found[1], found[2]])
            unused = [blob for _, blob, _ in current.values()]
            previous = db.execute(
                "SELECT segments FROM objects WHERE key = ?", (key.encode(),)
            ).fetchone()
            if previous:
                unused.extend(blob for blob, _ in json.loads(previous[0]))
            db.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    key.encode(), record.version, record.size, record.etag, record.uploaded_ms,
                    dump_json(record.checksums), dump_json(record.http_metadata),
                    dump_json(record.custom_metadata),
                    record.storage_class, dump_json(segments),
                ),
            )  # fmt: skip
            db.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
            db.execute("UPDATE uploads SET state = 'completed' WHERE upload_id = ?", (upload_id,))
            return unused

        self._release(await self._run(complete))
        return record

    async def abort_upload(self: _Host, key: str, upload_id: str) -> None:
        def abort(db: sqlite3.Connection) -> list[str]:
            row = _upload_row(db, key, upload_id)
            if row is None:
                raise InternalError()
            if row[0] != "in_progress":
                return []
            blobs = [
                r[0]
                for r in db.execute(
                    "DELETE FROM parts WHERE upload_id = ? RETURNING blob_id", (upload_id,)
                )
            ]
            db.execute("UPDATE uploads SET state = 'aborted' WHERE upload_id = ?", (upload_id,))
            return blobs

        self._release(await self._run(abort))
