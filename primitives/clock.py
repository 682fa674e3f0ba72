"""Injected time: everything that expires, schedules or rate-limits reads a :class:`Clock`.

``SystemClock`` is wall time. ``FakeClock`` only moves when a test calls :meth:`FakeClock.advance`,
which wakes every sleeper whose deadline has been reached, so tests never sleep to wait for expiry.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """What the runtime needs to know about time."""

    def now(self) -> float:
        """Seconds since the UNIX epoch (float)."""
        ...

    def now_ms(self) -> int:
        """Milliseconds since the UNIX epoch, as JavaScript's ``Date.now()``."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...

    async def sleep_until(self, when: float) -> None:
        """Wait until :meth:`now` reaches ``when``."""
        ...


class SystemClock:
    """Wall-clock time and real sleeping."""

    def now(self) -> float:
        return time.time()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_until(self, when: float) -> None:
        # Sleep in slices so a large jump of the system clock is noticed within a minute.
        while (remaining := when - time.time()) > 0:
            await asyncio.sleep(min(remaining, 60.0))


class FakeClock:
    """A clock that moves only when told to; for tests.

    ``advance(seconds)`` moves time forward and resolves the sleepers that are due, in deadline
    order. Awaiting :meth:`settle` afterwards lets the woken tasks run.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()

    def now(self) -> float:
        return self._now

    def now_ms(self) -> int:
        return int(self._now * 1000)

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + max(0.0, seconds))

    async def sleep_until(self, when: float) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._counter), future))
        await future

    @property
    def pending_sleepers(self) -> int:
        """How many tasks are waiting on this clock."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def set(self, when: float) -> None:
        """Jump to an absolute time (never backwards) and wake who is due."""
        if when < self._now:
            raise ValueError(f"FakeClock cannot go backwards (now {self._now}, asked {when})")
        self._now = float(when)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and wake who is due."""
        if seconds < 0:
            raise ValueError(f"FakeClock.advance needs a non-negative number, got {seconds}")
        self.set(self._now + seconds)

    async def settle(self, rounds: int = 20) -> None:
        """Yield to the event loop a few times so woken tasks can run to their next await."""
        for _ in range(rounds):
            await asyncio.sleep(0)
