"""The KV contract, written against the binding and run on every backend (see conftest)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from primitives._dictlike import JsDict
from primitives.clock import FakeClock
from primitives.kv import KVError, KVNamespace
from primitives.kv.binding import DEFAULT_SWEEP_INTERVAL_S

pytestmark = pytest.mark.contract


async def _stored_names(kv: KVNamespace) -> list[str]:
    """Every row the backend still holds, expired or not (``now=0``: nothing has expired)."""
    page = await kv.backend.list(prefix="", start_after=None, limit=1000, now=0)
    return [key.name for key in page.keys]


async def test_get_returns_what_put_stored(kv: KVNamespace) -> None:
    await kv.put("key", "value")
    assert await kv.get("key") == "value"
    assert await kv.get("key", "text") == "value"


async def test_get_missing_returns_none(kv: KVNamespace) -> None:
    assert await kv.get("missing") is None
    assert await kv.get("missing", "json") is None
    assert await kv.get("missing", type="arrayBuffer") is None


async def test_put_overwrites_and_stores_empty_string(kv: KVNamespace) -> None:
    await kv.put("key", "one")
    await kv.put("key", "two")
    assert await kv.get("key") == "two"
    await kv.put("empty", "")
    assert await kv.get("empty") == ""


async def test_get_json_returns_dict_with_attribute_access(kv: KVNamespace) -> None:
    await kv.put("user", '{"name": "ada", "tags": [{"t": 1}]}')
    user = await kv.get("user", "json")
    assert user == {"name": "ada", "tags": [{"t": 1}]}
    assert isinstance(user, JsDict)
    assert user.name == "ada"
    assert user.tags[0].t == 1
    assert await kv.get("user", {"type": "json"}) == user
    assert await kv.get("user", type="json") == user


async def test_get_array_buffer_returns_memoryview(kv: KVNamespace) -> None:
    await kv.put("bin", b"\x00\xffdata")
    value = await kv.get("bin", "arrayBuffer")
    assert isinstance(value, memoryview)
    assert bytes(value) == b"\x00\xffdata"


async def test_get_stream_yields_bytes(kv: KVNamespace) -> None:
    data = bytes(range(256)) * 1000
    await kv.put("big", data)
    stream = await kv.get("big", "stream")
    chunks = [chunk async for chunk in stream]
    assert all(isinstance(chunk, bytes) for chunk in chunks)
    assert b"".join(chunks) == data


async def test_put_accepts_bytes_like_and_async_iterables(kv: KVNamespace) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"str"
        yield b"eam"

    await kv.put("bytes", b"b")
    await kv.put("bytearray", bytearray(b"ba"))
    await kv.put("memoryview", memoryview(b"xmvx")[1:3])
    await kv.put("stream", chunks())
    assert [await kv.get(k) for k in ("bytes", "bytearray", "memoryview", "stream")] == [
        "b",
        "ba",
        "mv",
        "stream",
    ]


async def test_put_stores_large_values(kv: KVNamespace) -> None:
    data = b"x" * (3 * 1024 * 1024)
    await kv.put("large", data)
    assert bytes(await kv.get("large", "arrayBuffer")) == data


async def test_delete_removes_key_and_ignores_missing(kv: KVNamespace) -> None:
    await kv.put("key", "value")
    await kv.delete("key")
    assert await kv.get("key") is None
    await kv.delete("key")
    assert (await kv.list())["keys"] == []


async def test_getWithMetadata_returns_value_and_metadata(kv: KVNamespace) -> None:
    await kv.put("key", "value", metadata={"user": 7, "roles": ["a"]})
    result = await kv.getWithMetadata("key")
    assert result == {
        "value": "value",
        "metadata": {"user": 7, "roles": ["a"]},
        "cacheStatus": None,
    }
    assert result.metadata.user == 7
    await kv.put("n", "v", {"metadata": 123})
    assert (await kv.getWithMetadata("n"))["metadata"] == 123
    await kv.put("s", "v", metadata="example")
    assert (await kv.getWithMetadata("s", "text")).metadata == "example"


async def test_getWithMetadata_missing_and_without_metadata(kv: KVNamespace) -> None:
    assert await kv.getWithMetadata("missing") == {
        "value": None,
        "metadata": None,
        "cacheStatus": None,
    }
    await kv.put("plain", '{"a": 1}')
    assert await kv.getWithMetadata("plain", "json") == {
        "value": {"a": 1},
        "metadata": None,
        "cacheStatus": None,
    }


async def test_get_bulk_maps_missing_keys_to_none(kv: KVNamespace) -> None:
    await kv.put("a", "1")
    await kv.put("b", '{"x": 2}')
    assert await kv.get(["a", "b", "missing"]) == {"a": "1", "b": '{"x": 2}', "missing": None}
    assert await kv.get(["a", "b"], "json") == {"a": 1, "b": {"x": 2}}
    assert (await kv.get(["b"], {"type": "json"}))["b"].x == 2


async def test_getWithMetadata_bulk_maps_missing_keys_to_none(kv: KVNamespace) -> None:
    await kv.put("a", "1", metadata={"m": 1})
    await kv.put("b", "2")
    result = await kv.getWithMetadata(["a", "b", "missing"])
    assert result == {
        "a": {"value": "1", "metadata": {"m": 1}},
        "b": {"value": "2", "metadata": None},
        "missing": None,
    }
    assert result["a"].metadata.m == 1


async def test_get_bulk_json_on_text_value_fails(kv: KVNamespace) -> None:
    await kv.put("text", "not json")
    with pytest.raises(KVError) as info:
        await kv.get(["text"], "json")
    assert str(info.value) == (
        "KV GET_BULK failed: 400 At least one of the requested keys corresponds to a non-json value"
    )


async def test_put_options_as_dict_kwargs_or_none(kv: KVNamespace, fake_clock: FakeClock) -> None:
    await kv.put("a", "v", {"expirationTtl": 60})
    await kv.put("b", "v", None)
    await kv.put("c", "v", expirationTtl=120, metadata=None)
    listed = (await kv.list(None))["keys"]
    now = int(fake_clock.now())
    assert listed == [
        {"name": "a", "expiration": now + 60},
        {"name": "b"},
        {"name": "c", "expiration": now + 120},
    ]


async def test_get_expired_key_returns_none(kv: KVNamespace, fake_clock: FakeClock) -> None:
    await kv.put("key", "value", expirationTtl=60)
    fake_clock.advance(59.9)
    assert await kv.get("key") == "value"
    fake_clock.advance(0.1)
    assert await kv.get("key") is None
    assert await kv.getWithMetadata("key") == {"value": None, "metadata": None, "cacheStatus": None}
    assert await kv.get(["key"]) == {"key": None}


async def test_put_absolute_expiration(kv: KVNamespace, fake_clock: FakeClock) -> None:
    when = int(fake_clock.now()) + 600
    await kv.put("key", "value", expiration=when, metadata={"k": 1})
    assert (await kv.list())["keys"] == [{"name": "key", "expiration": when, "metadata": {"k": 1}}]
    fake_clock.set(when)
    assert await kv.get("key") is None


async def test_list_omits_expired_keys(kv: KVNamespace, fake_clock: FakeClock) -> None:
    await kv.put("a", "v", expirationTtl=60)
    await kv.put("b", "v")
    await kv.put("c", "v", expirationTtl=60)
    await kv.put("d", "v")
    fake_clock.advance(61)
    assert [k["name"] for k in (await kv.list())["keys"]] == ["b", "d"]
    page = await kv.list(limit=1)
    assert [k["name"] for k in page["keys"]] == ["b"]
    assert page["list_complete"] is False
    page = await kv.list(limit=1, cursor=page["cursor"])
    assert [k["name"] for k in page["keys"]] == ["d"]
    assert page["list_complete"] is True


async def test_put_without_expiration_clears_previous_expiration(
    kv: KVNamespace, fake_clock: FakeClock
) -> None:
    await kv.put("key", "v1", expirationTtl=60)
    await kv.put("key", "v2")
    fake_clock.advance(3600)
    assert await kv.get("key") == "v2"
    assert (await kv.list())["keys"] == [{"name": "key"}]


async def test_sweeper_removes_expired_rows(kv: KVNamespace, fake_clock: FakeClock) -> None:
    await kv.put("gone", "v", expirationTtl=60)
    await kv.put("kept", "v")
    await kv.put("later", "v", expirationTtl=3600)
    assert await _stored_names(kv) == ["gone", "kept", "later"]
    fake_clock.advance(DEFAULT_SWEEP_INTERVAL_S + 1)
    for _ in range(500):  # the sweep does real I/O (a SQLite thread, a Redis round trip)
        await fake_clock.settle()
        if kv.sweeps:
            break
        await asyncio.sleep(0.005)
    assert kv.sweeps >= 1
    assert await _stored_names(kv) == ["kept", "later"]


async def test_list_returns_keys_in_utf8_byte_order(kv: KVNamespace) -> None:
    # UTF-16 (JavaScript string) order would put U+1F600 before U+FF61; UTF-8 puts it after.
    names = ["\U0001f600", "\uff61", "z", "é", "a/b", "a", "A", "a b", "a%2F", "a\nb", "0"]
    for name in names:
        await kv.put(name, "v")
    listed = [k["name"] for k in (await kv.list())["keys"]]
    assert listed == sorted(names, key=lambda n: n.encode())
    assert listed.index("\uff61") < listed.index("\U0001f600")


async def test_list_pages_with_cursor(kv: KVNamespace) -> None:
    for name in ["k1", "k2", "k3", "k4", "k5"]:
        await kv.put(name, "v")
    first = await kv.list(prefix="k", limit=2)
    assert [k["name"] for k in first["keys"]] == ["k1", "k2"]
    assert first["list_complete"] is False
    assert isinstance(first["cursor"], str) and first["cursor"]
    assert first["cacheStatus"] is None
    second = await kv.list(prefix="k", limit=2, cursor=first.cursor)
    assert [k["name"] for k in second["keys"]] == ["k3", "k4"]
    third = await kv.list({"prefix": "k", "limit": 2, "cursor": second["cursor"]})
    assert [k["name"] for k in third["keys"]] == ["k5"]
    assert third["list_complete"] is True
    assert "cursor" not in third


async def test_list_exact_page_is_complete(kv: KVNamespace) -> None:
    await kv.put("a", "v")
    await kv.put("b", "v")
    page = await kv.list(limit=2)
    assert page["list_complete"] is True
    assert "cursor" not in page


async def test_list_cursor_resumes_after_last_returned_key(kv: KVNamespace) -> None:
    for name in ["b", "d", "f"]:
        await kv.put(name, "v")
    first = await kv.list(limit=2)
    assert [k["name"] for k in first["keys"]] == ["b", "d"]
    await kv.put("a", "v")  # behind the cursor: not returned
    await kv.put("c", "v")  # behind the cursor: not returned
    await kv.put("e", "v")  # ahead of the cursor: returned
    rest = await kv.list(cursor=first["cursor"])
    assert [k["name"] for k in rest["keys"]] == ["e", "f"]
    assert rest["list_complete"] is True


async def test_list_cursor_survives_deletion_of_last_key(kv: KVNamespace) -> None:
    for name in ["a", "b", "c"]:
        await kv.put(name, "v")
    first = await kv.list(limit=1)
    await kv.delete("a")
    assert [k["name"] for k in (await kv.list(cursor=first["cursor"]))["keys"]] == ["b", "c"]


async def test_list_prefix_filters_keys(kv: KVNamespace) -> None:
    for name in ["user:1", "user:2", "users", "user", "usea", "session:1", "user:\U0001f600"]:
        await kv.put(name, "v")
    listed = [k["name"] for k in (await kv.list(prefix="user:"))["keys"]]
    assert listed == ["user:1", "user:2", "user:\U0001f600"]
    assert [k["name"] for k in (await kv.list(prefix="nothing"))["keys"]] == []


async def test_list_includes_metadata_and_expiration(
    kv: KVNamespace, fake_clock: FakeClock
) -> None:
    await kv.put("a", "v", metadata={"x": [1, 2]}, expirationTtl=300)
    await kv.put("b", "v", metadata=0)
    result = await kv.list()
    assert result == {
        "keys": [
            {"name": "a", "expiration": int(fake_clock.now()) + 300, "metadata": {"x": [1, 2]}},
            {"name": "b", "metadata": 0},
        ],
        "list_complete": True,
        "cacheStatus": None,
    }
    assert result["keys"][0].metadata.x == [1, 2]  # .keys is dict.keys, as with the SDK


async def test_put_rejected_value_keeps_old_data(kv: KVNamespace) -> None:
    await kv.put("key", "old", metadata={"v": 1})
    with pytest.raises(KVError, match="Value length of 26214401 exceeds limit of 26214400"):
        await kv.put("key", b"x" * (25 * 1024 * 1024 + 1))
    with pytest.raises(KVError, match="Metadata length"):
        await kv.put("key", "new", metadata={"x": "y" * 1024})
    with pytest.raises(KVError, match="Expiration TTL must be at least 60"):
        await kv.put("key", "new", expirationTtl=30)
    with pytest.raises(TypeError):
        await kv.put("key", {"not": "allowed"})
    assert await kv.getWithMetadata("key") == {
        "value": "old",
        "metadata": {"v": 1},
        "cacheStatus": None,
    }


async def test_get_with_cache_ttl_returns_current_value(kv: KVNamespace) -> None:
    await kv.put("key", "one")
    assert await kv.get("key", cacheTtl=60) == "one"
    await kv.put("key", "two")  # a write through the same binding is seen at once
    assert await kv.get("key", cacheTtl=60) == "two"
    await kv.delete("key")
    assert await kv.get("key", cacheTtl=60) is None


async def test_keys_with_any_characters_round_trip(kv: KVNamespace) -> None:
    names = ["with space", "slash/and?query=1&x#frag", "percent%20", "é\u0000nul", "x" * 512]
    for i, name in enumerate(names):
        await kv.put(name, str(i))
    assert [await kv.get(name) for name in names] == [str(i) for i in range(len(names))]
    assert await kv.get(names) == {name: str(i) for i, name in enumerate(names)}


async def test_list_pages_random_keys_in_byte_order(kv: KVNamespace) -> None:
    rng = random.Random(20261126)
    alphabet = [
        "a",
        "b",
        "z",
        "A",
        "~",
        "/",
        ":",
        "é",
        "ß",
        "\u4e2d",
        "\uff61",
        "\U0001f600",
        "\x7f",
    ]
    names = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(150)}
    for name in names:
        await kv.put(name, "v")
    for prefix in ("", "a", "\U0001f600"):
        expected = sorted((n for n in names if n.startswith(prefix)), key=lambda n: n.encode())
        seen: list[str] = []
        cursor = None
        while True:
            page = await kv.list(prefix=prefix, limit=7, cursor=cursor)
            seen += [k["name"] for k in page["keys"]]
            if page["list_complete"]:
                break
            cursor = page["cursor"]
        assert seen == expected
