"""Write coalescing, read-your-writes, the output gate and what a storage failure does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from primitives.durable_objects import DurableObject
from primitives.durable_objects.validation import DurableObjectResetError
from primitives.http import Request, Response
from primitives.websocket import MessageEvent, WebSocket, WebSocketPair

from .conftest import HeldSyncBackend, MakeNamespace


class Writer(DurableObject):
    async def fetch(self, request: Request) -> Response:
        self.ctx.storage.put("k", await request.text())  # not awaited: still takes effect
        return Response("stored")

    def write_many(self) -> None:
        for i in range(5):
            self.ctx.storage.put(f"k{i}", i)
        self.ctx.storage.put("k0", "replaced")
        self.ctx.storage.delete("k4")

    async def write_awaiting_each(self) -> None:
        for i in range(3):
            await self.ctx.storage.put(f"a{i}", i)

    def unconfirmed(self) -> str:
        self.ctx.storage.put("u", 1, allowUnconfirmed=True)
        return "fast"

    async def read_order(self) -> list[Any]:
        storage = self.ctx.storage
        await storage.put("v", 1)
        before = storage.get("v")
        storage.put("v", 2)
        after = storage.get("v")
        return [await before, await after]

    async def put_then_throw(self) -> None:
        self.ctx.storage.put("t", 1)
        raise RuntimeError("after write")

    def commits(self) -> int:
        store = self.ctx.storage._live
        return int(store.committed_seq)

    async def get(self, key: str) -> Any:
        return await self.ctx.storage.get(key)

    async def fetch_ws(self) -> None:
        pass


async def test_writes_without_await_commit_as_one_transaction(
    make_ns: MakeNamespace, backend_url: str
) -> None:
    stub = make_ns(Writer, backend_url).getByName("w")
    start = await stub.commits()
    await stub.write_many()
    assert await stub.commits() == start + 1
    assert [await stub.get(f"k{i}") for i in range(5)] == ["replaced", 1, 2, 3, None]


async def test_awaiting_each_put_gives_one_transaction_each(make_ns: MakeNamespace) -> None:
    stub = make_ns(Writer).getByName("w")
    start = await stub.commits()
    await stub.write_awaiting_each()
    assert await stub.commits() == start + 3


async def test_a_get_started_before_a_put_sees_the_old_value(make_ns: MakeNamespace) -> None:
    assert await make_ns(Writer).getByName("w").read_order() == [1, 2]


async def test_response_waits_until_writes_are_durable(make_ns: MakeNamespace) -> None:
    backend = HeldSyncBackend()
    stub = make_ns(Writer, backend=backend).getByName("w")
    pending = asyncio.ensure_future(stub.fetch("https://do/", method="POST", body="v1"))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not pending.done()  # the write is committed, not durable: the response is held
    backend.release.set()
    response = await asyncio.wait_for(pending, 1)
    assert await response.text() == "stored" and backend.syncs >= 1


async def test_allowUnconfirmed_does_not_hold_the_response(make_ns: MakeNamespace) -> None:
    backend = HeldSyncBackend()
    stub = make_ns(Writer, backend=backend).getByName("w")
    assert await asyncio.wait_for(stub.unconfirmed(), 1) == "fast"
    backend.release.set()


async def test_an_error_is_held_like_a_result(make_ns: MakeNamespace) -> None:
    backend = HeldSyncBackend()
    stub = make_ns(Writer, backend=backend).getByName("w")
    pending = asyncio.ensure_future(stub.put_then_throw())
    for _ in range(20):
        await asyncio.sleep(0)
    assert not pending.done()
    backend.release.set()
    with pytest.raises(RuntimeError, match=r"after write"):
        await pending
    assert await stub.get("t") == 1  # writes before an exception are kept, as on Workers


async def test_group_commit_shares_one_sync_between_many_requests(make_ns: MakeNamespace) -> None:
    backend = HeldSyncBackend()
    stub = make_ns(Writer, backend=backend).getByName("w")
    await stub.commits()
    calls = [
        asyncio.ensure_future(stub.fetch("https://do/", method="POST", body=str(i)))
        for i in range(50)
    ]
    for _ in range(30):
        await asyncio.sleep(0)
    backend.release.set()
    await asyncio.gather(*calls)
    assert backend.syncs <= 3


async def test_failed_sync_resets_the_object_and_drops_held_output(make_ns: MakeNamespace) -> None:
    class Made(Writer):
        made = 0

        def __init__(self, ctx: Any, env: Any) -> None:
            super().__init__(ctx, env)
            Made.made += 1

    backend = HeldSyncBackend()
    backend.fail_with = OSError("disk on fire")
    stub = make_ns(Made, backend=backend).getByName("w")
    pending = asyncio.ensure_future(stub.fetch("https://do/", method="POST", body="lost"))
    await asyncio.sleep(0)
    backend.release.set()
    with pytest.raises(DurableObjectResetError, match=r"disk on fire"):
        await pending
    backend.fail_with = None
    assert await stub.get("missing") is None
    assert Made.made == 2  # rebuilt after the reset


class Broadcaster(DurableObject):
    async def fetch(self, request: Request) -> Response:
        client, server = WebSocketPair()
        self.ctx.acceptWebSocket(server)
        return Response(None, status=101, web_socket=client)

    def broadcast(self, text: str) -> None:
        self.ctx.storage.put("last", text)
        for ws in self.ctx.getWebSockets():
            ws.send(text)


async def open_socket(stub: Any) -> tuple[WebSocket, list[Any]]:
    """Open the object's socket; returns the client end and the list its messages land in."""
    response = await stub.fetch("https://do/ws")
    client = response.webSocket
    assert isinstance(client, WebSocket)
    received: list[Any] = []
    client._attach_transport(
        lambda ws, event: received.append(event.data) if isinstance(event, MessageEvent) else None
    )
    return client, received


async def test_websocket_frames_wait_for_the_writes_before_them(make_ns: MakeNamespace) -> None:
    backend = HeldSyncBackend()
    stub = make_ns(Broadcaster, backend=backend).getByName("b")
    _client, received = await open_socket(stub)  # keep the client end alive
    call = asyncio.ensure_future(stub.broadcast("hello"))
    for _ in range(20):
        await asyncio.sleep(0)
    assert received == []
    backend.release.set()
    await asyncio.wait_for(call, 1)
    for _ in range(5):
        await asyncio.sleep(0)
    assert received == ["hello"]


class Counter(DurableObject):
    """Stores each message and replies with its number."""

    async def fetch(self, request: Request) -> Response:
        client, server = WebSocketPair()
        self.ctx.acceptWebSocket(server)
        return Response(None, status=101, web_socket=client)

    def webSocketMessage(self, ws: WebSocket, message: str) -> None:
        count = int(self.ctx.storage.kv.get("count") or 0) + 1
        self.ctx.storage.kv.put("count", count)
        ws.send(f"{message}:{count}")


async def test_a_socket_message_event_ends_before_its_writes_are_durable(
    make_ns: MakeNamespace,
) -> None:
    """The next frame of a socket is handled while the disk is busy; replies still wait for it."""
    backend = HeldSyncBackend()
    stub = make_ns(Counter, backend=backend).getByName("c")
    client, received = await open_socket(stub)
    for i in range(3):  # as the server's bridge does: each delivery awaited before the next
        result = client._transmit(MessageEvent(f"m{i}"))
        if result is not None:
            await asyncio.wait_for(result, 1)  # would hang while the sync is held
    assert received == []  # all three handled and committed; none durable yet
    backend.release.set()
    for _ in range(50):
        await asyncio.sleep(0)
        if len(received) == 3:
            break
    assert received == ["m0:1", "m1:2", "m2:3"]
    assert backend.syncs <= 2  # the three commits shared the fsyncs
