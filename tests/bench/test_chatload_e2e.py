"""The harness end to end: real servers as subprocesses on free ports, real sockets, tiny sizes."""

from __future__ import annotations

import sys
import time

import pytest

from bench.chatload import scenarios, servers
from bench.chatload.scenarios import Settings
from bench.chatload.servers import ServerFailed, start_server
from bench.chatload.system import pinning

pytestmark = pytest.mark.e2e


def _settings(seconds: float = 30.0) -> Settings:
    return Settings(
        workers=2,
        handshakes=10,
        pinning=pinning(enabled=False),
        deadline=time.time() + seconds,
        scenario_budget=seconds,
        say=lambda line: None,
    )


@pytest.mark.parametrize("server", ["raw", "edgeroom", "socketio", "uvicorn"])
def test_fanout_smoke_delivers_everything_once(server: str) -> None:
    (record,) = scenarios.fanout(
        server,
        _settings(),
        scenario="fanout",
        clients=5,
        rooms=1,
        senders_per_room=2,
        rates=[20],
        duration=1.0,
        drain=5.0,
        settle=0,
    )
    metrics = record["metrics"]
    assert metrics["sent"] == 20  # 2 senders x 10 messages/s x 1 s
    assert metrics["expected"] == 100 == metrics["delivered"]  # every member, the sender too
    assert (metrics["lost"], metrics["duplicates"], metrics["stale"]) == (0, 0, 0)
    assert 0 < metrics["p50_ms"] <= metrics["p99_ms"] <= metrics["max_ms"] < 5_000
    assert metrics["errors"] == {} and metrics["disconnected"] == 0
    assert record["server"] == server
    if server == "edgeroom":
        assert metrics["acks"] == 20
        assert any("RATE_LIMIT_IP=off" in note for note in record["notes"])


def test_edgeroom_durable_smoke_acks_every_message() -> None:
    (durable,) = scenarios.durable("edgeroom", 2, [2], 1.0, _settings())
    assert durable["metrics"]["acks"] == durable["metrics"]["sent"] > 0
    assert durable["metrics"]["lost"] == 0 and durable["metrics"]["ack_p50_ms"] > 0
    assert scenarios.durable("raw", 2, [2], 1.0, _settings()) == []  # no acks: nothing to measure


def test_join_and_idle_smoke() -> None:
    (join,) = scenarios.join("raw", 6, _settings())
    assert join["metrics"]["joined"] == 6 and join["metrics"]["failed"] == 0
    assert 0 < join["metrics"]["join_p50_ms"] <= join["metrics"]["join_max_ms"]
    assert 0 < join["metrics"]["all_ready_s"] < 10
    (idle,) = scenarios.idle("raw", 6, 3, _settings(), settle=0)
    assert idle["params"]["rooms"] == 2 and idle["metrics"]["joined"] == 6
    assert idle["metrics"]["rss_after_kib"] > 0


def test_a_server_that_does_not_start_is_reported_with_its_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crash = [sys.executable, "-c", "import sys; print('boom: no such thing'); sys.exit(3)"]
    monkeypatch.setattr(servers, "_command", lambda name, port, data_dir: crash)
    with pytest.raises(ServerFailed, match=r"(?s)raw exited with 3.*boom: no such thing"):
        start_server("raw", pinning(enabled=False), timeout=10)
