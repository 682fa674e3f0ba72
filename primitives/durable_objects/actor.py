"""One Durable Object in this process: its input gate, output gate, instance and sockets.

The :class:`Actor` shell lives as long as the object has hibernatable sockets or a scheduled
alarm; the user's instance and the database connection come and go (eviction/hibernation).

*Input gate*: an event (fetch, RPC, WebSocket message/close/error, alarm) waits in a FIFO queue
while the gate is closed: while the object is being built, during ``blockConcurrencyWhile`` and
during an explicit ``storage.transaction()``. Storage reads complete synchronously, so a coroutine
that awaits only storage never yields and a read-modify-write is atomic. Events otherwise
interleave at awaits.

*Output gate*: a response, an RPC result (or error) and every WebSocket frame the object sends
wait until the writes made before them are durable; if they cannot be made durable the object
is reset and the held messages are dropped.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .._dictlike import JsDict
from ..websocket import CloseEvent, ErrorEvent, Event, MessageEvent, WebSocket, current_output_gate
from .sql import install_authorizer
from .state import DurableObjectState
from .store import ObjectStore
from .validation import (
    ALARM_RETRY_MAX_TRIES,
    ALARM_RETRY_START_SECONDS,
    DurableObjectError,
    DurableObjectResetError,
)

if TYPE_CHECKING:
    from .ids import DurableObjectId
    from .namespace import DurableObjectNamespace
    from .state import WebSocketRequestResponsePair

__all__ = ["Actor"]

T = TypeVar("T")
log = logging.getLogger("edgeroom.durable_objects")


class Actor:
    """The runtime side of one object id."""

    def __init__(self, namespace: DurableObjectNamespace, id: DurableObjectId) -> None:
        self.ns = namespace
        self.id = id
        self.object_class = namespace.object_class
        self.instance: Any = None
        self.store: ObjectStore | None = None
        self.state: DurableObjectState | None = None
        self.running = 0
        self.last_active = namespace.clock.now()
        self._gate_closed = 0
        self._queue: deque[asyncio.Future[None]] = deque()
        self._pump_pending = False
        self._starting: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self._held: deque[tuple[ObjectStore | None, int | None, Callable[[], object]]] = deque()
        self._releasing: asyncio.Task[None] | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self.sockets: dict[WebSocket, list[str]] = {}
        self._plain: set[WebSocket] = set()
        self.auto_response: WebSocketRequestResponsePair | None = None
        self.auto_response_times: dict[WebSocket, _dt.datetime] = {}
        self.event_timeout_ms: int | None = None
        self._alarm_running = False
        self._alarm_touched = False

    # -- input gate ----------
    def close_gate(self) -> None:
        self._gate_closed += 1

    def open_gate(self) -> None:
        self._gate_closed -= 1
        if self._gate_closed == 0:
            self._schedule_pump()

    def _schedule_pump(self) -> None:
        if self._queue and not self._pump_pending:
            self._pump_pending = True
            asyncio.get_running_loop().call_soon(self._pump)

    def _pump(self) -> None:
        self._pump_pending = False
        if self._gate_closed:
            return
        while self._queue:
            waiter = self._queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _turn(self, front: bool = False) -> None:
        """Wait until this event may be delivered."""
        if not self._gate_closed and not self._queue:
            return
        loop = asyncio.get_running_loop()
        while True:
            waiter: asyncio.Future[None] = loop.create_future()
            if front:
                self._queue.appendleft(waiter)
            else:
                self._queue.append(waiter)
            self._schedule_pump()
            try:
                await waiter
            except BaseException:
                if waiter in self._queue:
                    self._queue.remove(waiter)
                self._schedule_pump()
                raise
            if not self._gate_closed:
                self._schedule_pump()  # let the next one in once this one yields
                return
            front = True

    # -- events ----------
    async def deliver(self, call: Callable[[Any], Any], *, gate_result: bool = True) -> Any:
        """Run ``call(instance)`` as one event, through both gates.

        With ``gate_result`` (fetch, RPC) this returns only once the writes made before the
        result are durable, since the result is an output. A WebSocket event has no result:
        its frames are held by :meth:`hold` one by one, so the event is over when its handler
        returns and the socket's next frame need not wait for the disk (as on workerd, where
        the output gate holds outgoing messages, not incoming events). Commits of frames that
        arrive meanwhile are grouped into the same fsync.
        """
        self.running += 1
        try:
            await self._turn()
            if self.instance is None:
                await self._ensure_instance()
                if self._gate_closed:  # the constructor blocked concurrency: wait for it first
                    await self._turn(front=True)
                if self.instance is None:
                    raise DurableObjectResetError("Durable Object was reset while it started")
            store = self.store
            token = current_output_gate.set(self)
            try:
                result = call(self.instance)
                if inspect.isawaitable(result):
                    result = await result
            except BaseException:
                current_output_gate.reset(token)
                if gate_result:
                    try:
                        await self._output_gate(store)  # an error is an output too
                    except Exception:
                        pass  # the handler's own error is the one to report
                raise
            current_output_gate.reset(token)
            if gate_result:
                await self._output_gate(store)
            return result
        finally:
            self.running -= 1
            self.last_active = self.ns.clock.now()

    async def _output_gate(self, store: ObjectStore | None) -> None:
        if store is not None and (need := store.pending_gate()) is not None:
            await store.durable(need)

    async def _ensure_instance(self) -> None:
        if self._starting is not None:
            await asyncio.shield(self._starting)
            return
        # The gate stays closed until this event runs: it was first, so it is delivered first.
        self.close_gate()
        try:
            self._starting = asyncio.get_running_loop().create_task(self._start())
            await asyncio.shield(self._starting)
        finally:
            self.open_gate()

    async def _start(self) -> None:
        store: ObjectStore | None = None
        try:
            if self.ns.closed:
                raise DurableObjectError("this Durable Object namespace is closed")
            if self._closing is not None:
                try:
                    await self._closing
                except Exception:
                    log.exception("closing Durable Object %s failed", self.id)
            handle = await self.ns.backend.open(self.id.toString())
            store = ObjectStore(self.ns.backend, handle, self._store_failed, self._alarm_committed)
            install_authorizer(store)
            state = DurableObjectState(self, store)
            self.store, self.state = store, state
            token = current_output_gate.set(self)
            try:
                self.instance = self.object_class(state, self.ns.env)
            finally:
                current_output_gate.reset(token)
        except BaseException:
            self.instance, self.state, self.store = None, None, None
            if store is not None:
                store.broken = DurableObjectResetError("the constructor failed")
                self._closing = asyncio.get_running_loop().create_task(self._close(store))
            raise
        finally:
            self._starting = None

    def wait_until(self, awaitable: Awaitable[Any]) -> None:
        future = asyncio.ensure_future(awaitable)
        self._background.add(future)
        future.add_done_callback(self._background_done)

    def _background_done(self, future: asyncio.Future[Any]) -> None:
        self._background.discard(future)
        self.last_active = self.ns.clock.now()
        if not future.cancelled() and future.exception() is not None:
            log.error("waitUntil task of %s failed", self.id, exc_info=future.exception())

    # -- output gate (WebSocket frames) ----------
    def hold(self, deliver: Callable[[], object]) -> bool:
        store = self.store
        need = store.pending_gate() if store is not None else None
        if need is None and not self._held:
            return False
        self._held.append((store, need, deliver))
        if self._releasing is None:
            self._releasing = asyncio.get_running_loop().create_task(self._release())
        return True

    async def _release(self) -> None:
        try:
            while self._held:
                store, need, deliver = self._held[0]
                if (
                    store is not None
                    and need is not None
                    and (need > store.durable_seq or store.broken is not None)
                ):
                    try:
                        await store.durable(need)
                    except Exception:
                        self._held.clear()  # writes were lost: so are the frames that followed them
                        return
                self._held.popleft()
                result = deliver()
                if result is not None and inspect.isawaitable(result):
                    self._background.add(asyncio.ensure_future(result))
        finally:
            self._releasing = None

    def track(self, ws: WebSocket) -> None:
        self._plain.add(ws)

    # -- hibernatable WebSockets ----------
    def receive_ws(self, ws: WebSocket, event: Event) -> Awaitable[None] | None:
        pair = self.auto_response
        if pair is not None and isinstance(event, MessageEvent) and event.data == pair.request:
            ws._transmit(MessageEvent(pair.response))  # answered without waking the object
            self.auto_response_times[ws] = _dt.datetime.fromtimestamp(self.ns.clock.now(), _dt.UTC)
            return None
        return self._deliver_ws(ws, event)

    async def _deliver_ws(self, ws: WebSocket, event: Event) -> None:
        def call(instance: Any) -> Any:
            if isinstance(event, MessageEvent):
                handler = getattr(instance, "webSocketMessage", None)
                return None if handler is None else handler(ws, event.data)
            if isinstance(event, CloseEvent):
                handler = getattr(instance, "webSocketClose", None)
                return (
                    None
                    if handler is None
                    else handler(ws, event.code, event.reason, event.wasClean)
                )
            handler = getattr(instance, "webSocketError", None)
            return None if handler is None else handler(ws, event.error)

        try:
            await self.deliver(call, gate_result=False)
        except Exception:
            log.exception("WebSocket handler of Durable Object %s raised", self.id)
        finally:
            if isinstance(event, CloseEvent | ErrorEvent):
                self.sockets.pop(ws, None)
                self.auto_response_times.pop(ws, None)
                if isinstance(event, CloseEvent) and ws.readyState != WebSocket.READY_STATE_CLOSED:
                    code = event.code if event.code not in (1005, 1006, 1015) else None
                    try:
                        ws.close(code, event.reason if code is not None else None)
                    except (TypeError, ValueError):
                        ws.close()

    # -- alarms ----------
    @property
    def alarm_hidden(self) -> bool:
        return self._alarm_running and not self._alarm_touched

    def alarm_changed(self) -> None:
        self._alarm_touched = True

    def _alarm_committed(self, ms: int | None) -> None:
        self.ns.alarms.set(self.id.toString(), ms)

    async def run_alarm(self, retry_count: int, force: bool = False) -> bool:
        """Run the alarm handler if the stored alarm is due (or ``force``). True if it ran."""
        ran = False

        async def call(instance: Any) -> None:
            nonlocal ran
            store = self.store
            assert store is not None
            scheduled = store.read_alarm()
            now_ms = self.ns.clock.now_ms()
            if scheduled is None:
                return
            if scheduled > now_ms and not force:
                self.ns.alarms.set(self.id.toString(), scheduled)  # it was moved later
                return
            handler = getattr(instance, "alarm", None)
            if handler is None:
                store.write_alarm(None)
                return
            ran = True
            self._alarm_running, self._alarm_touched = True, False
            info = JsDict(retryCount=retry_count, isRetry=retry_count > 0, scheduledTime=scheduled)
            try:
                result = handler(info)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception(
                    "alarm() of Durable Object %s failed (retry %d)", self.id, retry_count
                )
                if not self._alarm_touched and self.store is store and store.broken is None:
                    if retry_count < ALARM_RETRY_MAX_TRIES:
                        delay_ms = ALARM_RETRY_START_SECONDS * 1000 * (2**retry_count)
                        self.ns.alarms.retry(self.id.toString(), now_ms + delay_ms, retry_count + 1)
                    else:
                        store.write_alarm(None)
            else:
                if not self._alarm_touched and store.broken is None:
                    store.write_alarm(None)
            finally:
                self._alarm_running = False

        await self.deliver(call)
        return ran

    # -- lifecycle ----------
    def evictable(self, now: float, idle_seconds: float) -> bool:
        if self.instance is None or self.running or self._gate_closed or self._queue:
            return False
        if self._background or self._held or self._starting is not None:
            return False
        self._plain = {ws for ws in self._plain if ws.readyState != WebSocket.READY_STATE_CLOSED}
        if self._plain:
            return False
        if self.store is not None and not self.store.idle:
            return False
        return now - self.last_active >= idle_seconds

    def evict(self) -> None:
        """Drop the instance and close the database; sockets and the alarm stay."""
        store = self.store
        self.instance, self.state, self.store = None, None, None
        if store is not None:
            self._closing = asyncio.get_running_loop().create_task(self._close(store))

    async def _close(self, store: ObjectStore) -> None:
        try:
            if store.broken is None:
                try:
                    await store.flush()
                except Exception:
                    log.exception("flushing Durable Object %s before closing failed", self.id)
                store.broken = DurableObjectResetError("the Durable Object was evicted")
            await self.ns.backend.close(store.handle)
        finally:
            if self._closing is asyncio.current_task():
                self._closing = None

    def _store_failed(self, exc: BaseException) -> None:
        self.reset(exc)

    def reset(self, reason: BaseException) -> None:
        """Throw the instance away (its uncommitted writes too); the next event rebuilds it."""
        store = self.store
        self.instance, self.state, self.store = None, None, None
        self._held.clear()
        if store is not None:
            store.abandon()
            if store.broken is None:
                store.broken = reason
            self._closing = asyncio.get_running_loop().create_task(self._close(store))

    @property
    def is_dormant(self) -> bool:
        """Nothing in memory worth keeping: no instance, sockets, or work in progress."""
        return (
            self.instance is None
            and not self.sockets
            and not self.running
            and self._starting is None
            and self._closing is None
            and not self._queue
        )
