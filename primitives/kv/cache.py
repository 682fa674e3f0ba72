"""The per-process read cache that honours ``cacheTtl`` in front of a remote backend (Redis).

On Cloudflare, ``cacheTtl`` says how long a read may be served from the edge cache. Here it is a
small LRU held by the binding (so, in practice, one per process and namespace), used only when a
read passes ``cacheTtl`` and the backend is shared with other processes. An entry is served while
``now < cached_at + cacheTtl`` **and** the value has not expired (an expiration always wins over
a longer ``cacheTtl``). Missing keys are cached too,
as Cloudflare caches negative lookups. Writes and deletes through the same binding drop the key,
so a process always reads its own writes.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Final

from .backend import KVEntry

__all__ = ["MISS", "ReadCache"]

MISS: Final = object()


class ReadCache:
    """An LRU of ``key -> (entry or None, fresh_until)``, bounded in entries and value size."""

    def __init__(self, max_entries: int = 4096, max_value_bytes: int = 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_value_bytes = max_value_bytes
        self._items: OrderedDict[str, tuple[KVEntry | None, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str, now: float) -> KVEntry | object | None:
        """The cached entry (``None`` for a cached miss), or :data:`MISS`."""
        item = self._items.get(key)
        if item is None:
            return MISS
        entry, fresh_until = item
        if now >= fresh_until or (
            entry is not None and entry.expiration is not None and entry.expiration <= now
        ):
            del self._items[key]
            return MISS
        self._items.move_to_end(key)
        return entry

    def put(self, key: str, entry: KVEntry | None, fresh_until: float) -> None:
        if entry is not None and len(entry.value) > self.max_value_bytes:
            return
        self._items[key] = (entry, fresh_until)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    def invalidate(self, key: str) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()
