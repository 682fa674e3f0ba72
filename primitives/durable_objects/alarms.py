"""The alarm scheduler of one namespace: at most one alarm per object, driven by the clock.

Alarms are stored in each object's database (authoritative) and in the backend's alarm index,
which the scheduler loads on start so alarms of objects that are not in memory still fire after
a restart. When an alarm is due the object is built if needed and ``alarm(alarmInfo)`` runs
through its input gate; the stored alarm is removed only after the handler succeeded
(at-least-once). A failure is retried after 2, 4, 8, ... seconds, at most 6 times.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..clock import Clock

__all__ = ["AlarmScheduler"]

log = logging.getLogger("edgeroom.durable_objects")

Fire = Callable[[str, int], Awaitable[Any]]


class AlarmScheduler:
    """Wakes objects when their alarm is due; ``fire(id_hex, retry_count)`` runs it."""

    def __init__(self, clock: Clock, fire: Fire) -> None:
        self._clock = clock
        self._fire = fire
        self._due: dict[str, tuple[int, int]] = {}  # id -> (epoch ms, retry count)
        self._heap: list[tuple[int, str]] = []
        self._task: asyncio.Task[None] | None = None
        self._target: int | None = None
        self._running: set[asyncio.Task[Any]] = set()
        self._started = False
        self._closed = False

    def start(self) -> None:
        self._started = True
        self._wake()

    def set(self, id_hex: str, ms: int | None) -> None:
        """The object's stored alarm is now ``ms`` (None: deleted)."""
        if ms is None:
            self._due.pop(id_hex, None)
            return
        self._schedule(id_hex, ms, 0)

    def retry(self, id_hex: str, ms: int, retry_count: int) -> None:
        self._schedule(id_hex, ms, retry_count)

    def scheduled(self, id_hex: str) -> int | None:
        entry = self._due.get(id_hex)
        return None if entry is None else entry[0]

    def _schedule(self, id_hex: str, ms: int, retry_count: int) -> None:
        self._due[id_hex] = (ms, retry_count)
        heapq.heappush(self._heap, (ms, id_hex))
        if self._target is None or ms < self._target:
            self._wake()

    def _wake(self) -> None:
        if not self._started or self._closed:
            return
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _next(self) -> tuple[int, str] | None:
        while self._heap:
            ms, id_hex = self._heap[0]
            entry = self._due.get(id_hex)
            if entry is not None and entry[0] == ms:
                return ms, id_hex
            heapq.heappop(self._heap)  # stale
        return None

    async def _run(self) -> None:
        try:
            while (head := self._next()) is not None:
                ms, id_hex = head
                self._target = ms
                if ms > self._clock.now_ms():
                    await self._clock.sleep_until(ms / 1000)
                    continue
                heapq.heappop(self._heap)
                _, retry_count = self._due.pop(id_hex)
                task = asyncio.get_running_loop().create_task(self._run_one(id_hex, retry_count))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            self._target = None
        except asyncio.CancelledError:
            self._target = None
            raise

    async def _run_one(self, id_hex: str, retry_count: int) -> None:
        try:
            await self._fire(id_hex, retry_count)
        except Exception:
            # The object could not be built (constructor or storage failed): retry like a failure.
            log.exception("alarm of Durable Object %s could not run", id_hex)
            from .validation import ALARM_RETRY_MAX_TRIES, ALARM_RETRY_START_SECONDS

            if retry_count < ALARM_RETRY_MAX_TRIES and not self._closed:
                delay = ALARM_RETRY_START_SECONDS * 1000 * 2**retry_count
                self.retry(id_hex, self._clock.now_ms() + delay, retry_count + 1)

    async def aclose(self) -> None:
        self._closed = True
        tasks = [t for t in (self._task, *self._running) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
