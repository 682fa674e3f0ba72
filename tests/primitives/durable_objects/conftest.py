"""Fixtures for the Durable Object suites: namespaces over real backends, closed after each test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from primitives.clock import Clock, FakeClock
from primitives.durable_objects import DurableObjectNamespace
from primitives.durable_objects.backend import AlarmUpdate, ObjectHandle
from primitives.durable_objects.backends import backend_for_url
from primitives.durable_objects.backends.memory import MemoryDurableObjectBackend

MakeNamespace = Callable[..., DurableObjectNamespace]


class HeldSyncBackend(MemoryDurableObjectBackend):
    """Memory storage whose commits become durable only when the test says so (or fail)."""

    durable_on_commit = False

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.fail_with: BaseException | None = None
        self.syncs = 0

    async def sync(self, handle: ObjectHandle, alarm: AlarmUpdate | None) -> None:
        await self.release.wait()
        self.syncs += 1
        if self.fail_with is not None:
            raise self.fail_with


@pytest.fixture(params=["memory", "sqlite"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory:" if request.param == "memory" else f"sqlite:///{tmp_path / 'do'}"


@pytest.fixture
async def make_ns(fake_clock: FakeClock) -> AsyncIterator[MakeNamespace]:
    made: list[DurableObjectNamespace] = []

    def make(
        cls: type,
        url: str = "memory:",
        *,
        backend: Any = None,
        clock: Clock | None = None,
        env: Any = None,
        idle_seconds: float = 10.0,
    ) -> DurableObjectNamespace:
        ns = DurableObjectNamespace(
            backend if backend is not None else backend_for_url(url),
            object_class=cls,
            env=env,
            clock=clock or fake_clock,
            idle_seconds=idle_seconds,
        )
        made.append(ns)
        return ns

    yield make
    for ns in made:
        await ns.aclose()


async def eventually(check: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait for work done in a worker thread (SQLite backend); never used to wait for expiry."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


async def settle(clock: FakeClock, rounds: int = 3) -> None:
    for _ in range(rounds):
        await clock.settle()


Waiter = Callable[[], Awaitable[None]]
