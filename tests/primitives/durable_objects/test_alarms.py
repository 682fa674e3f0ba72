"""Alarms: set/get/delete, firing by the fake clock, retries, persistence across restarts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, ClassVar

import pytest

from primitives.clock import FakeClock
from primitives.durable_objects import DurableObject, DurableObjectError
from primitives.testing import run_durable_object_alarm, run_in_durable_object

from .conftest import MakeNamespace, eventually, settle


class Alarmed(DurableObject):
    runs: ClassVar[list[dict[str, Any]]] = []
    fail_times = 0

    async def alarm(self, info: Any) -> None:
        Alarmed.runs.append(
            {
                "retryCount": info.retryCount,
                "isRetry": info.isRetry,
                "scheduledTime": info["scheduledTime"],
                "during": await self.ctx.storage.getAlarm(),
            }
        )
        if Alarmed.fail_times:
            Alarmed.fail_times -= 1
            raise RuntimeError("alarm failed")

    async def set_in(self, seconds: float) -> int:
        ms = int(self.env.now_ms() + seconds * 1000) if self.env else 0
        await self.ctx.storage.setAlarm(ms)
        return ms

    async def get_alarm(self) -> Any:
        return await self.ctx.storage.getAlarm()


@pytest.fixture(autouse=True)
def reset_runs() -> None:
    Alarmed.runs = []
    Alarmed.fail_times = 0


async def test_set_get_delete_alarm(make_ns: MakeNamespace, fake_clock: FakeClock) -> None:
    stub = make_ns(Alarmed, env=fake_clock).getByName("a")

    async def go(ctx: Any) -> Any:
        storage = ctx.storage
        await storage.setAlarm(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        first = await storage.getAlarm()
        await storage.setAlarm(1_900_000_000_000.7)
        second = await storage.getAlarm()
        await storage.deleteAlarm()
        return first, second, await storage.getAlarm()

    assert await run_in_durable_object(stub, lambda o, ctx: go(ctx)) == (
        1_893_456_000_000,
        1_900_000_000_000,
        None,
    )


@pytest.mark.parametrize("bad", [0, -5, 0.4])
async def test_setAlarm_rejects_times_at_or_before_zero(make_ns: MakeNamespace, bad: float) -> None:
    stub = make_ns(Alarmed).getByName("a")
    with pytest.raises(TypeError, match=r"^setAlarm\(\) cannot be called with an alarm time <= 0$"):
        await run_in_durable_object(stub, lambda o, ctx: ctx.storage.setAlarm(bad))


async def test_setAlarm_needs_an_alarm_handler(make_ns: MakeNamespace) -> None:
    class NoHandler(DurableObject):
        pass

    stub = make_ns(NoHandler).getByName("a")
    with pytest.raises(
        DurableObjectError,
        match=r"must have an alarm\(\) handler in order to call setAlarm\(\)$",
    ):
        await run_in_durable_object(stub, lambda o, ctx: ctx.storage.setAlarm(10**13))


async def test_alarm_fires_when_the_clock_reaches_it(
    make_ns: MakeNamespace, fake_clock: FakeClock
) -> None:
    stub = make_ns(Alarmed, env=fake_clock).getByName("a")
    when = await stub.set_in(30)
    fake_clock.advance(29)
    await settle(fake_clock)
    assert Alarmed.runs == []
    fake_clock.advance(1)
    await settle(fake_clock)
    assert Alarmed.runs == [
        {"retryCount": 0, "isRetry": False, "scheduledTime": when, "during": None}
    ]
    assert await stub.get_alarm() is None  # removed after a successful run


async def test_failing_alarm_retries_with_backoff_then_gives_up(
    make_ns: MakeNamespace, fake_clock: FakeClock
) -> None:
    stub = make_ns(Alarmed, env=fake_clock).getByName("a")
    Alarmed.fail_times = 100
    await stub.set_in(1)
    fake_clock.advance(1)
    await settle(fake_clock)
    for delay in (2, 4, 8, 16, 32, 64):
        fake_clock.advance(delay - 0.5)
        await settle(fake_clock)
        count = len(Alarmed.runs)
        fake_clock.advance(0.5)
        await settle(fake_clock)
        assert len(Alarmed.runs) == count + 1
    assert [r["retryCount"] for r in Alarmed.runs] == [0, 1, 2, 3, 4, 5, 6]
    assert [r["isRetry"] for r in Alarmed.runs] == [False] + [True] * 6
    fake_clock.advance(10_000)
    await settle(fake_clock)
    assert len(Alarmed.runs) == 7 and await stub.get_alarm() is None


async def test_a_retry_succeeds(make_ns: MakeNamespace, fake_clock: FakeClock) -> None:
    stub = make_ns(Alarmed, env=fake_clock).getByName("a")
    Alarmed.fail_times = 1
    await stub.set_in(1)
    fake_clock.advance(1)
    await settle(fake_clock)
    fake_clock.advance(2)
    await settle(fake_clock)
    assert [r["retryCount"] for r in Alarmed.runs] == [0, 1]
    assert await stub.get_alarm() is None


async def test_alarm_set_inside_the_handler_schedules_the_next(
    make_ns: MakeNamespace, fake_clock: FakeClock
) -> None:
    class Ticker(DurableObject):
        ticks = 0

        async def alarm(self, info: Any) -> None:
            Ticker.ticks += 1
            if Ticker.ticks < 3:
                await self.ctx.storage.setAlarm(fake_clock.now_ms() + 1000)

        async def start(self) -> None:
            await self.ctx.storage.setAlarm(fake_clock.now_ms() + 1000)

    stub = make_ns(Ticker).getByName("t")
    await stub.start()
    for _ in range(5):
        fake_clock.advance(1)
        await settle(fake_clock)
    assert Ticker.ticks == 3


async def test_alarm_wakes_an_evicted_object(make_ns: MakeNamespace, fake_clock: FakeClock) -> None:
    ns = make_ns(Alarmed, env=fake_clock)
    await ns.getByName("a").set_in(60)
    fake_clock.advance(20)
    await settle(fake_clock)
    assert ns.live_instances == 0  # evicted while idle
    fake_clock.advance(40)
    await settle(fake_clock)
    assert len(Alarmed.runs) == 1


async def test_alarm_persists_across_restart_for_objects_not_in_memory(
    make_ns: MakeNamespace, fake_clock: FakeClock, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'do'}"
    first = make_ns(Alarmed, url, env=fake_clock)
    await first.getByName("a").set_in(60)
    await first.aclose()  # the "process" stops before the alarm is due
    second = make_ns(Alarmed, url, env=fake_clock)
    await second.start()  # what the server does at startup; nobody calls the object
    fake_clock.advance(61)
    await eventually(lambda: len(Alarmed.runs) == 1)
    assert Alarmed.runs[0]["retryCount"] == 0


async def test_deleteAll_deletes_the_alarm(make_ns: MakeNamespace, fake_clock: FakeClock) -> None:
    stub = make_ns(Alarmed, env=fake_clock).getByName("a")
    await stub.set_in(5)
    await run_in_durable_object(stub, lambda o, ctx: ctx.storage.deleteAll())
    fake_clock.advance(10)
    await settle(fake_clock)
    assert Alarmed.runs == []


async def test_run_durable_object_alarm_runs_it_now(
    make_ns: MakeNamespace, fake_clock: FakeClock
) -> None:
    stub = make_ns(Alarmed, env=fake_clock).getByName("a")
    assert await run_durable_object_alarm(stub) is False
    await stub.set_in(3600)
    assert await run_durable_object_alarm(stub) is True
    assert len(Alarmed.runs) == 1 and await stub.get_alarm() is None
    fake_clock.advance(3600)
    await settle(fake_clock)
    assert len(Alarmed.runs) == 1
