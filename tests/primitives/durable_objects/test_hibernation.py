"""Hibernatable WebSockets, auto-responses, eviction and rebuilding."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest

from primitives.clock import FakeClock
from primitives.durable_objects import (
    DurableObject,
    DurableObjectError,
    WebSocketRequestResponsePair,
)
from primitives.http import Request, Response
from primitives.websocket import (
    CloseEvent,
    ErrorEvent,
    Event,
    MessageEvent,
    WebSocket,
    WebSocketPair,
)

from .conftest import MakeNamespace, eventually, settle


class Room(DurableObject):
    built = 0
    events: ClassVar[list[Any]] = []

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        Room.built += 1

    async def fetch(self, request: Request) -> Response:
        client, server = WebSocketPair()
        tags = request.query.get("tags", "")
        if request.query.get("plain"):
            server.accept()
            server.addEventListener("message", lambda e: server.send("plain:" + e.data))
        else:
            self.ctx.acceptWebSocket(server, [t for t in tags.split(",") if t])
            server.serializeAttachment({"user": request.query.get("user", "anon")})
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws: WebSocket, message: str | bytes) -> None:
        Room.events.append(("message", message))
        count = (await self.ctx.storage.get("count")) or 0
        await self.ctx.storage.put("count", count + 1)
        text = message if isinstance(message, str) else message.decode()
        ws.send(f"{ws.deserializeAttachment()['user']}:{text}:{count + 1}")

    async def webSocketClose(self, ws: WebSocket, code: int, reason: str, wasClean: bool) -> None:
        Room.events.append(("close", code, reason, wasClean))

    async def webSocketError(self, ws: WebSocket, error: Any) -> None:
        Room.events.append(("error", str(error)))

    def tagged(self, tag: str | None) -> int:
        return len(self.ctx.getWebSockets(tag))

    def tags(self) -> list[list[str]]:
        return [self.ctx.getTags(ws) for ws in self.ctx.getWebSockets()]

    def set_auto(self) -> None:
        self.ctx.setWebSocketAutoResponse(WebSocketRequestResponsePair("ping", "pong"))


@pytest.fixture(autouse=True)
def reset_room() -> None:
    Room.built = 0
    Room.events = []


class Client:
    """The server adapter's side of a socket: records what the object sends."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.received: list[Any] = []
        ws._attach_transport(self._receive)

    def _receive(self, ws: WebSocket, event: Event) -> None:
        self.received.append(event.data if isinstance(event, MessageEvent) else event)

    async def send(self, text: str) -> None:
        result = self.ws._inject(MessageEvent(text))
        if result is not None:
            await result


async def connect(stub: Any, query: str = "") -> Client:
    response = await stub.fetch(f"https://room/ws?{query}")
    assert response.status == 101 and response.webSocket is not None
    return Client(response.webSocket)


async def test_messages_reach_webSocketMessage_through_the_gate(
    make_ns: MakeNamespace, backend_url: str
) -> None:
    stub = make_ns(Room, backend_url).getByName("r")
    client = await connect(stub, "user=ann")
    await asyncio.gather(*(client.send(f"m{i}") for i in range(3)))
    await eventually(lambda: len(client.received) == 3)
    assert sorted(client.received) == ["ann:m0:1", "ann:m1:2", "ann:m2:3"]


async def test_tags_and_getWebSockets(make_ns: MakeNamespace) -> None:
    stub = make_ns(Room).getByName("r")
    await connect(stub, "tags=a,b")
    await connect(stub, "tags=b")
    await connect(stub)
    assert [await stub.tagged(None), await stub.tagged("a"), await stub.tagged("b")] == [3, 1, 2]
    assert await stub.tags() == [["a", "b"], ["b"], []]


async def test_tag_limits(make_ns: MakeNamespace) -> None:
    class Tagger(DurableObject):
        def accept(self, tags: list[str]) -> None:
            self.ctx.acceptWebSocket(WebSocketPair().server, tags)

    stub = make_ns(Tagger).getByName("t")
    with pytest.raises(
        DurableObjectError, match=r"^a Hibernatable WebSocket cannot have more than 10 tags$"
    ):
        await stub.accept([str(i) for i in range(11)])
    with pytest.raises(
        DurableObjectError,
        match=r'^"x{257}" is longer than the max tag length \(256 characters\).$',
    ):
        await stub.accept(["x" * 257])
    await stub.accept(["y" * 256] * 10)


async def test_auto_response_does_not_wake_the_object(make_ns: MakeNamespace) -> None:
    ns = make_ns(Room)
    stub = ns.getByName("r")
    client = await connect(stub)
    await stub.set_auto()
    await client.send("ping")
    assert client.received == ["pong"] and Room.events == []
    with pytest.raises(ValueError, match=r"^Request cannot be larger than 2048 bytes."):
        WebSocketRequestResponsePair("x" * 2049, "y")


async def test_close_reaches_webSocketClose_and_the_socket_leaves(make_ns: MakeNamespace) -> None:
    stub = make_ns(Room).getByName("r")
    client = await connect(stub)
    result = client.ws._inject(CloseEvent(1000, "bye", True))
    if result is not None:
        await result
    assert Room.events == [("close", 1000, "bye", True)]
    assert await stub.tagged(None) == 0
    assert any(
        isinstance(e, CloseEvent) and e.code == 1000 for e in client.received
    )  # close echoed


async def test_disconnect_mid_conversation_is_a_1006_close(make_ns: MakeNamespace) -> None:
    stub = make_ns(Room).getByName("r")
    client = await connect(stub)
    await client.send("hello")
    result = client.ws._disconnect()
    if result is not None:
        await result
    assert Room.events[-1] == (
        "close",
        1006,
        "WebSocket disconnected without sending Close frame.",
        False,
    )
    assert await stub.tagged(None) == 0


async def test_idle_object_with_only_hibernatable_sockets_hibernates(
    make_ns: MakeNamespace, fake_clock: FakeClock, backend_url: str
) -> None:
    ns = make_ns(Room, backend_url)
    stub = ns.getByName("r")
    client = await connect(stub, "user=bo")
    await client.send("one")
    assert Room.built == 1
    fake_clock.advance(11)
    await settle(fake_clock)
    assert ns.live_instances == 0  # instance dropped; the socket is still open
    assert client.ws.readyState == WebSocket.READY_STATE_OPEN
    await client.send("two")
    assert Room.built == 2  # the constructor ran again
    await eventually(lambda: len(client.received) == 2)
    assert client.received[-1] == "bo:two:2"  # attachment and storage intact


async def test_plain_accepted_socket_keeps_the_object_in_memory(
    make_ns: MakeNamespace, fake_clock: FakeClock
) -> None:
    ns = make_ns(Room)
    client = await connect(ns.getByName("r"), "plain=1")
    await client.send("x")
    for _ in range(5):
        await asyncio.sleep(0)
    assert client.received == ["plain:x"]
    fake_clock.advance(60)
    await settle(fake_clock)
    assert ns.live_instances == 1


async def test_idle_objects_without_sockets_are_evicted(
    make_ns: MakeNamespace, fake_clock: FakeClock
) -> None:
    ns = make_ns(Room)
    for i in range(5):
        await ns.getByName(f"r{i}").tagged(None)
    assert ns.live_instances == 5
    fake_clock.advance(5)
    await settle(fake_clock)
    assert ns.live_instances == 5  # not idle long enough
    fake_clock.advance(6)
    await settle(fake_clock)
    assert ns.live_instances == 0 and Room.built == 5
    await ns.getByName("r0").tagged(None)
    assert Room.built == 6


async def test_error_reaches_webSocketError_and_the_socket_leaves(make_ns: MakeNamespace) -> None:
    stub = make_ns(Room).getByName("r")
    client = await connect(stub)
    result = client.ws._inject(ErrorEvent(ConnectionResetError("reset by peer")))
    if result is not None:
        await result
    assert Room.events == [("error", "reset by peer")]
    assert await stub.tagged(None) == 0


async def test_a_raising_message_handler_is_logged_and_the_socket_stays(
    make_ns: MakeNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    class Faulty(Room):
        async def webSocketMessage(self, ws: WebSocket, message: str | bytes) -> None:
            raise RuntimeError("handler bug")

    stub = make_ns(Faulty).getByName("f")
    client = await connect(stub)
    await client.send("x")
    assert "handler bug" in caplog.text
    assert await stub.tagged(None) == 1
