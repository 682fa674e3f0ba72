"""The KV API of ctx.storage, over both backends (via run_in_durable_object)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from primitives.durable_objects import DurableObject, DurableObjectError, RangeError
from primitives.testing import run_in_durable_object

from .conftest import MakeNamespace


class Store(DurableObject):
    async def alarm(self, info: Any) -> None:
        pass


@pytest.fixture
def stub(make_ns: MakeNamespace, backend_url: str) -> Any:
    return make_ns(Store, backend_url).getByName("s")


async def run(stub: Any, fn: Any) -> Any:
    return await run_in_durable_object(stub, lambda obj, ctx: fn(ctx.storage))


async def test_put_get_round_trips_clonable_values(stub: Any) -> None:
    values = {
        "s": "str",
        "i": 7,
        "f": 1.5,
        "b": True,
        "n": None,
        "bytes": b"\x01",
        "l": [1, {"x": 2}],
    }

    async def go(storage: Any) -> Any:
        for key, value in values.items():
            await storage.put(key, value)
        return {key: await storage.get(key) for key in values}

    assert await run(stub, go) == values
    assert await run(stub, lambda s: s.get("missing")) is None


async def test_get_many_is_sorted_and_omits_missing(stub: Any) -> None:
    async def go(storage: Any) -> Any:
        await storage.put({"b": 2, "a": 1, "é": 3})
        return await storage.get(["é", "missing", "b", "a"])

    result = await run(stub, go)
    assert result == {"a": 1, "b": 2, "é": 3} and list(result) == ["a", "b", "é"]


async def test_delete_one_and_many(stub: Any) -> None:
    async def go(storage: Any) -> Any:
        await storage.put({"a": 1, "b": 2, "c": 3})
        return [
            await storage.delete("a"),
            await storage.delete("a"),
            await storage.delete(["b", "c", "x"]),
        ]

    assert await run(stub, go) == [True, False, 2]


async def test_list_options(stub: Any) -> None:
    async def go(storage: Any) -> Any:
        await storage.put(
            {k: i for i, k in enumerate(["a", "ab", "abc", "b", "ba", "c", "\U0001f600", "z"])}
        )
        return [
            list(await storage.list()),
            list(await storage.list(prefix="ab")),
            list(await storage.list(start="b", end="c")),
            list(await storage.list(startAfter="b", limit=2)),
            list(await storage.list(reverse=True, limit=3)),
            list(await storage.list({"prefix": "b", "reverse": True})),
            list(await storage.list(None)),
        ]

    everything = ["a", "ab", "abc", "b", "ba", "c", "z", "\U0001f600"]  # UTF-8 order
    assert await run(stub, go) == [
        everything,
        ["ab", "abc"],
        ["b", "ba"],
        ["ba", "c"],
        ["\U0001f600", "z", "c"],
        ["ba", "b"],
        everything,
    ]


async def test_list_rejects_bad_options(stub: Any) -> None:
    with pytest.raises(
        TypeError, match=r"^list\(\) cannot be called with both start and startAfter values.$"
    ):
        await run(stub, lambda s: s.list(start="a", startAfter="b"))
    for limit in (0, -1):
        with pytest.raises(TypeError, match=r"^List limit must be positive.$"):
            await run(stub, lambda s, limit=limit: s.list(limit=limit))


async def test_key_and_value_limits(stub: Any) -> None:
    with pytest.raises(
        RangeError,
        match=r"^Keys cannot be larger than 2048 bytes. A key of size 2049 was provided.$",
    ):
        await run(stub, lambda s: s.put("k" * 2049, 1))
    with pytest.raises(
        RangeError,
        match=r"^Keys cannot be larger than 2048 bytes. A key of size 2050 was provided.$",
    ):
        await run(stub, lambda s: s.get("é" * 1025))
    await run(stub, lambda s: s.put("k" * 2048, 1))
    with pytest.raises(
        RangeError, match=r"^Values cannot be larger than 131072 bytes. A value of size"
    ):
        await run(stub, lambda s: s.put("big", b"x" * (131_072 + 32)))
    await run(stub, lambda s: s.put("max", b"x" * 131_072))  # exactly 128 KiB is storable
    await run(stub, lambda s: s.delete("max"))
    with pytest.raises(
        RangeError, match=r"^Maximum number of key value pairs is 128. 129 pairs were provided.$"
    ):
        await run(stub, lambda s: s.get([str(i) for i in range(129)]))
    with pytest.raises(RangeError, match=r"129 pairs were provided"):
        await run(stub, lambda s: s.put({str(i): i for i in range(129)}))
    with pytest.raises(TypeError, match=r"Could not serialize"):
        await run(stub, lambda s: s.put("obj", object()))
    with pytest.raises(TypeError, match=r"^Storage keys must be strings"):
        await run(stub, lambda s: s.put(1, 1))
    assert await run(stub, lambda s: s.list()) == {"k" * 2048: 1}  # nothing bad was stored


async def test_put_shapes(stub: Any) -> None:
    with pytest.raises(
        TypeError, match=r"^put\(\) may only be called with a single key-value pair"
    ):
        await run(stub, lambda s: s.put({"a": 1}, 5))
    with pytest.raises(TypeError, match=r"^put\(\) called with undefined value.$"):
        await run(stub, lambda s: s.put("a"))
    await run(stub, lambda s: s.put({"a": 1}, {"allowUnconfirmed": True}))
    assert await run(stub, lambda s: s.get("a")) == 1


async def test_transaction_commits_and_returns_the_value(stub: Any) -> None:
    async def go(storage: Any) -> Any:
        async def body(txn: Any) -> str:
            await txn.put("a", 1)
            assert await txn.get("a") == 1
            return "done"

        return await storage.transaction(body)

    assert await run(stub, go) == "done"
    assert await run(stub, lambda s: s.get("a")) == 1


async def test_transaction_rollback_and_exception_undo_writes(stub: Any) -> None:
    async def go(storage: Any) -> Any:
        await storage.put("keep", 1)

        async def rolled(txn: Any) -> None:
            await txn.put("x", 1)
            await txn.setAlarm(10_000_000_000_000)
            txn.rollback()
            rolled_back = r"^Cannot put\(\) on rolled back transaction$"
            with pytest.raises(DurableObjectError, match=rolled_back):
                txn.put("y", 1)

        async def raising(txn: Any) -> None:
            await txn.put("z", 1)
            raise KeyError("no")

        await storage.transaction(rolled)
        with pytest.raises(KeyError):
            await storage.transaction(raising)
        return [await storage.list(), await storage.getAlarm()]

    assert await run(stub, go) == [{"keep": 1}, None]


async def test_deleteAll_deletes_keys_tables_and_the_alarm(stub: Any) -> None:
    async def go(storage: Any) -> Any:
        await storage.put({"a": 1, "b": 2})
        storage.sql.exec("CREATE TABLE t (x)")
        await storage.setAlarm(10_000_000_000_000)
        await storage.deleteAll()
        tables = storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 't'").toArray()
        return [await storage.list(), await storage.getAlarm(), tables]

    assert await run(stub, go) == [{}, None, []]


async def test_deleteAll_inside_a_transaction_is_refused(stub: Any) -> None:
    async def go(storage: Any) -> Any:
        async def body(txn: Any) -> None:
            await storage.deleteAll()

        await storage.transaction(body)

    with pytest.raises(
        DurableObjectError, match=r"^Cannot call deleteAll\(\) within a transaction$"
    ):
        await run(stub, go)


async def test_sync_resolves_when_durable(stub: Any) -> None:
    async def go(storage: Any) -> Any:
        storage.put("a", 1)
        await storage.sync()
        store = storage._live
        return store.durable_seq == store.committed_seq

    assert await run(stub, go) is True


async def test_sync_kv_api(stub: Any) -> None:
    def go(storage: Any) -> Any:
        storage.kv.put("a", 1)
        storage.kv.put("b", 2)
        return [storage.kv.get("a"), storage.kv.delete("a"), list(storage.kv.list())]

    assert await run(stub, go) == [1, True, [("b", 2)]]


async def test_data_survives_a_namespace_restart(make_ns: MakeNamespace, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'persist'}"
    first = make_ns(Store, url)
    await run(first.getByName("p"), lambda s: s.put("k", "v"))
    await first.aclose()
    assert await run(make_ns(Store, url).getByName("p"), lambda s: s.get("k")) == "v"


def increment(*keys: str) -> Any:
    async def closure(txn: Any) -> None:
        values = await txn.get(list(keys))
        await asyncio.sleep(0)  # let the other transaction try to run
        await txn.put({k: values.get(k, 0) + 1 for k in keys})

    return closure


async def test_concurrent_transactions_on_conflicting_keys_are_serialized(stub: Any) -> None:
    async def go(storage: Any) -> Any:
        await storage.put({"a": 1, "b": 2})
        await asyncio.gather(
            storage.transaction(increment("a")), storage.transaction(increment("a", "b"))
        )
        return await storage.get(["a", "b"])

    assert await run(stub, go) == {"a": 3, "b": 3}


async def test_nested_transaction_rolls_back_alone(stub: Any) -> None:
    async def go(storage: Any) -> Any:
        async def inner(txn: Any) -> None:
            await txn.put("inner", 1)
            txn.rollback()

        async def outer(txn: Any) -> None:
            await txn.put("outer", 1)
            await storage.transaction(inner)

        await storage.transaction(outer)
        return await storage.list()

    assert await run(stub, go) == {"outer": 1}


async def test_list_limit_converts_as_javascript_number(stub: Any) -> None:
    """workerd converts ``limit`` to an integer: ``"1"`` is 1, ``1.9`` is 1, ``"x"`` is 0."""
    await run(stub, lambda s: s.put({"a": 1, "b": 2}))
    assert await run(stub, lambda s: s.list(limit="1")) == {"a": 1}
    assert await run(stub, lambda s: s.list(limit=1.9)) == {"a": 1}
    with pytest.raises(TypeError, match=r"^List limit must be positive.$"):
        await run(stub, lambda s: s.list(limit="x"))
