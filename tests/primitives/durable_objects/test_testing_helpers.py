"""primitives.testing: an env from wrangler.toml, and the cloudflare:test-style helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from primitives.clock import FakeClock
from primitives.durable_objects import DurableObject, DurableObjectNamespace
from primitives.testing import (
    build_test_env,
    list_durable_object_ids,
    run_durable_object_alarm,
    run_in_durable_object,
)

WRANGLER = """
name = "helpers"
main = "worker.py"
compatibility_date = "2026-11-01"

[[durable_objects.bindings]]
name = "COUNTERS"
class_name = "Counter"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Counter"]
"""


class Counter(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.calls = 0

    async def bump(self) -> int:
        self.calls += 1
        n = (await self.ctx.storage.get("n")) or 0
        await self.ctx.storage.put("n", n + 1)
        await self.ctx.storage.setAlarm(self.env.clock.now_ms() + 60_000)
        return int(n) + 1

    async def alarm(self, info: Any) -> None:
        await self.ctx.storage.put("alarmed", info.retryCount)


@pytest.fixture
def wrangler(tmp_path: Path) -> Path:
    (tmp_path / "worker.py").write_text("")
    path = tmp_path / "wrangler.toml"
    path.write_text(WRANGLER)
    return path


@pytest.mark.parametrize("backend", ["memory", "temp"])
async def test_helpers_over_a_test_env(wrangler: Path, backend: Any) -> None:
    clock = FakeClock()
    env = build_test_env(wrangler, backend=backend, clock=clock, classes={"Counter": Counter})
    async with env:
        ns = env.COUNTERS
        assert isinstance(ns, DurableObjectNamespace)
        stub = ns.getByName("a")
        assert await stub.bump() == 1
        assert await run_in_durable_object(stub, lambda obj, ctx: (obj.calls, ctx.id.name)) == (
            1,
            "a",
        )
        assert await run_durable_object_alarm(stub) is True
        assert await run_in_durable_object(stub, lambda obj, ctx: ctx.storage.get("alarmed")) == 0
        assert await run_durable_object_alarm(stub) is False
        await ns.getByName("b").bump()
        ids = await list_durable_object_ids(ns)
        assert sorted(str(i) for i in ids) == sorted(
            [str(ns.idFromName("a")), str(ns.idFromName("b"))]
        )


async def test_build_test_env_rejects_unknown_backend(wrangler: Path) -> None:
    with pytest.raises(ValueError, match=r"backend must be 'memory' or 'temp'"):
        build_test_env(wrangler, backend="redis", classes={"Counter": Counter})  # type: ignore[arg-type]


def test_unknown_backend_scheme_is_named(wrangler: Path) -> None:
    from primitives.durable_objects.backends import backend_for_url
    from primitives.errors import UnsupportedBackend

    with pytest.raises(UnsupportedBackend, match=r"'redis' in URL 'redis://x'"):
        backend_for_url("redis://x")


def test_factory_reads_idle_seconds_from_the_url(wrangler: Path) -> None:
    from primitives.config import load_config
    from primitives.durable_objects import open_durable_object_namespace
    from primitives.errors import ConfigError

    spec = load_config(wrangler).binding("COUNTERS")
    ns = open_durable_object_namespace(
        "memory:?idle_seconds=2.5", spec=spec, object_class=Counter, env=None, clock=FakeClock()
    )
    assert ns.idle_seconds == 2.5 and ns.name == "COUNTERS"
    with pytest.raises(ConfigError, match="must be a number of seconds"):
        open_durable_object_namespace(
            "memory:?idle_seconds=x", spec=spec, object_class=Counter, env=None, clock=FakeClock()
        )
