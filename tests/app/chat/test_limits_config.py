"""Rate limits set by [vars] (RATE_LIMIT_CONNECTION/USER/IP): parsing, and a room that applies them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.rooms.limits import (
    CONNECTION_LIMIT,
    IP_LIMIT,
    LIMITS,
    USER_LIMIT,
    Limit,
    LimitSettings,
    parse_limit,
)
from primitives.env import Env

from .conftest import open_chat_env, sign_up


def test_parse_limit() -> None:
    assert parse_limit("V", "10/1") == Limit(10, 1.0)
    assert parse_limit("V", " 2.5/0.5 ") == Limit(2.5, 0.5)
    assert parse_limit("V", "OFF") is None
    for bad in ("10", "0/1", "10/0", "-1/1", "a/b", "10/1/2", "inf/1", "nan/1", ""):
        with pytest.raises(ValueError, match="V = "):
            parse_limit("V", bad)


def test_settings_default_and_from_vars() -> None:
    assert LimitSettings.from_env(SimpleNamespace()) == LimitSettings(
        CONNECTION_LIMIT, USER_LIMIT, IP_LIMIT
    )
    assert LimitSettings().describe() == LIMITS
    assert LIMITS["connection"] == {"burst": 10, "per_second": 1.0}
    env = SimpleNamespace(RATE_LIMIT_CONNECTION="off", RATE_LIMIT_USER="", RATE_LIMIT_IP="100/50")
    settings = LimitSettings.from_env(env)
    assert settings == LimitSettings(None, USER_LIMIT, Limit(100, 50.0))
    assert settings.describe()["connection"] is None
    with pytest.raises(ValueError, match="RATE_LIMIT_USER"):
        LimitSettings.from_env(SimpleNamespace(RATE_LIMIT_USER="fast"))


@pytest.fixture
async def unlimited_env(tmp_path: Path) -> AsyncIterator[Env]:
    env = await open_chat_env(
        tmp_path, RATE_LIMIT_CONNECTION="off", RATE_LIMIT_USER="off", RATE_LIMIT_IP="off"
    )
    yield env
    await env.aclose()


async def test_a_room_with_limits_off_takes_a_burst_far_over_the_defaults(
    unlimited_env: Env,
) -> None:
    ann = await sign_up(unlimited_env, "ann")
    a = await ann.connect("lobby")
    welcome = await a.hello()
    assert welcome["limits"]["connection"] is None and welcome["limits"]["ip"] is None
    count = int(IP_LIMIT.burst) + 40  # past every default bucket, with the clock standing still
    for i in range(count):
        a.send(type="chat.send", nonce=f"n{i}", text="x")
    acks = [await a.recv("chat.ack") for _ in range(count)]
    assert [ack["seq"] for ack in acks] == list(range(1, count + 1))
    assert not [f for f in await a.quiet() if f["type"] == "error"]


async def test_a_lowered_limit_is_applied_and_announced(tmp_path: Path) -> None:
    async with await open_chat_env(tmp_path, RATE_LIMIT_CONNECTION="2/1") as env:
        ann = await sign_up(env, "ann")
        a = await ann.connect("lobby")
        welcome = await a.hello()
        assert welcome["limits"]["connection"] == {"burst": 2.0, "per_second": 1.0}
        for i in range(3):
            a.send(type="chat.send", nonce=f"n{i}", text="x")
        assert [(await a.recv("chat.ack"))["seq"] for _ in range(2)] == [1, 2]
        assert (await a.recv("error"))["code"] == "rate_limited"
