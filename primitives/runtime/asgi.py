"""The ASGI adapter: every HTTP request and WebSocket upgrade becomes a ``Request`` to ``fetch``.

* Static assets (wrangler's ``[assets]``) are served first for GET/HEAD when a file matches, as
  Workers Static Assets does by default; everything else reaches the Worker.
* Request bodies stream into ``request.body``; a body past ``max_body_bytes`` gets 413, at once
  when ``Content-Length`` says so, otherwise as soon as the limit is crossed while streaming.
* A ``101`` response carrying ``web_socket=`` is bridged to the real socket (:mod:`.bridge`); any
  other response to an upgrade is sent as a plain HTTP response.
* A client never sees a stack trace: an unhandled error becomes a JSON 500 with a request id, and
  the error is logged as one JSON line with that id. Every response carries ``x-request-id``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol as TypingProtocol
from urllib.parse import parse_qsl

import orjson
from starlette.staticfiles import StaticFiles

from ..entrypoint import ExecutionContext, ScheduledController, WaitUntilTracker
from ..env import Env
from ..errors import BodyTooLarge
from ..http import Request, Response
from ..streams import ReadableStream
from ..websocket import WebSocket
from .bridge import CLOSE_GOING_AWAY, SocketBridge, await_handler
from .scheduler import CronScheduler

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_WS_OUTBOUND_LIMIT",
    "EdgeroomApp",
    "Upgrade",
    "as_asgi",
    "new_request_id",
]

log = logging.getLogger("edgeroom.runtime")
access_log = logging.getLogger("edgeroom.access")

#: Cloudflare's request body limit on the Free and Pro plans.
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024
#: Bytes queued for one slow WebSocket client before it is disconnected.
DEFAULT_WS_OUTBOUND_LIMIT = 16 * 1024 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "upgrade",
        "sec-websocket-accept",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
        "transfer-encoding",
        "content-length",
    }
)


class OpenSocket(TypingProtocol):
    """A WebSocket the server holds open for the Worker (closed with 1001 at shutdown)."""

    def close(self, code: int, reason: str) -> None: ...

    async def wait_done(self) -> None: ...


@dataclass(slots=True)
class Upgrade:
    """An upgrade the Worker accepted: its end of the socket and the 101's headers."""

    client: WebSocket
    headers: list[tuple[bytes, bytes]]  # the Worker's (hop-by-hop ones left out) and x-request-id
    subprotocol: str | None


class _ClientGone(Exception):
    """The HTTP client disconnected while its request body was being read."""


def encode_headers(response: Response, leave_out: Collection[str]) -> list[tuple[bytes, bytes]]:
    """``response``'s headers as ASGI and HTTP want them, but those in ``leave_out``
    (``UnicodeEncodeError`` when one is not Latin-1)."""
    return [
        (k.encode("latin-1"), v.encode("latin-1"))
        for k, v in response.headers.raw()
        if k not in leave_out
    ]


def new_request_id() -> str:
    return os.urandom(8).hex()  # secrets.token_hex(8), without its two layers of calls


def _json_body(
    status: int, payload: dict[str, Any], request_id: str
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = orjson.dumps(payload)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    return status, headers, body


class EdgeroomApp:
    """ASGI application serving one Worker entrypoint class with its ``env``."""

    def __init__(
        self,
        entrypoint: type[Any],
        env: Env,
        *,
        assets_dir: Path | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        ws_outbound_limit: int = DEFAULT_WS_OUTBOUND_LIMIT,
        shutdown_timeout: float = 5.0,
        test_scheduled: bool = False,
        crons: tuple[str, ...] = (),
    ) -> None:
        if not inspect.isclass(entrypoint) or not inspect.iscoroutinefunction(
            getattr(entrypoint, "fetch", None)
        ):
            raise TypeError(f"{entrypoint!r} must be a class with an async fetch(request) method")
        self.entrypoint: type[Any] = entrypoint
        self.env = env
        self.max_body_bytes = max_body_bytes
        self.ws_outbound_limit = ws_outbound_limit
        self.shutdown_timeout = shutdown_timeout
        self.test_scheduled = test_scheduled
        self.wait_until = WaitUntilTracker()
        #: open sockets (ASGI bridges and direct connections) that shutdown must close
        self._bridges: set[OpenSocket] = set()
        self._closing = False
        self._closed = False
        self._static = (
            StaticFiles(directory=assets_dir, html=True)
            if assets_dir and assets_dir.is_dir()
            else None
        )
        if crons and not inspect.iscoroutinefunction(getattr(entrypoint, "scheduled", None)):
            raise TypeError(
                f"wrangler.toml declares cron triggers but {entrypoint.__name__} has no async scheduled()"
            )
        self.scheduler = CronScheduler(crons, self.run_scheduled, env.clock)

    # -- ASGI entry ----------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    def _context(self) -> ExecutionContext:
        return ExecutionContext(self.wait_until)

    # -- lifecycle ----------------------------------------------------------------------------------
    async def startup(self) -> None:
        """Start bindings that run background work (alarms) and the cron scheduler."""
        for binding in self.env.bindings().values():
            start = getattr(binding, "start", None)
            if start is not None and inspect.iscoroutinefunction(start):
                await start()
        self.scheduler.start()

    async def close_websockets(
        self, code: int = CLOSE_GOING_AWAY, reason: str = "server shutting down"
    ) -> None:
        """Close every bridged socket with ``code`` and wait (bounded) until they are done."""
        self._closing = True
        bridges = list(self._bridges)
        for bridge in bridges:
            bridge.close(code, reason)
        if bridges:
            await asyncio.wait(
                [asyncio.ensure_future(b.wait_done()) for b in bridges],
                timeout=self.shutdown_timeout,
            )

    async def shutdown(self) -> None:
        """Close sockets, stop the scheduler, finish waitUntil work, flush and close storage."""
        if self._closed:
            return
        self._closed = True
        await self.close_websockets()
        await self.scheduler.stop()
        await self.wait_until.drain(self.shutdown_timeout)
        await self.env.aclose()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.shutdown()
                except Exception as exc:
                    log.exception("shutdown failed")
                    await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- calling the Worker ----------------------------------------------------------------------
    async def _call_fetch(self, request: Request, request_id: str) -> Response:
        try:
            instance = self.entrypoint(self._context(), self.env)
            response: Any = await instance.fetch(request)
        except BodyTooLarge as exc:
            return Response.json({"error": str(exc)}, status=413)
        except _ClientGone:
            raise
        except Exception:
            log.exception(
                "unhandled error in fetch", extra={"request_id": request_id, "path": request.path}
            )
            return Response.json({"error": "internal error", "request_id": request_id}, status=500)
        if not isinstance(response, Response):
            log.error(
                "fetch() must return a Response",
                extra={"request_id": request_id, "returned": type(response).__name__},
            )
            return Response.json({"error": "internal error", "request_id": request_id}, status=500)
        return response

    async def run_scheduled(self, cron: str, scheduled_time_ms: int) -> bool:
        """Run ``scheduled(controller)`` once; returns False (and logs) if it raised."""
        ctx = self._context()
        instance = self.entrypoint(ctx, self.env)
        controller = ScheduledController(cron, scheduled_time_ms)
        handler = instance.scheduled
        try:
            if len(inspect.signature(handler).parameters) >= 3:
                await handler(controller, self.env, ctx)
            else:
                await handler(controller)
        except Exception:
            log.exception(
                "scheduled() failed", extra={"cron": cron, "scheduled_time": scheduled_time_ms}
            )
            return False
        return True

    # -- HTTP ---------------------------------------------------------------------------------------
    def _build_request(self, scope: Scope, receive: Receive | None) -> Request:
        headers: list[tuple[str, str]] = []
        host: str | None = None
        for raw_name, raw_value in scope["headers"]:  # one pass: this runs for every request
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            if name == "cf-connecting-ip":
                continue  # only the server may say who is connecting (below)
            if host is None and name == "host":
                host = value
            headers.append((name, value))
        host = host or _server_host(scope)
        scheme = {"ws": "http", "wss": "https"}.get(
            scope.get("scheme", "http"), scope.get("scheme", "http")
        )
        query = scope.get("query_string", b"").decode("latin-1")
        path = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
        if "?" in path:
            path = path.split("?", 1)[0]
        url = f"{scheme}://{host}{path}" + (f"?{query}" if query else "")
        client = scope.get("client")
        if client:
            headers.append(("cf-connecting-ip", client[0]))
        method = scope.get("method", "GET")
        body = None
        if receive is not None and method not in ("GET", "HEAD"):
            body = ReadableStream(self._read_body(receive), _content_length(scope))
        return Request(url, method, headers, body)

    async def _read_body(self, receive: Receive) -> Any:
        received = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone()
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_bytes:
                raise BodyTooLarge(self.max_body_bytes, received)
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        started = time.perf_counter()
        method = scope.get("method", "GET")
        status = 0
        try:
            if self._static is not None and method in ("GET", "HEAD") and self._asset_exists(scope):
                status = await self._serve_asset(scope, receive, send, request_id)
                return
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                status = await self._send_plain(
                    send,
                    *_json_body(
                        413, {"error": str(BodyTooLarge(self.max_body_bytes, declared))}, request_id
                    ),
                )
                return
            if self.test_scheduled and scope["path"] == "/__scheduled":
                status = await self._trigger_scheduled(scope, send, request_id)
                return
            request = self._build_request(scope, receive)
            response = await self._call_fetch(request, request_id)
            status = response.status
            await self._send_response(send, response, request_id, head=method == "HEAD")
        except _ClientGone:
            status = 499
        finally:
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": method,
                    "path": scope.get("path"),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )

    async def _send_plain(
        self, send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> int:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return status

    async def _send_response(
        self, send: Send, response: Response, request_id: str, *, head: bool
    ) -> None:
        try:
            headers = encode_headers(
                response, ("content-length", "transfer-encoding", "x-request-id")
            )
        except UnicodeEncodeError:
            log.error("response header is not latin-1", extra={"request_id": request_id})
            await self._send_plain(
                send,
                *_json_body(500, {"error": "internal error", "request_id": request_id}, request_id),
            )
            return
        headers.append((b"x-request-id", request_id.encode()))
        stream = response.body
        buffered = response._buffer
        if stream is None:
            buffered = b""
        elif buffered is None and stream.length is not None:
            headers.append((b"content-length", str(stream.length).encode()))
        if buffered is not None:
            headers.append((b"content-length", str(len(buffered)).encode()))
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": b"" if head else buffered})
            return
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if head or stream is None:
            await send({"type": "http.response.body", "body": b""})
            return
        try:
            async for chunk in stream:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except Exception:
            log.exception("response body stream failed", extra={"request_id": request_id})
            raise  # the connection is dropped so the client cannot mistake a cut body for a whole one
        await send({"type": "http.response.body", "body": b""})

    def _asset_exists(self, scope: Scope) -> bool:
        assert self._static is not None
        path = scope["path"]
        if path.endswith("/"):
            path += "index.html"
        full_path, stat_result = self._static.lookup_path(path.lstrip("/"))
        return stat_result is not None and bool(full_path)

    async def _serve_asset(
        self, scope: Scope, receive: Receive, send: Send, request_id: str
    ) -> int:
        assert self._static is not None
        status = 200

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        await self._static(dict(scope), receive, send_with_id)
        return status

    async def _trigger_scheduled(self, scope: Scope, send: Send, request_id: str) -> int:
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        cron = query.get("cron", "")
        when = int(query.get("time") or self.env.clock.now_ms())
        ok = await self.run_scheduled(cron, when)
        body = b"Ran scheduled event" if ok else b"scheduled event failed"
        headers = [
            (b"content-type", b"text/plain;charset=UTF-8"),
            (b"x-request-id", request_id.encode()),
        ]
        return await self._send_plain(send, 200 if ok else 500, headers, body)

    # -- WebSocket ----------------------------------------------------------------------------------
    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        client = await self._upgrade(scope, receive, send, request_id)
        if client is None:
            return
        bridge = SocketBridge(
            client, receive, send, request_id=request_id, outbound_limit=self.ws_outbound_limit
        )
        self._bridges.add(bridge)
        try:
            await bridge.run()
        finally:
            self._bridges.discard(bridge)

    async def _upgrade(
        self, scope: Scope, receive: Receive, send: Send, request_id: str
    ) -> WebSocket | None:
        """Ask the Worker; accept with its headers and return its client end, or reject.

        A function of its own so that the request and response are freed once the socket is
        open, instead of living as long as the connection in the frame that bridges it.
        """
        first = await receive()
        if first["type"] != "websocket.connect":
            return None
        if self._closing:
            await send({"type": "websocket.close", "code": CLOSE_GOING_AWAY})
            return None
        answer = await self.answer_upgrade(scope, request_id)
        if isinstance(answer, Response):
            await self._reject_upgrade(scope, send, answer, request_id)
            return None
        client = answer.client
        accept: Message = {"type": "websocket.accept", "headers": answer.headers}
        if answer.subprotocol:
            accept["subprotocol"] = answer.subprotocol
        try:
            await send(accept)
        except BaseException as exc:  # the client left (or we were cancelled) mid-handshake
            result = client._disconnect()  # the Worker's end hears 1006
            if not isinstance(exc, Exception):
                if inspect.isawaitable(result):
                    self.wait_until.add(result)  # kept and drained at shutdown
                raise
            await await_handler(result)
            return None
        return client

    async def answer_upgrade(self, scope: Scope, request_id: str) -> Upgrade | Response:
        """The Worker's answer to a WebSocket upgrade: what to accept with, or its refusal.

        Shared by the ASGI path and uvicorn's direct protocol (:mod:`.websocket_protocol`).
        """
        if self._closing:
            return Response("server shutting down", status=503)
        request = self._build_request(scope, None)
        response = await self._call_fetch(request, request_id)
        client = response.webSocket
        if response.status != 101 or client is None:
            return response
        protocol = response.headers.get("sec-websocket-protocol") or None
        try:
            headers = encode_headers(response, _HOP_BY_HOP)
            if protocol is not None:
                protocol.encode("latin-1")
        except UnicodeEncodeError:
            # The Worker accepted a socket that no 101 can carry: its end hears 1006.
            log.error("WebSocket 101 header is not latin-1", extra={"request_id": request_id})
            result = client._disconnect()
            if inspect.isawaitable(result):
                self.wait_until.add(result)
            return Response.json({"error": "internal error", "request_id": request_id}, status=500)
        headers.append((b"x-request-id", request_id.encode()))
        return Upgrade(client, headers, protocol)

    async def _reject_upgrade(
        self, scope: Scope, send: Send, response: Response, request_id: str
    ) -> None:
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008})
            return
        body = await response.bytes() if response.body is not None else b""
        headers = encode_headers(response, ("content-length", "transfer-encoding"))
        headers += [
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
        ]
        await send(
            {"type": "websocket.http.response.start", "status": response.status, "headers": headers}
        )
        await send({"type": "websocket.http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _server_host(scope: Scope) -> str:
    server = scope.get("server")
    if not server:
        return "localhost"
    host, port = server[0], server[1]
    return f"{host}:{port}" if port not in (80, 443, None) else str(host)


def as_asgi(entrypoint: type[Any], env: Env, **options: Any) -> EdgeroomApp:
    """Wrap a Worker entrypoint class and its ``env`` as an ASGI application."""
    return EdgeroomApp(entrypoint, env, **options)
