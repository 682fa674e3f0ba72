"""PNG plots (matplotlib, Agg): latency percentiles against offered rate, and join time, per server."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

__all__ = ["plot_all"]

Record = dict[str, Any]
COLORS = {
    "edgeroom": "tab:blue",
    "raw": "tab:green",
    "socketio": "tab:orange",
    "uvicorn": "tab:gray",
}


def _latency_plot(records: Sequence[Record], scenario: str, path: Path) -> bool:
    steps = [r for r in records if r["scenario"] == scenario]
    if not steps:
        return False
    figure, axes = plt.subplots(figsize=(8, 5))
    for server in sorted({r["server"] for r in steps}):
        # a step run twice (it failed once) is drawn with its better run
        best: dict[float, Record] = {}
        for r in steps:
            if r["server"] != server:
                continue
            rate = r["metrics"]["offered_deliveries_s"]
            if rate not in best or r["metrics"]["p99_ms"] < best[rate]["metrics"]["p99_ms"]:
                best[rate] = r
        mine = [best[rate] for rate in sorted(best)]
        x = [r["metrics"]["offered_deliveries_s"] for r in mine]
        color = COLORS.get(server)
        for key, style in (("p50_ms", ":"), ("p90_ms", "--"), ("p99_ms", "-")):
            values = [max(r["metrics"][key], 0.01) for r in mine]
            axes.plot(x, values, style, marker="o", color=color, label=f"{server} {key[:3]}")
    axes.axhline(100, color="grey", linewidth=0.8)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("offered deliveries per second (message rate x room size)")
    axes.set_ylabel("delivery latency (ms)")
    sizes = sorted(
        {f"{r['params']['clients']} clients / {r['params']['rooms']} rooms" for r in steps}
    )
    axes.set_title(f"{scenario}: {', '.join(sizes)}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, ncol=3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def _join_plot(records: Sequence[Record], path: Path) -> bool:
    joins = [r for r in records if r["scenario"] == "join"]
    if not joins:
        return False
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for server in sorted({r["server"] for r in joins}):
        sizes = sorted({r["params"]["clients"] for r in joins if r["server"] == server})

        def median(metric: str, clients: int, server: str = server) -> float:
            return statistics.median(
                float(r["metrics"][metric])
                for r in joins
                if r["server"] == server and r["params"]["clients"] == clients
            )

        axes.plot(
            sizes,
            [median("all_ready_s", n) for n in sizes],
            marker="o",
            color=COLORS.get(server),
            label=f"{server}: all ready (median of rounds)",
        )
        axes.plot(
            sizes,
            [median("join_p99_ms", n) / 1000 for n in sizes],
            ":",
            marker=".",
            color=COLORS.get(server),
            label=f"{server}: one join, p99 (median of rounds)",
        )
    axes.set_xlabel("clients joining one room")
    axes.set_ylabel("seconds")
    axes.set_title("join: time until every client is in the room")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def plot_all(records: Sequence[Record], directory: Path, prefix: str) -> list[Path]:
    """Write ``<prefix>-fanout.png``, ``<prefix>-rooms.png``, ``<prefix>-join.png``; the ones written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for scenario in ("fanout", "rooms"):
        path = directory / f"{prefix}-{scenario}.png"
        if _latency_plot(records, scenario, path):
            written.append(path)
    path = directory / f"{prefix}-join.png"
    if _join_plot(records, path):
        written.append(path)
    return written
