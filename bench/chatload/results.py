"""Results: JSON lines, the Markdown tables, and the issue 11 targets as ratios against the raw peer.

Targets (issue 11, section 5), all measured in the same run:

* fan-out in one room: edgeroom's deliveries/s at the highest step where its p99 stays under
  100 ms (with nothing lost) is at least 50% of the raw peer's, and not below python-socketio's;
* join: the largest room is ready within 2x the raw peer's time;
* idle: at most 40 KB of server memory per connection at 10,000 connections;
* durable: at least 5,000 acknowledged messages per second in one room.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Target",
    "append_jsonl",
    "best_fanout",
    "evaluate_targets",
    "read_jsonl",
    "render_markdown",
]

Record = dict[str, Any]
P99_LIMIT_MS = 100.0
FANOUT_RATIO = 0.5
JOIN_RATIO = 2.0
IDLE_KB = 40.0
DURABLE_ACKS = 5_000.0
#: The scale at which issue 11 states each target.
TARGET_SCALE = {"fanout": 1_000, "join": 2_000, "idle": 10_000}


@dataclass(frozen=True)
class Target:
    name: str
    rule: str
    measured: str
    met: bool | None  # None: not measured in this run
    note: str = ""

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: "not measured"}[self.met]


def append_jsonl(path: Path, records: Iterable[Record]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, sort_keys=True) + "\n")


def read_jsonl(path: Path) -> list[Record]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _of(records: Sequence[Record], scenario: str, server: str | None = None) -> list[Record]:
    return [
        r
        for r in records
        if r["scenario"] == scenario and (server is None or r["server"] == server)
    ]


def best_fanout(
    records: Sequence[Record], server: str, clients: int | None = None
) -> Record | None:
    """The highest offered step whose p99 stayed under the limit with nothing lost.

    Steps are compared by their offered deliveries/s: a passing step lost nothing, so what it
    achieved is what was offered, give or take the last deliveries' timing.
    """
    passing = [
        r
        for r in _of(records, "fanout", server)
        if r["params"]["rooms"] == 1
        and (clients is None or r["params"]["clients"] == clients)
        and r["metrics"]["p99_ms"] < P99_LIMIT_MS
        and r["metrics"]["lost"] == 0
    ]
    return max(passing, key=lambda r: r["metrics"]["offered_deliveries_s"], default=None)


def _scale_note(target: str, measured: int) -> str:
    wanted = TARGET_SCALE.get(target)
    if wanted is not None and measured < wanted:
        return f"measured at {measured:,}; the target is stated at {wanted:,}"
    return ""


def _fanout_target(records: Sequence[Record]) -> Target:
    rule = f"edgeroom >= {FANOUT_RATIO:.0%} of raw deliveries/s (p99 < {P99_LIMIT_MS:.0f} ms), >= socketio"
    sizes = [r["params"]["clients"] for r in _of(records, "fanout", "edgeroom")]
    if not sizes:
        return Target("fan-out", rule, "-", None)
    size = TARGET_SCALE["fanout"] if TARGET_SCALE["fanout"] in sizes else max(sizes)
    ours = best_fanout(records, "edgeroom", size)
    raw = best_fanout(records, "raw", size)
    sio = best_fanout(records, "socketio", size)
    if raw is None:
        return Target("fan-out", rule, "no passing raw step", None, _scale_note("fanout", size))
    if ours is None:
        steps = [
            r
            for r in _of(records, "fanout", "edgeroom")
            if r["params"]["rooms"] == 1 and r["params"]["clients"] == size
        ]
        lowest = min(steps, key=lambda r: r["metrics"]["offered_msgs_s"])["metrics"]
        measured = (
            f"no edgeroom step under {P99_LIMIT_MS:.0f} ms (lowest, {lowest['offered_msgs_s']:g} msg/s:"
            f" p99 {lowest['p99_ms']} ms); raw {raw['metrics']['offered_deliveries_s']:,.0f} deliveries/s"
        )
        return Target("fan-out", rule, measured, False, _scale_note("fanout", size))
    ours_rate = ours["metrics"]["offered_deliveries_s"]
    raw_rate = raw["metrics"]["offered_deliveries_s"]
    sio_rate = sio["metrics"]["offered_deliveries_s"] if sio else 0.0
    ratio = ours_rate / raw_rate if raw_rate else 0.0
    notes = [_scale_note("fanout", size)]
    if any(r["metrics"].get("load_bound") for r in _of(records, "fanout", "raw")):
        notes.append("the raw peer's figure is bounded by the load generator's core")
    measured = f"{ours_rate:,.0f} vs raw {raw_rate:,.0f} deliveries/s ({ratio:.0%}), socketio {sio_rate:,.0f}"
    met = ratio >= FANOUT_RATIO and ours_rate >= sio_rate
    return Target("fan-out", rule, measured, met, "; ".join(n for n in notes if n))


def join_round(record: Record) -> int:
    """Which repeat of the join scenario ``record`` is (runs before rounds existed: 1)."""
    return int(record["params"].get("round", 1))


def join_ratios(records: Sequence[Record], server: str, clients: int) -> list[float]:
    """``server``'s all-ready time over raw's, one per round both finished, in round order."""
    raw = {
        join_round(r): r["metrics"]["all_ready_s"]
        for r in _of(records, "join", "raw")
        if r["params"]["clients"] == clients
    }
    ratios = []
    for r in sorted(_of(records, "join", server), key=join_round):
        base = raw.get(join_round(r))
        if r["params"]["clients"] == clients and base:
            ratios.append(r["metrics"]["all_ready_s"] / base)
    return ratios


def _join_target(records: Sequence[Record]) -> Target:
    rule = f"edgeroom all ready <= {JOIN_RATIO:g}x raw (largest room; median of the rounds)"
    ours = _of(records, "join", "edgeroom")
    raws = _of(records, "join", "raw")
    if not ours or not raws:
        return Target("join", rule, "-", None)
    size = max(
        set(r["params"]["clients"] for r in ours) & set(r["params"]["clients"] for r in raws),
        default=0,
    )
    if not size:
        return Target("join", rule, "no common size", None)
    ratios = join_ratios(records, "edgeroom", size)
    if not ratios:
        return Target("join", rule, "no round with both servers", None)
    mine = [r["metrics"] for r in ours if r["params"]["clients"] == size]
    theirs = [r["metrics"] for r in raws if r["params"]["clients"] == size]
    ratio = statistics.median(ratios)
    met = ratio <= JOIN_RATIO and all(m["failed"] == 0 for m in mine)
    ready = statistics.median(m["all_ready_s"] for m in mine)
    raw_ready = statistics.median(m["all_ready_s"] for m in theirs)
    measured = f"{size:,} clients: {ready:.2f} s vs raw {raw_ready:.2f} s ({ratio:.1f}x"
    if len(ratios) > 1:
        each = ", ".join(f"{r:.1f}x" for r in ratios)
        measured += f"; median of {len(ratios)} rounds: {each}"
    return Target("join", rule, measured + ")", met, _scale_note("join", size))


def _idle_target(records: Sequence[Record]) -> Target:
    rule = f"edgeroom <= {IDLE_KB:g} KB server memory per connection"
    ours = _of(records, "idle", "edgeroom")
    if not ours:
        return Target("idle", rule, "-", None)
    biggest = max(ours, key=lambda r: r["params"]["clients"])
    kb = biggest["metrics"]["kb_per_connection"]
    size = biggest["params"]["clients"]
    return Target(
        "idle",
        rule,
        f"{kb:.1f} KB at {biggest['metrics']['joined']:,} connections",
        kb <= IDLE_KB and biggest["metrics"]["failed"] == 0,
        _scale_note("idle", size),
    )


def _durable_target(records: Sequence[Record]) -> Target:
    rule = f"edgeroom >= {DURABLE_ACKS:,.0f} acknowledged messages/s in one room"
    ours = _of(records, "durable", "edgeroom")
    if not ours:
        return Target("durable", rule, "-", None)
    best = max(ours, key=lambda r: r["metrics"]["acks_s"])["metrics"]
    return Target(
        "durable",
        rule,
        f"{best['acks_s']:,.0f} acks/s (ack p99 {best['ack_p99_ms']} ms)",
        best["acks_s"] >= DURABLE_ACKS and best["lost"] == 0,
    )


def evaluate_targets(records: Sequence[Record]) -> list[Target]:
    return [
        _fanout_target(records),
        _join_target(records),
        _idle_target(records),
        _durable_target(records),
    ]


# -- Markdown ----------------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def _join_medians(joins: Sequence[Record]) -> list[str]:
    """Per server and size: the median all-ready time and the median of the per-round ratios."""
    lines = ["Medians over the rounds (each ratio pairs runs of the same round):", ""]
    rows = []
    for server, clients in sorted({(r["server"], r["params"]["clients"]) for r in joins}):
        times = [
            r["metrics"]["all_ready_s"]
            for r in joins
            if (r["server"], r["params"]["clients"]) == (server, clients)
        ]
        ratios = join_ratios(joins, server, clients)
        rows.append(
            [
                server,
                clients,
                len(times),
                round(statistics.median(times), 3),
                f"{statistics.median(ratios):.2f}x" if ratios else "-",
            ]
        )
    rows.sort(key=lambda row: (row[1], row[0]))
    lines += _table(
        ["server", "clients", "rounds", "all ready (s), median", "vs raw, median"], rows
    )
    lines.append("")
    return lines


def _ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}x" if base else "-"


def render_markdown(
    records: Sequence[Record], header: dict[str, Any], images: Sequence[str] = ()
) -> str:
    """The run as Markdown: a table per scenario, the targets, and links to ``images`` (PNGs
    beside the file)."""
    lines = [f"# Chat load results ({header.get('mode', '?')} run, {header.get('when', '')})", ""]
    for key, value in header.items():
        if key not in ("mode", "when"):
            lines.append(f"- {key}: {value}")
    lines.append("")

    joins = _of(records, "join")
    if joins:
        raw_ready = {
            (r["params"]["clients"], join_round(r)): r["metrics"]["all_ready_s"]
            for r in _of(joins, "join", "raw")
        }
        lines += ["## join: N clients into one room", ""]
        lines += _table(
            [
                "server",
                "clients",
                "round",
                "joined",
                "all ready (s)",
                "vs raw (same round)",
                "join p50 (ms)",
                "p90",
                "p99",
                "max",
                "server RSS (MiB)",
            ],
            [
                [
                    r["server"],
                    r["params"]["clients"],
                    join_round(r),
                    r["metrics"]["joined"],
                    r["metrics"]["all_ready_s"],
                    _ratio(
                        r["metrics"]["all_ready_s"],
                        raw_ready.get((r["params"]["clients"], join_round(r))),
                    ),
                    r["metrics"]["join_p50_ms"],
                    r["metrics"]["join_p90_ms"],
                    r["metrics"]["join_p99_ms"],
                    r["metrics"]["join_max_ms"],
                    round(r["metrics"]["server_rss_kib"] / 1024, 1),
                ]
                for r in sorted(
                    joins, key=lambda r: (r["params"]["clients"], join_round(r), r["server"])
                )
            ],
        )
        lines.append("")
        if any(join_round(r) > 1 for r in joins):
            lines += _join_medians(joins)

    for scenario, title in (
        ("fanout", "fanout: one room, offered message rates stepped up"),
        ("rooms", "rooms: many small rooms, offered message rates stepped up"),
    ):
        steps = _of(records, scenario)
        if not steps:
            continue
        lines += [f"## {title}", ""]
        lines += _table(
            [
                "server",
                "clients/rooms",
                "offered msg/s",
                "offered deliv/s",
                "deliveries/s",
                "p50 (ms)",
                "p90",
                "p99",
                "max",
                "lost",
                "dup",
                "server CPU",
                "load CPU",
            ],
            [
                [
                    r["server"],
                    f"{r['params']['clients']}/{r['params']['rooms']}",
                    f"{r['metrics']['offered_msgs_s']:,.4g}"
                    + (" (again)" if r["params"].get("attempt") == 2 else ""),
                    r["metrics"]["offered_deliveries_s"],
                    r["metrics"]["deliveries_s"],
                    r["metrics"]["p50_ms"],
                    r["metrics"]["p90_ms"],
                    r["metrics"]["p99_ms"],
                    r["metrics"]["max_ms"],
                    r["metrics"]["lost"],
                    r["metrics"]["duplicates"],
                    f"{r['metrics']['server_cpu']:.0%}",
                    f"{r['metrics']['load_cpu']:.0%}"
                    + (" (bound)" if r["metrics"]["load_bound"] else ""),
                ]
                for r in sorted(
                    steps,
                    key=lambda r: (
                        r["server"],
                        r["params"]["clients"],
                        r["params"]["rate"],
                        r["params"].get("attempt", 1),
                    ),
                )
            ],
        )
        lines.append("")

    idles = _of(records, "idle")
    if idles:
        lines += ["## idle: held connections, server memory (VmRSS)", ""]
        lines += _table(
            [
                "server",
                "connections",
                "RSS before (MiB)",
                "RSS after (MiB)",
                "KB per connection",
                "all ready (s)",
            ],
            [
                [
                    r["server"],
                    r["metrics"]["joined"],
                    round(r["metrics"]["rss_before_kib"] / 1024, 1),
                    round(r["metrics"]["rss_after_kib"] / 1024, 1),
                    r["metrics"]["kb_per_connection"],
                    r["metrics"]["all_ready_s"],
                ]
                for r in sorted(idles, key=lambda r: (r["params"]["clients"], r["server"]))
            ],
        )
        lines.append("")

    durables = _of(records, "durable")
    if durables:
        lines += [
            "## durable: one room, pipelined acknowledged messages (edgeroom only: the peers have no acks)",
            "",
        ]
        lines += _table(
            [
                "server",
                "senders x window",
                "acks/s",
                "ack p50 (ms)",
                "p90",
                "p99",
                "max",
                "deliveries/s",
                "lost",
                "server CPU",
                "load CPU",
            ],
            [
                [
                    r["server"],
                    f"{r['params']['senders']} x {r['params']['window']}",
                    r["metrics"]["acks_s"],
                    r["metrics"]["ack_p50_ms"],
                    r["metrics"]["ack_p90_ms"],
                    r["metrics"]["ack_p99_ms"],
                    r["metrics"]["ack_max_ms"],
                    r["metrics"]["deliveries_s"],
                    r["metrics"]["lost"],
                    f"{r['metrics']['server_cpu']:.0%}",
                    f"{r['metrics']['load_cpu']:.0%}",
                ]
                for r in durables
            ],
        )
        lines.append("")

    lines += ["## Targets (issue 11, section 5)", ""]
    lines += _table(
        ["target", "rule", "measured", "verdict", "note"],
        [[t.name, t.rule, t.measured, t.verdict, t.note or ""] for t in evaluate_targets(records)],
    )
    lines.append("")
    if images:
        lines += ["## Plots", ""]
        lines += [f"![{Path(image).stem}]({image})" for image in images]
        lines.append("")
    return "\n".join(lines)
