"""The scenarios of issue 11: ``join``, ``fanout``, ``rooms``, ``idle``, ``durable``.

Each one starts a fresh server, runs its load through a :class:`~.orchestrator.LoadRun`, stops
the server, and returns result records (plain dicts: one per traffic step, or one per run), which
:mod:`.results` writes as JSON lines and renders as tables and plots.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .adapters import ADAPTERS
from .client import ClientSpec
from .orchestrator import JoinResult, LoadRun, TrafficResult
from .servers import ServerProcess, running
from .stats import percentile
from .system import Pinning
from .worker import messages_per_sender

__all__ = [
    "SCENARIOS",
    "Record",
    "Settings",
    "durable",
    "fanout",
    "idle",
    "join",
    "make_clients",
]

Record = dict[str, Any]
SCENARIOS = ("join", "fanout", "rooms", "idle", "durable")
#: Load-side CPU use (of the one load core) above which a figure measures the load generator.
LOAD_BOUND = 0.9


@dataclass(frozen=True)
class Settings:
    workers: int
    handshakes: int
    pinning: Pinning
    deadline: float  # time.time(): the whole run stops by then
    scenario_budget: float  # seconds one scenario may take at most
    stop_ms: float = 100.0  # fan-out steps go up until p99 passes this
    say: Callable[[str], None] = print
    profile_dir: Path | None = None  # py-spy flame graphs of the servers, when set
    profile_format: str = "svg"  # or "txt": py-spy's raw collapsed stacks, one line per stack

    def scenario_deadline(self) -> float:
        return min(self.deadline, time.time() + self.scenario_budget)

    def profile(self, scenario: str, server: str) -> Path | None:
        if self.profile_dir is None:
            return None
        stamp = time.strftime("%H%M%S")
        return self.profile_dir / f"{scenario}-{server}-{stamp}.{self.profile_format}"


def make_clients(
    scenario: str, count: int, rooms: int, senders_per_room: int = 0
) -> list[ClientSpec]:
    """``count`` clients dealt over ``rooms`` rooms; the first ``senders_per_room`` of each send."""
    specs: list[ClientSpec] = []
    seen: dict[int, int] = {}
    for i in range(count):
        room = i % rooms
        position = seen.get(room, 0)
        seen[room] = position + 1
        specs.append(ClientSpec(i + 1, f"{scenario}-{room}", position < senders_per_room))
    return specs


def _ms(seconds: list[float], q: float) -> float:
    return round(percentile(seconds, q) * 1000, 2)


def _join_metrics(result: JoinResult) -> dict[str, Any]:
    return {
        "clients": result.clients,
        "joined": result.joined,
        "failed": result.failed,
        "all_ready_s": round(result.all_ready, 3),
        "join_p50_ms": _ms(result.latencies, 50),
        "join_p90_ms": _ms(result.latencies, 90),
        "join_p99_ms": _ms(result.latencies, 99),
        "join_max_ms": _ms(result.latencies, 100),
        "join_errors": result.errors,
        "join_load_cpu": round(result.load_cpu / result.all_ready, 3) if result.all_ready else 0,
    }


def _traffic_metrics(
    result: TrafficResult, server_cpu: float, offered_msgs: float, audience: int
) -> dict[str, Any]:
    """``server_cpu``: the server's CPU seconds over the step, drain included (as ``load_cpu``)."""
    latency = result.latency.summary()
    ack = result.ack_latency.summary()
    load_cpu = result.load_cpu / result.wall if result.wall else 0.0
    return {
        "offered_msgs_s": round(offered_msgs, 1),
        "offered_deliveries_s": round(offered_msgs * audience, 1),
        "sent": sum(result.sent.values()),
        "sent_msgs_s": round(sum(result.sent.values()) / result.duration, 1),
        "expected": result.expected,
        "delivered": result.unique,
        "deliveries_s": round(result.deliveries_per_s, 1),
        "lost": result.lost,
        "duplicates": result.duplicates,
        "stale": result.stale,
        "p50_ms": round(latency.p50, 2),
        "p90_ms": round(latency.p90, 2),
        "p99_ms": round(latency.p99, 2),
        "max_ms": round(latency.max, 2),
        "acks": result.acks,
        "acks_s": round(result.acks / result.elapsed, 1) if result.elapsed else 0,
        "ack_p50_ms": round(ack.p50, 2),
        "ack_p90_ms": round(ack.p90, 2),
        "ack_p99_ms": round(ack.p99, 2),
        "ack_max_ms": round(ack.max, 2),
        "errors": result.errors,
        "disconnected": result.disconnected,
        "elapsed_s": round(result.elapsed, 3),
        "server_cpu": round(server_cpu / result.wall, 3) if result.wall else 0,
        "load_cpu": round(load_cpu, 3),
        "load_bound": load_cpu > LOAD_BOUND,
    }


def _record(
    scenario: str, server: ServerProcess, params: dict[str, Any], metrics: dict[str, Any]
) -> Record:
    return {
        "scenario": scenario,
        "server": server.name,
        "params": params,
        "metrics": metrics,
        "notes": list(server.notes),
        "at": time.time(),
    }


def _load_run(server: ServerProcess, clients: list[ClientSpec], settings: Settings) -> LoadRun:
    return LoadRun(
        server,
        clients,
        workers=settings.workers,
        handshakes=settings.handshakes,
        deadline=settings.scenario_deadline(),
        load_cpu=settings.pinning.load_cpu,
    )


def _prepared(run: LoadRun, settings: Settings) -> None:
    signed_in, seconds = run.prepare()
    if run.server.name == "edgeroom":
        settings.say(f"    {signed_in} guest sessions in {seconds:.1f} s")


# -- join -------------------------------------------------------------------------------------------


def join(server_name: str, count: int, settings: Settings, round_: int = 1) -> list[Record]:
    """``count`` clients into one room: time until all are ready, per-client join latency.

    ``round_`` numbers the repeats of a run (each on a fresh server), kept in the params.
    """
    params = {"clients": count, "rooms": 1, "handshakes": settings.handshakes, "round": round_}
    with (
        running(server_name, settings.pinning, settings.profile("join", server_name)) as server,
        _load_run(server, make_clients("join", count, 1), settings) as run,
    ):
        _prepared(run, settings)
        before = server.cpu_seconds()
        result = run.join()
        metrics = _join_metrics(result)
        metrics["server_cpu_s"] = round(server.cpu_seconds() - before, 2)
        metrics["server_rss_kib"] = server.rss_kib()
        run.close()
    settings.say(
        f"    {result.joined}/{count} ready in {result.all_ready:.2f} s;"
        f" join p50 {metrics['join_p50_ms']} ms, p99 {metrics['join_p99_ms']} ms"
    )
    return [_record("join", server, params, metrics)]


# -- fanout and rooms ------------------------------------------------------------------------------


def fanout(
    server_name: str,
    settings: Settings,
    *,
    scenario: str,
    clients: int,
    rooms: int,
    senders_per_room: int,
    rates: list[float],
    duration: float,
    drain: float,
    settle: float = 1.0,
) -> list[Record]:
    """Offered aggregate rates (messages/s over all rooms), one step each, until p99 passes the limit
    (or more than 1% is lost) twice in a row at the same rate.

    Every message goes to every member of its room (its sender too), so the offered deliveries
    per second are the rate times the room size.
    """
    records: list[Record] = []
    specs = make_clients(scenario, clients, rooms, senders_per_room)
    senders = sum(1 for s in specs if s.sends)
    audience = clients // rooms
    with (
        running(server_name, settings.pinning, settings.profile(scenario, server_name)) as server,
        _load_run(server, specs, settings) as run,
    ):
        _prepared(run, settings)
        joined = run.join()
        join_metrics = _join_metrics(joined)
        settings.say(f"    {joined.joined}/{clients} joined in {joined.all_ready:.2f} s")
        time.sleep(settle)  # the join storm's aftermath (presence, collections) is not traffic
        # A step that fails is run once more before the stepping stops: on a shared machine one
        # foreign hiccup in a 5-second step is enough to push a p99 over the limit.
        schedule = [(rate, attempt) for rate in rates for attempt in (1, 2)]
        step = 0
        passed_rate: float | None = None
        for rate, attempt in schedule:
            if attempt == 2 and passed_rate == rate:
                continue
            if step and attempt == 1 and passed_rate is None:
                break  # the previous rate failed twice
            if time.time() + duration + drain + 5 > run.deadline:
                settings.say("    (time limit: no more steps)")
                break
            passed_rate = None
            before = server.cpu_seconds()
            result = run.traffic(
                step, duration=duration, drain=drain, rate_per_sender=rate / senders
            )
            step += 1
            # the schedule actually sent: whole messages per sender
            offered = messages_per_sender(rate / senders, duration) * senders / duration
            metrics = _traffic_metrics(result, server.cpu_seconds() - before, offered, audience)
            metrics["server_rss_kib"] = server.rss_kib()
            metrics.update({k: v for k, v in join_metrics.items() if k == "all_ready_s"})
            params = {
                "clients": clients,
                "rooms": rooms,
                "senders_per_room": senders_per_room,
                "rate": rate,
                "duration": duration,
                "step": step - 1,
                "attempt": attempt,
            }
            records.append(_record(scenario, server, params, metrics))
            settings.say(
                f"    {offered:>7.4g} msg/s offered -> {metrics['deliveries_s']:>9,.0f} deliveries/s"
                f" (of {metrics['offered_deliveries_s']:,.0f}); p50 {metrics['p50_ms']} p99"
                f" {metrics['p99_ms']} max {metrics['max_ms']} ms; lost {metrics['lost']}"
                f" dup {metrics['duplicates']}; server cpu {metrics['server_cpu']:.0%},"
                f" load cpu {metrics['load_cpu']:.0%}" + (" (run again)" if attempt == 2 else "")
            )
            failed = metrics["p99_ms"] > settings.stop_ms or metrics["lost"] > 0.01 * max(
                1, metrics["expected"]
            )
            if not failed:
                passed_rate = rate
        run.close()
    return records


# -- idle ---------------------------------------------------------------------------------------------


def idle(
    server_name: str, count: int, room_size: int, settings: Settings, settle: float = 2.0
) -> list[Record]:
    """``count`` held connections (in rooms of ``room_size``): server memory per connection.

    Memory is read ``settle`` seconds after the sign-ins and again after the joins, so buffers
    and collections of the step before are done.
    """
    rooms = max(1, count // room_size)
    params = {"clients": count, "rooms": rooms}
    with (
        running(server_name, settings.pinning, settings.profile("idle", server_name)) as server,
        _load_run(server, make_clients("idle", count, rooms), settings) as run,
    ):
        _prepared(run, settings)
        time.sleep(settle)
        before = server.rss_kib()
        result = run.join()
        time.sleep(settle)
        after = server.rss_kib()
        run.close()
    per_connection = (after - before) * 1024 / max(1, result.joined)
    metrics = {
        **_join_metrics(result),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "bytes_per_connection": round(per_connection),
        "kb_per_connection": round(per_connection / 1000, 1),
    }
    settings.say(
        f"    {result.joined}/{count} held; RSS {before / 1024:.0f} -> {after / 1024:.0f} MiB:"
        f" {per_connection / 1000:.1f} KB per connection"
    )
    return [_record("idle", server, params, metrics)]


# -- durable --------------------------------------------------------------------------------------------


def durable(
    server_name: str, senders: int, windows: list[int], duration: float, settings: Settings
) -> list[Record]:
    """One room, ``senders`` each keeping ``window`` unacknowledged messages in flight; one step
    per window size, since a server bound by commit latency rather than CPU takes more with more
    in flight."""
    if not ADAPTERS[server_name].has_acks:
        settings.say(f"    skipped: {server_name} has no acknowledgements (nothing is stored)")
        return []
    records: list[Record] = []
    with (
        running(server_name, settings.pinning, settings.profile("durable", server_name)) as server,
        _load_run(server, make_clients("durable", senders, 1, senders), settings) as run,
    ):
        _prepared(run, settings)
        run.join()
        for step, window in enumerate(windows):
            if time.time() + duration + 15 > run.deadline:
                settings.say("    (time limit: no more steps)")
                break
            before = server.cpu_seconds()
            result = run.traffic(step, duration=duration, drain=10.0, window=window)
            metrics = _traffic_metrics(result, server.cpu_seconds() - before, 0, senders)
            metrics["offered_msgs_s"] = None
            metrics["offered_deliveries_s"] = None
            params = {"clients": senders, "rooms": 1, "senders": senders, "window": window}
            records.append(_record("durable", server, params, metrics))
            settings.say(
                f"    {senders} x {window} in flight: {metrics['acks_s']:,.0f} acks/s; ack p50"
                f" {metrics['ack_p50_ms']} p99 {metrics['ack_p99_ms']} max {metrics['ack_max_ms']}"
                f" ms; {metrics['deliveries_s']:,.0f} deliveries/s; lost {metrics['lost']};"
                f" server cpu {metrics['server_cpu']:.0%}"
            )
        run.close()
    return records
