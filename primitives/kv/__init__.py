"""Workers KV: ``KVNamespace`` over memory, SQLite (embedded default) or Redis storage.

``open_kv_namespace(url, clock=..., name=...)`` is what :func:`primitives.env.build_env` calls for
each ``[[kv_namespaces]]`` binding; it does no I/O.
"""

from __future__ import annotations

from ..clock import Clock
from .backend import KVBackend, KVEntry, KVListedKey, KVPage
from .backends import open_kv_backend
from .binding import KVNamespace
from .errors import KVBackendError, KVError, KVStorageError, KVTypeError, KVValueError

__all__ = [
    "KVBackend",
    "KVBackendError",
    "KVEntry",
    "KVError",
    "KVListedKey",
    "KVNamespace",
    "KVPage",
    "KVStorageError",
    "KVTypeError",
    "KVValueError",
    "open_kv_backend",
    "open_kv_namespace",
]


def open_kv_namespace(url: str, *, clock: Clock, name: str) -> KVNamespace:
    """A binding named ``name`` on the backend ``url`` names.

    In a shared store (Redis) the keyspace defaults to ``name``.
    """
    return KVNamespace(open_kv_backend(url, namespace=name), clock=clock, name=name)
