"""Adapters classify the frames each server really writes (made with the servers' own encoders)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from engineio import packet as engineio_packet
from socketio import packet as socketio_packet

from app import _json
from app.chat.protocol import Hello, ProtocolError, encode, error_frame, parse_hello_param
from app.chat.stream import StreamEvent
from app.rooms.frame_batcher import batch_messages
from bench.chatload.adapters import (
    EdgeroomAdapter,
    Kind,
    RawAdapter,
    SocketioAdapter,
)
from bench.chatload.payload import encode as payload, encode_nonce


def test_edgeroom_frames() -> None:
    adapter = EdgeroomAdapter()
    conversation = adapter.conversation("lobby")
    assert conversation.opening() == []  # the hello rides on the upgrade: the server checks it
    url = urlsplit(adapter.url("ws://127.0.0.1:1", "lobby"))
    assert url.path == "/api/rooms/lobby/ws"
    assert parse_hello_param(parse_qs(url.query)["hello"][0]) == Hello(None, "load", batch=True)
    text, nonce = payload(0, 7, 3, 123), encode_nonce(0, 7, 3, 123)
    assert _json.loads(conversation.message(text, nonce)) == {
        "type": "chat.send",
        "nonce": nonce,
        "text": text,
    }
    event = StreamEvent(seq=1, kind="message", user="g_1", name="n", ts=1, nonce=nonce, text=text)
    message = _json.dumps(event.to_wire("e1"))
    assert conversation.feed(message)[:2] == (Kind.MESSAGE, text)
    ack = encode("chat.ack", nonce=nonce, seq=1, id="e1.1", duplicate=False)
    assert conversation.feed(ack)[:2] == (Kind.ACK, nonce)
    welcome = encode("welcome", room="lobby", epoch="e1", seq=0, events=[])
    assert conversation.feed(welcome).kind is Kind.READY
    refused = error_frame(ProtocolError("rate_limited", "slow down", nonce=nonce), retry_after=1)
    assert conversation.feed(refused)[:2] == (Kind.ERROR, f"rate_limited|{nonce}")
    presence = encode("presence.join", user="g_2", name="m", devices=1)
    assert conversation.feed(presence).kind is Kind.OTHER
    assert conversation.feed(b"\x00").kind is Kind.OTHER
    assert conversation.feed(message).events() == (conversation.feed(message),)
    [batch] = batch_messages([ack, message, presence, refused])
    received = conversation.feed(batch)
    assert received.kind is Kind.BATCH
    assert [e[:2] for e in received.events()] == [
        (Kind.ACK, nonce),
        (Kind.MESSAGE, text),
        (Kind.OTHER, None),
        (Kind.ERROR, f"rate_limited|{nonce}"),
    ]


def test_raw_frames() -> None:
    conversation = RawAdapter().conversation("r")
    assert RawAdapter().url("ws://127.0.0.1:1", "r") == "ws://127.0.0.1:1/r"
    assert conversation.feed("welcome").kind is Kind.READY
    assert conversation.message("0|1|2|3", "n") == "0|1|2|3"
    assert conversation.feed("0|1|2|3")[:2] == (Kind.MESSAGE, "0|1|2|3")


def _socketio(data: list[object]) -> str:
    inner = socketio_packet.Packet(socketio_packet.EVENT, data=data).encode()
    return str(engineio_packet.Packet(engineio_packet.MESSAGE, inner).encode())


def test_socketio_handshake_ping_and_messages() -> None:
    conversation = SocketioAdapter().conversation("room-1")
    assert conversation.feed('0{"sid":"x","pingInterval":25000}').reply == "40"
    assert conversation.feed('40{"sid":"y"}').reply == '42["join","room-1"]'
    assert conversation.feed(_socketio(["joined", "room-1"])).kind is Kind.READY
    ping = engineio_packet.Packet(engineio_packet.PING).encode()
    assert conversation.feed(ping).reply == "3"
    text = payload(1, 2, 3, 4)
    assert conversation.message(text, "n") == _socketio(["chat", text])
    assert conversation.feed(_socketio(["chat", text]))[:2] == (Kind.MESSAGE, text)
