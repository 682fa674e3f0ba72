"""uvicorn's direct WebSocket protocol (primitives/runtime/websocket_protocol.py).

The e2e suite (tests/e2e/test_websocket.py) runs every echo test through this protocol and
through ASGI; these tests cover what only this protocol does: its own handshake checks, frames
sent before the 101, one frame for a broadcast, proxy headers and the keepalive deadline.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode

from primitives import Request, Response, WebSocketPair, WorkerEntrypoint
from primitives.runtime import create_app, serve_in_thread, websocket_protocol as wsp
from primitives.runtime.websocket_protocol import WorkerWebSocketProtocol
from tests.e2e.conftest import ECHO_CONFIG

KEY = base64.b64encode(os.urandom(16)).decode()


def _request(path: str = "/ws", method: str = "GET", **headers: str) -> bytes:
    fields = {
        "host": "127.0.0.1",
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-key": KEY,
        "sec-websocket-version": "13",
        **{name.replace("_", "-"): value for name, value in headers.items()},
    }
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in fields.items() if v]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _masked_text(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes((0x81, 0x80 | len(payload))) + mask + masked


async def _exchange(url: str, raw: bytes, *, read: int = 4096) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(raw)
        await writer.drain()
        received = b""
        while len(received) < read:
            chunk = await asyncio.wait_for(reader.read(read), 5)
            if not chunk:
                break
            received += chunk
            if b"\r\n\r\n" in received and not received.startswith(b"HTTP/1.1 101"):
                break  # a refusal: the whole answer is in
            if received.startswith(b"HTTP/1.1 101") and received.split(b"\r\n\r\n", 1)[1]:
                break  # the 101 and the first frame after it
        return received
    finally:
        writer.close()


@pytest.fixture
def echo_url(tmp_path: Path) -> Any:
    with serve_in_thread(create_app(ECHO_CONFIG, data_dir=tmp_path)) as url:
        yield url


@pytest.mark.parametrize(
    ("request_bytes", "status", "text"),
    [
        (_request(method="POST"), 400, b"Unsupported HTTP method: POST"),
        (_request(sec_websocket_key=""), 400, b"Missing sec-websocket-key header"),
        (_request(sec_websocket_key="not base64!"), 400, b"Invalid Sec-WebSocket-Key header"),
        (_request(sec_websocket_key="c2hvcnQ="), 400, b"Invalid Sec-WebSocket-Key header"),
        (_request(sec_websocket_version="8"), 426, b"Unsupported WebSocket version"),
    ],
)
async def test_a_bad_handshake_is_refused_with_a_clear_status(
    echo_url: str, request_bytes: bytes, status: int, text: bytes
) -> None:
    answer = await _exchange(echo_url, request_bytes)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:80]
    assert text in answer
    if status == 426:
        assert b"sec-websocket-version: 13" in answer.lower()


async def test_the_101_carries_the_accept_key_and_the_request_id(echo_url: str) -> None:
    host, port = echo_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(_request())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        # (A frame sent in the same packet as the request would be dropped by uvicorn's HTTP
        # parser, which hands over the request alone; one that comes while the Worker is being
        # asked is kept: test_frames_that_come_before_the_101_go_to_the_worker_after_it.)
        writer.write(_masked_text("hello"))
        await writer.drain()
        echoed = await asyncio.wait_for(reader.readexactly(7), 5)
    finally:
        writer.close()
    lines = head.lower().split(b"\r\n")
    assert lines[0] == b"http/1.1 101 switching protocols"
    expected = wsp._accept_key(KEY).encode().lower()
    assert b"sec-websocket-accept: " + expected in lines
    assert any(line.startswith(b"x-request-id: ") for line in lines)
    assert echoed == b"\x81\x05hello"


async def test_a_fragmented_message_reaches_the_worker_whole(echo_url: str) -> None:
    async with connect("ws" + echo_url.removeprefix("http") + "/ws") as ws:
        await ws.send(["frag", "mented ", "text"])
        assert await ws.recv() == "fragmented text"
        await ws.send([b"\x00\x01", b"\x02"])
        assert await ws.recv() == b"\x00\x01\x02"


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 70000])
def test_server_frames_have_the_right_length_header(size: int) -> None:
    text = "x" * size
    frame = wsp._text_frame(text)
    parsed = _parse_frame(frame)
    assert (parsed.opcode, parsed.fin, bytes(parsed.data)) == (Opcode.TEXT, True, text.encode())
    binary = _parse_frame(wsp._frame(0x82, b"\x01" * size))
    assert (binary.opcode, bytes(binary.data)) == (Opcode.BINARY, b"\x01" * size)


def test_a_broadcast_is_framed_once_and_a_new_text_framed_again() -> None:
    text = "".join(["room", "-", "message"])  # a str built at run time, as a room's frames are
    first = wsp._text_frame(text)
    assert wsp._text_frame(text) is first  # the same str: the same frame object
    other = "".join(["room", "-", "messagf"])
    assert bytes(_parse_frame(wsp._text_frame(other)).data) == b"room-messagf"
    assert bytes(_parse_frame(wsp._text_frame(text)).data) == b"room-message"


def _parse_frame(frame: bytes) -> Frame:
    from websockets.streams import StreamReader

    reader = StreamReader()
    reader.feed_data(frame)
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        result: Frame = done.value
        return result
    raise AssertionError("incomplete frame")


class _WhoIsThere(WorkerEntrypoint):
    async def fetch(self, request: Request) -> Response:
        client, server = WebSocketPair()
        server.accept()
        server.send(request.headers.get("cf-connecting-ip") or "?")
        return Response(None, status=101, web_socket=client)


async def test_proxy_headers_say_who_is_connecting(tmp_path: Path) -> None:
    app = create_app(ECHO_CONFIG, data_dir=tmp_path, entrypoint=_WhoIsThere)
    url = "ws://{}/ws"
    with serve_in_thread(app, proxy_headers=True, forwarded_allow_ips="127.0.0.1") as base:
        target = url.format(base.removeprefix("http://"))
        async with connect(target, additional_headers={"x-forwarded-for": "203.0.113.7"}) as ws:
            assert await ws.recv() == "203.0.113.7"
        async with connect(target) as ws:
            assert await ws.recv() == "127.0.0.1"


# -- the protocol object alone: a fake transport, the loop's clock never waited on ---------------


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.writes = 0
        self.closed = False
        self.aborted = False
        self.buffered = 0  # what get_write_buffer_size() says
        self.reading = True

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "written after close"
        self.written += bytes(data)
        self.writes += 1

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8787)}.get(
            name, default
        )


def _connected(app: Any) -> tuple[WorkerWebSocketProtocol, _Transport, Any]:
    """A protocol for ``app`` on a fake transport, as uvicorn makes one for an upgrade."""
    config = SimpleNamespace(
        ws_per_message_deflate=False,
        ws_max_size=1024 * 1024,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        proxy_headers=False,
    )
    state = SimpleNamespace(connections=set(), tasks=set(), default_headers=[])
    protocol = WorkerWebSocketProtocol.factory(app)(config, state, {})
    transport = _Transport()
    protocol.connection_made(transport)
    return protocol, transport, state


async def _opened(
    tmp_path: Path, early: bytes = b"", entrypoint: type[Any] | None = None
) -> tuple[WorkerWebSocketProtocol, _Transport, Any]:
    app = create_app(ECHO_CONFIG, data_dir=tmp_path, entrypoint=entrypoint)
    protocol, transport, _ = _connected(app)
    protocol.data_received(_request())
    if early:
        protocol.data_received(early)  # while the Worker is still being asked
    assert protocol._answering is not None
    await protocol._answering
    assert transport.written.startswith(b"HTTP/1.1 101 ")
    transport.written = transport.written.partition(b"\r\n\r\n")[2]
    return (
        protocol,
        transport,
        getattr(sys.modules[app.entrypoint.__module__], "CLOSE_EVENTS", None),
    )


async def test_no_pong_in_time_closes_with_1011_and_the_worker_hears_1006(tmp_path: Path) -> None:
    protocol, transport, close_events = await _opened(tmp_path)
    close_events.clear()
    assert protocol._ping_timer is not None  # the first ping is due in ws_ping_interval
    protocol._ping()  # due now
    ping = _parse_frame(transport.written)
    assert ping.opcode is Opcode.PING and len(ping.data) == 4
    assert protocol._pong_timer is not None
    transport.written = b""
    protocol._no_pong()  # the pong deadline passed
    close = _parse_frame(transport.written)
    assert close.opcode is Opcode.CLOSE
    assert struct.unpack("!H", close.data[:2])[0] == 1011
    assert close.data[2:] == b"keepalive ping timeout"
    assert transport.closed
    protocol.connection_lost(None)
    await asyncio.wait_for(protocol.wait_done(), 5)
    assert close_events == [(1006, "WebSocket disconnected without sending Close frame.", False)]


async def test_frames_sent_before_the_101_share_its_write(tmp_path: Path) -> None:
    app = create_app(ECHO_CONFIG, data_dir=tmp_path, entrypoint=_WhoIsThere)
    protocol, transport, _ = _connected(app)
    protocol.data_received(_request())
    assert protocol._answering is not None
    await protocol._answering
    head, _, frame = transport.written.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    assert frame == b"\x81\x09127.0.0.1"  # the Worker's first frame, sent before its 101
    assert transport.writes == 1  # one write (one system call) for both
    protocol.connection_lost(None)


class _ClosesAtOnce(WorkerEntrypoint):
    async def fetch(self, request: Request) -> Response:
        client, server = WebSocketPair()
        server.accept()
        server.send("bye")
        server.close(4001, "go away")
        return Response(None, status=101, web_socket=client)


async def test_a_close_sent_before_the_101_follows_it(tmp_path: Path) -> None:
    protocol, transport, _ = await _opened(tmp_path, entrypoint=_ClosesAtOnce)
    text = _parse_frame(transport.written[:5])
    assert bytes(text.data) == b"bye"
    close = _parse_frame(transport.written[5:])
    assert close.opcode is Opcode.CLOSE
    assert struct.unpack("!H", close.data[:2])[0] == 4001 and close.data[2:] == b"go away"
    assert not transport.closed  # waiting for the client's close frame (or the close timeout)
    protocol.connection_lost(None)


async def test_frames_that_come_before_the_101_go_to_the_worker_after_it(
    tmp_path: Path,
) -> None:
    protocol, transport, _ = await _opened(tmp_path, early=_masked_text("early"))
    for _ in range(100):
        if transport.written:
            break
        await asyncio.sleep(0.01)
    assert transport.written == b"\x81\x05early"  # the echo, behind the 101
    protocol.connection_lost(None)


async def test_a_pong_in_time_keeps_the_connection(tmp_path: Path) -> None:
    protocol, transport, _ = await _opened(tmp_path)
    protocol._ping()
    payload = _parse_frame(transport.written).data
    mask = os.urandom(4)
    pong = bytes((0x8A, 0x80 | len(payload))) + mask
    pong += bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    protocol.data_received(pong)
    assert protocol._pong_timer is None and protocol._ping_timer is not None  # the next ping
    assert not transport.closed
    protocol.connection_lost(None)


async def test_a_client_gone_while_the_worker_answers_is_a_1006_for_the_worker(
    tmp_path: Path,
) -> None:
    app = create_app(ECHO_CONFIG, data_dir=tmp_path)
    close_events = sys.modules[app.entrypoint.__module__].CLOSE_EVENTS
    close_events.clear()
    protocol, transport, state = _connected(app)
    protocol.data_received(_request())
    protocol.connection_lost(ConnectionResetError())  # before the Worker answered
    assert protocol._answering is not None
    await protocol._answering
    assert transport.written == b""  # no 101 for a connection that is gone
    for _ in range(100):
        if close_events:
            break
        await asyncio.sleep(0.01)
    assert close_events == [(1006, "WebSocket disconnected without sending Close frame.", False)]
    assert not state.connections


# -- what the review of the first version found ----------------------------------------------------


class _ClosesWith(WorkerEntrypoint):
    """Closes with the code the first message names; refuses /refuse with a bad header."""

    async def fetch(self, request: Request) -> Response:
        if request.url.endswith("/refuse"):
            return Response("no", status=403, headers={"x-note": "caf\u00e9 \u2615"})
        client, server = WebSocketPair()
        server.accept()

        def on_message(event: Any) -> None:
            if event.data == "surrogate":
                server.send("a\ud800b")
            else:
                server.close(int(event.data), "closing")

        server.addEventListener("message", on_message)
        return Response(None, status=101, web_socket=client)


async def test_a_close_code_websockets_will_not_send_is_written_as_given(tmp_path: Path) -> None:
    protocol, transport, _ = await _opened(tmp_path, entrypoint=_ClosesWith)
    protocol.data_received(_masked_text("2000"))  # Workers allows 1016-2999; websockets does not
    await _written(transport)
    close = _parse_frame(transport.written)
    assert close.opcode is Opcode.CLOSE
    assert (struct.unpack("!H", close.data[:2])[0], close.data[2:]) == (2000, b"closing")
    assert protocol._close_timer is not None  # the client's answer is awaited, not forever
    protocol._abort()
    assert transport.aborted
    protocol.connection_lost(None)


async def test_a_lone_surrogate_goes_out_as_u_fffd(tmp_path: Path) -> None:
    protocol, transport, _ = await _opened(tmp_path, entrypoint=_ClosesWith)
    protocol.data_received(_masked_text("surrogate"))
    await _written(transport)
    assert bytes(_parse_frame(transport.written).data) == "a\ufffdb".encode()
    protocol.connection_lost(None)


async def test_a_refusal_that_cannot_be_written_is_a_500_not_a_hang(tmp_path: Path) -> None:
    app = create_app(ECHO_CONFIG, data_dir=tmp_path, entrypoint=_ClosesWith)
    protocol, transport, _ = _connected(app)
    protocol.data_received(_request("/refuse"))
    assert protocol._answering is not None
    await protocol._answering
    assert transport.written.startswith(b"HTTP/1.1 500 ")  # the header is not latin-1
    assert transport.closed
    protocol.data_received(_request())  # nothing more is read from a refused connection
    assert protocol._answering is None
    protocol.connection_lost(None)


async def test_a_client_that_does_not_read_cannot_pile_up_pongs(tmp_path: Path) -> None:
    protocol, transport, _ = await _opened(tmp_path)
    protocol.pause_writing()  # the transport's buffer passed its high-water mark
    assert not transport.reading  # so no more pings are read (each would queue a pong)
    protocol.resume_writing()
    assert transport.reading
    protocol.connection_lost(None)


async def test_frames_before_the_101_stop_reading_until_it_is_written(tmp_path: Path) -> None:
    app = create_app(ECHO_CONFIG, data_dir=tmp_path)
    protocol, transport, _ = _connected(app)
    protocol.data_received(_request())
    protocol.data_received(_masked_text("early"))
    assert not transport.reading  # one read is kept for the Worker, no more
    assert protocol._answering is not None
    await protocol._answering
    assert transport.reading
    protocol.connection_lost(None)


async def test_a_client_that_does_not_read_its_close_is_dropped(tmp_path: Path) -> None:
    protocol, transport, close_events = await _opened(tmp_path)
    transport.buffered = 1 << 20  # a megabyte the client never reads
    protocol.data_received(_masked_close(1000))  # its close: answered, then the stream ends
    assert transport.closed and not transport.aborted
    assert protocol._close_timer is not None  # close() waits for the buffer: not for ever
    protocol._abort()
    assert transport.aborted
    protocol.connection_lost(None)
    await asyncio.wait_for(protocol.wait_done(), 5)
    assert close_events[-1] == (1000, "", True)
    assert type(close_events[-1][0]) is int  # not websockets' CloseCode: it must clone


async def test_a_close_frame_without_a_code_is_a_clean_1005(tmp_path: Path) -> None:
    protocol, _, close_events = await _opened(tmp_path)
    close_events.clear()
    protocol.data_received(b"\x88\x80" + os.urandom(4))  # an empty (masked) close frame
    await asyncio.sleep(0)
    protocol.connection_lost(None)
    await asyncio.wait_for(protocol.wait_done(), 5)
    assert close_events == [(1005, "", True)]


async def _written(transport: _Transport) -> None:
    """Let the loop run until the Worker's listener (called soon after a message) has written."""
    for _ in range(100):
        if transport.written:
            return
        await asyncio.sleep(0)
    raise AssertionError("nothing was written")


def _masked_close(code: int) -> bytes:
    payload = struct.pack("!H", code)
    mask = os.urandom(4)
    return (
        bytes((0x88, 0x80 | len(payload)))
        + mask
        + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    )


# -- what the second review found -------------------------------------------------------------------

_BAD_HEADER_CLOSES: list[tuple[int, str, bool]] = []


class _Bad101Header(WorkerEntrypoint):
    """Accepts, then answers a 101 whose header no HTTP response can carry."""

    async def fetch(self, request: Request) -> Response:
        client, server = WebSocketPair()
        server.accept()
        server.addEventListener(
            "close", lambda e: _BAD_HEADER_CLOSES.append((e.code, e.reason, e.wasClean))
        )
        return Response(None, status=101, web_socket=client, headers={"x-note": "caf\u00e9 \u2615"})


async def test_a_101_that_cannot_be_written_is_a_500_and_a_1006_for_the_worker(
    tmp_path: Path,
) -> None:
    _BAD_HEADER_CLOSES.clear()
    app = create_app(ECHO_CONFIG, data_dir=tmp_path, entrypoint=_Bad101Header)
    protocol, transport, _ = _connected(app)
    protocol.data_received(_request())
    assert protocol._answering is not None
    await protocol._answering
    assert transport.written.startswith(b"HTTP/1.1 500 ") and transport.closed
    for _ in range(100):
        if _BAD_HEADER_CLOSES:
            break
        await asyncio.sleep(0)
    assert _BAD_HEADER_CLOSES == [
        (1006, "WebSocket disconnected without sending Close frame.", False)
    ]
    protocol.connection_lost(None)


async def test_a_lone_surrogate_goes_out_as_u_fffd_compressed_too(tmp_path: Path) -> None:
    app = create_app(ECHO_CONFIG, data_dir=tmp_path, entrypoint=_ClosesWith)
    with serve_in_thread(app, ws_per_message_deflate=True) as base:
        async with connect("ws" + base.removeprefix("http") + "/ws") as ws:
            assert ws.response is not None
            assert "permessage-deflate" in ws.response.headers["sec-websocket-extensions"]
            await ws.send("surrogate")
            assert await ws.recv() == "a\ufffdb"


async def test_no_keepalive_timeout_while_reading_is_held(tmp_path: Path) -> None:
    protocol, transport, _ = await _opened(tmp_path)
    protocol.pause_writing()  # the client does not read: neither do we, so no pong can be seen
    protocol._ping()
    assert transport.written == b"" and protocol._ping_timer is not None  # asked again later
    protocol.resume_writing()
    protocol._ping()
    assert _parse_frame(transport.written).opcode is Opcode.PING
    protocol.pause_writing()  # the pong may now be waiting unread
    protocol._no_pong()
    assert not transport.closed and protocol._pong_timer is not None  # waited for longer
    protocol.resume_writing()
    protocol._no_pong()  # reading again and still no pong: the keepalive fails
    assert transport.aborted
    protocol.connection_lost(None)
