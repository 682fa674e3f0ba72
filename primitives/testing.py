"""Helpers for testing your own Workers and Durable Objects, after Cloudflare's ``cloudflare:test``
(vitest-pool-workers): ``env`` from wrangler.toml on memory or temporary backends,
``run_in_durable_object``, ``run_durable_object_alarm``, ``list_durable_object_ids`` and a fake
clock.

::

    env = build_test_env("wrangler.toml", clock=FakeClock())
    stub = env.ROOMS.getByName("lobby")
    count = await run_in_durable_object(stub, lambda room, ctx: ctx.storage.get("count"))
"""

from __future__ import annotations

import inspect
import os
import tempfile
from collections.abc import Callable, Mapping
from typing import Any, Literal

from .clock import Clock, FakeClock
from .config import WorkerConfig, load_config
from .durable_objects import DurableObjectId, DurableObjectNamespace
from .durable_objects.namespace import DurableObjectStub
from .env import Env, build_env

__all__ = [
    "FakeClock",
    "build_test_env",
    "list_durable_object_ids",
    "run_durable_object_alarm",
    "run_in_durable_object",
]


def build_test_env(
    config: str | os.PathLike[str] | WorkerConfig = "wrangler.toml",
    *,
    backend: Literal["memory", "temp"] = "memory",
    data_dir: str | os.PathLike[str] | None = None,
    clock: Clock | None = None,
    classes: Mapping[str, type] | None = None,
    vars: Mapping[str, str] | None = None,
) -> Env:
    """An ``env`` for tests: every binding on ``memory:`` (default) or under a temporary directory.

    The process environment is ignored (``vars`` supplies secrets/vars), and the clock defaults
    to a :class:`FakeClock`. Close it with ``await env.aclose()`` (or ``async with env``).
    """
    cfg = config if isinstance(config, WorkerConfig) else load_config(config)
    if backend == "memory":
        urls: dict[str, str] | None = {spec.name: "memory:" for spec in cfg.bindings}
    elif backend == "temp":
        urls = None
        data_dir = data_dir or tempfile.mkdtemp(prefix="edgeroom-test-")
    else:
        raise ValueError(f"backend must be 'memory' or 'temp', not {backend!r}")
    return build_env(
        cfg,
        data_dir=data_dir or tempfile.gettempdir(),
        urls=urls,
        environ=dict(vars or {}),
        clock=clock or FakeClock(),
        classes=classes,
    )


async def run_in_durable_object(stub: DurableObjectStub, fn: Callable[[Any, Any], Any]) -> Any:
    """Run ``fn(instance, ctx)`` inside the object, as one event (through its input gate).

    The result is returned as is (not cloned), so tests can inspect instance state.
    """
    namespace = stub._ns
    await namespace._ready()
    actor = namespace.actor(stub.id)

    async def call(instance: Any) -> Any:
        result = fn(instance, actor.state)
        return await result if inspect.isawaitable(result) else result

    return await actor.deliver(call)


async def run_durable_object_alarm(stub: DurableObjectStub) -> bool:
    """Run the object's alarm now if one is set (then it is removed). True if an alarm ran."""
    namespace = stub._ns
    await namespace._ready()
    return await namespace.actor(stub.id).run_alarm(0, force=True)


async def list_durable_object_ids(namespace: DurableObjectNamespace) -> list[DurableObjectId]:
    """Ids of the objects of ``namespace`` that have storage or are in memory."""
    return await namespace.object_ids()
