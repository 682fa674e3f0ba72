"""Time for the app: the runtime's injected clock locally (``env.clock``), wall time on Workers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

__all__ = ["now_ms", "sleep_ms"]


def now_ms(env: Any) -> int:
    clock = getattr(env, "clock", None)
    if clock is not None:
        return int(clock.now_ms())
    return time.time_ns() // 1_000_000


async def sleep_ms(env: Any, ms: float) -> None:
    """Wait ``ms`` on the injected clock (so tests advance it), or in real time on Workers."""
    clock = getattr(env, "clock", None)
    if clock is not None:
        await clock.sleep(ms / 1000)
    else:
        await asyncio.sleep(ms / 1000)
