"""Couple the ``client`` end of a ``WebSocketPair`` to a real ASGI WebSocket, both directions.

Inbound, each frame is handed to the Worker's end and the bridge waits until it has been taken
in (a Durable Object's gate may hold it) before reading the next one; uvicorn stops reading the
socket once its own small queue fills, so a slow Worker slows its client, not the server's memory.
Outbound, ``ws.send()`` is synchronous (as on Workers). A frame for a socket with nothing queued
ahead of it is written at once: the ASGI ``send`` is started in place and, as uvicorn's completes
without suspending while the transport is writable, the frame reaches the socket with no task
switch (a room's broadcast costs one write per member, as ``websockets.broadcast`` does). When the
transport pushes back, that send finishes in the writer task and later frames queue behind it;
past ``outbound_limit`` queued bytes the client is too slow to keep and the socket is closed with
1013 ("try again later") rather than letting memory grow without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import Coroutine
from typing import Any

from ..websocket import CloseEvent, ErrorEvent, MessageEvent, WebSocket

__all__ = [
    "ABNORMAL_CLOSE_CODES",
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_SLOW_CONSUMER",
    "SocketBridge",
    "await_handler",
]

log = logging.getLogger("edgeroom.runtime")

CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SLOW_CONSUMER = 1013
#: Close codes that never travel in a close frame; they say the connection ended abnormally.
ABNORMAL_CLOSE_CODES = frozenset({1005, 1006, 1015})

ASGIReceive = Any
ASGISend = Any


async def await_handler(result: Any) -> None:
    """Await what a WebSocket end returned for an event (a handler's coroutine), logging its error."""
    if inspect.isawaitable(result):
        try:
            await result
        except Exception:
            log.exception("WebSocket event handler failed")


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
        # The queue, the writer task and the done future are made when first needed: most
        # sockets never queue a frame (an idle connection should cost little memory).
        self._queue: deque[MessageEvent | CloseEvent | None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Future[None] | None = None  # the idle writer waits on it
        #: an ASGI send started in place that suspended: the writer finishes it first
        self._suspended: tuple[Coroutine[Any, Any, Any], Any] | None = None
        self._writing = False  # the writer is inside a send: nothing may overtake it
        self._queued_bytes = 0
        self._closing = False
        self._disconnected = False
        self._worker_told_closed = False
        self._closing_task: asyncio.Future[None] | None = None
        self._finished = False
        self._done: asyncio.Future[None] | None = None

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
        elif not self._queue and self._suspended is None and not self._writing:
            self._send_in_place(event)
        else:
            self._queued_bytes += len(event.data)
            self._enqueue(event)

    def _send_in_place(self, event: MessageEvent) -> None:
        """Start the ASGI send now; if it suspends (back-pressure), the writer finishes it."""
        coroutine = self._send(_payload(event))
        try:
            yielded = coroutine.send(None)
        except StopIteration:
            return
        except Exception:  # the client vanished: the read side reports the disconnect
            self._disconnected = True
            return
        self._suspended = (coroutine, yielded)
        self._wake_writer()

    def _enqueue(self, event: MessageEvent | CloseEvent | None) -> None:
        if self._queue is None:
            self._queue = deque()
        self._queue.append(event)
        self._wake_writer()

    def _wake_writer(self) -> None:
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        elif self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _queue_close(self, event: CloseEvent) -> None:
        self._closing = True
        self._enqueue(event)

    def _drop_queue(self) -> None:
        if self._queue is not None:
            self._queue.clear()
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
        try:
            await self._read_loop()
        except Exception:
            log.exception("WebSocket bridge failed", extra={"request_id": self._request_id})
            await self._await(self._tell_worker(None))
        finally:
            self._disconnected = True
            writer = self._writer
            if writer is not None:
                self._enqueue(None)
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
            self._finished = True
            if self._done is not None and not self._done.done():
                self._done.set_result(None)

    async def wait_done(self) -> None:
        """Return once both directions are finished (``run`` has returned)."""
        if self._finished:
            return
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._done)

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
                        self._tell_worker(
                            CloseEvent(code, reason, code not in ABNORMAL_CLOSE_CODES)
                        )
                    )
                return

    async def _write_loop(self) -> None:
        while True:
            if self._suspended is not None:
                coroutine, yielded = self._suspended
                self._writing = True
                finished = await self._finish(coroutine, yielded)
                self._suspended, self._writing = None, False
                if not finished:
                    return
            if not self._queue:
                self._wakeup = asyncio.get_running_loop().create_future()
                await self._wakeup
                self._wakeup = None
                continue
            event = self._queue.popleft()
            if event is None:
                return
            if isinstance(event, MessageEvent):
                self._queued_bytes -= len(event.data)
                self._writing = True
                sent = await self._send_safely(_payload(event))
                self._writing = False
                if not sent:
                    return
            else:
                code = 1000 if event.code in ABNORMAL_CLOSE_CODES else event.code
                await self._send_safely(
                    {"type": "websocket.close", "code": code, "reason": event.reason}
                )
                return

    async def _finish(self, coroutine: Coroutine[Any, Any, Any], yielded: Any) -> bool:
        """Drive a send started in place to its end (it yielded ``yielded``, a future)."""
        try:
            while True:
                try:
                    if yielded is None:  # a bare yield (sleep(0)): just let the loop run once
                        await asyncio.sleep(0)
                    else:
                        # The coroutine yielded an asyncio future to whoever drives it, marked
                        # "blocking"; a Task clears that mark before waiting on it, and so do we.
                        yielded._asyncio_future_blocking = False
                        await yielded
                except BaseException as exc:  # the coroutine decides what the error means
                    yielded = coroutine.throw(exc)
                else:
                    yielded = coroutine.send(None)
        except StopIteration:
            return True
        except Exception:
            self._disconnected = True
            return False

    async def _send_safely(self, message: dict[str, Any]) -> bool:
        if self._disconnected:
            return False
        try:
            await self._send(message)
        except Exception:  # the client vanished between our check and the write
            self._disconnected = True
            return False
        return True

    _await = staticmethod(await_handler)

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


def _payload(event: MessageEvent) -> dict[str, Any]:
    if isinstance(event.data, str):
        return {"type": "websocket.send", "text": event.data}
    return {"type": "websocket.send", "bytes": event.data}
