"""``DurableObject`` (the base class), ``ctx`` (:class:`DurableObjectState`) and the
hibernatable WebSocket API on it."""

from __future__ import annotations

import asyncio
import datetime as _dt
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..clock import Clock
from ..websocket import WebSocket
from .ids import DurableObjectId
from .storage import DurableObjectStorage
from .validation import (
    BLOCK_CONCURRENCY_TIMEOUT_SECONDS,
    MAX_AUTO_RESPONSE_BYTES,
    MAX_EVENT_TIMEOUT_MS,
    MAX_HIBERNATABLE_SOCKETS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    DurableObjectError,
    DurableObjectResetError,
    DurableObjectTypeError,
    RangeError,
)

if TYPE_CHECKING:
    from .actor import Actor
    from .store import ObjectStore

__all__ = ["DurableObject", "DurableObjectState", "WebSocketRequestResponsePair"]

log = logging.getLogger("edgeroom.durable_objects")


class DurableObject:
    """Base class of a Durable Object; ``__init__(ctx, env)`` sets ``self.ctx`` and ``self.env``."""

    def __init__(self, ctx: DurableObjectState, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class WebSocketRequestResponsePair:
    """A message (``request``) the runtime answers with ``response`` without waking the object."""

    def __init__(self, request: str, response: str) -> None:
        for label, value in (("Request", request), ("Response", response)):
            if not isinstance(value, str):
                raise DurableObjectTypeError(f"{label} must be a string")
            size = len(value.encode("utf-8"))
            if size > MAX_AUTO_RESPONSE_BYTES:
                raise RangeError(
                    f"{label} cannot be larger than {MAX_AUTO_RESPONSE_BYTES} bytes. "
                    f"A {label.lower()} of size {size} was provided."
                )
        self.request = request
        self.response = response

    def getRequest(self) -> str:
        return self.request

    def getResponse(self) -> str:
        return self.response

    def __repr__(self) -> str:
        return f"WebSocketRequestResponsePair({self.request!r}, {self.response!r})"


class DurableObjectState:
    """``ctx``: the object's id, storage, concurrency control and WebSockets."""

    def __init__(self, actor: Actor, store: ObjectStore) -> None:
        self._actor = actor
        self.id: DurableObjectId = actor.id
        self.storage = DurableObjectStorage(actor, store)
        self.props: dict[str, Any] = {}

    # -- concurrency ----------
    def blockConcurrencyWhile(
        self, callback: Callable[[], Awaitable[Any]] | Awaitable[Any]
    ) -> asyncio.Task[Any]:
        """Run ``callback`` while no other event is delivered; returns a task with its result.

        May be called (without ``await``) in the constructor. If the callback raises, the
        object is reset.
        """
        actor = self._actor
        actor.close_gate()

        async def run() -> Any:
            try:
                result = callback() if callable(callback) else callback
                if inspect.isawaitable(result):
                    result = await _bounded(result, actor.ns.clock)
                return result
            except BaseException as exc:
                actor.reset(exc)
                raise
            finally:
                actor.open_gate()

        task = asyncio.get_running_loop().create_task(run())
        task.add_done_callback(_retrieve)
        return task

    def waitUntil(self, awaitable: Awaitable[Any]) -> None:
        """Keep the object in memory until ``awaitable`` settles."""
        self._actor.wait_until(awaitable)

    def abort(self, reason: str | None = None) -> None:
        """Reset the object now; raises in the caller."""
        error = DurableObjectResetError(reason or "Durable Object was aborted")
        self._actor.reset(error)
        raise error

    # -- WebSockets ----------
    def acceptWebSocket(self, ws: WebSocket, tags: list[str] | None = None) -> None:
        """Accept ``ws`` for hibernation: events go to ``webSocketMessage``/``Close``/``Error``."""
        tags = list(tags or [])
        if len(tags) > MAX_TAGS:
            raise DurableObjectError(
                f"a Hibernatable WebSocket cannot have more than {MAX_TAGS} tags"
            )
        for tag in tags:
            if not isinstance(tag, str):
                raise DurableObjectTypeError("WebSocket tags must be strings")
            if len(tag) > MAX_TAG_CHARS:
                raise DurableObjectError(
                    f'"{tag}" is longer than the max tag length ({MAX_TAG_CHARS} characters).'
                )
        if len(self._actor.sockets) >= MAX_HIBERNATABLE_SOCKETS:
            raise DurableObjectError(
                "A Durable Object cannot have more than "
                f"{MAX_HIBERNATABLE_SOCKETS} hibernatable WebSockets"
            )
        ws._accept_hibernatable(self._actor.receive_ws)
        self._actor.sockets[ws] = tags

    def getWebSockets(self, tag: str | None = None) -> list[WebSocket]:
        """Hibernatable sockets not yet disconnected (optionally only those with ``tag``)."""
        return [ws for ws, tags in self._actor.sockets.items() if tag is None or tag in tags]

    def getTags(self, ws: WebSocket) -> list[str]:
        try:
            return list(self._actor.sockets[ws])
        except KeyError:
            raise DurableObjectTypeError(
                "getTags() can only be called on a WebSocket accepted with acceptWebSocket()"
            ) from None

    def setWebSocketAutoResponse(self, pair: WebSocketRequestResponsePair | None = None) -> None:
        if pair is not None and not isinstance(pair, WebSocketRequestResponsePair):
            raise DurableObjectTypeError(
                "setWebSocketAutoResponse() takes a WebSocketRequestResponsePair"
            )
        self._actor.auto_response = pair

    def getWebSocketAutoResponse(self) -> WebSocketRequestResponsePair | None:
        return self._actor.auto_response

    def getWebSocketAutoResponseTimestamp(self, ws: WebSocket) -> _dt.datetime | None:
        return self._actor.auto_response_times.get(ws)

    def setHibernatableWebSocketEventTimeout(self, timeoutMs: int | None = None) -> None:
        if timeoutMs is not None and timeoutMs > MAX_EVENT_TIMEOUT_MS:
            raise DurableObjectError(f"Event timeout should not exceed {MAX_EVENT_TIMEOUT_MS} ms.")
        self._actor.event_timeout_ms = timeoutMs or None

    def getHibernatableWebSocketEventTimeout(self) -> int | None:
        return self._actor.event_timeout_ms


async def _bounded(awaitable: Awaitable[Any], clock: Clock) -> Any:
    """Await ``awaitable``; after 30 s of ``clock`` time, cancel it and reset the object."""
    work = asyncio.ensure_future(awaitable)
    timer = asyncio.ensure_future(clock.sleep(BLOCK_CONCURRENCY_TIMEOUT_SECONDS))
    try:
        done, _ = await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        if not work.done():
            work.cancel()
    if work not in done:
        raise DurableObjectResetError(
            "blockConcurrencyWhile() callback did not finish within "
            f"{BLOCK_CONCURRENCY_TIMEOUT_SECONDS:g} seconds; the object was reset."
        )
    return work.result()


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("blockConcurrencyWhile callback failed: %r", task.exception())
