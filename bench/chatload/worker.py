"""A load worker process: its share of the clients, driven by the orchestrator over a pipe.

The orchestrator sends orders (:class:`JoinOrder`, :class:`TrafficOrder`, :class:`CloseOrder`);
the worker answers each with a report. Every wait is bounded by the plan's deadline, after
which the worker closes what it has and exits by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
import traceback
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import httpx

from .adapters import ADAPTERS, Adapter
from .client import ClientSpec, LoadClient, StepState
from .stats import LatencyHistogram

__all__ = [
    "CloseOrder",
    "Closed",
    "Failed",
    "JoinOrder",
    "JoinReport",
    "PreparedReport",
    "TrafficOrder",
    "TrafficReport",
    "WorkerPlan",
    "messages_per_sender",
    "worker_main",
]

#: Concurrent sign-in requests per worker.
SIGN_IN_CONCURRENCY = 16


@dataclass(frozen=True)
class WorkerPlan:
    index: int
    server: str
    base_url: str  # ws://127.0.0.1:<port>
    http_url: str  # http://127.0.0.1:<port>
    clients: tuple[ClientSpec, ...]
    handshakes: int  # handshakes in flight at once (this worker)
    deadline: float  # time.time(): the worker stops by then, whatever happens
    cpu: int | None = None
    join_timeout: float = 30.0


@dataclass(frozen=True)
class PreparedReport:
    signed_in: int
    failed: int
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class JoinOrder:
    start_at: float  # time.time() at which every worker starts connecting


@dataclass(frozen=True)
class JoinReport:
    latencies: list[float]  # seconds, per joined client
    ready_at: list[float]  # time.time() at which each client was ready
    failed: int
    errors: dict[str, int]
    cpu_seconds: float
    joined_ids: list[int]


@dataclass(frozen=True)
class TrafficOrder:
    step: int
    start_at: float  # time.time()
    duration: float
    drain: float  # seconds to wait for deliveries after the last send
    rate_per_sender: float = 0.0  # messages/s; 0 with window > 0
    window: int = 0  # pipelined: unacknowledged messages per sender
    #: per room, how many senders; with a rate, every receiver knows what it is owed
    room_senders: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TrafficReport:
    step: int
    sent: dict[int, int]  # sender -> messages sent
    unique: int
    duplicates: int
    stale: int
    latency: LatencyHistogram
    ack_latency: LatencyHistogram
    acks: int
    errors: dict[str, int]
    last_receive: float  # time.time() of the last delivery (0 when none)
    cpu_seconds: float
    wall_seconds: float  # from the step's start to the end of its drain
    disconnected: int


@dataclass(frozen=True)
class CloseOrder:
    pass


@dataclass(frozen=True)
class Closed:
    seconds: float


@dataclass(frozen=True)
class Failed:
    error: str


def messages_per_sender(rate: float, duration: float) -> int:
    """What one sender sends in a step at ``rate`` messages/s: at least one."""
    return max(1, round(rate * duration))


def _count(errors: dict[str, int], exc: BaseException) -> None:
    key = type(exc).__name__
    if str(exc):
        key += f": {str(exc)[:80]}"
    errors[key] = errors.get(key, 0) + 1


class Worker:
    def __init__(self, plan: WorkerPlan, conn: Connection) -> None:
        self.plan = plan
        self.conn = conn
        self.adapter: Adapter = ADAPTERS[plan.server]()
        self.clients = [LoadClient(spec, self.adapter, plan.base_url) for spec in plan.clients]
        self.joined: list[LoadClient] = []

    def remaining(self) -> float:
        return max(0.1, self.plan.deadline - time.time())

    async def receive(self) -> Any:
        loop = asyncio.get_running_loop()
        ready = await asyncio.wait_for(
            loop.run_in_executor(None, self.conn.poll, self.remaining()), self.remaining() + 1
        )
        if not ready:
            raise TimeoutError("no order from the orchestrator before the deadline")
        return self.conn.recv()

    async def run(self) -> None:
        try:
            self.conn.send(await self.prepare())
            while True:
                order = await self.receive()
                if isinstance(order, JoinOrder):
                    self.conn.send(await self.join(order))
                elif isinstance(order, TrafficOrder):
                    self.conn.send(await self.traffic(order))
                elif isinstance(order, CloseOrder):
                    self.conn.send(await self.close())
                    return
        except Exception:
            with contextlib.suppress(Exception):
                self.conn.send(Failed(traceback.format_exc(limit=5)))
            await self.close()

    # -- phases ---------------------------------------------------------------------------------------
    async def prepare(self) -> PreparedReport:
        """Sign every client in (edgeroom: a guest session each); not part of any timing."""
        started = time.perf_counter()
        failed = 0
        error: str | None = None
        gate = asyncio.Semaphore(SIGN_IN_CONCURRENCY)
        async with httpx.AsyncClient(
            base_url=self.plan.http_url,
            trust_env=False,
            timeout=30,
            limits=httpx.Limits(max_connections=SIGN_IN_CONCURRENCY),
        ) as http:

            async def sign_in(client: LoadClient) -> None:
                nonlocal failed, error
                async with gate:
                    try:
                        client.headers = await self.adapter.sign_in(http, client.spec.id)
                    except Exception as exc:
                        failed += 1
                        error = error or repr(exc)

            async with asyncio.timeout(self.remaining()):
                await asyncio.gather(*(sign_in(c) for c in self.clients))
        return PreparedReport(
            len(self.clients) - failed, failed, time.perf_counter() - started, error
        )

    async def join(self, order: JoinOrder) -> JoinReport:
        await asyncio.sleep(max(0.0, order.start_at - time.time()))
        cpu = time.process_time()
        gate = asyncio.Semaphore(self.plan.handshakes)
        latencies: list[float] = []
        ready_at: list[float] = []
        errors: dict[str, int] = {}

        async def one(client: LoadClient) -> None:
            async with gate:
                try:
                    latencies.append(await client.join(self.plan.join_timeout))
                    ready_at.append(time.time())
                    self.joined.append(client)
                except Exception as exc:
                    _count(errors, exc)
                    await client.close()

        async with asyncio.timeout(self.remaining()):
            await asyncio.gather(*(one(c) for c in self.clients))
        return JoinReport(
            latencies,
            ready_at,
            len(self.clients) - len(latencies),
            errors,
            time.process_time() - cpu,
            [c.spec.id for c in self.joined],
        )

    async def traffic(self, order: TrafficOrder) -> TrafficReport:
        state = StepState(step=order.step)
        rate = order.rate_per_sender
        count = messages_per_sender(rate, order.duration) if rate > 0 else 0
        if count:
            state.expected = sum(
                count * order.room_senders.get(c.spec.room, 0)
                for c in self.joined
                if c.closed_early is None
            )
        for client in self.joined:
            client.state = state
        senders = [c for c in self.joined if c.spec.sends and c.closed_early is None]
        # No collector pauses in the load generator while it measures (it allocates little).
        gc.collect()
        gc.disable()
        try:
            return await self._traffic(order, state, senders, rate, count)
        finally:
            gc.enable()

    async def _traffic(
        self,
        order: TrafficOrder,
        state: StepState,
        senders: list[LoadClient],
        rate: float,
        count: int,
    ) -> TrafficReport:
        await asyncio.sleep(max(0.0, order.start_at - time.time()))
        cpu = time.process_time()
        start_ns = int(order.start_at * 1e9)
        end_ns = start_ns + int(order.duration * 1e9)
        async with asyncio.timeout(self.remaining()):
            if rate > 0:
                interval = int(1e9 / rate)
                await asyncio.gather(
                    *(
                        # senders start spread over one interval (golden-ratio offsets), not at once
                        c.send_at_rate(
                            order.step,
                            count,
                            start_ns + int(interval * ((c.spec.id * 0.6180339887) % 1.0)),
                            interval,
                        )
                        for c in senders
                    )
                )
            else:
                await asyncio.gather(
                    *(
                        c.send_windowed(order.step, order.window, end_ns, order.drain)
                        for c in senders
                    )
                )
            if state.expected and not state.complete.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(state.complete.wait(), order.drain)
            elif not state.expected:
                await self._quiet(state, order.drain)
        return TrafficReport(
            step=order.step,
            sent={c.spec.id: c.sent for c in senders},
            unique=state.ledger.unique,
            duplicates=state.ledger.duplicates,
            stale=state.stale,
            latency=state.latency,
            ack_latency=state.ack_latency,
            acks=state.acks,
            errors=state.errors,
            last_receive=state.last_receive_ns / 1e9,
            cpu_seconds=time.process_time() - cpu,
            wall_seconds=time.time() - order.start_at,
            disconnected=sum(1 for c in self.joined if c.closed_early is not None),
        )

    async def _quiet(self, state: StepState, limit: float, quiet: float = 0.5) -> None:
        """Wait until nothing has arrived for ``quiet`` seconds (at most ``limit`` seconds)."""
        end = time.monotonic() + limit
        seen = -1
        while time.monotonic() < end and seen != state.ledger.unique:
            seen = state.ledger.unique
            await asyncio.sleep(quiet)

    async def close(self) -> Closed:
        started = time.perf_counter()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(10.0, self.remaining())):
                await asyncio.gather(*(c.close() for c in self.clients))
        return Closed(time.perf_counter() - started)


def worker_main(plan: WorkerPlan, conn: Connection) -> None:
    """Process entry point (multiprocessing, spawn): pin, raise the fd limit, run on uvloop."""
    if plan.cpu is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {plan.cpu})
    from .system import raise_open_files

    raise_open_files()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the bench extra installs it
        asyncio.run(Worker(plan, conn).run())
    else:
        uvloop.run(Worker(plan, conn).run())
