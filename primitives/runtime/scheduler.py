"""Run ``scheduled()`` on the cron triggers of wrangler.toml, on the injected clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from ..clock import Clock
from ..cron import CronError, CronExpression
from ..errors import ConfigError

__all__ = ["CronScheduler"]

log = logging.getLogger("edgeroom.scheduler")


class CronScheduler:
    """One task per cron expression: sleep on the clock until the next minute it selects, then fire.

    A run that is still going when the next one is due does not delay it. Expressions are checked
    when the scheduler is built, so a bad cron fails at start-up with a message naming it.
    """

    def __init__(
        self,
        crons: tuple[str, ...],
        fire: Callable[[str, int], Coroutine[Any, Any, Any]],
        clock: Clock,
    ) -> None:
        self._fire = fire
        self._clock = clock
        self._tasks: list[asyncio.Task[None]] = []
        self._runs: set[asyncio.Task[Any]] = set()
        self.expressions: list[CronExpression] = []
        for cron in crons:
            try:
                expression = CronExpression.parse(cron)
                expression.next_after(datetime.now(UTC))
            except CronError as exc:
                raise ConfigError(f"[triggers] crons: {exc}") from exc
            self.expressions.append(expression)

    def start(self) -> None:
        for expression in self.expressions:
            self._tasks.append(asyncio.create_task(self._run(expression)))

    async def _run(self, expression: CronExpression) -> None:
        while True:
            now = datetime.fromtimestamp(self._clock.now(), UTC)
            due = expression.next_after(now)
            await self._clock.sleep_until(due.timestamp())
            run = asyncio.create_task(self._fire(expression.source, int(due.timestamp() * 1000)))
            self._runs.add(run)
            run.add_done_callback(self._runs.discard)

    async def stop(self, timeout: float = 5.0) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._runs:
            await asyncio.wait(set(self._runs), timeout=timeout)
