"""``memory:``: a dict plus a sorted key index, for tests and throwaway runs (per process)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from ..backend import KVEntry, KVListedKey, KVPage

__all__ = ["MemoryKVBackend"]


class MemoryKVBackend:
    """Keys kept in UTF-8 byte order in a sorted list; nothing is shared between processes."""

    def __init__(self) -> None:
        self._entries: dict[bytes, KVEntry] = {}
        self._order: list[bytes] = []

    @property
    def remote(self) -> bool:
        return False

    def _live(self, raw: bytes, now: float) -> KVEntry | None:
        entry = self._entries.get(raw)
        if entry is None or (entry.expiration is not None and entry.expiration <= now):
            return None
        return entry

    async def get(self, key: str, *, now: float) -> KVEntry | None:
        return self._live(key.encode(), now)

    async def get_many(self, keys: Sequence[str], *, now: float) -> dict[str, KVEntry | None]:
        return {key: self._live(key.encode(), now) for key in keys}

    async def put(self, key: str, entry: KVEntry, *, now: float) -> None:
        raw = key.encode()
        if raw not in self._entries:
            bisect.insort(self._order, raw)
        self._entries[raw] = entry

    async def delete(self, key: str) -> None:
        raw = key.encode()
        if self._entries.pop(raw, None) is not None:
            index = bisect.bisect_left(self._order, raw)
            del self._order[index]

    async def list(self, *, prefix: str, start_after: str | None, limit: int, now: float) -> KVPage:
        raw_prefix = prefix.encode()
        start = bisect.bisect_left(self._order, raw_prefix)
        if start_after is not None:
            start = max(start, bisect.bisect_right(self._order, start_after.encode()))
        keys: list[KVListedKey] = []
        for raw in self._order[start:]:
            if not raw.startswith(raw_prefix):
                break
            entry = self._live(raw, now)
            if entry is None:
                continue
            if len(keys) == limit:
                return KVPage(keys, more=True)
            keys.append(KVListedKey(raw.decode(), entry.expiration, entry.metadata))
        return KVPage(keys, more=False)

    async def sweep(self, *, now: float) -> int:
        expired = [
            raw
            for raw, entry in self._entries.items()
            if entry.expiration is not None and entry.expiration <= now
        ]
        for raw in expired:
            await self.delete(raw.decode())
        return len(expired)

    async def aclose(self) -> None:
        return None
