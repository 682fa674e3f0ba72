"""Input gate, blockConcurrencyWhile, single instance, RPC and fetch through stubs."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, ClassVar

import pytest

from primitives.clock import FakeClock
from primitives.durable_objects import DurableObject, DurableObjectError
from primitives.durable_objects.validation import DurableObjectResetError
from primitives.http import Request, Response

from .conftest import MakeNamespace


class Counter(DurableObject):
    constructed = 0

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        type(self).constructed += 1
        self.hits = 0

    async def increment(self) -> int:
        n = (await self.ctx.storage.get("n")) or 0
        await self.ctx.storage.put("n", n + 1)
        return int(n)

    async def increment_with_outside_await(self) -> int:
        n = (await self.ctx.storage.get("n")) or 0
        await asyncio.sleep(0)  # not storage: other events may run here, as on Workers
        await self.ctx.storage.put("n", n + 1)
        return int(n)

    def hit(self) -> int:
        self.hits += 1
        return self.hits

    def echo(self, *values: Any) -> Any:
        return list(values)

    def make_unclonable(self) -> Any:
        return object()

    async def boom(self) -> None:
        raise ValueError("kaboom")

    async def fetch(self, request: Request) -> Response:
        return Response(f"{request.method} {request.url} {await request.text()}")


async def test_concurrent_increments_are_atomic(make_ns: MakeNamespace, backend_url: str) -> None:
    stub = make_ns(Counter, backend_url).getByName("c")
    assert list(await asyncio.gather(stub.increment(), stub.increment(), stub.increment())) == [
        0,
        1,
        2,
    ]
    assert await asyncio.gather(*(stub.increment() for _ in range(50))) == list(range(3, 53))


async def test_events_interleave_at_non_storage_awaits(make_ns: MakeNamespace) -> None:
    stub = make_ns(Counter).getByName("c")
    await stub.hit()  # built: the three calls below start together
    results = await asyncio.gather(*(stub.increment_with_outside_await() for _ in range(3)))
    assert results == [0, 0, 0]  # the lost update Workers also allows across a non-storage await


async def test_one_instance_per_id(make_ns: MakeNamespace) -> None:
    ns = make_ns(Counter)
    Counter.constructed = 0
    a, b = ns.getByName("x"), ns.get(ns.idFromName("x"))
    assert list(await asyncio.gather(a.hit(), b.hit(), a.hit())) == [1, 2, 3]
    assert await ns.getByName("y").hit() == 1
    assert Counter.constructed == 2


async def test_rpc_clones_arguments_and_results(make_ns: MakeNamespace) -> None:
    stub = make_ns(Counter).getByName("c")
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    value = {"a": [1, 2.5, None, True], "b": b"\x00", "when": when}
    assert await stub.echo(value, "s") == [value, "s"]


async def test_rpc_rejects_unclonable_arguments_and_results(make_ns: MakeNamespace) -> None:
    stub = make_ns(Counter).getByName("c")
    with pytest.raises(TypeError, match=r'Could not serialize object of type "object"'):
        await stub.echo(object())
    with pytest.raises(TypeError, match=r'Could not serialize object of type "object"'):
        await stub.make_unclonable()


@pytest.mark.parametrize("method", ["missing", "_private", "ctx", "env"])
async def test_rpc_unknown_method_is_a_type_error(make_ns: MakeNamespace, method: str) -> None:
    stub = make_ns(Counter).getByName("c")
    with pytest.raises(
        TypeError, match=f'^The RPC receiver does not implement the method "{method}".$'
    ):
        await getattr(stub, method)()


async def test_rpc_handler_error_reaches_the_caller_marked_remote(make_ns: MakeNamespace) -> None:
    stub = make_ns(Counter).getByName("c")
    with pytest.raises(ValueError, match=r"kaboom") as info:
        await stub.boom()
    assert getattr(info.value, "remote", False) is True
    assert await stub.hit() == 1  # the object is not reset by a handler error


async def test_fetch_accepts_url_and_request(make_ns: MakeNamespace) -> None:
    stub = make_ns(Counter).getByName("c")
    assert await (await stub.fetch("https://do/x")).text() == "GET https://do/x "
    response = await stub.fetch("https://do/y", method="POST", body="hi")
    assert await response.text() == "POST https://do/y hi"
    response = await stub.fetch(Request("https://do/z", method="PUT", body="b"))
    assert await response.text() == "PUT https://do/z b"
    with pytest.raises(TypeError, match=r"^Fetch API cannot load: /relative$"):
        await stub.fetch("/relative")


async def test_fetch_without_handler_and_with_wrong_result(make_ns: MakeNamespace) -> None:
    class NoFetch(DurableObject):
        pass

    class BadFetch(DurableObject):
        async def fetch(self, request: Request) -> Any:
            return "not a response"

    with pytest.raises(
        DurableObjectError, match=r"^Handler does not export a fetch\(\) function.$"
    ):
        await make_ns(NoFetch).getByName("a").fetch("https://x/")
    with pytest.raises(TypeError, match=r"did not resolve to 'Response'"):
        await make_ns(BadFetch).getByName("a").fetch("https://x/")


class Slow(DurableObject):
    log: ClassVar[list[str]] = []

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.ready = False
        ctx.blockConcurrencyWhile(self._load)

    async def _load(self) -> None:
        for _ in range(5):
            await asyncio.sleep(0)
        self.ready = True

    def is_ready(self) -> bool:
        return self.ready

    async def block(self, tag: str) -> int:
        async def work() -> int:
            Slow.log.append(f"{tag}-start")
            for _ in range(3):
                await asyncio.sleep(0)
            Slow.log.append(f"{tag}-end")
            return 42

        return int(await self.ctx.blockConcurrencyWhile(work))

    def note(self, tag: str) -> None:
        Slow.log.append(tag)


async def test_blockConcurrencyWhile_in_constructor_holds_the_first_events(
    make_ns: MakeNamespace,
) -> None:
    stub = make_ns(Slow).getByName("s")
    assert list(await asyncio.gather(stub.is_ready(), stub.is_ready())) == [True, True]


async def test_blockConcurrencyWhile_holds_other_events_and_returns_the_value(
    make_ns: MakeNamespace,
) -> None:
    stub = make_ns(Slow).getByName("s")
    Slow.log = []
    await stub.note("warm")
    assert list(await asyncio.gather(stub.block("a"), stub.note("b"))) == [42, None]
    assert Slow.log == ["warm", "a-start", "a-end", "b"]


async def test_blockConcurrencyWhile_failure_resets_the_object(make_ns: MakeNamespace) -> None:
    class Fragile(DurableObject):
        made = 0

        def __init__(self, ctx: Any, env: Any) -> None:
            super().__init__(ctx, env)
            Fragile.made += 1

        async def fail(self) -> None:
            async def bad() -> None:
                raise RuntimeError("init failed")

            await self.ctx.blockConcurrencyWhile(bad)

        def made_count(self) -> int:
            return Fragile.made

    stub = make_ns(Fragile).getByName("f")
    with pytest.raises(RuntimeError, match=r"init failed"):
        await stub.fail()
    assert await stub.made_count() == 2  # a fresh instance


async def test_constructor_error_reaches_callers_and_is_retried(make_ns: MakeNamespace) -> None:
    class Broken(DurableObject):
        attempts = 0

        def __init__(self, ctx: Any, env: Any) -> None:
            super().__init__(ctx, env)
            Broken.attempts += 1
            if Broken.attempts == 1:
                raise RuntimeError("constructor failed")

        def ok(self) -> str:
            return "ok"

    stub = make_ns(Broken).getByName("b")
    with pytest.raises(RuntimeError, match=r"constructor failed"):
        await stub.ok()
    assert await stub.ok() == "ok"


async def test_waitUntil_runs_after_the_response(make_ns: MakeNamespace) -> None:
    done = asyncio.Event()

    class Later(DurableObject):
        def go(self) -> str:
            async def later() -> None:
                await asyncio.sleep(0)
                done.set()

            self.ctx.waitUntil(later())
            return "sent"

    assert await make_ns(Later).getByName("l").go() == "sent"
    await asyncio.wait_for(done.wait(), 1)


async def test_env_is_read_lazily(make_ns: MakeNamespace) -> None:
    class UsesEnv(DurableObject):
        def read_name(self) -> Any:
            return self.env["NAME"]

    env: dict[str, str] = {}
    ns = make_ns(UsesEnv, env=env)
    env["NAME"] = "filled later"
    assert await ns.getByName("e").read_name() == "filled later"


async def test_blockConcurrencyWhile_times_out_after_30_seconds(
    make_ns: MakeNamespace, fake_clock: FakeClock
) -> None:
    class Stuck(DurableObject):
        async def hang(self) -> None:
            await self.ctx.blockConcurrencyWhile(asyncio.Event().wait)

        def ok(self) -> str:
            return "ok"

    stub = make_ns(Stuck).getByName("s")
    hang = asyncio.ensure_future(stub.hang())
    queued = asyncio.ensure_future(stub.ok())
    await fake_clock.settle()
    assert not queued.done()  # held by the gate
    fake_clock.advance(30)
    with pytest.raises(DurableObjectResetError, match="did not finish within 30 seconds"):
        await asyncio.wait_for(hang, 1)
    assert await asyncio.wait_for(queued, 1) == "ok"


async def test_a_closed_namespace_refuses_events(make_ns: MakeNamespace) -> None:
    ns = make_ns(Counter)
    stub = ns.getByName("c")
    assert await stub.hit() == 1
    await ns.aclose()
    with pytest.raises(DurableObjectError, match=r"^this Durable Object namespace is closed$"):
        await stub.hit()
