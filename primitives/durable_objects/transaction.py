"""``txn`` of ``storage.transaction()`` and ``storage.kv`` (the synchronous KV API)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .validation import DurableObjectError, check_key

if TYPE_CHECKING:
    from .storage import DurableObjectStorage
    from .store import ObjectStore

__all__ = ["DurableObjectTransaction", "SyncKV"]

_KV = '"_cf_KV"'


class DurableObjectTransaction:
    """The ``txn`` handed to ``storage.transaction(closure)``."""

    def __init__(self, storage: DurableObjectStorage, store: ObjectStore, savepoint: str) -> None:
        self._storage = storage
        self._store = store
        self._savepoint = savepoint
        self._rolled_back = False

    def _check(self, op: str) -> None:
        if self._rolled_back:
            raise DurableObjectError(f"Cannot {op}() on rolled back transaction")

    def _undo(self) -> None:
        if not self._rolled_back and self._store.conn.in_transaction:
            self._store.execute(f"ROLLBACK TO {self._savepoint}")
            self._store.execute(f"RELEASE {self._savepoint}")
        self._rolled_back = True

    def rollback(self) -> None:
        self._check("rollback")
        self._undo()

    def get(self, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        self._check("get")
        return self._storage.get(*args, **kwargs)

    def list(self, *args: Any, **kwargs: Any) -> asyncio.Future[dict[str, Any]]:
        self._check("list")
        return self._storage.list(*args, **kwargs)

    def put(self, *args: Any, **kwargs: Any) -> asyncio.Future[None]:
        self._check("put")
        return self._storage.put(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        self._check("delete")
        return self._storage.delete(*args, **kwargs)

    def getAlarm(self, *args: Any, **kwargs: Any) -> asyncio.Future[int | None]:
        self._check("getAlarm")
        return self._storage.getAlarm(*args, **kwargs)

    def setAlarm(self, *args: Any, **kwargs: Any) -> asyncio.Future[None]:
        self._check("setAlarm")
        return self._storage.setAlarm(*args, **kwargs)

    def deleteAlarm(self, *args: Any, **kwargs: Any) -> asyncio.Future[None]:
        self._check("deleteAlarm")
        return self._storage.deleteAlarm(*args, **kwargs)

    def deleteAll(self, *args: Any, **kwargs: Any) -> asyncio.Future[None]:
        """Refused, as on workerd."""
        raise DurableObjectError("Cannot call deleteAll() within a transaction")


class SyncKV:
    """``ctx.storage.kv``: the synchronous KV API of SQLite-backed objects."""

    def __init__(self, storage: DurableObjectStorage) -> None:
        self._storage = storage

    def get(self, key: str) -> Any:
        return self._storage.get(key).result()

    def put(self, key: str, value: Any) -> None:
        self._storage.put(key, value)

    def delete(self, key: str) -> bool:
        store = self._storage._store()
        store.begin()
        return store.execute(f"DELETE FROM {_KV} WHERE key = ?", (check_key(key),)).rowcount > 0

    def list(
        self, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Iterator[tuple[str, Any]]:
        return iter(self._storage.list(options, **kwargs).result().items())
