"""uvicorn's WebSocket protocol for an :class:`~.asgi.EdgeroomApp`: upgrades go straight to the Worker.

uvicorn parses the HTTP request (httptools) and, on ``Upgrade: websocket``, hands the connection
to the ``ws`` protocol class of its config. uvicorn's own classes turn the connection into ASGI:
a scope dict, a queue of event dicts, a task running the app, and a ``send`` coroutine per frame;
the app's :class:`~.bridge.SocketBridge` then turns those dicts back into WebSocket events. This
class skips both conversions for the app it serves (``edgeroom serve`` uses it; the ASGI path
stays for any other server):

* the handshake is checked here (RFC 6455 4.2.1: ``GET``, ``Sec-WebSocket-Key`` of 16 bytes,
  version 13), the Worker is asked (:meth:`EdgeroomApp.answer_upgrade`), and its answer is
  written: the 101 with its headers, or its plain HTTP response;
* frames are parsed by websockets' Sans-I/O protocol (masks, fragments, control frames, UTF-8,
  the size limit, the closing handshake) and each message goes to the Worker's end as an event;
  while the Worker is still taking one in (a Durable Object's gate may hold it), reading stops;
* a frame from the Worker is written to the transport at once, with no task switch; a broadcast
  (the same text to every member of a room) is framed once. Past ``outbound_limit`` bytes
  buffered for a client that does not read, it is closed with 1013;
* keepalive pings every ``ws_ping_interval`` seconds; no pong within ``ws_ping_timeout`` ends the
  connection (the Worker hears 1006).

With ``--ws-per-message-deflate`` the handshake is negotiated by websockets (permessage-deflate)
and frames are written through it, compressed. What the Worker and the client see is in
docs/runtime.md, "WebSockets".

A departure from the design's "ASGI adapter" (design.md): HTTP requests still go through ASGI,
but for WebSockets the ASGI conversions were a third of the server's CPU per join and most of its
memory per idle connection (docs/benchmarks.md), and the server is ours to choose under
``edgeroom serve``. The Worker-facing contract is the same either way.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import inspect
import logging
import os
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from websockets.datastructures import Headers as WSHeaders
from websockets.exceptions import ProtocolError
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Request as WSRequest
from websockets.protocol import CLOSING, OPEN
from websockets.server import ServerProtocol

from ..http import Response
from ..websocket import CloseEvent, ErrorEvent, MessageEvent, WebSocket
from .asgi import EdgeroomApp, Upgrade, encode_headers, new_request_id
from .bridge import (
    ABNORMAL_CLOSE_CODES,
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL_ERROR,
    CLOSE_SLOW_CONSUMER,
    await_handler,
)

__all__ = ["WorkerWebSocketProtocol", "MAX_HANDSHAKE_BYTES"]

log = logging.getLogger("edgeroom.runtime")
_frames_log = logging.getLogger("edgeroom.websocket")

#: The upgrade request uvicorn hands over (request line and headers) may be at most this long.
MAX_HANDSHAKE_BYTES = 64 * 1024
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CLOSE_SERVICE_RESTART = 1012
#: Seconds to wait for the client's answer to our close frame before dropping the connection.
CLOSE_TIMEOUT = 10.0
_TEXT, _BINARY = 0x81, 0x82  # FIN + opcode: a whole, unmasked, uncompressed server frame

_Buffer = bytes | bytearray | memoryview
#: The last text framed, with its frame: a room's broadcast sends one str to every member. One
#: tuple, so that servers on other threads (tests) never see a text with another's frame.
_last_framed: tuple[str, bytes] = ("", b"\x81\x00")


def _frame(first: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", first, 126, size) + payload
    return struct.pack("!BBQ", first, 127, size) + payload


def _text_frame(text: str) -> bytes:
    global _last_framed
    last = _last_framed
    if last[0] is text:
        return last[1]
    frame = _frame(_TEXT, _utf8(text))
    _last_framed = (text, frame)
    return frame


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8; a lone surrogate becomes U+FFFD, as JavaScript encodes it."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()


def _accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


class _BadHandshake(Exception):
    def __init__(
        self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    """The one value of header ``name`` (400 when it is missing or repeated)."""
    found = [value for key, value in headers if key == name]
    label = name.decode()
    if not found:
        raise _BadHandshake(400, f"Missing {label} header")
    if len(found) > 1:
        raise _BadHandshake(400, f"More than one {label} header")
    return found[0].decode("latin-1").strip()


def _check_key(key: str) -> None:
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise _BadHandshake(400, "Invalid Sec-WebSocket-Key header") from None
    if len(raw) != 16:
        raise _BadHandshake(400, "Invalid Sec-WebSocket-Key header")


def _parse_head(head: bytes) -> tuple[str, bytes, list[tuple[bytes, bytes]]]:
    """Method, target and headers (names lower-cased) of the request uvicorn re-serialized."""
    lines = head.split(b"\r\n")
    method, _, rest = lines[0].partition(b" ")
    target, _, version = rest.rpartition(b" ")
    if not target or not version.startswith(b"HTTP/"):
        raise _BadHandshake(400, "Invalid request line")
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name.strip():
            raise _BadHandshake(400, "Invalid header line")
        headers.append((name.strip().lower(), value.strip()))
    return method.decode("latin-1"), target, headers


def _http_response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    lines = [f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")]
    lines += [name + b": " + value + b"\r\n" for name, value in headers]
    lines.append(b"\r\n")
    return b"".join(lines) + body


class WorkerWebSocketProtocol(asyncio.Protocol):
    """One WebSocket connection between a client and an :class:`EdgeroomApp`'s Worker."""

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        app: EdgeroomApp,
        scope_filter: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.server_state = server_state
        self.loop = _loop or asyncio.get_running_loop()
        self._scope_filter = scope_filter
        self.transport: asyncio.Transport | None = None
        self.conn: ServerProtocol | None = None  # made once the handshake is valid
        self._compressed = False
        self._head = b""  # the upgrade request, until it is complete
        self._early: list[bytes] | None = None  # bytes that came while the Worker was asked
        self._corked: list[bytes] | None = None  # the 101 and the frames that join its write
        self._refused = False  # an HTTP answer was written instead of a 101
        self._write_paused = False  # the transport's buffer is over its high-water mark
        self._client: WebSocket | None = None
        self._request_id = ""
        self._answering: asyncio.Task[None] | None = None
        self._open = False  # the 101 was written
        self._close_sent = False
        self._told = False  # the Worker's end heard how the connection ended
        self._lost = False
        #: events from the client waiting behind a handler the Worker has not finished
        self._inbound: deque[Callable[[], Any]] | None = None
        self._fragments: bytearray | None = None
        self._fragments_text = False
        self._failed = False  # a text message was not UTF-8: closed with 1007
        self._closing_queued = False
        self._ping_timer: asyncio.TimerHandle | None = None
        self._pong_timer: asyncio.TimerHandle | None = None
        self._ping_payload: bytes | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._done: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[Any]] | None = None

    @classmethod
    def factory(cls, app: EdgeroomApp) -> Callable[..., WorkerWebSocketProtocol]:
        """What uvicorn's ``Config(ws=...)`` takes: makes one protocol per upgraded connection."""
        filters: dict[str, Any] = {}

        def make(config: Any, server_state: Any, app_state: dict[str, Any], **kwargs: Any) -> Any:
            if "scope_filter" not in filters:
                filters["scope_filter"] = _proxy_filter(config)
            return cls(
                config,
                server_state,
                app_state,
                app=app,
                scope_filter=filters["scope_filter"],
                **kwargs,
            )

        return make

    # -- asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server_state.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self._open:
            self._receive(data)
        elif self._refused:
            return  # the answer is written and the connection closing: nothing more is read
        elif self._answering is not None:
            # Frames sent before the 101 (RFC 6455 says to wait for it): this read is kept for
            # after it, and no more is read until then.
            if self._early is None:
                self._early = []
            self._early.append(data)
            if self.transport is not None:
                self.transport.pause_reading()
        else:
            self._read_handshake(data)

    def eof_received(self) -> bool | None:
        return None  # the transport closes; connection_lost tells the Worker

    def pause_writing(self) -> None:
        # Frames from the Worker stay in the transport's buffer (``outbound_limit`` bounds it);
        # reading stops too, so a client that does not read cannot make us queue pongs.
        self._write_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._resume_reading()

    def _resume_reading(self) -> None:
        """Read again, unless a handler, a full buffer or the handshake still holds reading."""
        transport = self.transport
        if (
            transport is None
            or self._lost
            or not self._open
            or self._inbound is not None
            or self._write_paused
            or transport.is_closing()
        ):
            return
        transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.server_state.connections.discard(self)
        self._stop_timers()
        if self._open:
            self._after_inbound(self._tell_worker, None)
        # (still answering: _accept sees the connection gone and tells the Worker itself)
        self._finish_if_idle()

    # -- the handshake -------------------------------------------------------------------------------
    def _read_handshake(self, data: bytes) -> None:
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > MAX_HANDSHAKE_BYTES:
                self._refuse(431, "Request header fields too large")
            return
        head, rest = self._head[:end], self._head[end + 4 :]
        self._head = b""
        if len(head) > MAX_HANDSHAKE_BYTES:
            self._refuse(431, "Request header fields too large")
            return
        try:
            method, target, headers = _parse_head(head)
            accept_headers = self._check(method, target, headers)
        except _BadHandshake as exc:
            self._refuse(exc.status, str(exc), exc.headers)
            return
        if rest:
            self._early = [rest]
        path, _, query = target.partition(b"?")
        scope: dict[str, Any] = {
            "type": "websocket",
            "scheme": "wss"
            if self.transport and self.transport.get_extra_info("sslcontext")
            else "ws",
            "method": method,
            "raw_path": path,
            "path": path.decode("latin-1"),
            "query_string": query,
            "headers": headers,
            "client": _address(self.transport, "peername"),
            "server": _address(self.transport, "sockname"),
        }
        self._answering = self.loop.create_task(self._answer(scope, accept_headers))
        self.server_state.tasks.add(self._answering)
        self._answering.add_done_callback(self.server_state.tasks.discard)

    def _check(
        self, method: str, target: bytes, headers: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """The handshake's own 101 headers, after checking the request (RFC 6455 4.2.1)."""
        if method != "GET":
            raise _BadHandshake(400, f"Unsupported HTTP method: {method[:20]}")
        version = _header(headers, b"sec-websocket-version")
        if version != "13":
            raise _BadHandshake(
                426, "Unsupported WebSocket version", (("Sec-WebSocket-Version", "13"),)
            )
        key = _header(headers, b"sec-websocket-key")
        _check_key(key)
        if self.config.ws_per_message_deflate and any(
            name == b"sec-websocket-extensions" for name, _ in headers
        ):
            return self._negotiate(target, headers)
        self.conn = ServerProtocol(state=OPEN, max_size=self.config.ws_max_size, logger=_frames_log)
        return [
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-accept", _accept_key(key).encode("ascii")),
        ]

    def _negotiate(
        self, target: bytes, headers: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """permessage-deflate: websockets checks the offer and answers it."""
        conn = ServerProtocol(
            extensions=[
                ServerPerMessageDeflateFactory(
                    server_max_window_bits=12,
                    client_max_window_bits=12,
                    compress_settings={"memLevel": 5},
                )
            ],
            max_size=self.config.ws_max_size,
            logger=_frames_log,
        )
        request = WSRequest(
            target.decode("latin-1"),
            WSHeaders([(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]),
        )
        response = conn.accept(request)
        if response.status_code != 101:
            text = response.body.decode(errors="replace").strip().rstrip(".")
            raise _BadHandshake(
                response.status_code, text.removeprefix("Failed to open a WebSocket connection: ")
            )
        # A protocol of the handshake is still waiting for the request's bytes: frames are
        # parsed by a new one, open from the start, with the extensions agreed on.
        framing = ServerProtocol(state=OPEN, max_size=self.config.ws_max_size, logger=_frames_log)
        framing.extensions = conn.extensions
        self.conn = framing
        self._compressed = bool(framing.extensions)
        return [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in response.headers.raw_items()
            if name.lower() != "date"
        ]

    def _refuse(self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        body = f"Failed to open a WebSocket connection: {message}.\n".encode()
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        self._write_http(status, [*extra, (b"content-type", b"text/plain; charset=utf-8")], body)

    def _write_http(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        assert self.transport is not None
        headers = [
            *self.server_state.default_headers,
            *headers,
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        self._refused = True
        if not self.transport.is_closing():
            self.transport.write(_http_response(status, headers, body))
            self._close_transport()

    async def _answer(
        self, scope: dict[str, Any], accept_headers: list[tuple[bytes, bytes]]
    ) -> None:
        """Ask the Worker; write its 101 (and open) or its refusal."""
        self._request_id = request_id = new_request_id()
        answer: Upgrade | Response | None = None
        try:
            if self._scope_filter is not None:
                scope = await self._scope_filter(scope)
            answer = await self.app.answer_upgrade(scope, request_id)
            if isinstance(answer, Response):
                await self._reject(answer, request_id)
            else:
                self._accept(answer, accept_headers)
        except Exception:
            log.exception("WebSocket upgrade failed", extra={"request_id": request_id})
            if not self._open:
                if answer is not None and not isinstance(answer, Response):
                    self._track(answer.client._disconnect())  # accepted, never opened: 1006
                self._write_http(
                    500,
                    [(b"content-type", b"text/plain; charset=utf-8")],
                    b"Internal Server Error",
                )
            else:  # the 101 is out: the connection is dropped and the Worker hears 1006
                if self.transport is not None:
                    self.transport.abort()
                self._after_inbound(self._tell_worker, None)
        finally:
            self._answering = None
            if not self._open:
                self._refused = True  # answered, failed or cancelled: nothing more is read
            self._finish_if_idle()

    async def _reject(self, response: Response, request_id: str) -> None:
        body = await response.bytes() if response.body is not None else b""
        headers = encode_headers(response, ("content-length", "transfer-encoding", "connection"))
        headers.append((b"x-request-id", request_id.encode()))
        self._write_http(response.status, headers, body)

    def _accept(self, answer: Upgrade, accept_headers: list[tuple[bytes, bytes]]) -> None:
        client = answer.client
        transport = self.transport
        if self._lost or transport is None or transport.is_closing():
            # The client left while the Worker was answering: its end hears 1006.
            self._client = client
            self._open = True
            self._track(self._tell_worker(None))
            return
        headers = [*self.server_state.default_headers, *accept_headers, *answer.headers]
        if answer.subprotocol:
            headers.append((b"sec-websocket-protocol", answer.subprotocol.encode("latin-1")))
        self._client = client
        self._open = True
        self.app._bridges.add(self)
        # The frames the Worker sent before the 101 (a welcome) go out in the same write.
        self._corked = [_http_response(101, headers, b"")]
        try:
            client._attach_transport(self._from_worker)
        finally:
            corked, self._corked = self._corked, None
            transport.write(b"".join(corked))
        self._start_keepalive()
        early, self._early = self._early, None
        for data in early or ():
            if self._lost:
                break
            self._receive(data)
        self._resume_reading()

    # -- frames from the client ----------------------------------------------------------------------
    def _receive(self, data: bytes) -> None:
        conn = self.conn
        assert conn is not None
        conn.receive_data(data)
        thunks: list[Callable[[], Any]] = []
        for event in conn.events_received():
            assert isinstance(event, Frame)
            thunk = self._on_frame(conn, event)
            if thunk is not None:
                thunks.append(thunk)
            if self._failed:
                break
        if not self._closing_queued and (
            conn.close_rcvd is not None or conn.parser_exc is not None or self._failed
        ):
            self._closing_queued = True
            thunks.append(self._closing_thunk(conn))
        out = conn.data_to_send()  # pongs, the answer to a close, the close after an error
        if out:
            self._write_out(out)
        if thunks:
            self._run_inbound(thunks)

    def _on_frame(self, conn: ServerProtocol, frame: Frame) -> Callable[[], Any] | None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if not frame.fin:
                self._fragments, self._fragments_text = bytearray(frame.data), opcode is Opcode.TEXT
                return None
            return self._message_thunk(conn, frame.data, opcode is Opcode.TEXT)
        if opcode is Opcode.CONT:
            if self._fragments is None:
                return None  # websockets refused it already (protocol error)
            self._fragments += frame.data
            if not frame.fin:
                return None
            data, self._fragments = bytes(self._fragments), None
            return self._message_thunk(conn, data, self._fragments_text)
        if (
            opcode is Opcode.PONG
            and self._ping_payload is not None
            and bytes(frame.data) == self._ping_payload
        ):
            self._ping_payload = None
            if self._pong_timer is not None:
                self._pong_timer.cancel()
                self._pong_timer = None
            self._schedule_ping()
        return None

    def _message_thunk(
        self, conn: ServerProtocol, data: _Buffer, text: bool
    ) -> Callable[[], Any] | None:
        payload: str | bytes
        if text:
            try:
                payload = str(data, "utf-8")
            except UnicodeDecodeError as exc:  # websockets leaves text frames to us
                conn.fail(1007, f"{exc.reason} at position {exc.start}")
                self._failed = True
                return None
        else:
            payload = bytes(data)
        client = self._client
        assert client is not None

        def deliver() -> Any:
            if self._told:
                return None
            return client._inject(MessageEvent(payload))

        return deliver

    def _closing_thunk(self, conn: ServerProtocol) -> Callable[[], Any]:
        received, sent = conn.close_rcvd, conn.close_sent
        event: CloseEvent | None
        if received is not None:  # a close frame came: a clean close, with or without a code
            event = CloseEvent(int(received.code), received.reason, True)
        elif sent is not None:  # the client broke the protocol: 1002, 1007, 1009
            event = CloseEvent(int(sent.code), sent.reason, True)
        else:
            event = None  # the stream ended mid-frame: 1006
        self._close_sent = True  # nothing goes out after the close websockets wrote
        self._stop_timers()

        def tell() -> Any:
            return self._tell_worker(event)

        return tell

    def _run_inbound(self, thunks: list[Callable[[], Any]]) -> None:
        if self._inbound is not None:  # a handler is still running: keep the order
            self._inbound.extend(thunks)
            return
        for index, thunk in enumerate(thunks):
            result = thunk()
            if result is not None and inspect.isawaitable(result):
                self._inbound = deque(thunks[index + 1 :])
                if self.transport is not None and not self._lost:
                    self.transport.pause_reading()
                self._track(self._drain(result))
                return

    async def _drain(self, first: Awaitable[Any]) -> None:
        """Await the Worker's handler, then the events that queued behind it; read again."""
        try:
            await await_handler(first)
            inbound = self._inbound
            while inbound:
                result = inbound.popleft()()
                if result is not None and inspect.isawaitable(result):
                    await await_handler(result)
        finally:
            self._inbound = None
            self._resume_reading()

    def _after_inbound(self, thunk: Callable[[Any], Any], arg: Any) -> None:
        self._run_inbound([lambda: thunk(arg)])

    def _tell_worker(self, event: CloseEvent | None) -> Any:
        """Tell the Worker's end once how the connection ended (``None``: it vanished, 1006)."""
        if self._told or self._client is None:
            return None
        self._told = True
        self.app._bridges.discard(self)
        if event is None:
            return self._client._disconnect()
        return self._client._inject(event)

    # -- frames from the Worker ------------------------------------------------------------------------
    def _from_worker(self, _ws: WebSocket, event: MessageEvent | CloseEvent | ErrorEvent) -> None:
        if self._close_sent or self._lost:
            return  # a close is already on its way: nothing more goes out after it
        transport = self.transport
        assert transport is not None
        if isinstance(event, MessageEvent):
            data = event.data
            if self._compressed:
                conn = self.conn
                assert conn is not None
                if isinstance(data, str):
                    conn.send_text(_utf8(data))
                else:
                    conn.send_binary(data)
                frame = b"".join(conn.data_to_send())
            else:
                frame = _text_frame(data) if isinstance(data, str) else _frame(_BINARY, data)
            if transport.get_write_buffer_size() + len(frame) > self.app.ws_outbound_limit:
                log.warning(
                    "closing slow WebSocket client",
                    extra={
                        "request_id": self._request_id,
                        "queued_bytes": transport.get_write_buffer_size(),
                    },
                )
                self._send_close(CLOSE_SLOW_CONSUMER, "client too slow: send buffer full")
                self._after_inbound(self._tell_worker, None)
                return
            if self._corked is not None:
                self._corked.append(frame)
            else:
                transport.write(frame)
        elif isinstance(event, CloseEvent):
            code = 1000 if event.code in ABNORMAL_CLOSE_CODES else event.code
            self._send_close(code, event.reason)
        else:
            self._send_close(CLOSE_INTERNAL_ERROR, "internal error")

    def _send_close(self, code: int, reason: str) -> None:
        conn = self.conn
        if self._close_sent or conn is None or conn.state is not OPEN:
            return
        self._close_sent = True
        self._stop_timers()
        try:
            conn.send_close(code, reason)
            data = conn.data_to_send()
        except ProtocolError:
            # A code Workers allows but websockets will not send (1016-2999, reserved by RFC
            # 6455): the frame is written as given, as workerd does.
            data = [_frame(0x88, struct.pack("!H", code) + reason.encode())]
            conn.close_sent, conn.state = Close(code, reason), CLOSING
        self._write_out(data)
        self._close_timer = self.loop.call_later(CLOSE_TIMEOUT, self._abort)

    def _write_out(self, data: list[bytes]) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._corked is not None:  # only a close can come before the 101 is written
            self._corked.append(b"".join(data))
            return
        transport.write(b"".join(data))
        if data[-1] == b"":  # websockets says: end of stream (after a close or an error)
            self._close_transport()

    def _close_transport(self) -> None:
        """Close once what is buffered is written; drop it if the client does not read it."""
        transport = self.transport
        if transport is None:
            return
        transport.close()
        if transport.get_write_buffer_size() and self._close_timer is None:
            self._close_timer = self.loop.call_later(CLOSE_TIMEOUT, self._abort)

    def _abort(self) -> None:
        self._close_timer = None
        if self.transport is not None:
            self.transport.abort()  # close() would wait for a client that does not read

    # -- keepalive --------------------------------------------------------------------------------------
    def _start_keepalive(self) -> None:
        if self.config.ws_ping_interval:
            self._schedule_ping()

    def _schedule_ping(self) -> None:
        if self._ping_timer is None and self.config.ws_ping_interval and not self._close_sent:
            self._ping_timer = self.loop.call_later(self.config.ws_ping_interval, self._ping)

    def _reading_held(self) -> bool:
        """Reading is paused (a full write buffer or a pending handler): a pong cannot be read."""
        return self._write_paused or self._inbound is not None

    def _ping(self) -> None:
        self._ping_timer = None
        conn = self.conn
        if self._close_sent or self._lost or conn is None or conn.state is not OPEN:
            return
        if self._reading_held():
            self._schedule_ping()  # no answer could be read: ask again later
            return
        self._ping_payload = os.urandom(4)
        conn.send_ping(self._ping_payload)
        self._write_out(conn.data_to_send())
        if self.config.ws_ping_timeout:
            self._pong_timer = self.loop.call_later(self.config.ws_ping_timeout, self._no_pong)
        else:
            self._schedule_ping()

    def _no_pong(self) -> None:
        self._pong_timer = None
        if self._close_sent or self._lost:
            return
        if self._reading_held():  # the pong may be waiting unread: wait for it longer
            self._pong_timer = self.loop.call_later(self.config.ws_ping_timeout, self._no_pong)
            return
        self._send_close(CLOSE_INTERNAL_ERROR, "keepalive ping timeout")
        if self.transport is not None:
            self.transport.abort()
        self._after_inbound(self._tell_worker, None)

    def _stop_timers(self) -> None:
        for name in ("_ping_timer", "_pong_timer"):
            timer = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)

    # -- server shutdown -------------------------------------------------------------------------------
    def close(self, code: int = CLOSE_GOING_AWAY, reason: str = "") -> None:
        """Close from the server side (graceful shutdown): the client and the Worker both learn it."""
        if self._close_sent or self._lost or not self._open:
            return
        self._send_close(code, reason)
        self._after_inbound(self._tell_worker, CloseEvent(code, reason, True))

    def shutdown(self) -> None:
        """uvicorn's last call on a connection it is shutting down."""
        if not self._open:
            if self.transport is not None:
                self.transport.close()
            return
        if not self._close_sent:
            self.close(_CLOSE_SERVICE_RESTART, "")
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if self.transport is not None:
            if self.transport.get_write_buffer_size():
                self.transport.abort()  # the server is stopping: no waiting for a slow reader
            else:
                self.transport.close()

    async def wait_done(self) -> None:
        """Return once the connection is over and the Worker has taken in everything it sent."""
        if self._is_done():
            return
        if self._done is None:
            self._done = self.loop.create_future()
        await asyncio.shield(self._done)

    def _is_done(self) -> bool:
        return self._lost and self._inbound is None and not self._tasks

    def _finish_if_idle(self) -> None:
        if self._close_timer is not None and self._lost:
            self._close_timer.cancel()
            self._close_timer = None
        if self._is_done() and self._done is not None and not self._done.done():
            self._done.set_result(None)

    def _track(self, result: Any) -> None:
        """Keep a handler's coroutine running to its end (errors are logged)."""
        if result is None or not inspect.isawaitable(result):
            return
        if self._tasks is None:
            self._tasks = set()
        task = asyncio.ensure_future(await_handler(result))
        self._tasks.add(task)

        def done(finished: asyncio.Future[Any]) -> None:
            assert self._tasks is not None
            self._tasks.discard(finished)  # type: ignore[arg-type]
            self._finish_if_idle()

        task.add_done_callback(done)


def _address(transport: asyncio.BaseTransport | None, which: str) -> tuple[str, int] | None:
    if transport is None:
        return None
    info = transport.get_extra_info(which)
    if isinstance(info, tuple) and len(info) >= 2:
        return str(info[0]), int(info[1])
    return None


def _proxy_filter(config: Any) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None:
    """uvicorn's ``--proxy-headers`` applied to a scope (who is connecting, and over what)."""
    if not config.proxy_headers:
        return None
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    async def capture(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    seen: list[Any] = []
    middleware = ProxyHeadersMiddleware(capture, trusted_hosts=config.forwarded_allow_ips)

    async def apply(scope: dict[str, Any]) -> dict[str, Any]:
        await middleware(scope, None, None)  # type: ignore[arg-type]
        filtered: dict[str, Any] = seen.pop()
        return filtered

    return apply
