"""Durable Object storage contract, written once against the binding, run over every backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from primitives.clock import FakeClock
from primitives.durable_objects import DurableObject, DurableObjectNamespace, RangeError
from primitives.durable_objects.backends import backend_for_url
from primitives.testing import list_durable_object_ids, run_in_durable_object

pytestmark = pytest.mark.contract


class Obj(DurableObject):
    async def alarm(self, info: Any) -> None:
        pass

    async def bump(self) -> int:
        n = (await self.ctx.storage.get("n")) or 0
        self.ctx.storage.put("n", n + 1)
        return int(n) + 1


@pytest.fixture(params=["memory", "sqlite"])
async def ns(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[DurableObjectNamespace]:
    url = "memory:" if request.param == "memory" else f"sqlite:///{tmp_path / 'do'}"
    namespace = DurableObjectNamespace(
        backend_for_url(url), object_class=Obj, env=None, clock=FakeClock()
    )
    yield namespace
    await namespace.aclose()


async def test_storage_round_trip_and_atomic_increments(ns: DurableObjectNamespace) -> None:
    stub = ns.getByName("a")
    assert sorted(await asyncio.gather(*(stub.bump() for _ in range(10)))) == list(range(1, 11))

    async def check(obj: Any, ctx: Any) -> Any:
        await ctx.storage.put({"x": [1, "two", None], "y": b"\x00\xff"})
        ctx.storage.sql.exec("CREATE TABLE t (v)")
        ctx.storage.sql.exec("INSERT INTO t VALUES (?)", 3)
        await ctx.storage.setAlarm(10**13)
        return (
            await ctx.storage.get(["n", "x", "y"]),
            ctx.storage.sql.exec("SELECT v FROM t").one()["v"],
            await ctx.storage.getAlarm(),
        )

    assert await run_in_durable_object(stub, check) == (
        {"n": 10, "x": [1, "two", None], "y": b"\x00\xff"},
        3,
        10**13,
    )
    assert [str(i) for i in await list_durable_object_ids(ns)] == [str(stub.id)]


async def test_bad_input_leaves_storage_unchanged(ns: DurableObjectNamespace) -> None:
    stub = ns.getByName("b")

    async def attempt(obj: Any, ctx: Any) -> Any:
        await ctx.storage.put("keep", 1)
        for key, value in (("k" * 3000, 1), ("v", "x" * 200_000)):
            with pytest.raises(RangeError):
                ctx.storage.put(key, value)
        with pytest.raises(TypeError):
            ctx.storage.put("o", object())
        return await ctx.storage.list()

    assert await run_in_durable_object(stub, attempt) == {"keep": 1}
