"""Chat load harness: edgeroom, a raw websockets peer and a python-socketio peer, side by side.

    python -m bench.chatload --quick                    # every scenario, small (make bench)
    python -m bench.chatload --full                     # the issue 11 matrix (make bench-full)
    python -m bench.chatload --quick --servers edgeroom,raw --scenarios join,fanout

Writes bench/results/<timestamp>-<mode>.jsonl (every run), and <name>.md, <name>.jsonl and
<name>-{fanout,rooms,join}.png, where the name is ``latest`` for a full run (kept in git) and
``quick`` otherwise.
Exits 1 only when the run itself fails (a server that does not start, a worker that dies);
missed targets are printed, not failed: these are figures, not tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import scenarios
from .orchestrator import LoadFailed
from .results import append_jsonl, evaluate_targets, render_markdown
from .scenarios import SCENARIOS, Record, Settings
from .servers import EDGEROOM_VARS, OPTIONAL_SERVERS, ROOT, SERVERS, ServerFailed
from .system import pinning, raise_open_files

RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Plan:
    """Sizes for one mode."""

    join_sizes: list[int]
    #: repeats of the join scenario, servers taking turns in each: the join target is judged on
    #: the median of the rounds' ratios, so one noisy minute on a shared machine cannot decide it
    join_rounds: int
    fanout_clients: int
    fanout_senders: int
    fanout_rates: list[float]  # aggregate messages/s in the room
    rooms_clients: int
    rooms_count: int
    rooms_rates: list[float]  # aggregate messages/s over all rooms (one sender per room)
    idle_clients: int
    idle_room_size: int
    durable_senders: int
    durable_windows: list[int]
    step_seconds: float
    drain_seconds: float
    durable_seconds: float
    time_limit: float
    scenario_budget: float
    extra: dict[str, Any] = field(default_factory=dict)


QUICK = Plan(
    join_sizes=[200],
    join_rounds=3,
    fanout_clients=200,
    fanout_senders=4,
    fanout_rates=[20, 100],
    rooms_clients=200,
    rooms_count=20,
    rooms_rates=[100, 400],
    idle_clients=1_000,
    idle_room_size=100,
    durable_senders=10,
    durable_windows=[4, 16],
    step_seconds=2.0,
    drain_seconds=3.0,
    durable_seconds=3.0,
    time_limit=200.0,
    scenario_budget=60.0,
)

FULL = Plan(
    join_sizes=[500, 1_000, 2_000],
    join_rounds=3,
    fanout_clients=1_000,
    fanout_senders=10,
    fanout_rates=[2, 4, 6, 10, 20, 30, 40, 60, 80, 100, 150, 200, 300, 400, 600, 800, 1_000],
    rooms_clients=2_000,
    rooms_count=200,
    rooms_rates=[100, 200, 300, 400, 600, 1_000, 1_500, 2_000, 3_000, 4_000, 6_000, 8_000],
    idle_clients=10_000,
    idle_room_size=100,
    durable_senders=20,
    durable_windows=[4, 16, 64],
    step_seconds=5.0,
    drain_seconds=10.0,
    durable_seconds=10.0,
    time_limit=3_600.0,
    scenario_budget=900.0,
)


def run_scenario(
    name: str, server: str, plan: Plan, settings: Settings, round_: int = 1
) -> list[Record]:
    if name == "join":
        return [r for n in plan.join_sizes for r in scenarios.join(server, n, settings, round_)]
    if name == "fanout":
        return scenarios.fanout(
            server,
            settings,
            scenario="fanout",
            clients=plan.fanout_clients,
            rooms=1,
            senders_per_room=plan.fanout_senders,
            rates=plan.fanout_rates,
            duration=plan.step_seconds,
            drain=plan.drain_seconds,
        )
    if name == "rooms":
        return scenarios.fanout(
            server,
            settings,
            scenario="rooms",
            clients=plan.rooms_clients,
            rooms=plan.rooms_count,
            senders_per_room=1,
            rates=plan.rooms_rates,
            duration=plan.step_seconds,
            drain=plan.drain_seconds,
        )
    if name == "idle":
        return scenarios.idle(server, plan.idle_clients, plan.idle_room_size, settings)
    if name == "durable":
        return scenarios.durable(
            server, plan.durable_senders, plan.durable_windows, plan.durable_seconds, settings
        )
    raise ValueError(f"unknown scenario {name!r}")


def _names(text: str, known: Sequence[str], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {', '.join(unknown)} (choose from {', '.join(known)})"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chatload", description=__doc__.splitlines()[0] if __doc__ else None
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small sizes, about 2 minutes (default)")
    mode.add_argument("--full", action="store_true", help="the issue 11 matrix (tens of minutes)")
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        type=lambda t: _names(t, SERVERS + OPTIONAL_SERVERS, "server"),
        help=f"default {','.join(SERVERS)}; also {','.join(OPTIONAL_SERVERS)} (uvicorn's own cost)",
    )
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), type=lambda t: _names(t, SCENARIOS, "scenario")
    )
    parser.add_argument("--workers", type=int, default=2, help="load processes (default 2)")
    parser.add_argument(
        "--handshakes",
        type=int,
        default=100,
        help="handshakes in flight, all workers (default 100)",
    )
    parser.add_argument("--time-limit", type=float, help="seconds for the whole run")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and load to cores")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (bench/results)")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record each server with py-spy into DIR/<scenario>-<server>-<time>.svg (skews figures)",
    )
    parser.add_argument(
        "--profile-stacks",
        action="store_true",
        help="with --profile: write py-spy's raw collapsed stacks (.txt) instead of flame graphs",
    )
    parser.add_argument(
        "--name",
        help="name of the Markdown table and plots (default: latest for --full, else quick)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    plan = FULL if args.full else QUICK
    mode = "full" if args.full else "quick"
    name = args.name or ("latest" if args.full else "quick")
    time_limit = args.time_limit or plan.time_limit
    open_files = raise_open_files()
    pins = pinning(not args.no_pin)
    settings = Settings(
        workers=args.workers,
        handshakes=args.handshakes,
        pinning=pins,
        deadline=time.time() + time_limit,
        scenario_budget=plan.scenario_budget,
        profile_dir=args.profile,
        profile_format="txt" if args.profile_stacks else "svg",
    )
    when = datetime.now(UTC)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    jsonl = args.out / f"{stamp}-{mode}.jsonl"
    print(
        f"chatload {mode}: servers {', '.join(args.servers)}; scenarios {', '.join(args.scenarios)}"
    )
    print(f"pinning: {pins.describe()}; open files {open_files:,}; {args.workers} load workers")
    if "edgeroom" in args.servers:
        print(
            "edgeroom runs with its chat rate limits lifted (load comes from one IP): "
            + ", ".join(f"{k}={v}" for k, v in EDGEROOM_VARS.items())
        )
    records: list[Record] = []
    failures: list[str] = []
    started = time.monotonic()
    for scenario in args.scenarios:
        rounds = plan.join_rounds if scenario == "join" else 1
        for round_ in range(1, rounds + 1):
            for server in args.servers:
                label = f"{scenario}/{server}" + (f" round {round_}" if rounds > 1 else "")
                if time.time() > settings.deadline - 5:
                    failures.append(f"{label}: not run (time limit)")
                    continue
                print(f"== {label.replace('/', ' / ', 1)}", flush=True)
                try:
                    new = run_scenario(scenario, server, plan, settings, round_)
                except (ServerFailed, LoadFailed) as exc:
                    print(f"   FAILED: {exc}", file=sys.stderr)
                    failures.append(f"{label}: {str(exc).splitlines()[0]}")
                    continue
                append_jsonl(jsonl, new)
                records.extend(new)
    header = {
        "mode": mode,
        "command": "python -m bench.chatload "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "when": when.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs; {pins.describe()}",
        "edgeroom": "embedded storage (SQLite + files), chat rate limits off ("
        + ", ".join(f"{k}={v}" for k, v in EDGEROOM_VARS.items())
        + ")",
        "load": f"{args.workers} processes on uvloop, {args.handshakes} handshakes in flight",
        "raw data": f"{name}.jsonl (and {jsonl.name})",
        "wall time": f"{time.monotonic() - started:.0f} s",
    }
    if failures:
        header["failures"] = "; ".join(failures)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        from .plots import plot_all

        plots = plot_all(records, args.out, name)
    except ImportError as exc:  # matplotlib is in the bench extra
        print(f"no plots: {exc}")
        plots = []
    markdown = render_markdown(records, header, [p.name for p in plots])
    (args.out / f"{name}.md").write_text(markdown, encoding="utf-8")
    # This run's records again under the table's name (latest.jsonl is kept in git with latest.md).
    (args.out / f"{name}.jsonl").unlink(missing_ok=True)
    append_jsonl(args.out / f"{name}.jsonl", records)
    print()
    print("Targets (issue 11 §5), edgeroom against the peers measured in this run:")
    for target in evaluate_targets(records):
        note = f" [{target.note}]" if target.note else ""
        print(f"  {target.name:8} {target.verdict:12} {target.measured} — {target.rule}{note}")
    print(f"\nwrote {jsonl}, {args.out / (name + '.md')}" + "".join(f", {p.name}" for p in plots))
    print(f"wall time {time.monotonic() - started:.0f} s")
    if failures:
        print("failures:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
