"""WebSocketPair / WebSocket: the state machine and workerd's error texts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from primitives import Response, WebSocketPair
from primitives.websocket import (
    CloseEvent,
    MessageEvent,
    WebSocket,
    WebSocketAttachmentTooLarge,
    WebSocketMisuse,
    WebSocketState,
)

MUST_ACCEPT = "You must call one of accept() or state.acceptWebSocket() on this WebSocket before sending messages."


def collect(ws: WebSocket) -> list[Any]:
    events: list[Any] = []
    ws.addEventListener("message", lambda e: events.append(("message", e.data)))
    ws.addEventListener("close", lambda e: events.append(("close", e.code, e.reason, e.wasClean)))
    return events


def test_pair_unpacks_as_client_and_server() -> None:
    pair = WebSocketPair()
    client, server = pair
    assert pair[0] is client and pair[1] is server and len(pair) == 2
    assert isinstance(WebSocketPair.new(), WebSocketPair)


def test_send_before_accept_raises_naming_the_state() -> None:
    _client, server = WebSocketPair()
    with pytest.raises(WebSocketMisuse) as info:
        server.send("x")
    assert str(info.value) == MUST_ACCEPT
    assert isinstance(info.value, TypeError)
    assert info.value.state is WebSocketState.AWAITING_ACCEPT
    assert "WebSocket state: awaiting accept" in info.value.__notes__


async def test_send_after_close_raises() -> None:
    client, server = WebSocketPair()
    server.accept()
    client.accept()
    server.close(1000, "done")
    with pytest.raises(
        WebSocketMisuse, match=r"Can't call WebSocket send\(\) after close\(\)\."
    ) as info:
        server.send("late")
    assert info.value.state is WebSocketState.ACCEPTED


async def test_messages_flow_both_ways_in_order_after_accept() -> None:
    client, server = WebSocketPair()
    server.accept()
    client.accept()
    got_server, got_client = collect(server), collect(client)
    client.send("one")
    client.send(b"two")
    server.send(memoryview(b"three"))
    assert got_server == []  # dispatched after the sender's call returns, never re-entrantly
    await asyncio.sleep(0)
    assert got_server == [("message", "one"), ("message", b"two")]
    assert got_client == [("message", b"three")]


async def test_messages_sent_before_accept_wait_for_it() -> None:
    client, server = WebSocketPair()
    client.accept()
    client.send("early")
    events = collect(server)
    await asyncio.sleep(0)
    assert events == []
    server.accept()
    await asyncio.sleep(0)
    assert events == [("message", "early")]


async def test_close_handshake_and_ready_states() -> None:
    client, server = WebSocketPair()
    server.accept()
    client.accept()
    client_events = collect(client)
    assert server.readyState == WebSocket.READY_STATE_OPEN
    server.close(4001, "bye")
    assert server.readyState == WebSocket.READY_STATE_CLOSING
    await asyncio.sleep(0)
    assert client_events == [("close", 4001, "bye", True)]
    assert client.readyState == WebSocket.READY_STATE_CLOSING
    client.close(4001, "bye")
    assert client.readyState == WebSocket.READY_STATE_CLOSED
    await asyncio.sleep(0)
    assert server.readyState == WebSocket.READY_STATE_CLOSED
    server.close()  # a second close does nothing, as on Workers


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 5000])
def test_invalid_close_codes_are_refused(code: int) -> None:
    _client, server = WebSocketPair()
    server.accept()
    with pytest.raises(TypeError, match=f"Invalid WebSocket close code: {code}."):
        server.close(code)


def test_close_reason_needs_a_code_and_fits_a_frame() -> None:
    _client, server = WebSocketPair()
    server.accept()
    with pytest.raises(
        TypeError, match=r"If you specify a WebSocket close reason, you must also specify a code\."
    ):
        server.close(None, "why")
    with pytest.raises(TypeError, match="at most 123 bytes"):
        server.close(1000, "é" * 62)


def test_send_rejects_other_types() -> None:
    _client, server = WebSocketPair()
    server.accept()
    with pytest.raises(TypeError, match="takes str or bytes, not dict"):
        server.send({"a": 1})  # type: ignore[arg-type]


def test_returning_an_accepted_end_in_a_response_is_refused() -> None:
    client, _server = WebSocketPair()
    client.accept()
    with pytest.raises(
        WebSocketMisuse, match=r"Can't return WebSocket in a Response after calling accept\(\)\."
    ):
        Response(None, status=101, web_socket=client)


def test_a_released_end_cannot_be_accepted_or_reused() -> None:
    client, _server = WebSocketPair()
    Response(None, status=101, web_socket=client)
    with pytest.raises(WebSocketMisuse, match="already used in a response"):
        client.accept()
    with pytest.raises(
        WebSocketMisuse, match=r"Can't return WebSocket that was already used in a response\."
    ):
        Response(None, status=101, web_socket=client)
    client.send("ignored")  # sends on a handed-on end are dropped, as workerd does


def test_accept_twice_is_allowed_but_not_after_hibernation() -> None:
    client, server = WebSocketPair()
    server.accept()
    server.accept()
    client._accept_hibernatable(lambda ws, event: None)
    with pytest.raises(
        WebSocketMisuse, match=r"Can't accept\(\) WebSocket after enabling hibernation\."
    ):
        client.accept()


async def test_hibernatable_end_routes_events_to_its_receiver() -> None:
    client, server = WebSocketPair()
    received: list[Any] = []
    server._accept_hibernatable(lambda ws, event: received.append((ws, event)))
    client.accept()
    client.send("hi")
    client.close(1000, "")
    assert [type(e) for _, e in received] == [MessageEvent, CloseEvent]
    assert received[0][0] is server and received[0][1].data == "hi"


async def test_transport_disconnect_reports_1006_and_later_sends_are_dropped() -> None:
    client, server = WebSocketPair()
    server.accept()
    events = collect(server)
    Response(None, status=101, web_socket=client)
    client._attach_transport(lambda ws, event: None)
    client._disconnect()
    await asyncio.sleep(0)
    assert events == [("close", 1006, "WebSocket disconnected without sending Close frame.", False)]
    server.send("nobody listens")  # silently dropped, as workerd does once the peer is gone


async def test_async_listeners_run_as_tasks() -> None:
    client, server = WebSocketPair()
    server.accept()
    client.accept()
    seen = asyncio.Event()

    async def on_message(event: Any) -> None:
        await asyncio.sleep(0)
        seen.set()

    server.addEventListener("message", on_message)
    client.send("x")
    await asyncio.wait_for(seen.wait(), 1)


def test_attachments_round_trip_and_are_limited_to_16_kib() -> None:
    _client, server = WebSocketPair()
    assert server.deserializeAttachment() is None
    server.serializeAttachment({"user": "ann", "n": [1, 2]})
    assert server.deserializeAttachment() == {"user": "ann", "n": [1, 2]}
    with pytest.raises(WebSocketAttachmentTooLarge) as info:
        server.serializeAttachment("x" * 20000)
    assert str(info.value).startswith(
        "A WebSocket 'attachment' cannot be larger than 16384 bytes.'attachment' was "
    )
    assert server.deserializeAttachment() == {"user": "ann", "n": [1, 2]}
    with pytest.raises(TypeError, match="Could not serialize object of type"):
        server.serializeAttachment(object())


def test_unknown_event_type_is_refused() -> None:
    _client, server = WebSocketPair()
    with pytest.raises(ValueError, match="unknown WebSocket event type"):
        server.addEventListener("mesage", print)
