"""``build_env``: the one public way to turn ``wrangler.toml`` into an ``env`` full of bindings.

The server, the CLI and the tests all call it, and so can anyone testing their own Worker::

    env = build_env("wrangler.toml", data_dir=tmp_path, urls={"SESSIONS": "memory:"})
    async with env:
        await env.SESSIONS.put("k", "v")

Each binding's backend is picked by URL (see :mod:`primitives.config`); bindings open their
storage lazily, on first use inside the running event loop, so building an env does no I/O.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ._lifecycle import AsyncClosing
from .clock import Clock, SystemClock
from .config import BindingSpec, WorkerConfig, load_config, resolve_backend_urls, resolve_vars
from .errors import ConfigError

__all__ = ["DEFAULT_DATA_DIR", "Env", "build_env", "load_main_module", "resolve_data_dir"]

DEFAULT_DATA_DIR = ".edgeroom"


class Env(AsyncClosing):
    """Bindings and vars by name (``env.SESSIONS``, ``env.DB``, ``env.ROOMS``, ``env.APP_NAME``)."""

    def __init__(
        self, config: WorkerConfig, data_dir: Path, clock: Clock, backend_urls: Mapping[str, str]
    ) -> None:
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_bindings", {})
        object.__setattr__(self, "config", config)
        object.__setattr__(self, "data_dir", data_dir)
        object.__setattr__(self, "clock", clock)
        object.__setattr__(self, "backend_urls", dict(backend_urls))

    def _set(self, name: str, value: Any, *, binding: bool) -> None:
        self._values[name] = value
        if binding:
            self._bindings[name] = value

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        try:
            return values[name]
        except KeyError:
            raise AttributeError(
                f"env has no binding or var {name!r} (has: {', '.join(sorted(values)) or 'nothing'})"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("env is read-only; declare bindings and vars in wrangler.toml")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def bindings(self) -> dict[str, Any]:
        """The binding objects by name (without vars)."""
        return dict(self._bindings)

    async def aclose(self) -> None:
        """Flush and close every binding, last opened first."""
        errors: list[BaseException] = []
        for binding in reversed(list(self._bindings.values())):
            aclose = getattr(binding, "aclose", None)
            if aclose is None:
                continue
            try:
                await aclose()
            except Exception as exc:  # close every binding even if one fails
                errors.append(exc)
        if errors:
            raise errors[0]

    def __repr__(self) -> str:
        return f"<Env {sorted(self._values)}>"


def resolve_data_dir(
    config: WorkerConfig, data_dir: str | os.PathLike[str] | None, environ: Mapping[str, str]
) -> Path:
    """``data_dir``, else ``$EDGEROOM_DATA_DIR``, else ``.edgeroom`` beside wrangler.toml."""
    chosen = data_dir or environ.get("EDGEROOM_DATA_DIR") or (config.root / DEFAULT_DATA_DIR)
    return Path(chosen).resolve()


def load_main_module(config: WorkerConfig) -> ModuleType:
    """Import the module named by ``main`` (``app/worker.py`` -> ``app.worker``)."""
    root = str(config.root)
    if root not in sys.path:
        sys.path.insert(0, root)
    if not (config.root / config.main).exists():
        raise ConfigError(f"{config.path}: main module {config.main!r} does not exist")
    try:
        return importlib.import_module(config.main_module)
    except ImportError as exc:
        raise ConfigError(
            f"{config.path}: cannot import main module {config.main!r}: {exc}"
        ) from exc


def _find_classes(config: WorkerConfig, classes: Mapping[str, type] | None) -> dict[str, type]:
    wanted = {spec.resource for spec in config.of_kind("durable_object")}
    if not wanted:
        return {}
    found = dict(classes or {})
    missing = wanted - set(found)
    if missing:
        module = load_main_module(config)
        for name in missing:
            cls = getattr(module, name, None)
            if not inspect.isclass(cls):
                raise ConfigError(
                    f"{config.path}: durable object class {name!r} is not defined in {config.main!r}"
                )
            found[name] = cls
    return found


def _open_binding(spec: BindingSpec, url: str, env: Env, clock: Clock, cls: type | None) -> Any:
    if spec.kind == "kv":
        from .kv import open_kv_namespace

        return open_kv_namespace(url, clock=clock, name=spec.name)
    if spec.kind == "d1":
        from .d1 import open_d1_database

        return open_d1_database(url, clock=clock, name=spec.name)
    if spec.kind == "r2":
        from .r2 import open_r2_bucket

        return open_r2_bucket(url, clock=clock, name=spec.name)
    from .durable_objects import open_durable_object_namespace

    assert cls is not None
    return open_durable_object_namespace(url, spec=spec, object_class=cls, env=env, clock=clock)


def build_env(
    config: str | os.PathLike[str] | WorkerConfig = "wrangler.toml",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    urls: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    classes: Mapping[str, type] | None = None,
    vars: Mapping[str, Any] | None = None,
) -> Env:
    """Build ``env`` from a wrangler.toml path (or a loaded config).

    ``urls`` maps binding names to backend URLs (``memory:``, ``sqlite:///…``, ``file:///…``,
    ``redis://…``, ``s3://…``) and wins over ``EDGEROOM_<BINDING>_URL`` in ``environ``; anything
    unset uses the embedded store under ``data_dir``. ``classes`` supplies Durable Object classes
    (by class name) instead of importing ``main``. ``vars`` adds or replaces vars (for tests, as
    Miniflare's ``bindings`` option). Raises :class:`ConfigError` naming the
    binding, URL or secret that is wrong.
    """
    cfg = config if isinstance(config, WorkerConfig) else load_config(config)
    environ = os.environ if environ is None else environ
    directory = resolve_data_dir(cfg, data_dir, environ)
    chosen_clock = clock or SystemClock()
    backend_urls = resolve_backend_urls(cfg, directory, urls, environ)
    env = Env(cfg, directory, chosen_clock, backend_urls)
    for name, value in {**resolve_vars(cfg, environ), **(vars or {})}.items():
        if any(spec.name == name for spec in cfg.bindings):
            raise ConfigError(f"var {name!r} has the same name as a binding")
        env._set(name, value, binding=False)
    do_classes = _find_classes(cfg, classes)
    for spec in cfg.bindings:
        url = backend_urls[spec.name]
        try:
            binding = _open_binding(spec, url, env, chosen_clock, do_classes.get(spec.resource))
        except ConfigError as exc:
            raise ConfigError(f"binding {spec.name!r} ({spec.kind}, {url}): {exc}") from exc
        env._set(spec.name, binding, binding=True)
    return env
