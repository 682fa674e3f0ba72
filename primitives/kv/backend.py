"""The storage contract every KV backend meets: plain bytes in, plain bytes out, no validation.

The binding validates, computes absolute expirations from its clock and passes ``now`` into every
read, so backends never read a clock themselves. A backend:

* returns ``None`` for a key whose ``expiration <= now`` (expired keys behave as missing);
* lists live keys in UTF-8 byte order, strictly after ``start_after``, and says whether more
  live keys follow (``KVPage.more``);
* stores value, expiration and metadata together, so a reader never sees one without the others;
* deletes expired rows when :meth:`KVBackend.sweep` is called (the binding calls it in the
  background on its clock);
* opens its storage lazily, on first use inside the running loop, and raises only
  :class:`~primitives.kv.errors.KVStorageError` (library exceptions are translated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["KVBackend", "KVEntry", "KVListedKey", "KVPage"]


@dataclass(frozen=True, slots=True)
class KVEntry:
    """One stored value."""

    value: bytes
    #: absolute expiry, epoch seconds
    expiration: int | None = None
    #: the metadata as JSON text (already serialised by the binding)
    metadata: bytes | None = None


@dataclass(frozen=True, slots=True)
class KVListedKey:
    """One key as ``list()`` reports it (no value)."""

    name: str
    expiration: int | None = None
    metadata: bytes | None = None


@dataclass(frozen=True, slots=True)
class KVPage:
    """A page of live keys; ``more`` is true when live keys follow the last one."""

    keys: list[KVListedKey]
    more: bool


@runtime_checkable
class KVBackend(Protocol):
    """Storage only. ``remote`` is true when other processes share the store (Redis)."""

    @property
    def remote(self) -> bool: ...

    async def get(self, key: str, *, now: float) -> KVEntry | None: ...

    async def get_many(self, keys: Sequence[str], *, now: float) -> dict[str, KVEntry | None]: ...

    async def put(self, key: str, entry: KVEntry, *, now: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def list(
        self, *, prefix: str, start_after: str | None, limit: int, now: float
    ) -> KVPage: ...

    async def sweep(self, *, now: float) -> int:
        """Delete expired entries; return how many were removed."""
        ...

    async def aclose(self) -> None: ...
