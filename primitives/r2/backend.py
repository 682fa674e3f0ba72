"""The storage contract every R2 backend fulfils. Backends store; the binding decides.

The binding computes everything R2 defines (etag, version, checksums, conditionals, ranges,
multipart rules) and hands backends finished records. Where a decision must be atomic with the
write (a conditional put, completing an upload) the binding passes a pure function and the
backend evaluates it inside its own critical section.

Values stream: :meth:`R2Backend.stage` consumes an async iterator of chunks into durable
staging storage and returns a :class:`Staged` handle; :meth:`R2Backend.commit` publishes it.
Reads return an async iterator of chunks for the requested byte range.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "Condition",
    "GetOutcome",
    "ListPage",
    "ObjectRecord",
    "PartRecord",
    "R2Backend",
    "RangeResolver",
    "Staged",
    "UploadRecord",
    "UploadState",
]


@dataclass(frozen=True, slots=True)
class ObjectRecord:
    """One stored object's metadata (what ``head`` returns)."""

    key: str
    version: str
    size: int
    etag: str
    uploaded_ms: int
    checksums: Mapping[str, str] = field(default_factory=dict)
    #: R2HTTPMetadata; ``cacheExpiry`` as milliseconds since the epoch
    http_metadata: Mapping[str, Any] = field(default_factory=dict)
    custom_metadata: Mapping[str, str] = field(default_factory=dict)
    storage_class: str = "Standard"


@dataclass(frozen=True, slots=True)
class PartRecord:
    """One uploaded part of a multipart upload."""

    part_number: int
    etag: str
    size: int
    md5_hex: str


UploadState = Literal["in_progress", "completed", "aborted"]


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """A multipart upload and its parts."""

    key: str
    upload_id: str
    state: UploadState
    http_metadata: Mapping[str, Any]
    custom_metadata: Mapping[str, str]
    storage_class: str
    parts: Mapping[int, PartRecord]


@dataclass(frozen=True, slots=True)
class GetOutcome:
    """What a backend ``get`` found: the record and, unless the condition failed, a body."""

    record: ObjectRecord
    body: AsyncIterator[bytes] | None
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class ListPage:
    """Objects and folded prefixes in key order; ``cursor`` is set iff there is more."""

    objects: list[ObjectRecord]
    delimited_prefixes: list[str]
    cursor: str | None


class Staged(Protocol):
    """A value written to staging storage, not yet visible under any key."""

    @property
    def size(self) -> int: ...


#: ``condition(current)`` -> may the operation go ahead? (``current`` is None if missing)
Condition = Callable[[ObjectRecord | None], bool]
#: ``resolve(size)`` -> ``(offset, length)`` to read; raises InvalidRange
RangeResolver = Callable[[int], tuple[int, int]]


class R2Backend(Protocol):
    """Storage for one bucket."""

    async def head(self, key: str) -> ObjectRecord | None: ...

    async def get(
        self, key: str, *, condition: Condition | None, resolve_range: RangeResolver
    ) -> GetOutcome | None:
        """None if missing; a body-less outcome if ``condition`` fails."""
        ...

    async def stage(self, chunks: AsyncIterable[bytes | memoryview]) -> Staged: ...

    async def discard(self, staged: Staged) -> None: ...

    async def commit(
        self, record: ObjectRecord, staged: Staged, *, condition: Condition | None
    ) -> ObjectRecord | None:
        """Publish ``staged`` as ``record``; None (nothing written) if ``condition`` fails.

        Returns the stored record: a backend whose store keeps its own clock (S3) may replace
        ``uploaded_ms`` and ``version``.
        """
        ...

    async def delete(self, keys: builtins.list[str]) -> None: ...

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
        """``cursor`` is opaque and backend-made; an unusable cursor gives an empty page."""
        ...

    async def create_upload(self, upload: UploadRecord) -> str:
        """Record a new in-progress upload; returns its id (the backend may choose it)."""
        ...

    async def get_upload(self, key: str, upload_id: str) -> UploadRecord | None: ...

    async def put_part(
        self, key: str, upload_id: str, part: PartRecord, staged: Staged
    ) -> PartRecord:
        """Store a part (replacing one with the same number); raises NoSuchUpload."""
        ...

    async def complete_upload(
        self, key: str, upload_id: str, parts: builtins.list[PartRecord], record: ObjectRecord
    ) -> ObjectRecord:
        """Publish ``parts`` (part-number order) as ``record``; NoSuchUpload/InvalidPart."""
        ...

    async def abort_upload(self, key: str, upload_id: str) -> None:
        """Abort an in-progress upload; no-op if finished; InternalError if unknown."""
        ...

    async def aclose(self) -> None: ...
