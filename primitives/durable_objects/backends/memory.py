"""``memory:``: each object gets an in-memory SQLite database that lives as long as the namespace.

A COMMIT is as durable as this backend gets, so ``sync`` has nothing to do and no thread is used
(which keeps fake-clock tests deterministic). Alarms live only in the namespace's scheduler.
"""

from __future__ import annotations

import sqlite3

from ...errors import BackendError
from ..backend import AlarmUpdate, ObjectHandle, init_schema

__all__ = ["MemoryDurableObjectBackend"]


class MemoryDurableObjectBackend:
    durable_on_commit = True

    def __init__(self) -> None:
        self._databases: dict[str, sqlite3.Connection] = {}

    async def open(self, id_hex: str) -> ObjectHandle:
        conn = self._databases.get(id_hex)
        if conn is None:
            try:
                conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                init_schema(conn)
            except sqlite3.Error as exc:
                raise BackendError(f"cannot create in-memory database: {exc}") from exc
            self._databases[id_hex] = conn
        return ObjectHandle(id_hex, conn)

    async def sync(self, handle: ObjectHandle, alarm: AlarmUpdate | None) -> None:
        return None

    async def close(self, handle: ObjectHandle) -> None:
        return None  # the database outlives the instance, as stored data does

    async def load_alarms(self) -> dict[str, int]:
        return {}

    async def object_ids(self) -> list[str]:
        return sorted(self._databases)

    async def aclose(self) -> None:
        for conn in self._databases.values():
            conn.close()
        self._databases.clear()
