"""The R2 contract: written once against the binding, run on every backend (memory, file, S3).

Expected values and texts come from Miniflare's R2 tests (``test/plugins/r2/index.spec.ts``) and
workerd's client checks; where S3 cannot express an R2 rule the test says so explicitly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from primitives.errors import BodyError
from primitives.headers import Headers
from primitives.http import Response
from primitives.r2 import (
    BadDigest,
    BadUpload,
    EntityTooSmall,
    InternalError,
    InvalidArgument,
    InvalidMaxKeys,
    InvalidObjectName,
    InvalidPart,
    InvalidRange,
    MetadataTooLarge,
    NoSuchUpload,
    R2Bucket,
    R2Object,
    R2ObjectBody,
    R2RangeError,
    R2TypeError,
)
from primitives.r2.backends.s3 import S3R2Backend

pytestmark = pytest.mark.contract

#: the binding; its results are Optional and the contract asserts on them directly
Bucket = Any

PART = 50
VALUE_MD5 = "2063c1608d6e0baf80249c42e2be5804"
HTTP_METADATA = {
    "contentType": "text/plain",
    "contentLanguage": "en-GB",
    "contentDisposition": 'attachment; filename="value.txt"',
    "contentEncoding": "gzip",
    "cacheControl": "max-age=3600",
    "cacheExpiry": dt.datetime(2023, 2, 24, tzinfo=dt.UTC),
}


def is_s3(r2: R2Bucket) -> bool:
    return isinstance(r2.backend, S3R2Backend)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


# -- head / get / put ---------------------------------------------------------------------------


async def test_head_returns_none_for_missing_key(r2: Bucket) -> None:
    assert await r2.head("key") is None


async def test_head_returns_metadata_for_existing_key(r2: Bucket) -> None:
    await r2.put("key", "value", httpMetadata=HTTP_METADATA, customMetadata={"key": "value"})
    obj = await r2.head("key")
    assert isinstance(obj, R2Object)
    assert obj.key == obj["key"] == "key"
    assert re.fullmatch(r"[0-9a-f]{32}", obj.version)
    assert obj.size == 5
    assert obj.etag == VALUE_MD5
    assert obj.httpEtag == f'"{VALUE_MD5}"'
    assert obj.checksums.toJSON() == {"md5": VALUE_MD5}
    assert bytes(obj.checksums.md5) == bytes.fromhex(VALUE_MD5)
    assert obj.httpMetadata == HTTP_METADATA
    assert obj.customMetadata == {"key": "value"}
    assert obj.range == {"offset": 0, "length": 5}
    assert obj.storageClass == "Standard"
    assert obj.uploaded.tzinfo is not None


async def test_put_returns_metadata_for_created_object(r2: Bucket, fake_clock) -> None:
    obj = await r2.put("key", "value", httpMetadata=HTTP_METADATA, customMetadata={"key": "value"})
    assert obj is not None
    assert (obj.key, obj.size, obj.etag, obj.range) == ("key", 5, VALUE_MD5, None)
    assert obj.httpMetadata == HTTP_METADATA
    assert obj.customMetadata == {"key": "value"}
    head = await r2.head("key")
    assert head is not None
    assert (head.version, head.uploaded) == (obj.version, obj.uploaded)
    if not is_s3(r2):  # S3 keeps its own Last-Modified
        assert obj.uploaded == dt.datetime.fromtimestamp(fake_clock.now(), tz=dt.UTC)


async def test_put_accepts_options_as_a_dict_or_none(r2: Bucket) -> None:
    await r2.put("a", "1", {"customMetadata": {"x": "y"}})
    await r2.put("b", b"2", None)
    assert (await r2.head("a")).customMetadata == {"x": "y"}
    assert (await r2.list(None)).objects[1].key == "b"


async def test_get_returns_none_for_missing_key(r2: Bucket) -> None:
    assert await r2.get("key") is None


async def test_get_returns_metadata_and_body(r2: Bucket) -> None:
    await r2.put("key", "value", httpMetadata=HTTP_METADATA, customMetadata={"key": "value"})
    body = await r2.get("key")
    assert isinstance(body, R2ObjectBody)
    assert body.etag == VALUE_MD5
    assert body.range == {"offset": 0, "length": 5}
    assert body.httpMetadata == HTTP_METADATA
    assert body["bodyUsed"] is False
    assert await body.text() == "value"
    assert body["bodyUsed"] is True and body.bodyUsed is True


async def test_get_body_read_twice_fails_with_r2_message(r2: Bucket) -> None:
    await r2.put("key", '{"a": 1}')
    body = await r2.get("key")
    assert await body.json() == {"a": 1}
    with pytest.raises(BodyError) as info:
        await body.text()
    assert isinstance(info.value, TypeError)
    assert str(info.value) == (
        "Body has already been used. It can only be used once. "
        "Use tee() first if you need to read it twice."
    )


async def test_get_body_readers(r2: Bucket) -> None:
    await r2.put("key", b"\x00\x01binary")
    assert bytes(await (await r2.get("key")).arrayBuffer()) == b"\x00\x01binary"
    assert await (await r2.get("key")).bytes() == b"\x00\x01binary"
    chunks = [chunk async for chunk in (await r2.get("key")).body]
    assert b"".join(chunks) == b"\x00\x01binary"


async def test_get_body_can_be_a_response_body(r2: Bucket) -> None:
    await r2.put("key", "streamed")
    obj = await r2.get("key")
    assert await Response(obj).text() == "streamed"
    obj = await r2.get("key")
    assert await Response(obj.body).text() == "streamed"


async def test_put_empty_and_none_values(r2: Bucket) -> None:
    assert (await r2.put("empty", "")).size == 0
    assert (await r2.put("none", None)).size == 0
    assert await (await r2.get("none")).text() == ""
    assert (await r2.head("empty")).etag == "d41d8cd98f00b204e9800998ecf8427e"


async def test_put_overrides_existing_key(r2: Bucket) -> None:
    await r2.put("key", "value1")
    await r2.put("key", "value2")
    assert await (await r2.get("key")).text() == "value2"


async def test_put_streams_async_iterables_and_copies_bodies(r2: Bucket) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(40):
            yield bytes([i]) * 100_000

    expected = b"".join(bytes([i]) * 100_000 for i in range(40))
    obj = await r2.put("big", chunks())
    assert obj.size == len(expected)
    assert obj.etag == hashlib.md5(expected).hexdigest()
    await r2.put("copy", (await r2.get("big", range={"offset": 1, "length": 4})).body)
    assert await (await r2.get("copy")).bytes() == expected[1:5]
    await r2.put("copy2", await r2.get("big"))
    assert (await r2.head("copy2")).etag == obj.etag


async def test_put_rejects_unsupported_value(r2: Bucket) -> None:
    with pytest.raises(R2TypeError):
        await r2.put("key", 42)


@pytest.mark.parametrize("method", ["head", "get", "put", "delete", "createMultipartUpload"])
async def test_methods_validate_key_length(r2: Bucket, method: str) -> None:
    key = "x" * 1025
    calls = {
        "head": lambda: r2.head(key),
        "get": lambda: r2.get(key),
        "put": lambda: r2.put(key, "v"),
        "delete": lambda: r2.delete(["valid key", key]),
        "createMultipartUpload": lambda: r2.createMultipartUpload(key),
    }
    with pytest.raises(InvalidObjectName) as info:
        await calls[method]()
    assert str(info.value) == f"{method}: The specified object name is not valid. (10020)"


@pytest.mark.parametrize(
    "key",
    ["", "../../etc/passwd", "/abs/path", "a\x00b", "dir/../../x", "é🙂/ü", "x" * 1000 + "é" * 12],
)
async def test_put_stores_unusual_keys_verbatim(r2: Bucket, key: str) -> None:
    if key in ("", "a\x00b") and is_s3(r2):  # S3 has no empty key and no NUL in XML (docs/r2.md)
        with pytest.raises(InvalidObjectName):
            await r2.put(key, "value")
        return
    await r2.put(key, "value")
    assert (await r2.head(key)).key == key
    assert await (await r2.get(key)).text() == "value"
    assert [o.key for o in (await r2.list()).objects] == [key]
    await r2.delete(key)
    assert await r2.head(key) is None


# -- checksums, metadata ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("md5", "MD5"),
        ("sha1", "SHA-1"),
        ("sha256", "SHA-256"),
        ("sha384", "SHA-384"),
        ("sha512", "SHA-512"),
    ],
)
async def test_put_validates_checksums(r2: Bucket, field: str, name: str) -> None:
    good = hashlib.new(field, b"value").hexdigest()
    await r2.put("key", "value", **{field: good.upper()})
    assert (await r2.head("key")).checksums.toJSON() == {"md5": VALUE_MD5, field: good}
    await r2.put("key", "value", **{field: bytes.fromhex(good)})
    bad = good.replace("0", "1", 1) if "0" in good else "1" + good[1:]
    with pytest.raises(BadDigest) as info:
        await r2.put("key", "other", **{field: bad})
    assert str(info.value) == (
        f"put: The {name} checksum you specified did not match what we received.\n"
        f"You provided a {name} checksum with value: {bad}\n"
        f"Actual {name} was: {hashlib.new(field, b'other').hexdigest()} (10037)"
    )
    assert await (await r2.get("key")).text() == "value"


async def test_put_checksum_client_errors(r2: Bucket) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"md5": "ab"}, "MD5 is 32 hex characters, not 2"),
        ({"sha1": b"x"}, "SHA-1 is 20 bytes, not 1"),
        ({"sha256": "z" * 64}, "Provided SHA-256 wasn't a valid hex string"),
        ({"md5": VALUE_MD5, "sha1": "0" * 40}, "You cannot specify multiple hashing algorithms."),
    ]
    for options, message in cases:
        with pytest.raises(R2TypeError) as info:
            await r2.put("key", "value", **options)
        assert str(info.value) == message
    assert await r2.head("key") is None


async def test_put_validates_metadata_size(r2: Bucket) -> None:
    await r2.put("key", "value", customMetadata={"key": "x" * 2045})
    await r2.put("key", "value", customMetadata={"hi": "x" * 2046})
    await r2.put("key", "value", customMetadata={"key1": "🙂" * 511})
    for custom in ({"key": "x" * 2046}, {"key12": "🙂" * 511}, {"key": "🙂" * 512}):
        with pytest.raises(MetadataTooLarge) as info:
            await r2.put("key", "value", customMetadata=custom)
        assert (
            str(info.value)
            == "put: Your metadata headers exceed the maximum allowed metadata size. (10012)"
        )


async def test_write_http_metadata_sets_headers(r2: Bucket) -> None:
    obj = await r2.put("key", "value", httpMetadata=HTTP_METADATA)
    headers = Headers()
    assert obj.writeHttpMetadata(headers) is None
    assert headers.get("content-type") == "text/plain"
    assert headers.get("content-disposition") == 'attachment; filename="value.txt"'
    assert headers.get("expires") == "Fri, 24 Feb 2023 00:00:00 GMT"


async def test_put_http_metadata_from_headers(r2: Bucket) -> None:
    headers = Headers({"Content-Type": "image/png", "Cache-Control": "no-cache", "X-Other": "1"})
    await r2.put("key", "v", httpMetadata=headers)
    assert (await r2.head("key")).httpMetadata == {
        "contentType": "image/png",
        "cacheControl": "no-cache",
    }


# -- conditionals -------------------------------------------------------------------------------


async def test_get_returns_body_only_if_onlyif_passes(r2: Bucket) -> None:
    uploaded = (await r2.put("key", "value")).uploaded
    past, future = uploaded - dt.timedelta(minutes=1), uploaded + dt.timedelta(minutes=1)
    passing = [
        {"etagMatches": VALUE_MD5},
        {"etagDoesNotMatch": md5("👻")},
        {"uploadedBefore": future},
        {"uploadedAfter": past},
        {"etagMatches": "*"},
    ]
    failing = [
        {"etagMatches": md5("👻")},
        {"etagDoesNotMatch": VALUE_MD5},
        {"uploadedBefore": past},
        {"uploadedAfter": future},
        {"etagDoesNotMatch": "*"},
    ]
    for cond in passing:
        assert isinstance(await r2.get("key", onlyIf=cond), R2ObjectBody), cond
    for cond in failing:
        obj = await r2.get("key", onlyIf=cond)
        assert type(obj) is R2Object, cond
        assert "body" not in obj and obj.etag == VALUE_MD5


async def test_put_stores_only_if_onlyif_passes(r2: Bucket) -> None:
    uploaded = (await r2.put("key", "1")).uploaded
    past, future = uploaded - dt.timedelta(minutes=1), uploaded + dt.timedelta(minutes=5)
    for cond in (
        {"etagMatches": md5("👻")},
        {"etagDoesNotMatch": md5("1")},
        {"uploadedBefore": past},
        {"uploadedAfter": future},
    ):
        assert await r2.put("key", "2", onlyIf=cond) is None, cond
        assert await (await r2.get("key")).text() == "1"
    assert await r2.put("key", "2", onlyIf={"etagMatches": md5("1")}) is not None
    assert await (await r2.get("key")).text() == "2"
    assert await r2.put("no-key", "2", onlyIf={"etagMatches": md5("1")}) is None
    assert await r2.head("no-key") is None
    assert await r2.put("new-key", "2", onlyIf={"etagDoesNotMatch": "*"}) is not None


async def test_onlyif_accepts_headers(r2: Bucket) -> None:
    await r2.put("key", "value")
    assert isinstance(
        await r2.get("key", onlyIf=Headers({"If-Match": f'"{VALUE_MD5}"'})), R2ObjectBody
    )
    assert (
        type(await r2.get("key", onlyIf=Headers({"If-None-Match": f'W/"{VALUE_MD5}", "x"'})))
        is R2Object
    )
    assert type(await r2.get("key", onlyIf=Headers({"If-Match": '"other"'}))) is R2Object
    stamp = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert type(await r2.get("key", onlyIf=Headers({"If-Unmodified-Since": stamp}))) is R2Object


async def test_onlyif_rejects_quoted_etag(r2: Bucket) -> None:
    with pytest.raises(R2TypeError) as info:
        await r2.get("key", onlyIf={"etagMatches": '"abc"'})
    assert str(info.value) == 'Conditional ETag should not be wrapped in quotes ("abc").'


# -- ranges -------------------------------------------------------------------------------------


async def test_get_range_using_object(r2: Bucket) -> None:
    await r2.put("key", "value")
    cases = [
        ({"offset": 3}, (3, 2), "ue"),
        ({"length": 3}, (0, 3), "val"),
        ({"length": 42}, (0, 5), "value"),
        ({"offset": 1, "length": 3}, (1, 3), "alu"),
        ({"suffix": 3}, (2, 3), "lue"),
        ({"suffix": 42}, (0, 5), "value"),
    ]
    for rng, (offset, length), text in cases:
        body = await r2.get("key", range=rng)
        assert body.range == {"offset": offset, "length": length}, rng
        assert await body.text() == text, rng
    for rng in ({"offset": 42}, {"length": 0}, {"suffix": 0}, {"offset": 5}):
        with pytest.raises(InvalidRange) as info:
            await r2.get("key", range=rng)
        assert str(info.value) == "get: The requested range is not satisfiable (10039)"


async def test_get_range_client_errors(r2: Bucket) -> None:
    cases = [
        (
            {"offset": -1},
            R2RangeError,
            "Invalid range. Starting offset (-1) must be greater than or equal to 0.",
        ),
        (
            {"offset": 1.5},
            R2RangeError,
            "Invalid range. Starting offset (1.5) must be an integer, not floating point.",
        ),
        (
            {"length": -2},
            R2RangeError,
            "Invalid range. Length (-2) must be greater than or equal to 0.",
        ),
        (
            {"suffix": -3},
            R2RangeError,
            "Invalid suffix. Suffix (-3) must be greater than or equal to 0.",
        ),
        ({"suffix": 1, "offset": 1}, R2TypeError, "Suffix is incompatible with offset."),
        ({"suffix": 1, "length": 1}, R2TypeError, "Suffix is incompatible with length."),
    ]
    for rng, kind, message in cases:
        with pytest.raises(kind) as info:
            await r2.get("key", range=rng)
        assert str(info.value) == message


async def test_get_range_using_range_header(r2: Bucket) -> None:
    value = "abcdefghijklmnopqrstuvwxyz"
    await r2.put("key", value)
    cases = [
        (None, value, (0, 26)),
        ("bytes=3-6", "defg", (3, 4)),
        ("bytes=10-", value[10:], (10, 16)),
        ("bytes=-5", "vwxyz", (21, 5)),
        ("bytes=5-6,10-11", value, (0, 26)),
        ("bytes=x", value, (0, 26)),
        ("bytes=20-100", value[20:], (20, 6)),
    ]
    for header, text, (offset, length) in cases:
        headers = Headers({"Range": header} if header else None)
        body = await r2.get("key", range=headers)
        assert await body.text() == text, header
        assert body.range == {"offset": offset, "length": length}, header


# -- delete -------------------------------------------------------------------------------------


async def test_delete_deletes_existing_keys(r2: Bucket) -> None:
    await r2.delete("key")
    await r2.put("key", "value")
    await r2.delete("key")
    assert await r2.head("key") is None
    for k in ("key1", "key2", "key3"):
        await r2.put(k, k)
    assert await r2.delete(["key1", "key200", "key3"]) is None
    assert [o.key for o in (await r2.list()).objects] == ["key2"]


async def test_delete_refuses_more_than_1000_keys(r2: Bucket) -> None:
    with pytest.raises(InvalidArgument) as info:
        await r2.delete([f"k{i}" for i in range(1001)])
    assert str(info.value) == "delete: Metadata missing or invalid (10029)"
    await r2.delete([f"k{i}" for i in range(1000)])


# -- list ---------------------------------------------------------------------------------------


async def _pages(r2: Bucket, **options) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        result = await r2.list(**options, cursor=cursor)
        pages.append([o.key for o in result.objects])
        if not result.truncated:
            assert "cursor" not in result
            return pages
        cursor = result.cursor


@pytest.mark.parametrize(
    ("keys", "options", "pages"),
    [
        (["key3", "key1", "key2", ", ", "!"], {}, [["!", ", ", "key1", "key2", "key3"]]),
        (
            ["section1key1", "section1key2", "section2key1"],
            {"prefix": "section1"},
            [["section1key1", "section1key2"]],
        ),
        ([], {}, [[]]),
        (["key1", "key2", "key3"], {"prefix": "none"}, [[]]),
        (["key1", "key2", "key3"], {"limit": 2}, [["key1", "key2"], ["key3"]]),
        (
            ["s1k1", "s1k2", "s1k3", "s2k1"],
            {"prefix": "s1", "limit": 2},
            [["s1k1", "s1k2"], ["s1k3"]],
        ),
        (["key1", "key2", "key3", "key4"], {"startAfter": "key2"}, [["key3", "key4"]]),
        (
            ["key1", "key2", "key3", "key4"],
            {"startAfter": "key1", "limit": 2},
            [["key2", "key3"], ["key4"]],
        ),
        (
            ["key1", "key2", "key3", "key4"],
            {"startAfter": "key", "limit": 2},
            [["key1", "key2"], ["key3", "key4"]],
        ),
        (["a", "é", "z", "~"], {}, [["a", "z", "~", "é"]]),
    ],
)
async def test_list_orders_filters_and_paginates(r2: Bucket, keys, options, pages) -> None:
    for key in keys:
        await r2.put(key, "v")
    assert await _pages(r2, **options) == pages


async def test_list_returns_empty_page_for_invalid_cursor(r2: Bucket) -> None:
    await r2.put("key", "v")
    result = await r2.list(cursor="%%%not-a-cursor")
    assert (result.objects, result.truncated) == ([], False)


async def test_list_returns_keys_inserted_while_paginating(r2: Bucket) -> None:
    for k in ("key1", "key3", "key5"):
        await r2.put(k, k)
    first = await r2.list(limit=2)
    await r2.put("key2", "2")
    await r2.put("key4", "4")
    second = await r2.list(limit=2, cursor=first.cursor)
    assert [o.key for o in second.objects] == ["key4", "key5"]


async def test_list_validates_limit_and_include(r2: Bucket) -> None:
    for limit in (0, 1001):
        with pytest.raises(InvalidMaxKeys) as info:
            await r2.list(limit=limit)
        assert str(info.value) == "list: MaxKeys params must be positive integer <= 1000. (10022)"
    with pytest.raises(R2RangeError) as rng:
        await r2.list(include=["bogus"])
    assert str(rng.value) == "Unsupported include value bogus"


async def test_list_includes_metadata_only_if_asked(r2: Bucket) -> None:
    await r2.put(
        "key1", "value1", httpMetadata={"contentEncoding": "gzip"}, customMetadata={"foo": "bar"}
    )
    plain = (await r2.list()).objects[0]
    assert (plain.httpMetadata, plain.customMetadata, plain.range) == ({}, {}, None)
    assert plain.etag == md5("value1") and plain.size == 6
    with pytest.raises(R2TypeError) as info:
        plain.writeHttpMetadata(Headers())
    assert str(info.value) == (
        "HTTP metadata unknown for key `key1`. "
        "Did you forget to add 'httpMetadata' to `include` when listing?"
    )
    http = (await r2.list(include=["httpMetadata"])).objects[0]
    assert (http.httpMetadata, http.customMetadata) == ({"contentEncoding": "gzip"}, {})
    custom = (await r2.list(include=["customMetadata"])).objects[0]
    assert (custom.httpMetadata, custom.customMetadata) == ({}, {"foo": "bar"})
    both = (await r2.list(include=["httpMetadata", "customMetadata"])).objects[0]
    assert (both.httpMetadata, both.customMetadata) == ({"contentEncoding": "gzip"}, {"foo": "bar"})
    assert both.version == (await r2.head("key1")).version


async def test_list_folds_delimited_prefixes(r2: Bucket) -> None:
    keys = [
        "dir0/file0",
        "dir0/file1",
        "dir0/sub0/file2",
        "dir0/sub0/file3",
        "dir0/sub1/file4",
        "dir0/sub1/file5",
        "dir1/file6",
        "dir1/file7",
        "file8",
        "file9",
    ]
    for key in keys:
        await r2.put(key, "v")

    async def listing(**options) -> tuple[list[str], list[str], bool]:
        result = await r2.list(**options)
        return [o.key for o in result.objects], result.delimitedPrefixes, result.truncated

    assert await listing(delimiter="") == (keys, [], False)
    assert await listing(delimiter="/") == (["file8", "file9"], ["dir0/", "dir1/"], False)
    assert await listing(prefix="dir0/", delimiter="/") == (
        ["dir0/file0", "dir0/file1"],
        ["dir0/sub0/", "dir0/sub1/"],
        False,
    )
    assert await listing(prefix="dir0", delimiter="/") == ([], ["dir0/"], False)
    if not is_s3(r2):  # S3 folds a delimiter that is a whole key differently
        assert await listing(delimiter="file8") == (
            [k for k in keys if k != "file8"],
            ["file8"],
            False,
        )
    first = await r2.list(prefix="dir0/", delimiter="/", limit=2)
    assert ([o.key for o in first.objects], first.delimitedPrefixes, first.truncated) == (
        ["dir0/file0", "dir0/file1"],
        [],
        True,
    )
    second = await r2.list(prefix="dir0/", delimiter="/", limit=2, cursor=first.cursor)
    assert ([o.key for o in second.objects], second.delimitedPrefixes, second.truncated) == (
        [],
        ["dir0/sub0/", "dir0/sub1/"],
        False,
    )


# -- multipart ----------------------------------------------------------------------------------


async def test_create_multipart_upload_returns_distinct_uploads(r2: Bucket) -> None:
    first = await r2.createMultipartUpload("key", customMetadata={"key": "value"})
    second = await r2.createMultipartUpload("key")
    assert first.key == first["key"] == "key"
    assert first.uploadId and first["uploadId"] != second.uploadId


async def test_upload_part_returns_number_and_etag(r2: Bucket) -> None:
    upload = await r2.createMultipartUpload("key")
    part1 = await upload.uploadPart(1, "value1")
    part2 = await upload.uploadPart(2, "value two")
    assert part1 == {"partNumber": 1, "etag": part1.etag} and part1.etag
    assert part2.partNumber == 2 and part2.etag != part1.etag
    again = await upload.uploadPart(1, "value1 again")
    assert again.etag != part1.etag
    for number in (0, 10001):
        with pytest.raises(R2TypeError) as info:
            await upload.uploadPart(number, "x")
        assert (
            str(info.value)
            == f"Part number must be between 1 and 10000 (inclusive). Actual value was: {number}"
        )


async def test_upload_part_on_unknown_or_aborted_upload_fails(r2: Bucket) -> None:
    upload = await r2.createMultipartUpload("key")
    bad_uploads = [r2.resumeMultipartUpload("key", "bad")]
    if not is_s3(r2):  # moto does not check that an upload id belongs to the key
        bad_uploads.append(r2.resumeMultipartUpload("badkey", upload.uploadId))
    for bad in bad_uploads:
        with pytest.raises(NoSuchUpload) as info:
            await bad.uploadPart(1, "value")
        assert (
            str(info.value) == "uploadPart: The specified multipart upload does not exist. (10024)"
        )
    with pytest.raises(InvalidObjectName):
        await r2.resumeMultipartUpload("x" * 1025, "bad").uploadPart(1, "value")
    await upload.abort()
    with pytest.raises(NoSuchUpload):
        await upload.uploadPart(2, "value")
    await upload.abort()


async def test_complete_assembles_parts_with_r2_etag(r2: Bucket) -> None:
    upload = await r2.createMultipartUpload(
        "key", customMetadata={"key": "value"}, httpMetadata={"contentType": "text/plain"}
    )
    parts = [
        await upload.uploadPart(1, "1" * PART),
        await upload.uploadPart(2, "2" * PART),
        await upload.uploadPart(3, "3"),
    ]
    obj = await upload.complete(parts)
    assert (obj.key, obj.size, obj.range) == ("key", 2 * PART + 1, None)
    assert obj.etag == "3b676245e58d988dc75f80c0c27a9645-3"
    assert obj.httpEtag == '"3b676245e58d988dc75f80c0c27a9645-3"'
    assert obj.checksums.toJSON() == {}
    assert obj.customMetadata == {"key": "value"}
    assert obj.httpMetadata == {"contentType": "text/plain"}
    assert await (await r2.get("key")).text() == "1" * PART + "2" * PART + "3"
    head = await r2.head("key")
    assert (head.etag, head.version, head.range) == (
        obj.etag,
        obj.version,
        {"offset": 0, "length": 101},
    )


async def test_complete_accepts_out_of_order_parts_and_gaps(r2: Bucket) -> None:
    upload = await r2.createMultipartUpload("key")
    p2, p5, p9 = [await upload.uploadPart(n, str(n) * PART) for n in (2, 5, 9)]
    obj = await upload.complete([p9, p2, p5])
    assert obj.etag == "471d773597286301a10c61cd8c84e659-3"
    assert await (await r2.get("key")).text() == "2" * PART + "5" * PART + "9" * PART
    body = await r2.get("key", range={"offset": PART // 2, "length": PART + PART // 2})
    assert await body.text() == "2" * (PART // 2) + "5" * PART
    assert await (await r2.get("key", range={"suffix": PART + 5})).text() == "5" * 5 + "9" * PART


async def test_complete_enforces_part_sizes(r2: Bucket) -> None:
    upload = await r2.createMultipartUpload("key")
    small = [await upload.uploadPart(n, str(n)) for n in (1, 2, 3)]
    with pytest.raises(EntityTooSmall) as info:
        await upload.complete(small)
    assert str(info.value) == (
        "completeMultipartUpload: Your proposed upload is smaller than the minimum allowed "
        "object size. (10011)"
    )
    upload = await r2.createMultipartUpload("key")
    p1 = await upload.uploadPart(1, "1" * PART)
    p2 = await upload.uploadPart(2, "2" * (PART + 1))
    p3 = await upload.uploadPart(3, "3" * PART)
    with pytest.raises(BadUpload) as bad:
        await upload.complete([p1, p2, p3])
    assert (
        str(bad.value)
        == "completeMultipartUpload: There was a problem with the multipart upload. (10048)"
    )
    p2 = await upload.uploadPart(2, "2" * PART)
    p3 = await upload.uploadPart(3, "3" * (PART + 1))
    with pytest.raises(BadUpload):
        await upload.complete([p1, p2, p3])
    p3 = await upload.uploadPart(3, "3" * (PART - 1))
    assert (await upload.complete([p1, p2, p3])).size == 3 * PART - 1


async def test_complete_rejects_replaced_and_unknown_parts(r2: Bucket) -> None:
    upload = await r2.createMultipartUpload("key")
    old = await upload.uploadPart(1, "value")
    new = await upload.uploadPart(1, "other")
    for parts in ([old], [{"partNumber": 2, "etag": new.etag}], [{"partNumber": 1, "etag": "bad"}]):
        with pytest.raises(InvalidPart) as info:
            await upload.complete(parts)
        assert (
            str(info.value)
            == "completeMultipartUpload: One or more of the specified parts could not be found."
            " (10025)"
        )
    assert (await upload.complete([new])).size == 5
    other = await r2.createMultipartUpload("key")
    with pytest.raises(InvalidPart):
        await (await r2.createMultipartUpload("key")).complete([await other.uploadPart(1, "v")])


async def test_complete_twice_or_after_abort_fails(r2: Bucket) -> None:
    upload = await r2.createMultipartUpload("key")
    part = await upload.uploadPart(1, "value")
    await upload.complete([part])
    with pytest.raises(NoSuchUpload) as info:
        await upload.complete([part])
    assert (
        str(info.value)
        == "completeMultipartUpload: The specified multipart upload does not exist. (10024)"
    )
    await upload.abort()  # aborting a completed upload is a no-op
    assert await (await r2.get("key")).text() == "value"
    aborted = await r2.createMultipartUpload("key")
    part = await aborted.uploadPart(1, "value")
    await aborted.abort()
    with pytest.raises(NoSuchUpload):
        await aborted.complete([part])


async def test_complete_and_abort_of_unknown_upload(r2: Bucket) -> None:
    unknown = r2.resumeMultipartUpload("key", "bad")
    if is_s3(r2):  # S3 forgets finished uploads, so it cannot tell "unknown" from "finished"
        with pytest.raises(NoSuchUpload):
            await unknown.complete([])
        await unknown.abort()
        return
    with pytest.raises(InternalError) as info:
        await unknown.complete([])
    assert (
        str(info.value)
        == "completeMultipartUpload: We encountered an internal error. Please try again. (10001)"
    )
    with pytest.raises(InternalError) as abort_info:
        await unknown.abort()
    assert (
        str(abort_info.value)
        == "abortMultipartUpload: We encountered an internal error. Please try again. (10001)"
    )


async def test_complete_with_no_parts_makes_empty_object(r2: Bucket) -> None:
    obj = await (await r2.createMultipartUpload("key")).complete([])
    assert obj.size == 0
    if not is_s3(
        r2
    ):  # S3 refuses an empty multipart completion; the backend writes a plain empty object
        assert obj.etag == "d41d8cd98f00b204e9800998ecf8427e-0"
    assert await (await r2.get("key")).text() == ""


async def test_complete_rejects_duplicate_part_numbers(r2: Bucket) -> None:
    upload = await r2.createMultipartUpload("key")
    part = await upload.uploadPart(1, "1" * PART)
    with pytest.raises(InternalError):
        await upload.complete([part, part])


async def test_multipart_uploads_are_invisible_until_completed(r2: Bucket) -> None:
    upload = await r2.createMultipartUpload("key")
    parts = [await upload.uploadPart(n, str(n) * PART) for n in (1, 2)]
    assert await r2.head("key") is None and await r2.get("key") is None
    assert (await r2.list()).objects == []
    await r2.put("key", "plain")
    await r2.delete("key")
    obj = await upload.complete(parts)
    assert [o.key for o in (await r2.list()).objects] == ["key"]
    assert (await r2.list()).objects[0].etag == obj.etag
    await r2.put("key", "replaced")
    assert await (await r2.get("key")).text() == "replaced"


async def test_put_conditional_create_is_atomic(r2: Bucket) -> None:
    """Ten racing create-if-absent puts: exactly one wins (S3 checks with a HEAD first)."""
    results = await asyncio.gather(
        *(r2.put("key", f"v{i}", onlyIf={"etagDoesNotMatch": "*"}) for i in range(10))
    )
    winners = [r for r in results if r is not None]
    if is_s3(r2):
        assert winners  # not atomic on S3 (docs/r2.md)
        return
    assert len(winners) == 1
    assert await (await r2.get("key")).text() == f"v{results.index(winners[0])}"
