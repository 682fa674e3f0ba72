"""``ctx.storage``: the KV API, alarms and transactions of one object (SQLite-backed).

KV data lives in the hidden ``_cf_KV`` table of the object's database, so KV and SQL writes share
the implicit transaction. Every call takes effect when it is made: a ``get`` is answered at
once (an already-resolved future, so the caller continues without yielding: the input gate never
needs to hold anyone back), and ``put``/``delete`` change the open transaction and return a future
that resolves once the write is durable.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from ..clone import deserialize
from ..errors import BackendError
from .sql import SqlStorage
from .store import INTERNAL
from .transaction import DurableObjectTransaction, SyncKV
from .validation import (
    DurableObjectError,
    DurableObjectTypeError,
    alarm_time_ms,
    check_key,
    check_key_count,
    check_value,
    options_of,
)

if TYPE_CHECKING:
    from .actor import Actor
    from .store import ObjectStore

__all__ = ["DurableObjectStorage", "DurableObjectTransaction"]

T = TypeVar("T")
_MISSING: Any = object()
_PUT_SHAPE = (
    "put() may only be called with a single key-value pair and optional options as "
    "put(key, value, options) or with multiple key-value pairs and optional options as "
    "put(entries, options)"
)
_KV = '"_cf_KV"'
#: The store whose ``transaction()`` the current task is inside (nested calls do not queue).
_current_transaction: ContextVar[ObjectStore | None] = ContextVar(
    "edgeroom_do_transaction", default=None
)


def _done(value: Any) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


def _decode(key: str, data: bytes) -> Any:
    try:
        return deserialize(data)
    except Exception as exc:
        raise BackendError(f"stored value for key {key!r} cannot be decoded: {exc}") from exc


def _successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``."""
    for i in range(len(prefix) - 1, -1, -1):
        code = ord(prefix[i]) + 1
        if code <= 0x10FFFF:
            return prefix[:i] + chr(0xE000 if 0xD800 <= code <= 0xDFFF else code)
    return None


def _js_limit(limit: Any) -> int | None:
    """``limit`` as workerd converts it to an integer: numbers truncate, numeric strings parse
    (``"2"`` is 2); anything else is not positive."""
    if limit is None or (isinstance(limit, int) and not isinstance(limit, bool)):
        return limit
    if isinstance(limit, float | str) and not isinstance(limit, bool):
        try:
            number = float(limit.strip() if isinstance(limit, str) else limit)
        except ValueError:
            return 0
        if number != number or number in (float("inf"), float("-inf")):
            return 0
        return int(number)
    return 0


class DurableObjectStorage:
    """Storage of one object (``ctx.storage``)."""

    def __init__(self, actor: Actor, store: ObjectStore) -> None:
        self._actor = actor
        self._live = store
        self._sql = SqlStorage(self._store)

    def _store(self) -> ObjectStore:
        self._live.check()
        return self._live

    def _ack(self, store: ObjectStore, seq: int) -> asyncio.Future[None]:
        return _done(None) if store.explicit_depth else store.durable(seq)

    # -- reads ----------
    def get(
        self, keys: Any, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> asyncio.Future[Any]:
        """One value (``None`` if missing) or, for a list of keys, a dict of those that exist."""
        options_of(options, kwargs)
        store = self._store()
        store.check()
        if isinstance(keys, list | tuple):
            check_key_count(len(keys))
            wanted = sorted({check_key(k) for k in keys})
            marks = ",".join("?" * len(wanted))
            rows = store.execute(
                f"SELECT key, value FROM {_KV} WHERE key IN ({marks}) ORDER BY key", wanted
            )
            return _done({k: _decode(k, v) for k, v in rows.fetchall()})
        key = check_key(keys)
        row = store.execute(f"SELECT value FROM {_KV} WHERE key = ?", (key,)).fetchone()
        return _done(None if row is None else _decode(key, row[0]))

    def list(
        self, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> asyncio.Future[dict[str, Any]]:
        """Entries in UTF-8 key order; ``start``, ``startAfter``, ``end``, ``prefix``, ``limit``."""
        opts = options_of(options, kwargs)
        store = self._store()
        store.check()
        where: list[str] = []
        params: list[Any] = []
        if opts.get("start") is not None and opts.get("startAfter") is not None:
            raise DurableObjectTypeError(
                "list() cannot be called with both start and startAfter values."
            )
        for name, op in (("start", ">="), ("startAfter", ">"), ("end", "<")):
            if opts.get(name) is not None:
                where.append(f"key {op} ?")
                params.append(check_key(opts[name]))
        prefix = opts.get("prefix")
        if prefix:
            where.append("key >= ?")
            params.append(check_key(prefix))
            upper = _successor(prefix)
            if upper is not None:
                where.append("key < ?")
                params.append(upper)
        limit = _js_limit(opts.get("limit"))
        if limit is not None and limit <= 0:
            raise DurableObjectTypeError("List limit must be positive.")
        sql = f"SELECT key, value FROM {_KV}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY key DESC" if opts.get("reverse") else " ORDER BY key"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return _done({k: _decode(k, v) for k, v in store.execute(sql, params).fetchall()})

    # -- writes ----------
    def put(
        self,
        key: Any,
        value: Any = _MISSING,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> asyncio.Future[None]:
        """``put(key, value)`` or ``put({key: value, ...})``; resolves when durable."""
        if isinstance(key, Mapping):
            if value is not _MISSING and value is not None and not isinstance(value, Mapping):
                raise DurableObjectTypeError(_PUT_SHAPE)
            opts = options_of(None if value is _MISSING else value, kwargs)
            check_key_count(len(key))
            entries = [(check_key(k), check_value(v)) for k, v in key.items()]
        else:
            if value is _MISSING:
                raise DurableObjectTypeError("put() called with undefined value.")
            opts = options_of(options, kwargs)
            entries = [(check_key(key), check_value(value))]
        store = self._store()
        seq = store.begin(gated=not opts.get("allowUnconfirmed"))
        store.conn.executemany(
            f"INSERT OR REPLACE INTO {_KV} (key, value) VALUES (?, ?){INTERNAL}", entries
        )
        return self._ack(store, seq)

    def delete(
        self, keys: Any, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> asyncio.Future[Any]:
        """Delete one key (-> whether it existed) or a list of keys (-> how many existed)."""
        opts = options_of(options, kwargs)
        many = isinstance(keys, list | tuple)
        if many:
            check_key_count(len(keys))
            checked = [check_key(k) for k in keys]
        else:
            checked = [check_key(keys)]
        store = self._store()
        seq = store.begin(gated=not opts.get("allowUnconfirmed"))
        count = 0
        for key in dict.fromkeys(checked):
            count += store.execute(f"DELETE FROM {_KV} WHERE key = ?", (key,)).rowcount
        ack = self._ack(store, seq)
        return _chain(ack, count if many else count > 0)

    def deleteAll(
        self, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> asyncio.Future[None]:
        """Delete every key, every SQL table and the alarm."""
        opts = options_of(options, kwargs)
        store = self._store()
        if store.explicit_depth:
            raise DurableObjectError("Cannot call deleteAll() within a transaction")
        seq = store.begin(gated=not opts.get("allowUnconfirmed"))
        store.execute(f"DELETE FROM {_KV}")
        objects = store.execute(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        ).fetchall()
        for kind, name in objects:
            quoted = '"' + str(name).replace('"', '""') + '"'
            store.execute(f"DROP {'VIEW' if kind == 'view' else 'TABLE'} IF EXISTS {quoted}")
        store.write_alarm(None, gated=not opts.get("allowUnconfirmed"))
        return self._ack(store, seq)

    # -- alarms ----------
    def getAlarm(
        self, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> asyncio.Future[int | None]:
        """The alarm time in epoch ms, or ``None`` (also inside ``alarm()`` until one is set)."""
        options_of(options, kwargs)
        store = self._store()
        store.check()
        if self._actor.alarm_hidden:
            return _done(None)
        return _done(store.read_alarm())

    def setAlarm(
        self, scheduledTime: Any, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> asyncio.Future[None]:
        opts = options_of(options, kwargs)
        if not callable(getattr(self._actor.object_class, "alarm", None)):
            raise DurableObjectError(
                "Your Durable Object class must have an alarm() handler in order to call setAlarm()"
            )
        ms = alarm_time_ms(scheduledTime)
        store = self._store()
        seq = store.write_alarm(ms, gated=not opts.get("allowUnconfirmed"))
        self._actor.alarm_changed()
        return self._ack(store, seq)

    def deleteAlarm(
        self, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> asyncio.Future[None]:
        opts = options_of(options, kwargs)
        store = self._store()
        seq = store.write_alarm(None, gated=not opts.get("allowUnconfirmed"))
        self._actor.alarm_changed()
        return self._ack(store, seq)

    # -- transactions ----------
    async def transaction(self, closure: Callable[[DurableObjectTransaction], Awaitable[T]]) -> T:
        """Run ``closure(txn)`` atomically; an exception or ``txn.rollback()`` undoes its writes.

        Other events wait (the input gate is closed) and concurrent ``transaction()`` calls of
        the object run one after the other; a transaction started inside another nests.
        """
        store = self._store()
        if _current_transaction.get() is store:
            return await self._run_transaction(store, closure)
        token = _current_transaction.set(store)
        try:
            async with store.transaction_lock:
                return await self._run_transaction(store, closure)
        finally:
            _current_transaction.reset(token)

    async def _run_transaction(
        self, store: ObjectStore, closure: Callable[[DurableObjectTransaction], Awaitable[T]]
    ) -> T:
        store.check()
        store.begin()
        name = store.savepoint_name()
        store.execute(f"SAVEPOINT {name}")
        store.explicit_depth += 1
        self._actor.close_gate()
        txn = DurableObjectTransaction(self, store, name)
        try:
            result = await closure(txn)
        except BaseException:
            txn._undo()
            raise
        else:
            if not txn._rolled_back:
                store.execute(f"RELEASE {name}")
            return result
        finally:
            store.explicit_depth -= 1
            self._actor.open_gate()
            if store.explicit_depth == 0 and store.txn_seq is not None:
                asyncio.get_running_loop().call_soon(store.commit)

    def transactionSync(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` synchronously in a (nestable) transaction; an exception rolls it back."""
        store = self._store()
        store.begin()
        name = store.savepoint_name()
        store.execute(f"SAVEPOINT {name}")
        try:
            result = fn()
            if inspect.isawaitable(result):
                raise DurableObjectTypeError("transactionSync() callback must not be async")
        except BaseException:
            store.execute(f"ROLLBACK TO {name}")
            store.execute(f"RELEASE {name}")
            raise
        store.execute(f"RELEASE {name}")
        return result

    def sync(self) -> asyncio.Future[None]:
        """Resolves once every write made so far is durable."""
        return asyncio.ensure_future(self._store().flush())

    @property
    def sql(self) -> SqlStorage:
        return self._sql

    @property
    def kv(self) -> SyncKV:
        return SyncKV(self)


def _chain(ack: asyncio.Future[None], value: T) -> asyncio.Future[T]:
    out: asyncio.Future[T] = asyncio.get_running_loop().create_future()

    def done(f: asyncio.Future[None]) -> None:
        if out.done():
            return
        if f.cancelled():
            out.cancel()
        elif (exc := f.exception()) is not None:
            out.set_exception(exc)
            out.exception()
        else:
            out.set_result(value)

    if ack.done():
        done(ack)
    else:
        ack.add_done_callback(done)
    return out
