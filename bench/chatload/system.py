"""The machine: open-file limits, CPU pinning, a process's memory and CPU time from /proc."""

from __future__ import annotations

import os
import resource
import shutil
from pathlib import Path

__all__ = [
    "Pinning",
    "cpu_seconds",
    "pinning",
    "raise_open_files",
    "rss_kib",
]


def raise_open_files() -> int:
    """Raise this process's soft limit on open files to the hard limit; answers the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


class Pinning:
    """Server on one core, load on another: ``taskset -c`` for the server, affinity for workers."""

    def __init__(self, server_cpu: int | None, load_cpu: int | None, reason: str) -> None:
        self.server_cpu = server_cpu
        self.load_cpu = load_cpu
        self.reason = reason

    def server_prefix(self) -> list[str]:
        taskset = shutil.which("taskset")
        if self.server_cpu is None or taskset is None:
            return []
        return [taskset, "-c", str(self.server_cpu)]

    def describe(self) -> str:
        return self.reason


def pinning(enabled: bool = True) -> Pinning:
    cpus = sorted(os.sched_getaffinity(0))
    if not enabled:
        return Pinning(None, None, "not pinned (--no-pin)")
    if len(cpus) < 2:
        return Pinning(None, None, f"not pinned: only {len(cpus)} CPU available")
    if shutil.which("taskset") is None:
        return Pinning(None, cpus[1], "load pinned, server not: taskset not found")
    return Pinning(
        cpus[0],
        cpus[1],
        f"server on CPU {cpus[0]} (taskset), load on CPU {cpus[1]} (sched_setaffinity); "
        f"{len(cpus)} CPUs, {os.cpu_count()} online",
    )


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (VmRSS from /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` (its threads included) from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")
