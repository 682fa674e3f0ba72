"""One load client: a WebSocket to 127.0.0.1 that joins a room, sends, and reads everything.

Clients of one worker process share a :class:`StepState` (the ledger and histograms of the traffic
step in progress); each client's reader records what it receives there.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .adapters import Adapter, Conversation, Event, Kind
from .payload import decode, decode_nonce, encode, encode_nonce
from .stats import DeliveryLedger, LatencyHistogram

__all__ = ["ClientSpec", "LoadClient", "StepState"]


@dataclass(frozen=True)
class ClientSpec:
    id: int
    room: str
    sends: bool


@dataclass
class StepState:
    """What the clients of one worker received during one traffic step."""

    step: int = -1
    ledger: DeliveryLedger = field(default_factory=DeliveryLedger)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    ack_latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    acks: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    stale: int = 0
    last_receive_ns: int = 0
    #: unique deliveries this worker's receivers are owed (0: unknown, wait for quiet)
    expected: int = 0
    complete: asyncio.Event = field(default_factory=asyncio.Event)

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


class LoadClient:
    def __init__(self, spec: ClientSpec, adapter: Adapter, base_url: str) -> None:
        self.spec = spec
        self.url = adapter.url(base_url, spec.room)
        self.conversation: Conversation = adapter.conversation(spec.room)
        self.headers: dict[str, str] = {}
        self.ws: ClientConnection | None = None
        self.reader: asyncio.Task[None] | None = None
        self.state = StepState()
        self.sent = 0
        self.window: asyncio.Semaphore | None = None
        self.closed_early: str | None = None

    # -- joining ------------------------------------------------------------------------------------
    async def join(self, timeout: float) -> float:
        """Connect and wait until the room says we are in; answers the seconds it took."""
        started = time.perf_counter()
        async with asyncio.timeout(timeout):
            ws = await connect(
                self.url,
                additional_headers=self.headers,
                compression=None,
                proxy=None,
                open_timeout=None,
                ping_interval=None,
                close_timeout=1,
                max_queue=64,
                user_agent_header=None,
            )
            self.ws = ws
            for frame in self.conversation.opening():
                await ws.send(frame)
            ready = False
            while not ready:
                received = self.conversation.feed(await ws.recv())
                if received.reply is not None:
                    await ws.send(received.reply)
                for event in received.events():
                    if event.kind is Kind.ERROR:
                        raise RuntimeError(f"refused while joining: {event.value}")
                    ready = ready or event.kind is Kind.READY
        elapsed = time.perf_counter() - started
        self.reader = asyncio.create_task(self._read(ws))
        return elapsed

    # -- receiving ----------------------------------------------------------------------------------
    async def _read(self, ws: ClientConnection) -> None:
        feed, take = self.conversation.feed, self._take
        try:
            async for frame in ws:
                received = feed(frame)
                for event in received.events():
                    take(event)
                if received.reply is not None:
                    await ws.send(received.reply)
        except ConnectionClosed as exc:
            self.closed_early = f"closed {exc.rcvd.code if exc.rcvd else 1006}"
        except Exception as exc:  # a broken frame must not go unnoticed
            self.closed_early = f"reader failed: {exc!r}"

    def _take(self, event: Event) -> None:
        """Record one received event in the step's ledger and histograms."""
        kind = event.kind
        if kind is Kind.MESSAGE:
            now = time.time_ns()
            state = self.state
            payload = decode(event.value or "")
            if payload is None:
                state.error("bad_payload")
            elif payload.step != state.step:
                state.stale += 1
            elif state.ledger.record(self.spec.id, payload.sender, payload.counter):
                state.latency.add(now - payload.sent_ns)
                state.last_receive_ns = now
                if state.expected and state.ledger.unique >= state.expected:
                    state.complete.set()
        elif kind is Kind.ACK:
            self._acked(event.value or "")
        elif kind is Kind.ERROR:
            code, _, nonce = (event.value or "").partition("|")
            self.state.error(code)
            if nonce and self.window is not None:
                self.window.release()

    def _acked(self, nonce: str) -> None:
        now = time.time_ns()
        state = self.state
        payload = decode_nonce(nonce)
        if payload is not None and payload.step == state.step:
            state.acks += 1
            state.ack_latency.add(now - payload.sent_ns)
        if self.window is not None:
            self.window.release()

    # -- sending ------------------------------------------------------------------------------------
    async def send_at_rate(self, step: int, count: int, start_ns: int, interval_ns: int) -> None:
        """``count`` messages, message k due at ``start_ns + k * interval_ns``.

        The payload carries the due time, not the moment the send happened, so a server that
        pushes back (or a sender that falls behind) shows up as latency rather than hiding it.
        """
        ws = self.ws
        if ws is None:
            return
        conversation, me = self.conversation, self.spec.id
        self.sent = 0
        for k in range(count):
            due = start_ns + k * interval_ns
            wait = due - time.time_ns()
            if wait > 0:
                await asyncio.sleep(wait / 1e9)
            frame = conversation.message(encode(step, me, k, due), encode_nonce(step, me, k, due))
            try:
                await ws.send(frame)
            except ConnectionClosed:
                return
            self.sent += 1

    async def send_windowed(self, step: int, window: int, end_ns: int, drain: float) -> None:
        """Keep ``window`` unacknowledged messages in flight until ``end_ns``, then await the acks."""
        ws = self.ws
        if ws is None:
            return
        conversation, me = self.conversation, self.spec.id
        self.window = slots = asyncio.Semaphore(window)
        self.sent = 0
        try:
            while True:
                await slots.acquire()
                now = time.time_ns()
                if now >= end_ns:
                    slots.release()
                    break
                frame = conversation.message(
                    encode(step, me, self.sent, now), encode_nonce(step, me, self.sent, now)
                )
                await ws.send(frame)
                self.sent += 1
            async with asyncio.timeout(drain):
                for _ in range(window):
                    await slots.acquire()
        except (ConnectionClosed, TimeoutError):
            pass
        finally:
            self.window = None

    # -- closing ------------------------------------------------------------------------------------
    async def close(self) -> None:
        if self.ws is not None:
            try:
                await self.ws.close()
            except Exception:  # closing is best effort: the server may be gone already
                pass
        if self.reader is not None:
            self.reader.cancel()
            try:
                await self.reader
            except asyncio.CancelledError:
                pass
