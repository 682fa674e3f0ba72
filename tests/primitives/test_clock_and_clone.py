"""FakeClock wakes sleepers when advanced; structured clone refuses what Workers cannot copy."""

from __future__ import annotations

import asyncio
import datetime as dt
import pickle

import pytest

from primitives.clock import FakeClock, SystemClock
from primitives.clone import deserialize, serialize, structured_clone


async def test_fake_clock_wakes_sleepers_in_deadline_order() -> None:
    clock = FakeClock(1000.0)
    woken: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woken.append(name)

    tasks = [asyncio.create_task(sleeper("late", 60)), asyncio.create_task(sleeper("soon", 5))]
    await clock.settle()
    assert clock.pending_sleepers == 2
    clock.advance(5)
    await clock.settle()
    assert woken == ["soon"]
    clock.advance(55)
    await clock.settle()
    assert woken == ["soon", "late"]
    assert clock.now() == 1060.0 and clock.now_ms() == 1_060_000
    await asyncio.gather(*tasks)


def test_fake_clock_never_goes_backwards() -> None:
    clock = FakeClock(10.0)
    with pytest.raises(ValueError, match="cannot go backwards"):
        clock.set(9.0)
    with pytest.raises(ValueError, match="non-negative"):
        clock.advance(-1)


async def test_system_clock_sleeps_for_real_but_briefly() -> None:
    clock = SystemClock()
    before = clock.now()
    await clock.sleep_until(before - 1)  # in the past: returns at once
    assert abs(clock.now_ms() / 1000 - clock.now()) < 1


def test_structured_clone_copies_plain_data() -> None:
    value = {
        "a": [1, 2.5, "x", None, True],
        "b": b"raw",
        "t": (1, 2),
        "d": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    }
    clone = structured_clone(value)
    assert clone == {**value, "t": [1, 2]}
    assert clone["a"] is not value["a"]
    assert deserialize(serialize(value)) == clone


@pytest.mark.parametrize(
    "value", [object(), {"f": lambda: 1}, [1, {2, 3}, open], {(1, 2): "tuple key"}]
)
def test_structured_clone_refuses_what_cannot_be_cloned(value: object) -> None:
    with pytest.raises(TypeError, match="Could not serialize object of type"):
        structured_clone(value)


def test_deserialize_refuses_arbitrary_classes() -> None:
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        deserialize(pickle.dumps(ValueError("x")))


def test_a_cycle_or_a_value_nested_too_deep_is_a_type_error_not_a_crash() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    deep: list[object] = []
    inner = deep
    for _ in range(300):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    for value in (cycle, deep, {"a": cycle}):
        with pytest.raises(TypeError, match="nesting is too deep"):
            serialize(value)


def test_plain_values_keep_their_shape_and_others_become_their_clone() -> None:
    shared = [1, 2]
    assert deserialize(serialize({"a": shared, "b": shared, "n": None})) == {
        "a": [1, 2],
        "b": [1, 2],
        "n": None,
    }
    assert deserialize(serialize({"t": (1, 2), "s": {3}, "b": bytearray(b"x")})) == {
        "t": [1, 2],
        "s": {3},
        "b": b"x",
    }
