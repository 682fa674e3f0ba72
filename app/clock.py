"""Time for the app: the runtime's injected clock locally (``env.clock``), wall time on Workers."""

from __future__ import annotations

import time
from typing import Any

__all__ = ["now_ms"]


def now_ms(env: Any) -> int:
    clock = getattr(env, "clock", None)
    if clock is not None:
        return int(clock.now_ms())
    return time.time_ns() // 1_000_000
