"""``memory:`` -- objects held in this process; for tests and throwaway runs."""

from __future__ import annotations

import bisect
import builtins
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, replace

from ..backend import (
    Condition,
    GetOutcome,
    ListPage,
    ObjectRecord,
    PartRecord,
    RangeResolver,
    Staged,
    UploadRecord,
)
from ..errors import InternalError, InvalidPart, NoSuchUpload
from ._listing import list_ordered

__all__ = ["MemoryR2Backend"]

_CHUNK_BYTES = 1 << 20


@dataclass(slots=True)
class MemoryStaged:
    chunks: list[bytes]
    size: int


@dataclass(slots=True)
class _Stored:
    record: ObjectRecord
    segments: list[bytes]


async def _read(segments: list[bytes], offset: int, length: int) -> AsyncIterator[bytes]:
    for segment in segments:
        if length <= 0:
            return
        if offset >= len(segment):
            offset -= len(segment)
            continue
        end = min(len(segment), offset + length)
        view = memoryview(segment)
        for start in range(offset, end, _CHUNK_BYTES):
            yield bytes(view[start : min(end, start + _CHUNK_BYTES)])
        length -= end - offset
        offset = 0


class MemoryR2Backend:
    """A bucket in a dict; multipart parts kept until completion."""

    def __init__(self) -> None:
        self._objects: dict[str, _Stored] = {}
        self._order: list[bytes] = []
        self._uploads: dict[str, UploadRecord] = {}
        self._part_data: dict[tuple[str, int], list[bytes]] = {}

    async def head(self, key: str) -> ObjectRecord | None:
        stored = self._objects.get(key)
        return stored.record if stored else None

    async def get(
        self, key: str, *, condition: Condition | None, resolve_range: RangeResolver
    ) -> GetOutcome | None:
        stored = self._objects.get(key)
        if stored is None:
            return None
        record = stored.record
        if condition is not None and not condition(record):
            return GetOutcome(record, None, 0, record.size)
        offset, length = resolve_range(record.size)
        return GetOutcome(record, _read(stored.segments, offset, length), offset, length)

    async def stage(self, chunks: AsyncIterable[bytes | memoryview]) -> Staged:
        parts: list[bytes | memoryview] = []
        size = 0
        async for chunk in chunks:
            parts.append(chunk)
            size += len(chunk)
        return MemoryStaged([b"".join(parts)], size)

    async def discard(self, staged: Staged) -> None:
        pass

    def _store(self, record: ObjectRecord, segments: list[bytes]) -> None:
        if record.key not in self._objects:
            bisect.insort(self._order, record.key.encode("utf-8"))
        self._objects[record.key] = _Stored(record, segments)

    async def commit(
        self, record: ObjectRecord, staged: Staged, *, condition: Condition | None
    ) -> ObjectRecord | None:
        assert isinstance(staged, MemoryStaged)
        current = self._objects.get(record.key)
        if condition is not None and not condition(current.record if current else None):
            return None
        self._store(record, staged.chunks)
        return record

    async def delete(self, keys: builtins.list[str]) -> None:
        for key in keys:
            if self._objects.pop(key, None) is not None:
                encoded = key.encode("utf-8")
                index = bisect.bisect_left(self._order, encoded)
                del self._order[index]

    async def _scan(self, after: bytes | None, prefix: bytes, count: int) -> list[ObjectRecord]:
        start = bisect.bisect_right(self._order, after) if after is not None else 0
        start = max(start, bisect.bisect_left(self._order, prefix))
        out: list[ObjectRecord] = []
        for encoded in self._order[start : start + count]:
            if not encoded.startswith(prefix):
                break
            out.append(self._objects[encoded.decode("utf-8")].record)
        return out

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

    async def create_upload(self, upload: UploadRecord) -> str:
        upload_id = upload.upload_id or secrets.token_urlsafe(32)
        self._uploads[upload_id] = replace(
            upload, upload_id=upload_id, state="in_progress", parts={}
        )
        return upload_id

    async def get_upload(self, key: str, upload_id: str) -> UploadRecord | None:
        upload = self._uploads.get(upload_id)
        return upload if upload is not None and upload.key == key else None

    async def put_part(
        self, key: str, upload_id: str, part: PartRecord, staged: Staged
    ) -> PartRecord:
        assert isinstance(staged, MemoryStaged)
        upload = await self.get_upload(key, upload_id)
        if upload is None or upload.state != "in_progress":
            raise NoSuchUpload()
        self._uploads[upload_id] = replace(upload, parts={**upload.parts, part.part_number: part})
        self._part_data[(upload_id, part.part_number)] = staged.chunks
        return part

    async def complete_upload(
        self, key: str, upload_id: str, parts: builtins.list[PartRecord], record: ObjectRecord
    ) -> ObjectRecord:
        upload = await self.get_upload(key, upload_id)
        if upload is None:
            raise InternalError()
        if upload.state != "in_progress":
            raise NoSuchUpload()
        segments: list[bytes] = []
        for part in parts:
            current = upload.parts.get(part.part_number)
            if current is None or current.etag != part.etag:
                raise InvalidPart()
            segments.extend(self._part_data[(upload_id, part.part_number)])
        for number in upload.parts:
            self._part_data.pop((upload_id, number), None)
        self._uploads[upload_id] = replace(upload, state="completed", parts={})
        self._store(record, segments)
        return record

    async def abort_upload(self, key: str, upload_id: str) -> None:
        upload = await self.get_upload(key, upload_id)
        if upload is None:
            raise InternalError()
        if upload.state != "in_progress":
            return
        for number in upload.parts:
            self._part_data.pop((upload_id, number), None)
        self._uploads[upload_id] = replace(upload, state="aborted", parts={})

    async def aclose(self) -> None:
        pass
