"""The storage contract of Durable Objects: one SQLite database per object.

A backend only stores. It opens an object's database (creating the hidden tables), makes
committed transactions durable (``sync``), keeps the namespace's alarm index (so alarms of
objects that are not in memory fire after a restart), and closes databases. The runtime above
it owns the connection between ``open`` and ``close`` and runs every statement; the backend
never touches the connection in between.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = [
    "AlarmUpdate",
    "DurableObjectBackend",
    "KV_TABLE",
    "METADATA_TABLE",
    "ObjectHandle",
    "init_schema",
]

#: Hidden tables, as workerd names them; user SQL may not touch ``_cf_*`` tables.
KV_TABLE = "_cf_KV"
METADATA_TABLE = "_cf_METADATA"


@dataclass
class ObjectHandle:
    """An open object database. ``conn`` is in autocommit mode (the runtime issues BEGIN/COMMIT)."""

    id: str
    conn: sqlite3.Connection
    path: Path | None = None


@dataclass(frozen=True)
class AlarmUpdate:
    """The alarm an object has after a commit (``None``: no alarm)."""

    id: str
    ms: int | None


class DurableObjectBackend(Protocol):
    """Where a namespace keeps its objects."""

    #: True when a COMMIT is already durable (memory), so ``sync`` never needs a thread.
    durable_on_commit: bool

    async def open(self, id_hex: str) -> ObjectHandle:
        """Open (creating if needed) the database of one object."""
        ...

    async def sync(self, handle: ObjectHandle, alarm: AlarmUpdate | None) -> None:
        """Make every committed transaction of ``handle`` durable; record ``alarm`` first."""
        ...

    async def close(self, handle: ObjectHandle) -> None:
        """Close an object's database (its committed data stays)."""
        ...

    async def load_alarms(self) -> dict[str, int]:
        """Alarms recorded by earlier runs: object id -> epoch ms (may include stale entries)."""
        ...

    async def object_ids(self) -> list[str]:
        """Ids (hex) of the objects that have a database."""
        ...

    async def aclose(self) -> None:
        """Release everything (after every handle was closed)."""
        ...


#: workerd's SQLite limits for Durable Objects (measured against workerd: a string or BLOB,
#: and an encoded row, may be 2,200,000 bytes; a compound SELECT may have 5 terms).
SQLITE_LENGTH_LIMIT_BYTES = 2_200_000
SQLITE_COMPOUND_SELECT_LIMIT = 5


def init_schema(conn: sqlite3.Connection) -> None:
    """Create the hidden KV and metadata tables of a fresh object database; set the limits."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, SQLITE_LENGTH_LIMIT_BYTES)
    conn.setlimit(sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, SQLITE_COMPOUND_SELECT_LIMIT)
    conn.execute(
        f'CREATE TABLE IF NOT EXISTS "{KV_TABLE}" (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID'
    )
    conn.execute(
        f'CREATE TABLE IF NOT EXISTS "{METADATA_TABLE}" (key TEXT PRIMARY KEY, value) WITHOUT ROWID'
    )
