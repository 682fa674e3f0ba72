"""Turning ``put()`` values into stored bytes, and stored bytes into ``get()`` results.

Strings are stored as UTF-8; numbers and booleans as JavaScript's ``String(value)`` (workerd
coerces non-object values to strings); bytes-like values as they are; async iterables (a
``ReadableStream``) are read after the options are checked. Results follow the SDK: ``"text"``
-> ``str``, ``"json"`` -> parsed JSON with :class:`~primitives._dictlike.JsDict` objects,
``"arrayBuffer"`` -> ``memoryview``, ``"stream"`` -> :class:`~primitives.streams.ReadableStream`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from .._dictlike import to_jsdict
from ..streams import ReadableStream
from .backend import KVEntry
from .errors import KVTypeError, KVValueError
from .validation import (
    MAX_VALUE_BYTES,
    PUT_VALUE_TYPE_MESSAGE,
    UNKNOWN_TYPE_MESSAGE,
    check_value_size,
)

__all__ = ["buffered_body", "decode_value", "js_string", "parse_metadata", "read_stream"]

_STREAM_CHUNK_BYTES = 64 * 1024


def js_string(value: int | float) -> str:
    """``String(number)`` as JavaScript writes it (workerd coerces non-object values)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), _STREAM_CHUNK_BYTES):
        yield data[start : start + _STREAM_CHUNK_BYTES]


def parse_metadata(raw: bytes | None) -> Any:
    return None if raw is None else to_jsdict(orjson.loads(raw))


def decode_value(key: str, entry: KVEntry, value_type: Any) -> Any:
    data = entry.value
    if value_type == "text":
        return data.decode("utf-8", errors="replace")
    if value_type == "json":
        try:
            return to_jsdict(orjson.loads(data))
        except orjson.JSONDecodeError as exc:
            raise KVValueError(f"The value of key {key!r} is not valid JSON: {exc}") from exc
    if value_type == "arrayBuffer":
        return memoryview(data)
    if value_type == "stream":
        return ReadableStream(_chunks(data), len(data))
    raise KVTypeError(UNKNOWN_TYPE_MESSAGE)


def buffered_body(value: str | bytes | bytearray | memoryview) -> bytes:
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates become U+FFFD, as in a JS USVString
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()
    return value if isinstance(value, bytes) else bytes(value)


async def read_stream(value: Any) -> bytes:
    """Gather a streamed put() value, counting past the limit so the error gives the real length."""
    parts: list[bytes] = []
    size = 0
    async for chunk in value:
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8")
        elif not isinstance(chunk, bytes | bytearray | memoryview):
            raise KVTypeError(PUT_VALUE_TYPE_MESSAGE)
        size += len(chunk)
        if size <= MAX_VALUE_BYTES:
            parts.append(bytes(chunk))
    check_value_size(size)
    return b"".join(parts)
