"""Cron triggers run scheduled() on the injected clock; /__scheduled runs it by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from primitives import ConfigError, FakeClock
from primitives.runtime import create_app, serve_in_thread
from primitives.runtime.scheduler import CronScheduler

WORKER = """
from primitives import Response, WorkerEntrypoint

RUNS = []

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")

    async def scheduled(self, controller):
        RUNS.append((controller.cron, controller.scheduledTime))
        if controller.cron == "0 * * * *":
            raise RuntimeError("hourly job failed")
"""


def make_worker(tmp_path: Path, crons: str, module: str) -> Path:
    (tmp_path / f"{module}.py").write_text(WORKER)
    config = tmp_path / "wrangler.toml"
    config.write_text(f'main = "{module}.py"\n[triggers]\ncrons = [{crons}]\n')
    return config


async def test_scheduler_fires_at_each_selected_minute(tmp_path: Path) -> None:
    start = datetime(2026, 11, 26, 22, 0, 30, tzinfo=UTC).timestamp()
    clock = FakeClock(start)
    fired: list[tuple[str, int]] = []

    async def fire(cron: str, when: int) -> None:
        fired.append((cron, when))

    scheduler = CronScheduler(("*/15 * * * *",), fire, clock)
    scheduler.start()
    await clock.settle()
    clock.advance(14 * 60)  # 22:14:30: nothing due yet
    await clock.settle()
    assert fired == []
    clock.advance(60)  # 22:15:30
    await clock.settle()
    clock.advance(15 * 60)  # 22:30:30
    await clock.settle()
    await scheduler.stop()
    minute = datetime(2026, 11, 26, 22, 15, tzinfo=UTC).timestamp()
    assert fired == [
        ("*/15 * * * *", int(minute * 1000)),
        ("*/15 * * * *", int((minute + 900) * 1000)),
    ]


async def test_app_runs_scheduled_and_survives_a_failing_handler(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 26, 22, 59, 30, tzinfo=UTC).timestamp())
    config = make_worker(tmp_path, '"0 * * * *", "*/30 * * * *"', "sched_worker_a")
    app = create_app(config, data_dir=tmp_path / "d", clock=clock)
    await app.startup()
    await clock.settle()  # let the scheduler tasks start sleeping on the clock
    clock.advance(60)
    await clock.settle(50)
    import sched_worker_a  # type: ignore[import-not-found]

    assert sorted(cron for cron, _ in sched_worker_a.RUNS) == ["*/30 * * * *", "0 * * * *"]
    await app.shutdown()


def test_bad_cron_fails_at_start_up_naming_it(tmp_path: Path) -> None:
    config = make_worker(tmp_path, '"61 * * * *"', "sched_worker_b")
    with pytest.raises(ConfigError, match=r"\[triggers\] crons: value 61 out of range"):
        create_app(config, data_dir=tmp_path / "d")


def test_crons_without_a_scheduled_handler_fail_at_start_up(tmp_path: Path) -> None:
    (tmp_path / "sched_worker_c.py").write_text(
        "from primitives import Response, WorkerEntrypoint\n"
        "class Default(WorkerEntrypoint):\n    async def fetch(self, request):\n        return Response('ok')\n"
    )
    config = tmp_path / "wrangler.toml"
    config.write_text('main = "sched_worker_c.py"\n[triggers]\ncrons = ["* * * * *"]\n')
    with pytest.raises(TypeError, match="has no async scheduled"):
        create_app(config, data_dir=tmp_path / "d")


def test_test_scheduled_endpoint_runs_the_handler(tmp_path: Path) -> None:
    config = make_worker(tmp_path, '"*/5 * * * *"', "sched_worker_d")
    app = create_app(config, data_dir=tmp_path / "d", test_scheduled=True)
    with serve_in_thread(app) as url:
        ok = httpx.get(f"{url}/__scheduled", params={"cron": "*/5 * * * *", "time": "123000"})
        failed = httpx.get(f"{url}/__scheduled", params={"cron": "0 * * * *"})
    assert (ok.status_code, ok.text) == (200, "Ran scheduled event")
    assert failed.status_code == 500
    import sched_worker_d  # type: ignore[import-not-found]

    assert sched_worker_d.RUNS[0] == ("*/5 * * * *", 123000)
