"""Putting values: options, error actions, value sources, and hashing while streaming.

Shared by :class:`~primitives.r2.binding.R2Bucket` and its multipart uploads.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from ..streams import ReadableStream
from .errors import EntityTooLarge, R2Error, R2TypeError
from .limits import MAX_VALUE_BYTES
from .validation import HASH_ALGORITHMS

__all__ = ["Digesting", "options_from", "r2_action", "value_source"]

#: big values are cut into pieces this size, so hashing and writing overlap
_PIECE_BYTES = 8 << 20
#: chunks at least this big are hashed off the event loop
_THREAD_HASH_BYTES = 1 << 20


def options_from(options: Mapping[str, Any] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    if options is not None:
        if not isinstance(options, Mapping):
            raise R2TypeError(f"options must be a dict, got {type(options).__name__}")
        merged.update(options)
    merged.update(kwargs)
    return {k: v for k, v in merged.items() if v is not None}


@contextlib.contextmanager
def r2_action(name: str) -> Iterator[None]:
    """Name the R2 method in errors raised below: ``put: ... (10020)``."""
    try:
        yield
    except R2Error as exc:
        if exc.action is None:
            exc.action = name
        raise


async def _pieces(data: bytes | memoryview) -> AsyncIterator[bytes | memoryview]:
    view = memoryview(data)
    for start in range(0, len(view), _PIECE_BYTES):
        yield view[start : start + _PIECE_BYTES]


async def _from_sync(items: Iterable[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


def value_source(value: Any) -> tuple[AsyncIterable[Any], int | None]:
    """A put value -> (chunks, size if known)."""
    if value is None:
        return _pieces(b""), 0
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _pieces(data), len(data)
    if isinstance(value, bytes | bytearray | memoryview):
        view = memoryview(value).cast("B")
        if not view.readonly:  # snapshot a mutable buffer, as JavaScript copies an ArrayBuffer
            view = memoryview(bytes(view))
        return _pieces(view), len(view)
    if isinstance(value, ReadableStream):
        return value, value.length
    inner = getattr(value, "body", None)
    if isinstance(inner, ReadableStream):
        return inner, inner.length
    if hasattr(value, "__aiter__"):
        return value, None
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return _from_sync(value), None
    raise R2TypeError(
        f"put value must be str, bytes, None, a ReadableStream or an async iterable of bytes, "
        f"got {type(value).__name__}"
    )


def _update(hashers: list[Any], chunk: bytes | memoryview) -> None:
    for hasher in hashers:
        hasher.update(chunk)


class Digesting:
    """Passes chunks through, hashing them and enforcing the single-upload size limit.

    A chunk of at least ``_THREAD_HASH_BYTES`` is handed on *before* it is hashed: its hashing
    runs on a pool thread (hashlib releases the GIL) while the consumer -- a backend writing it to
    disk -- works on the same chunk, and is awaited before the next chunk is hashed (hashes are
    sequential). A put then takes about max(hash time, write time), not their sum. The digests are
    complete once iteration has ended; a failure while hashing surfaces from the iteration.
    Chunks handed on are immutable (``bytes`` or a read-only view), so hashing and writing the
    same chunk at once is safe.
    """

    def __init__(self, source: AsyncIterable[Any], fields: Iterable[str]) -> None:
        self._source = source
        self.hashers = {field: hashlib.new(HASH_ALGORITHMS[field][1]) for field in fields}
        self.size = 0

    async def __aiter__(self) -> AsyncIterator[bytes | memoryview]:
        hashers = list(self.hashers.values())
        loop = asyncio.get_running_loop()
        hashing: asyncio.Future[None] | None = None  # the previous chunk, hashed off the loop
        try:
            async for raw in self._source:
                chunk: bytes | memoryview
                if isinstance(raw, str):
                    chunk = raw.encode("utf-8")
                elif isinstance(raw, bytes):
                    chunk = raw
                elif isinstance(raw, memoryview) and raw.readonly and raw.c_contiguous:
                    chunk = raw.cast("B")  # lengths in bytes, whatever the item format
                elif isinstance(raw, bytearray | memoryview):
                    chunk = bytes(raw)  # the source may reuse a mutable buffer: snapshot it
                else:
                    raise R2TypeError(f"a put stream must yield bytes, got {type(raw).__name__}")
                if not chunk:
                    continue
                self.size += len(chunk)
                if self.size > MAX_VALUE_BYTES:
                    raise EntityTooLarge()
                if hashing is not None:
                    await hashing
                    hashing = None
                if len(chunk) >= _THREAD_HASH_BYTES:
                    hashing = loop.run_in_executor(None, _update, hashers, chunk)
                else:
                    _update(hashers, chunk)
                yield chunk
            if hashing is not None:
                await hashing
                hashing = None
        finally:
            if hashing is not None:  # the consumer stopped early: let the thread finish first
                await asyncio.gather(hashing, return_exceptions=True)

    def hex(self, field: str) -> str:
        return str(self.hashers[field].hexdigest())
