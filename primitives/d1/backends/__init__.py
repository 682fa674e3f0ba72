"""``open_d1_backend(url)``: the one place a URL becomes a D1 backend.

* ``sqlite:///path/to/db.sqlite3`` -- a SQLite file (created, with its folder, on first use);
  ``sqlite:////abs/path`` means the same absolute path, ``sqlite:relative/path`` a relative
  one; ``?mode=ro`` opens the file read-only.
* ``memory:`` -- an in-memory database, gone when the binding is closed.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote

from ...errors import ConfigError, UnsupportedBackend
from ..backend import D1Backend
from .sqlite import SQLiteD1Backend

__all__ = ["SQLiteD1Backend", "open_d1_backend"]


def open_d1_backend(url: str) -> D1Backend:
    """The backend a URL names; does no I/O (storage opens on first use)."""
    scheme, _, rest = url.partition(":")
    if scheme == "memory":
        return SQLiteD1Backend(None)
    if scheme == "sqlite":
        location, _, query = rest.partition("?")
        if location.startswith("//"):
            location = location[2:]  # sqlite:///abs/path
            if location.startswith("//"):
                location = location[1:]  # sqlite:////abs/path (SQLAlchemy's spelling)
        path = unquote(location)
        if not path:
            raise ConfigError(f"D1 backend URL {url!r} names no file (expected sqlite:///path)")
        options = parse_qs(query)
        mode = options.get("mode", ["rwc"])[-1]
        if mode not in ("ro", "rw", "rwc"):
            raise ConfigError(f"D1 backend URL {url!r}: mode must be ro, rw or rwc")
        return SQLiteD1Backend(path, read_only=mode == "ro")
    raise UnsupportedBackend(f"unsupported backend {scheme!r} for D1: {url}")
