"""The one place a KV backend URL becomes a backend.

* ``memory:`` -- in-process, for tests
* ``sqlite:///abs/path.sqlite3`` (also ``sqlite:////abs/...``, ``sqlite:relative/path``) -- the
  embedded default
* ``redis://[user:pass@]host:port/db[?namespace=NAME]`` and ``rediss://`` -- shared by a fleet;
  needs the ``edgeroom[redis]`` extra

Constructing a backend does no I/O; storage opens on first use.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from ...errors import ConfigError, UnsupportedBackend
from ..backend import KVBackend
from .memory import MemoryKVBackend
from .sqlite import SQLiteKVBackend

__all__ = ["MemoryKVBackend", "SQLiteKVBackend", "open_kv_backend", "sqlite_path_from_url"]


def sqlite_path_from_url(url: str) -> Path:
    """``sqlite:///a/b`` -> ``/a/b``; ``sqlite:////a/b`` -> ``/a/b``; ``sqlite:a/b`` -> ``a/b``."""
    parts = urlsplit(url)
    if parts.netloc:
        raise ConfigError(f"sqlite URL must not name a host ({parts.netloc!r}): {url}")
    path = unquote(parts.path)
    while path.startswith("//"):
        path = path[1:]
    if not path:
        raise ConfigError(f"sqlite URL has no path: {url}")
    return Path(path)


def open_kv_backend(url: str, *, namespace: str | None = None) -> KVBackend:
    """Map a URL to a KV backend. ``namespace`` names the keyspace in a shared store (Redis)."""
    scheme = url.partition(":")[0].lower()
    if scheme == "memory":
        return MemoryKVBackend()
    if scheme == "sqlite":
        return SQLiteKVBackend(sqlite_path_from_url(url))
    if scheme in ("redis", "rediss"):
        try:
            from .redis import RedisKVBackend
        except ImportError as exc:  # the optional extra is missing
            raise ConfigError(
                f"the Redis KV backend needs redis-py: pip install 'edgeroom[redis]' ({url})"
            ) from exc
        try:
            return RedisKVBackend(url, namespace=namespace or "default")
        except ValueError as exc:  # redis-py rejects a malformed URL
            raise ConfigError(f"invalid Redis URL {url!r}: {exc}") from exc
    raise UnsupportedBackend(
        f"unsupported backend {scheme!r} for KV: {url} (use memory:, sqlite:///path or redis://host:port/db)"
    )
