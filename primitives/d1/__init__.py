"""D1: Cloudflare's SQL database binding, over SQLite.

``open_d1_database(url, clock=..., name=...)`` is what :func:`primitives.env.build_env` calls;
URLs are ``sqlite:///path`` (default) and ``memory:``. See ``docs/d1.md``.
"""

from __future__ import annotations

from ..clock import Clock
from .backends import open_d1_backend
from .binding import D1Database, D1DatabaseSession, D1PreparedStatement
from .errors import (
    D1ColumnNotFoundError,
    D1DumpError,
    D1Error,
    D1ExecError,
    D1SessionError,
    D1TypeError,
)

__all__ = [
    "D1ColumnNotFoundError",
    "D1Database",
    "D1DatabaseSession",
    "D1DumpError",
    "D1Error",
    "D1ExecError",
    "D1PreparedStatement",
    "D1SessionError",
    "D1TypeError",
    "open_d1_backend",
    "open_d1_database",
]


def open_d1_database(url: str, *, clock: Clock, name: str) -> D1Database:
    """The ``D1Database`` binding for a backend URL; no I/O until first use.

    ``clock`` is accepted for uniformity with the other primitives; D1 itself has nothing that
    expires (durations are measured with a monotonic timer, as D1 measures SQL time).
    """
    del clock
    return D1Database(open_d1_backend(url), name=name)
