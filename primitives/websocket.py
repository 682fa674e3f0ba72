"""``WebSocketPair`` and ``WebSocket`` with Workers' semantics, as an explicit state machine.

A pair is two connected ends. The Worker keeps ``server``, calls ``server.accept()`` (or hands it
to a Durable Object's ``ctx.acceptWebSocket``), and returns ``client`` in
``Response(None, status=101, web_socket=client)``; the server adapter then couples ``client`` to
the real network socket. States of one end::

    AWAITING_ACCEPT --accept()--> ACCEPTED
    AWAITING_ACCEPT --ctx.acceptWebSocket()--> HIBERNATABLE
    AWAITING_ACCEPT --Response(web_socket=...)--> RELEASED (coupled to a transport)

Messages that reach an end before it is accepted wait in order and are delivered on acceptance.
Events are dispatched after the sender's call returns (never re-entrantly), in order. Misuse raises
``TypeError`` with workerd's text (``src/workerd/api/web-socket.c++``); the exception also carries
``state``, the end's state when it happened. ``readyState`` follows workerd: CLOSING once a close
was sent *or* received, CLOSED once both.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol

from .clone import deserialize, serialize
from .errors import PrimitiveError

__all__ = [
    "CloseEvent",
    "ErrorEvent",
    "MAX_ATTACHMENT_BYTES",
    "MessageEvent",
    "WebSocket",
    "WebSocketAttachmentTooLarge",
    "WebSocketMisuse",
    "WebSocketPair",
    "WebSocketState",
    "current_output_gate",
]

#: Hibernation attachments: 16 KiB (spec 4.7 / workerd MAX_ATTACHMENT_SIZE).
MAX_ATTACHMENT_BYTES = 16 * 1024
#: RFC 6455: a close frame's reason fits in 123 bytes.
MAX_CLOSE_REASON_BYTES = 123

_MUST_ACCEPT = "You must call one of accept() or state.acceptWebSocket() on this WebSocket before sending messages."
DISCONNECTED_REASON = "WebSocket disconnected without sending Close frame."


class WebSocketState(enum.Enum):
    AWAITING_ACCEPT = "awaiting accept"
    ACCEPTED = "accepted"
    HIBERNATABLE = "accepted for hibernation"
    RELEASED = "returned in a response"


class WebSocketMisuse(PrimitiveError, TypeError):
    """A WebSocket method was called in a state that does not allow it."""

    def __init__(self, message: str, state: WebSocketState) -> None:
        super().__init__(message)
        self.state = state
        self.add_note(f"WebSocket state: {state.value}")


class WebSocketAttachmentTooLarge(PrimitiveError, ValueError):
    """``serializeAttachment`` was given more than 16 KiB."""


class MessageEvent:
    type = "message"

    def __init__(self, data: str | bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"MessageEvent({self.data!r:.60})"


class CloseEvent:
    type = "close"

    def __init__(self, code: int = 1005, reason: str = "", wasClean: bool = False) -> None:
        self.code = code
        self.reason = reason
        self.wasClean = wasClean

    def __repr__(self) -> str:
        return f"CloseEvent(code={self.code}, reason={self.reason!r}, wasClean={self.wasClean})"


class ErrorEvent:
    type = "error"

    def __init__(self, error: BaseException | str) -> None:
        self.error = error
        self.message = str(error)


Event = MessageEvent | CloseEvent | ErrorEvent
#: Where a coupled or hibernatable end hands its incoming events.
Receiver = Callable[["WebSocket", Event], "Awaitable[None] | None"]


class OutputGate(Protocol):
    """A Durable Object's output gate, as seen by the sockets it uses."""

    def hold(self, deliver: Callable[[], object]) -> bool:
        """Take a frame to deliver later (after pending writes are durable); False: send now."""
        ...

    def track(self, ws: WebSocket) -> None:
        """A socket was ``accept()``-ed by the object (it keeps the object in memory)."""
        ...


#: Set while a Durable Object runs an event: the frames its code sends (``send``/``close``) pass
#: through its output gate, and sockets it ``accept()``s are tracked by it.
current_output_gate: ContextVar[OutputGate | None] = ContextVar(
    "edgeroom_output_gate", default=None
)


class WebSocket:
    """One end of a :class:`WebSocketPair`."""

    READY_STATE_CONNECTING = 0
    READY_STATE_OPEN = 1
    READY_STATE_CLOSING = 2
    READY_STATE_CLOSED = 3

    def __init__(self) -> None:
        self._state = WebSocketState.AWAITING_ACCEPT
        self._peer: WebSocket | None = None
        self._closed_outgoing = False
        self._closed_incoming = False
        self._aborted = False
        self._error: BaseException | None = None
        # The containers below are made when first needed: a room holds thousands of sockets,
        # and most never get a listener, an early event or a task (an empty deque is 760 bytes).
        self._listeners: dict[str, list[Callable[[Any], Any]]] | None = None
        self._pending: deque[Event] | None = None
        self._receiver: Receiver | None = None
        self._attachment: bytes | None = None
        self._tasks: set[asyncio.Task[Any]] | None = None
        self.url: str | None = None
        self.protocol: str | None = None
        self.extensions: str | None = None

    # -- state ----------------------------------------------------------------------------------
    @property
    def state(self) -> WebSocketState:
        return self._state

    @property
    def readyState(self) -> int:
        if (self._closed_incoming and self._closed_outgoing) or self._error is not None:
            return self.READY_STATE_CLOSED
        if self._closed_incoming or self._closed_outgoing:
            return self.READY_STATE_CLOSING
        return self.READY_STATE_OPEN

    def _misuse(self, message: str) -> WebSocketMisuse:
        return WebSocketMisuse(message, self._state)

    def accept(self) -> None:
        """Start receiving events on this end (Workers' ``accept()``)."""
        if self._state is WebSocketState.RELEASED:
            raise self._misuse("Can't accept() WebSocket that was already used in a response.")
        if self._state is WebSocketState.HIBERNATABLE:
            raise self._misuse("Can't accept() WebSocket after enabling hibernation.")
        if self._state is WebSocketState.ACCEPTED:
            return
        self._state = WebSocketState.ACCEPTED
        gate = current_output_gate.get()
        if gate is not None:
            gate.track(self)
        self._flush_pending()

    def _accept_hibernatable(self, receiver: Receiver) -> None:
        """Hand incoming events to a Durable Object (``ctx.acceptWebSocket``)."""
        if self._state is WebSocketState.RELEASED:
            raise self._misuse("Can't accept() WebSocket that was already used in a response.")
        if self._state is WebSocketState.ACCEPTED:
            raise self._misuse(
                "Can't call acceptWebSocket() on a WebSocket that was already accepted."
            )
        if self._state is WebSocketState.HIBERNATABLE:
            raise self._misuse("acceptWebSocket() was already called on this WebSocket.")
        self._state = WebSocketState.HIBERNATABLE
        self._receiver = receiver
        self._flush_pending()

    def _couple_to_response(self) -> None:
        """Mark this end as handed to the runtime in a 101 response."""
        if self._state is WebSocketState.RELEASED:
            raise self._misuse("Can't return WebSocket that was already used in a response.")
        if self._state is WebSocketState.ACCEPTED:
            raise self._misuse("Can't return WebSocket in a Response after calling accept().")
        if self._state is WebSocketState.HIBERNATABLE:
            raise self._misuse(
                "Can't return WebSocket in a Response after calling acceptWebSocket()."
            )
        self._state = WebSocketState.RELEASED

    def _attach_transport(self, receiver: Receiver) -> None:
        """Couple a released end to a transport (the server adapter), flushing what waited."""
        if self._state is not WebSocketState.RELEASED:
            raise self._misuse(
                "only a WebSocket returned in a 101 Response can be attached to a transport"
            )
        self._receiver = receiver
        self._flush_pending()

    # -- sending ------------------------------------------------------------------------------------
    def send(self, message: str | bytes | bytearray | memoryview) -> None:
        """Send a text (``str``) or binary message to the other end."""
        if self._closed_outgoing:
            raise self._misuse("Can't call WebSocket send() after close().")
        if self._aborted_outgoing() or self._state is WebSocketState.RELEASED:
            return  # as workerd: dropped once the other side has gone or this end was handed on
        if self._state is WebSocketState.AWAITING_ACCEPT:
            raise self._misuse(_MUST_ACCEPT)
        if isinstance(message, bytearray | memoryview):
            message = bytes(message)
        elif not isinstance(message, str | bytes):
            raise TypeError(f"WebSocket send() takes str or bytes, not {type(message).__name__}")
        self._transmit(MessageEvent(message), gated=True)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Send a close frame. A second call does nothing, as on Workers."""
        if (
            self._closed_outgoing
            or self._aborted_outgoing()
            or self._state is WebSocketState.RELEASED
        ):
            return
        if self._state is WebSocketState.AWAITING_ACCEPT:
            raise self._misuse(_MUST_ACCEPT)
        if code is not None and (
            not isinstance(code, int)
            or isinstance(code, bool)
            or not (1000 <= code < 5000)
            or code in (1004, 1005, 1006, 1015)
        ):
            raise TypeError(f"Invalid WebSocket close code: {code}.")
        if reason is not None:
            if code is None:
                raise TypeError(
                    "If you specify a WebSocket close reason, you must also specify a code."
                )
            if len(reason.encode("utf-8")) > MAX_CLOSE_REASON_BYTES:
                raise TypeError(
                    f"WebSocket close reason must be at most {MAX_CLOSE_REASON_BYTES} bytes of UTF-8."
                )
        self._closed_outgoing = True
        self._transmit(CloseEvent(1005 if code is None else code, reason or "", True), gated=True)

    def _aborted_outgoing(self) -> bool:
        peer = self._peer
        return self._aborted or peer is None or peer._aborted

    def _transmit(self, event: Event, gated: bool = False) -> Awaitable[None] | None:
        peer = self._peer
        if peer is None:
            return None
        if gated:
            gate = current_output_gate.get()
            if gate is not None and gate.hold(lambda: peer._receive(event)):
                return None
        return peer._receive(event)

    # -- receiving ----------------------------------------------------------------------------------
    def _receive(self, event: Event) -> Awaitable[None] | None:
        if isinstance(event, CloseEvent):
            self._closed_incoming = True
        if self._state is WebSocketState.AWAITING_ACCEPT or (
            self._state is WebSocketState.RELEASED and self._receiver is None
        ):
            if self._pending is None:
                self._pending = deque()
            self._pending.append(event)
            return None
        return self._deliver(event)

    def _deliver(self, event: Event) -> Awaitable[None] | None:
        if self._receiver is not None:
            return self._receiver(self, event)
        asyncio.get_running_loop().call_soon(self._dispatch, event)
        return None

    def _flush_pending(self) -> None:
        if self._pending is None:
            return
        while self._pending:
            result = self._deliver(self._pending.popleft())
            if inspect.isawaitable(result):
                self._keep(asyncio.ensure_future(result))
        self._pending = None

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, ErrorEvent):
            self._error = (
                event.error if isinstance(event.error, BaseException) else RuntimeError(event.error)
            )
        listeners = self._listeners.get(event.type) if self._listeners is not None else None
        for listener in list(listeners or ()):
            result = listener(event)
            if inspect.isawaitable(result):
                self._keep(asyncio.ensure_future(result))

    def _keep(self, task: asyncio.Future[Any]) -> None:
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)  # type: ignore[arg-type]
        task.add_done_callback(self._tasks.discard)  # type: ignore[arg-type]

    def addEventListener(self, type: str, listener: Callable[[Any], Any]) -> None:
        """Listen for ``"message"``, ``"close"`` or ``"error"`` events on an accepted end."""
        if type not in ("message", "close", "error", "open"):
            raise ValueError(f"unknown WebSocket event type {type!r}")
        if self._listeners is None:
            self._listeners = {}
        self._listeners.setdefault(type, []).append(listener)

    def removeEventListener(self, type: str, listener: Callable[[Any], Any]) -> None:
        listeners = self._listeners.get(type) if self._listeners is not None else None
        if listeners is not None and listener in listeners:
            listeners.remove(listener)

    # -- transport side (used by the server adapter on the end it holds) -----------------------------
    def _inject(self, event: Event) -> Awaitable[None] | None:
        """Deliver an event that arrived from the network to the other end (the Worker's)."""
        if isinstance(event, CloseEvent):
            self._closed_outgoing = True
        return self._transmit(event)

    def _disconnect(self) -> Awaitable[None] | None:
        """The network went away without a close frame: the other end sees 1006."""
        if self._aborted:
            return None
        already_closed = self._closed_outgoing
        self._aborted = True
        self._closed_outgoing = True
        self._closed_incoming = True
        if already_closed:
            return None
        return self._transmit(CloseEvent(1006, DISCONNECTED_REASON, False))

    # -- attachments ----------------------------------------------------------------------------------
    def serializeAttachment(self, value: Any) -> None:
        """Keep a small clonable value with this socket; it survives hibernation."""
        data = serialize(value)
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise WebSocketAttachmentTooLarge(
                f"A WebSocket 'attachment' cannot be larger than {MAX_ATTACHMENT_BYTES} bytes."
                f"'attachment' was {len(data)} bytes."
            )
        self._attachment = data

    def deserializeAttachment(self) -> Any:
        return None if self._attachment is None else deserialize(self._attachment)

    def __repr__(self) -> str:
        return f"<WebSocket {self._state.value} readyState={self.readyState}>"


class WebSocketPair:
    """Two connected WebSocket ends: ``client, server = WebSocketPair()``."""

    def __init__(self) -> None:
        self.client = WebSocket()
        self.server = WebSocket()
        self.client._peer = self.server
        self.server._peer = self.client

    @classmethod
    def new(cls) -> WebSocketPair:
        """``WebSocketPair.new()``, as Python Workers spell the JavaScript constructor."""
        return cls()

    def __iter__(self) -> Iterator[WebSocket]:
        yield self.client
        yield self.server

    def __getitem__(self, index: int) -> WebSocket:
        return (self.client, self.server)[index]

    def __len__(self) -> int:
        return 2
