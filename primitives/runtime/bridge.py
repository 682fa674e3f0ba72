"""Couple the ``client`` end of a ``WebSocketPair`` to a real ASGI WebSocket, both directions.

Inbound, each frame is handed to the Worker's end and the bridge waits until it has been taken
in (a Durable Object's gate may hold it) before reading the next one; uvicorn stops reading the
socket once its own small queue fills, so a slow Worker slows its client, not the server's memory.
Outbound, ``ws.send()`` is synchronous (as on Workers), so frames queue here; past
``outbound_limit`` bytes the client is too slow to keep and the socket is closed with 1013
("try again later") rather than letting memory grow without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from typing import Any

from ..websocket import CloseEvent, ErrorEvent, MessageEvent, WebSocket

__all__ = ["CLOSE_GOING_AWAY", "CLOSE_SLOW_CONSUMER", "SocketBridge"]

log = logging.getLogger("edgeroom.runtime")

CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SLOW_CONSUMER = 1013
#: Close codes that never travel in a close frame; they say the connection ended abnormally.
_ABNORMAL = frozenset({1005, 1006, 1015})

ASGIReceive = Any
ASGISend = Any


class SocketBridge:
    """Pumps frames between a Worker's WebSocket end and one ASGI connection."""

    def __init__(
        self,
        client: WebSocket,
        receive: ASGIReceive,
        send: ASGISend,
        *,
        request_id: str,
        outbound_limit: int,
    ) -> None:
        self._client = client
        self._receive = receive
        self._send = send
        self._request_id = request_id
        self._outbound_limit = outbound_limit
        self._queue: asyncio.Queue[MessageEvent | CloseEvent | None] = asyncio.Queue()
        self._queued_bytes = 0
        self._closing = False
        self._disconnected = False
        self._worker_told_closed = False
        self._closing_task: asyncio.Future[None] | None = None
        self.done = asyncio.Event()

    # -- events from the Worker's end, travelling to the network ---------------------------------
    def _from_worker(self, _ws: WebSocket, event: MessageEvent | CloseEvent | ErrorEvent) -> None:
        if self._closing or self._disconnected:
            return  # a close is already on its way: nothing more goes out after it
        if isinstance(event, CloseEvent):
            self._queue_close(event)
        elif isinstance(event, ErrorEvent):
            self._queue_close(CloseEvent(CLOSE_INTERNAL_ERROR, "internal error"))
        elif self._queued_bytes + len(event.data) > self._outbound_limit:
            log.warning(
                "closing slow WebSocket client",
                extra={"request_id": self._request_id, "queued_bytes": self._queued_bytes},
            )
            self._drop_queue()
            self._queue_close(CloseEvent(CLOSE_SLOW_CONSUMER, "client too slow: send buffer full"))
            self._tell_worker(None)
        else:
            self._queued_bytes += len(event.data)
            self._queue.put_nowait(event)

    def _queue_close(self, event: CloseEvent) -> None:
        self._closing = True
        self._queue.put_nowait(event)

    def _drop_queue(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queued_bytes = 0

    def _tell_worker(self, event: CloseEvent | None) -> Any:
        """Tell the Worker's end once that the connection is over (``None``: it vanished, 1006)."""
        if self._worker_told_closed:
            return None
        self._worker_told_closed = True
        if event is None:
            return self._client._disconnect()
        return self._client._inject(event)

    # -- the two pumps ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Pump until the connection ends; returns when both directions are finished."""
        self._client._attach_transport(self._from_worker)
        writer = asyncio.create_task(self._write_loop())
        try:
            await self._read_loop()
        except Exception:
            log.exception("WebSocket bridge failed", extra={"request_id": self._request_id})
            await self._await(self._tell_worker(None))
        finally:
            self._disconnected = True
            self._queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self.done.set()

    async def _read_loop(self) -> None:
        while True:
            message = await self._receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                data: str | bytes = text if text is not None else (message.get("bytes") or b"")
                await self._await(self._client._inject(MessageEvent(data)))
            elif kind == "websocket.disconnect":
                code = int(message.get("code") or 1005)
                reason = message.get("reason") or ""
                self._disconnected = True
                if code == 1006:
                    await self._await(self._tell_worker(None))
                else:
                    await self._await(
                        self._tell_worker(CloseEvent(code, reason, code not in _ABNORMAL))
                    )
                return

    async def _write_loop(self) -> None:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            if isinstance(event, MessageEvent):
                self._queued_bytes -= len(event.data)
                payload = (
                    {"type": "websocket.send", "text": event.data}
                    if isinstance(event.data, str)
                    else {"type": "websocket.send", "bytes": event.data}
                )
                if not await self._send_safely(payload):
                    return
            else:
                code = 1000 if event.code in _ABNORMAL else event.code
                await self._send_safely(
                    {"type": "websocket.close", "code": code, "reason": event.reason}
                )
                return

    async def _send_safely(self, message: dict[str, Any]) -> bool:
        if self._disconnected:
            return False
        try:
            await self._send(message)
        except Exception:  # the client vanished between our check and the write
            self._disconnected = True
            return False
        return True

    @staticmethod
    async def _await(result: Any) -> None:
        if inspect.isawaitable(result):
            try:
                await result
            except Exception:
                log.exception("WebSocket event handler failed")

    # -- shutdown ---------------------------------------------------------------------------------
    def close(self, code: int, reason: str) -> None:
        """Close from the server side (graceful shutdown): the client and the Worker both learn it."""
        if self._closing or self._disconnected:
            return
        self._drop_queue()
        self._queue_close(CloseEvent(code, reason, True))
        result = self._tell_worker(CloseEvent(code, reason, True))
        if inspect.isawaitable(result):
            self._closing_task = asyncio.ensure_future(self._await(result))
