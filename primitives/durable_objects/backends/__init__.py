"""Backends of Durable Object storage, chosen by URL in :func:`backend_for_url` (the only place)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from ...errors import UnsupportedBackend
from ..backend import DurableObjectBackend

__all__ = ["backend_for_url"]


def backend_for_url(url: str) -> DurableObjectBackend:
    """``memory:`` -> in-process databases; ``sqlite:///<dir>`` -> one SQLite file per object."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        from .memory import MemoryDurableObjectBackend

        return MemoryDurableObjectBackend()
    if scheme == "sqlite":
        from .sqlite import SQLiteDurableObjectBackend

        path = unquote(urlsplit(url).path)
        if not path or path == "/":
            raise UnsupportedBackend(f"sqlite URL {url!r} names no directory")
        return SQLiteDurableObjectBackend(Path(path))
    raise UnsupportedBackend(
        f"unsupported Durable Object backend scheme {scheme!r} in URL {url!r} "
        "(supported: memory:, sqlite:///<directory>)"
    )
