"""The orchestrator's side of a load run: worker processes, their orders, and merged reports.

Clients are dealt round-robin to the workers, so every room has members in every worker. Each
order goes to every worker at once and the orchestrator waits for every answer, never past the
run's deadline; at the end (or on any failure) the workers are stopped.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from .client import ClientSpec
from .servers import ServerProcess
from .stats import LatencyHistogram
from .worker import (
    Closed,
    CloseOrder,
    Failed,
    JoinOrder,
    JoinReport,
    PreparedReport,
    TrafficOrder,
    TrafficReport,
    WorkerPlan,
    worker_main,
)

__all__ = ["JoinResult", "LoadFailed", "LoadRun", "TrafficResult"]

#: Orders start this long after they are sent, so every worker begins at the same moment.
START_MARGIN = 0.3


class LoadFailed(RuntimeError):
    pass


@dataclass
class JoinResult:
    clients: int
    joined: int
    failed: int
    all_ready: float  # seconds from the start until the last client was ready
    latencies: list[float]  # seconds
    errors: dict[str, int]
    load_cpu: float  # CPU seconds used by the workers
    joined_ids: set[int] = field(default_factory=set)


@dataclass
class TrafficResult:
    step: int
    duration: float
    sent: dict[int, int]
    expected: int
    unique: int
    duplicates: int
    lost: int
    stale: int
    latency: LatencyHistogram
    ack_latency: LatencyHistogram
    acks: int
    errors: dict[str, int]
    elapsed: float  # from the start until the last delivery (at least the duration)
    load_cpu: float  # CPU seconds of all workers over the step, its drain included
    wall: float  # seconds from the step's start to the end of its drain
    disconnected: int

    @property
    def deliveries_per_s(self) -> float:
        return self.unique / self.elapsed if self.elapsed > 0 else 0.0


def _merge_counts(parts: Sequence[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for key, n in part.items():
            total[key] = total.get(key, 0) + n
    return total


class LoadRun:
    """``workers`` processes driving ``clients`` against ``server``; a context manager."""

    def __init__(
        self,
        server: ServerProcess,
        clients: Sequence[ClientSpec],
        *,
        workers: int,
        handshakes: int,
        deadline: float,
        load_cpu: int | None,
    ) -> None:
        self.server = server
        self.clients = list(clients)
        self.deadline = deadline
        self.rooms: dict[str, list[ClientSpec]] = {}
        for spec in self.clients:
            self.rooms.setdefault(spec.room, []).append(spec)
        count = max(1, min(workers, len(self.clients)))
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[BaseProcess] = []
        for index in range(count):
            share = tuple(self.clients[index::count])
            plan = WorkerPlan(
                index=index,
                server=server.name,
                base_url=server.ws_url,
                http_url=server.http_url,
                clients=share,
                handshakes=max(1, handshakes // count),
                deadline=deadline,
                cpu=load_cpu,
            )
            ours, theirs = context.Pipe()
            process = context.Process(
                target=worker_main, args=(plan, theirs), name=f"chatload-{index}", daemon=True
            )
            process.start()
            theirs.close()
            self.pipes.append(ours)
            self.processes.append(process)
        self.joined: set[int] = set()

    def __enter__(self) -> LoadRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- talking to the workers -------------------------------------------------------------------
    def _answers(self) -> list[Any]:
        answers: list[Any] = []
        for index, pipe in enumerate(self.pipes):
            while not pipe.poll(0.2):
                self.server.check_alive()
                if time.time() > self.deadline + 5:
                    raise LoadFailed(f"worker {index} did not answer before the deadline")
                if not self.processes[index].is_alive():
                    raise LoadFailed(f"worker {index} exited ({self.processes[index].exitcode})")
            try:
                answer = pipe.recv()
            except EOFError:
                raise LoadFailed(f"worker {index} closed its pipe") from None
            if isinstance(answer, Failed):
                raise LoadFailed(f"worker {index} failed:\n{answer.error}")
            answers.append(answer)
        return answers

    def _order(self, order: object) -> list[Any]:
        for pipe in self.pipes:
            pipe.send(order)
        return self._answers()

    # -- phases ---------------------------------------------------------------------------------------
    def prepare(self) -> tuple[int, float]:
        """Wait for every worker's sign-ins: (signed in, seconds)."""
        reports: list[PreparedReport] = self._answers()
        failed = [r for r in reports if r.failed]
        if failed:
            raise LoadFailed(
                f"{sum(r.failed for r in failed)} sign-ins failed; first error: {failed[0].error}"
            )
        return sum(r.signed_in for r in reports), max(r.seconds for r in reports)

    def join(self) -> JoinResult:
        start_at = time.time() + START_MARGIN
        reports: list[JoinReport] = self._order(JoinOrder(start_at))
        ready = [t for r in reports for t in r.ready_at]
        self.joined = {i for r in reports for i in r.joined_ids}
        return JoinResult(
            clients=len(self.clients),
            joined=len(self.joined),
            failed=sum(r.failed for r in reports),
            all_ready=(max(ready) - start_at) if ready else 0.0,
            latencies=[t for r in reports for t in r.latencies],
            errors=_merge_counts([r.errors for r in reports]),
            load_cpu=sum(r.cpu_seconds for r in reports),
            joined_ids=set(self.joined),
        )

    def audience(self) -> dict[str, int]:
        """Joined members per room."""
        return {
            room: sum(1 for spec in specs if spec.id in self.joined)
            for room, specs in self.rooms.items()
        }

    def traffic(
        self,
        step: int,
        *,
        duration: float,
        drain: float,
        rate_per_sender: float = 0.0,
        window: int = 0,
    ) -> TrafficResult:
        audience = self.audience()
        room_senders = {
            room: sum(1 for spec in specs if spec.sends and spec.id in self.joined)
            for room, specs in self.rooms.items()
        }
        start_at = time.time() + START_MARGIN
        order = TrafficOrder(
            step=step,
            start_at=start_at,
            duration=duration,
            drain=drain,
            rate_per_sender=rate_per_sender,
            window=window,
            room_senders=room_senders,
        )
        reports: list[TrafficReport] = self._order(order)
        sent = {sender: n for r in reports for sender, n in r.sent.items()}
        room_of = {spec.id: spec.room for spec in self.clients}
        expected = sum(n * audience[room_of[sender]] for sender, n in sent.items())
        unique = sum(r.unique for r in reports)
        last = max((r.last_receive for r in reports), default=0.0)
        return TrafficResult(
            step=step,
            duration=duration,
            sent=sent,
            expected=expected,
            unique=unique,
            duplicates=sum(r.duplicates for r in reports),
            lost=max(0, expected - unique),
            stale=sum(r.stale for r in reports),
            latency=LatencyHistogram.merged(r.latency for r in reports),
            ack_latency=LatencyHistogram.merged(r.ack_latency for r in reports),
            acks=sum(r.acks for r in reports),
            errors=_merge_counts([r.errors for r in reports]),
            elapsed=max(duration, last - start_at) if last else duration,
            load_cpu=sum(r.cpu_seconds for r in reports),
            wall=max(r.wall_seconds for r in reports),
            disconnected=sum(r.disconnected for r in reports),
        )

    def close(self) -> float:
        closed: list[Closed] = self._order(CloseOrder())
        return max((c.seconds for c in closed), default=0.0)

    def stop(self) -> None:
        for process in self.processes:
            process.join(timeout=3)
        for process in self.processes:
            if process.is_alive():
                process.terminate()
                process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)
        for pipe in self.pipes:
            pipe.close()
