"""``R2Object``/``R2ObjectBody``/``R2Checksums`` and the error classes, without a backend."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from primitives.errors import BodyError
from primitives.headers import Headers
from primitives.r2 import (
    BadDigest,
    NoSuchKey,
    R2Error,
    R2Object,
    R2ObjectBody,
    R2RangeError,
    R2TypeError,
)
from primitives.r2.backend import ObjectRecord
from primitives.streams import ReadableStream

RECORD = ObjectRecord(
    key="k",
    version="0" * 32,
    size=3,
    etag="e",
    uploaded_ms=1_700_000_000_123,
    checksums={"md5": "00ff"},
    http_metadata={"contentType": "text/plain", "cacheExpiry": 0},
    custom_metadata={"a": "b"},
)


async def chunks() -> AsyncIterator[bytes]:
    yield b"abc"


def test_object_is_a_dict_with_attribute_access() -> None:
    obj = R2Object(RECORD, range=(0, 3))
    assert obj["size"] == obj.size == 3
    assert obj.httpEtag == '"e"'
    assert obj.uploaded == dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=dt.UTC)
    assert obj.httpMetadata == {
        "contentType": "text/plain",
        "cacheExpiry": dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    }
    assert obj.customMetadata.a == "b"
    assert obj.range == {"offset": 0, "length": 3}
    assert bytes(obj.checksums["md5"]) == b"\x00\xff"
    assert obj.checksums.toJSON() == {"md5": "00ff"}
    assert obj.storageClass == "Standard"
    assert "body" not in obj
    with pytest.raises(AttributeError):
        obj.body  # noqa: B018


def test_write_http_metadata_sets_only_known_fields() -> None:
    headers = Headers({"x-keep": "1", "content-type": "old"})
    R2Object(RECORD).writeHttpMetadata(headers)
    assert headers.get("content-type") == "text/plain"
    assert headers.get("expires") == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert headers.get("x-keep") == "1"
    with pytest.raises(R2TypeError):
        R2Object(RECORD, include_http=False).writeHttpMetadata(headers)


async def test_body_is_readable_once() -> None:
    body = R2ObjectBody(RECORD, ReadableStream(chunks(), 3), range=(0, 3))
    assert body.get("bodyUsed") is False and body.bodyUsed is False
    assert await body.text() == "abc"
    assert body["bodyUsed"] is True
    with pytest.raises(BodyError, match="Body has already been used"):
        await body.arrayBuffer()


def test_errors_format_like_the_runtime() -> None:
    err = NoSuchKey()
    assert str(err) == "The specified key does not exist. (10007)"
    err.action = "get"
    assert str(err) == "get: The specified key does not exist. (10007)"
    assert (err.status, err.v4code) == (404, 10007)
    assert repr(err) == "NoSuchKey(action='get', v4code=10007, status=404)"
    digest = BadDigest("MD5", "aa", "bb", action="put")
    assert str(digest) == (
        "put: The MD5 checksum you specified did not match what we received.\n"
        "You provided a MD5 checksum with value: aa\nActual MD5 was: bb (10037)"
    )
    assert isinstance(digest, R2Error)
    assert issubclass(R2TypeError, TypeError) and issubclass(R2RangeError, ValueError)
