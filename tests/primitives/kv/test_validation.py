"""Cloudflare's limits and exact error texts (spec 1.3, 1.5), type included."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from primitives.clock import FakeClock
from primitives.kv import KVError, KVNamespace, KVTypeError, KVValueError, open_kv_namespace
from primitives.kv.validation import MAX_VALUE_BYTES


def exact(text: str) -> str:
    return f"^{re.escape(text)}$"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Key name cannot be empty."),
        (".", '"." is not allowed as a key name.'),
        ("..", '".." is not allowed as a key name.'),
    ],
)
async def test_get_put_delete_reject_reserved_keys(kv: KVNamespace, key: str, message: str) -> None:
    for call in (kv.get(key), kv.put(key, "v"), kv.delete(key), kv.getWithMetadata(key)):
        with pytest.raises(TypeError, match=exact(message)) as info:
            await call
        assert isinstance(info.value, KVTypeError)


async def test_get_put_delete_reject_long_keys(kv: KVNamespace) -> None:
    key = "é" * 256 + "x"  # 513 bytes, 257 characters
    for method, call in (
        ("GET", kv.get(key)),
        ("PUT", kv.put(key, "v")),
        ("DELETE", kv.delete(key)),
    ):
        with pytest.raises(KVError) as info:
            await call
        assert str(info.value) == (
            f"KV {method} failed: 414 UTF-8 encoded length of 513 exceeds key length limit of 512."
        )
        assert not isinstance(info.value, TypeError)
    await kv.put("é" * 256, "v")  # exactly 512 bytes is fine
    assert await kv.get("é" * 256) == "v"


@pytest.mark.parametrize("key", [b"bytes", ["nested"]])
async def test_put_rejects_non_string_keys(kv: KVNamespace, key: object) -> None:
    with pytest.raises(KVTypeError, match=r"^Key name must be a string, not \w+\.$"):
        await kv.put(key, "v")  # type: ignore[arg-type]


@pytest.mark.parametrize(("key", "name"), [(1, "1"), (None, "null"), (True, "true"), (1.5, "1.5")])
async def test_keys_convert_as_javascript_strings(kv: KVNamespace, key: object, name: str) -> None:
    """workerd converts key names with String(); the SDK passes None as null."""
    await kv.put(key, "v")  # type: ignore[arg-type]
    assert await kv.get(name) == "v"
    assert await kv.get(key) == "v"  # type: ignore[arg-type]


async def test_put_rejects_lone_surrogate_key(kv: KVNamespace) -> None:
    with pytest.raises(KVTypeError, match="lone surrogate"):
        await kv.put("a\ud800", "v")


@pytest.mark.parametrize(
    ("ttl", "message"),
    [
        (0, "Invalid expiration_ttl of 0. Please specify integer greater than 0."),
        (-5, "Invalid expiration_ttl of -5. Please specify integer greater than 0."),
        (float("nan"), "Invalid expiration_ttl of 0. Please specify integer greater than 0."),
        (float("inf"), "Invalid expiration_ttl of 0. Please specify integer greater than 0."),
        (30, "Invalid expiration_ttl of 30. Expiration TTL must be at least 60."),
        (59.9, "Invalid expiration_ttl of 59. Expiration TTL must be at least 60."),
    ],
)
async def test_put_validates_expiration_ttl(kv: KVNamespace, ttl: float, message: str) -> None:
    with pytest.raises(KVError, match=exact(f"KV PUT failed: 400 {message}")):
        await kv.put("k", "v", expirationTtl=ttl)
    assert await kv.get("k") is None


@pytest.fixture
async def kv_at_1000() -> AsyncIterator[KVNamespace]:
    async with open_kv_namespace("memory:", clock=FakeClock(1000), name="KV") as binding:
        yield binding


async def test_put_validates_expiration(kv_at_1000: KVNamespace) -> None:
    kv = kv_at_1000
    with pytest.raises(KVError, match=exact(
        "KV PUT failed: 400 Invalid expiration of 1000. Please specify integer greater than the "
        "current number of seconds since the UNIX epoch."
    )):  # fmt: skip
        await kv.put("k", "v", expiration=1000)
    with pytest.raises(KVError, match=exact(
        "KV PUT failed: 400 Invalid expiration of 1030. Expiration times must be at least "
        "60 seconds in the future."
    )):  # fmt: skip
        await kv.put("k", "v", {"expiration": 1030})
    with pytest.raises(KVError, match=r"Invalid expiration of 0\. Please specify integer greater"):
        await kv.put("k", "v", expiration=float("nan"))
    await kv.put("k", "v", expiration=1060)
    assert (await kv.list())["keys"] == [{"name": "k", "expiration": 1060}]


async def test_put_expiration_ttl_wins_over_expiration(kv_at_1000: KVNamespace) -> None:
    kv = kv_at_1000
    await kv.put("k", "v", expiration=5000, expirationTtl=60)
    assert (await kv.list())["keys"] == [{"name": "k", "expiration": 1060}]
    with pytest.raises(KVError, match="Invalid expiration_ttl of 10"):
        await kv.put("k", "v", expiration=5000, expirationTtl=10)


async def test_put_converts_expiry_options_as_javascript_numbers(kv: KVNamespace) -> None:
    """Strings convert with Number() and None (null) with 0, as workerd does."""
    await kv.put("k", "v", expirationTtl="120")
    assert (await kv.list())["keys"] == [{"name": "k", "expiration": 1_700_000_120}]
    for bad in ("abc", "", None):
        with pytest.raises(KVError, match=exact(
            "KV PUT failed: 400 Invalid expiration_ttl of 0. Please specify integer greater than 0."
        )):  # fmt: skip
            await kv.put("k", "v", expirationTtl=bad)
    with pytest.raises(KVError, match=r"^KV PUT failed: 400 Invalid expiration of 0\. "):
        await kv.put("k", "v", expiration=None)
    with pytest.raises(KVTypeError, match=exact("Option expiration must be a number, not list.")):
        await kv.put("k", "v", expiration=[1])


async def test_put_rejects_too_large_metadata(kv: KVNamespace) -> None:
    metadata = {"x": "y" * 1017}  # {"x":"..."} = 1025 bytes
    with pytest.raises(KVError, match=exact(
        "KV PUT failed: 413 Metadata length of 1025 exceeds limit of 1024."
    )):  # fmt: skip
        await kv.put("k", "v", metadata=metadata)
    await kv.put("k", "v", metadata={"x": "y" * 1016})


async def test_put_metadata_size_counts_utf8_bytes(kv: KVNamespace) -> None:
    with pytest.raises(KVError, match="Metadata length of 1026 exceeds"):
        await kv.put("k", "v", metadata="é" * 512)  # "..." = 2 + 1024 bytes


@pytest.mark.parametrize("metadata", [{1, 2}, object(), b"raw", {"n": 2**70}])
async def test_put_rejects_unserialisable_metadata(kv: KVNamespace, metadata: object) -> None:
    with pytest.raises(KVTypeError, match=r"^KV put\(\) metadata must be JSON-serialisable: "):
        await kv.put("k", "v", metadata=metadata)
    assert await kv.get("k") is None


async def test_put_rejects_too_large_value(kv: KVNamespace) -> None:
    with pytest.raises(KVError, match=exact(
        f"KV PUT failed: 413 Value length of {MAX_VALUE_BYTES + 1} "
        f"exceeds limit of {MAX_VALUE_BYTES}."
    )):  # fmt: skip
        await kv.put("k", "x" * (MAX_VALUE_BYTES + 1))
    await kv.put("k", b"x" * MAX_VALUE_BYTES)


async def test_put_stream_too_large_reports_full_length(kv: KVNamespace) -> None:
    chunk = b"x" * (1024 * 1024)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(27):
            yield chunk

    with pytest.raises(KVError, match=exact(
        f"KV PUT failed: 413 Value length of {27 * 1024 * 1024} exceeds limit of {MAX_VALUE_BYTES}."
    )):  # fmt: skip
        await kv.put("k", body())


async def test_put_none_stores_null_as_workerd(kv: KVNamespace) -> None:
    await kv.put("k", None)
    assert await kv.get("k") == "null"


@pytest.mark.parametrize("value", [{"a": 1}, ["a"], ("a",), object(), {1, 2}])
async def test_put_rejects_unsupported_values(kv: KVNamespace, value: object) -> None:
    with pytest.raises(TypeError, match=exact(
        "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, "
        "and ReadableStreams as values."
    )):  # fmt: skip
        await kv.put("k", value)


async def test_get_validates_cache_ttl(kv: KVNamespace) -> None:
    with pytest.raises(KVError, match=exact(
        "KV GET failed: 400 Invalid cache_ttl of 10. Cache TTL must be at least 30."
    )):  # fmt: skip
        await kv.get("k", cacheTtl=10)
    with pytest.raises(
        KVError,
        match=exact("KV GET failed: 400 Invalid cache_ttl of 0. Cache TTL must be at least 30."),
    ):
        await kv.get("k", {"cacheTtl": float("nan")})
    assert await kv.get("k", cacheTtl=30) is None


async def test_get_unknown_type_raises_type_error(kv: KVNamespace) -> None:
    assert await kv.get("missing", "blob") is None  # workerd checks the type on the response
    await kv.put("k", "v")
    with pytest.raises(TypeError, match=exact(
        'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".'
    )):  # fmt: skip
        await kv.get("k", "blob")


async def test_get_json_on_text_value_raises_value_error(kv: KVNamespace) -> None:
    await kv.put("k", "hello")
    with pytest.raises(KVValueError, match=r"^The value of key 'k' is not valid JSON"):
        await kv.get("k", "json")


async def test_list_validates_limit(kv: KVNamespace) -> None:
    with pytest.raises(KVError, match=exact(
        "KV GET failed: 400 Invalid key_count_limit of 1001. "
        "Please specify an integer less than 1000."
    )):  # fmt: skip
        await kv.list(limit=1001)
    await kv.put("k", "v")
    # workerd sends the limit only when it is above 0: 0, negatives and NaN mean "default".
    for limit in (0, -1, float("nan"), 1000):
        assert (await kv.list(limit=limit))["keys"] == [{"name": "k"}]


async def test_list_validates_prefix_and_cursor(kv: KVNamespace) -> None:
    with pytest.raises(KVError, match=exact(
        "KV GET failed: 414 UTF-8 encoded length of 513 exceeds key length limit of 512."
    )):  # fmt: skip
        await kv.list(prefix="p" * 513)
    # a cursor that is not one of ours is decoded leniently (Miniflare), never an error
    assert (await kv.list(cursor="%%%"))["list_complete"] is True
    with pytest.raises(KVTypeError, match=exact("Option prefix must be a string, not int.")):
        await kv.list(prefix=1)


async def test_get_bulk_validates_keys(kv: KVNamespace) -> None:
    with pytest.raises(KVError, match=exact(
        "KV GET_BULK failed: 400 You can request a maximum of 100 keys"
    )):  # fmt: skip
        await kv.get([f"k{i}" for i in range(101)])
    with pytest.raises(KVError, match=exact(
        "KV GET_BULK failed: 400 You must request a minimum of 1 key"
    )):  # fmt: skip
        await kv.get([])
    with pytest.raises(KVError, match=exact("KV GET_BULK failed: 400 Key names must not be empty")):
        await kv.get(["a", ""])
    with pytest.raises(KVError, match=exact(
        'KV GET_BULK failed: 400 Illegal key name ".". Please use a different name.'
    )):  # fmt: skip
        await kv.getWithMetadata(["."])
    with pytest.raises(KVError, match="KV GET_BULK failed: 414 UTF-8 encoded length of 513"):
        await kv.get(["k" * 513])
    with pytest.raises(KVTypeError, match=exact("Key name must be a string, not int.")):
        await kv.get(["a", 1])  # type: ignore[list-item]
    assert len(await kv.get([f"k{i}" for i in range(100)])) == 100


async def test_get_bulk_validates_type_and_cache_ttl(kv: KVNamespace) -> None:
    with pytest.raises(KVError, match=exact(
        'KV GET_BULK failed: 400 "arrayBuffer" is not a valid type. Use "json" or "text"'
    )):  # fmt: skip
        await kv.get(["a"], "arrayBuffer")
    with pytest.raises(KVError, match=exact(
        "KV GET_BULK failed: 400 Invalid cache_ttl of 10. Cache TTL must be at least 30."
    )):  # fmt: skip
        await kv.get(["a"], cacheTtl=10)


async def test_get_bulk_rejects_responses_over_25mb(kv: KVNamespace) -> None:
    value = b"x" * (13 * 1024 * 1024)
    await kv.put("a", value)
    await kv.put("b", value)
    with pytest.raises(KVError, match=exact(
        "KV GET_BULK failed: 413 Total size of request exceeds the limit of 25MB"
    )):  # fmt: skip
        await kv.get(["a", "b"])
    assert len(await kv.get(["a"])) == 1


async def test_options_reject_unknown_names_and_wrong_types(kv: KVNamespace) -> None:
    with pytest.raises(KVTypeError, match=r"KV put\(\) got unknown option\(s\) 'expirationTTL'"):
        await kv.put("k", "v", expirationTTL=60)
    with pytest.raises(KVTypeError, match=r"KV list\(\) options must be a dict"):
        await kv.list("prefix")
    with pytest.raises(KVTypeError, match=r"KV get\(\) got unknown option\(s\) 'cache_ttl'"):
        await kv.get("k", cache_ttl=60)
