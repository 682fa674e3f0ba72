"""``WorkerEntrypoint`` and the execution context handed to it (``self.env``, ``self.ctx``).

As in the Python Workers SDK, the class named ``Default`` in the main module is the Worker: a new
instance serves each event, ``fetch(request)`` answers HTTP and WebSocket upgrades, and
``scheduled(controller)`` runs on the cron triggers. ``ctx.waitUntil(awaitable)`` keeps work going
after the response; the runtime awaits it before shutting down and logs its failures.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

__all__ = ["ExecutionContext", "ScheduledController", "WorkerEntrypoint"]

log = logging.getLogger("edgeroom.runtime")


class ExecutionContext:
    """``ctx``: ``waitUntil`` and ``passThroughOnException``."""

    def __init__(self, tracker: WaitUntilTracker | None = None) -> None:
        self._tracker = tracker or WaitUntilTracker()
        self.props: dict[str, Any] = {}

    def waitUntil(self, awaitable: Awaitable[Any]) -> None:
        """Keep ``awaitable`` running after the event's response is sent."""
        self._tracker.add(awaitable)

    def passThroughOnException(self) -> None:
        """Accepted for compatibility; there is no origin to fall back to locally."""


class WaitUntilTracker:
    """Holds ``waitUntil`` tasks so they are not garbage-collected and can be drained."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def add(self, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("waitUntil task failed", exc_info=task.exception())

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for outstanding tasks, then cancel the rest."""
        if not self._tasks:
            return
        _, still_running = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in still_running:
            task.cancel()


class ScheduledController:
    """What ``scheduled()`` receives: the cron expression and the scheduled time (ms since epoch)."""

    def __init__(self, cron: str, scheduledTime: int) -> None:
        self.cron = cron
        self.scheduledTime = scheduledTime
        self._retry = True

    def noRetry(self) -> None:
        self._retry = False

    def __repr__(self) -> str:
        return f"ScheduledController(cron={self.cron!r}, scheduledTime={self.scheduledTime})"


class WorkerEntrypoint:
    """Base class of a Worker: subclass it as ``Default`` and define ``fetch``."""

    def __init__(self, ctx: ExecutionContext, env: Any) -> None:
        self.ctx = ctx
        self.env = env
