"""``ReadableStream``: a body as an async stream of ``bytes`` chunks, readable once.

Bodies are never gathered into memory unless the caller asks (``await body.bytes()``). A stream can
be built from bytes, a string, an async iterable or a synchronous iterable of chunks.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any, Union

from .errors import BodyError

__all__ = ["BodyInit", "ReadableStream", "body_to_stream"]

BODY_USED_MESSAGE = "Body has already been used. It can only be used once. Use tee() first if you need to read it twice."

BodyInit = Union[
    None, str, bytes, bytearray, memoryview, AsyncIterable[bytes], Iterable[bytes], "ReadableStream"
]


class ReadableStream:
    """An async iterator of ``bytes`` that can be consumed exactly once."""

    __slots__ = ("_length", "_locked", "_source")

    def __init__(self, source: AsyncIterable[Any], length: int | None = None) -> None:
        self._source = source
        self._locked = False
        self._length = length

    @property
    def locked(self) -> bool:
        """True once reading has started."""
        return self._locked

    @property
    def length(self) -> int | None:
        """The total length in bytes, when known in advance."""
        return self._length

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._locked:
            raise BodyError(BODY_USED_MESSAGE)
        self._locked = True
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        async for chunk in self._source:
            if isinstance(chunk, str):
                chunk = chunk.encode()
            elif isinstance(chunk, bytearray | memoryview):
                chunk = bytes(chunk)
            elif not isinstance(chunk, bytes):
                raise TypeError(f"a body stream must yield bytes, got {type(chunk).__name__}")
            if chunk:
                yield chunk

    async def read_all(self, limit: int | None = None) -> bytes:
        """Read the whole stream (optionally refusing more than ``limit`` bytes)."""
        parts: list[bytes] = []
        size = 0
        async for chunk in self:
            size += len(chunk)
            if limit is not None and size > limit:
                raise ValueError(f"stream is larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    async def cancel(self) -> None:
        """Stop reading and release the source."""
        self._locked = True
        aclose = getattr(self._source, "aclose", None)
        if aclose is not None:
            await aclose()

    def __repr__(self) -> str:
        return f"<ReadableStream locked={self._locked} length={self._length}>"


async def _once(data: bytes) -> AsyncIterator[bytes]:
    if data:
        yield data


async def _from_sync(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def body_to_stream(body: Any) -> tuple[ReadableStream | None, bytes | None]:
    """Normalise a body: ``(stream, buffered_bytes_or_None)``.

    Bytes-like and strings are kept as bytes too, so they can be re-read for retries and know
    their length. Objects with a ``.body`` stream (an R2 object body) hand on that stream.
    """
    if body is None:
        return None, None
    if isinstance(body, str):
        data = body.encode("utf-8")
        return ReadableStream(_once(data), len(data)), data
    if isinstance(body, bytes | bytearray | memoryview):
        data = bytes(body)
        return ReadableStream(_once(data), len(data)), data
    if isinstance(body, ReadableStream):
        return body, None
    inner = getattr(body, "body", None)
    if isinstance(inner, ReadableStream):
        return inner, None
    if hasattr(body, "__aiter__"):
        return ReadableStream(body), None
    if isinstance(body, Iterable):
        return ReadableStream(_from_sync(body)), None
    raise TypeError(
        f"unsupported body type {type(body).__name__}: use str, bytes or an async iterable of bytes"
    )
