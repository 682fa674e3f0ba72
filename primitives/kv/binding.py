"""``KVNamespace``: the Workers KV binding, in the Python SDK's shape.

Call shapes follow ``workers-runtime-sdk`` >= 1.3: options as keyword arguments, a dict or
``None``; results are :class:`~primitives._dictlike.JsDict`; JS ``null`` is ``None``::

    await env.SESSIONS.put("s:1", "data", expirationTtl=3600, metadata={"user": 7})
    await env.SESSIONS.get("s:1")                        # "data"
    await env.SESSIONS.get("s:1", "json")                # parsed JSON
    await env.SESSIONS.get(["a", "b"])                   # {"a": ..., "b": None}
    await env.SESSIONS.getWithMetadata("s:1")            # {"value", "metadata", "cacheStatus"}
    await env.SESSIONS.list(prefix="s:", limit=100)      # {"keys", "list_complete", "cursor"?, ...}

Validation (:mod:`.validation`) runs before storage is touched, in the order workerd and the
KV service apply it. Expiry reads the injected clock; a background task sweeps expired entries
every ``sweep_interval_s`` of that clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from .._dictlike import JsDict
from .._lifecycle import AsyncClosing
from ..clock import Clock, SystemClock
from .backend import KVBackend, KVEntry
from .cache import MISS, ReadCache
from .errors import KVBackendError, KVError, KVStorageError, KVTypeError, KVValueError
from .validation import (
    MAX_BULK_RESPONSE_BYTES,
    MISSING,
    PUT_VALUE_TYPE_MESSAGE,
    check_bulk_keys,
    check_cache_ttl,
    check_key,
    check_list_limit,
    check_metadata_size,
    check_prefix,
    check_value_size,
    decode_cursor,
    encode_cursor,
    encode_metadata,
    js_key,
    merge_options,
    resolve_expiration,
)
from .values import buffered_body, decode_value, js_string, parse_metadata, read_stream

__all__ = ["DEFAULT_SWEEP_INTERVAL_S", "KVNamespace"]

log = logging.getLogger("edgeroom.kv")

DEFAULT_SWEEP_INTERVAL_S = 60.0
_GET_OPTIONS = ("type", "cacheTtl")
_PUT_OPTIONS = ("expiration", "expirationTtl", "metadata")
_LIST_OPTIONS = ("prefix", "limit", "cursor")
_STATUS_TEXT = {503: "Service Unavailable"}
_MAX_BULK_RESPONSE_MIB = MAX_BULK_RESPONSE_BYTES // 1024 // 1024


def _backend_failed(method: str, exc: KVStorageError) -> NoReturn:
    reason = _STATUS_TEXT.get(exc.status, "Internal Server Error")
    raise KVBackendError(method, exc.status, f"{reason} ({exc})") from exc


def _value_type(opts: Mapping[str, Any]) -> Any:
    """``type``: "text" if not given; a given ``None`` is JavaScript ``null`` (``"null"``)."""
    if "type" not in opts:
        return "text"
    return "null" if opts["type"] is None else opts["type"]


def _get_options(method: str, options: Any, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(options, str):
        options = {"type": options}
    return merge_options(method, options, kwargs, _GET_OPTIONS)


class KVNamespace(AsyncClosing):
    """A KV namespace binding over any :class:`~primitives.kv.backend.KVBackend`.

    Construction does no I/O. ``aclose()`` stops the sweeper and closes the backend.
    """

    def __init__(
        self,
        backend: KVBackend,
        *,
        clock: Clock | None = None,
        name: str = "KV",
        sweep_interval_s: float = DEFAULT_SWEEP_INTERVAL_S,
    ) -> None:
        self.name = name
        self._backend = backend
        self._clock: Clock = clock or SystemClock()
        self._sweep_interval_s = sweep_interval_s
        self._sweeper: asyncio.Task[None] | None = None
        self._stopping = False
        self._cache: ReadCache | None = ReadCache() if backend.remote else None
        #: completed background sweeps (tests wait on it)
        self.sweeps = 0

    # -- Python protocol details of the SDK's KvNamespace proxy ---------------------------------

    def __iter__(self) -> NoReturn:
        raise TypeError("'KvNamespace' object is not iterable")

    def __len__(self) -> NoReturn:
        raise TypeError("object of type 'KvNamespace' has no len()")

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<KVNamespace {self.name} on {type(self._backend).__name__}>"

    @property
    def backend(self) -> KVBackend:
        return self._backend

    # -- reads -----------------------------------------------------------------------------------

    async def get(self, key: str | Sequence[str], options: Any = None, /, **kwargs: Any) -> Any:
        """``get(key, type?)`` -> value or ``None``; ``get([keys], type?)`` -> ``dict``."""
        if isinstance(key, list | tuple):
            return await self._get_bulk(key, options, kwargs, with_metadata=False)
        value, _ = await self._get_single("get", key, options, kwargs)
        return value

    async def getWithMetadata(
        self, key: str | Sequence[str], options: Any = None, /, **kwargs: Any
    ) -> Any:
        """``{"value", "metadata", "cacheStatus"}``; bulk: ``{key: {"value", "metadata"} or None}``.

        A missing key gives ``value`` and ``metadata`` None (single) or ``None`` (bulk).
        """
        if isinstance(key, list | tuple):
            return await self._get_bulk(key, options, kwargs, with_metadata=True)
        value, metadata = await self._get_single("getWithMetadata", key, options, kwargs)
        return JsDict(value=value, metadata=metadata, cacheStatus=None)

    async def _get_single(
        self, method: str, key: Any, options: Any, kwargs: Mapping[str, Any]
    ) -> tuple[Any, Any]:
        key = js_key(key)
        check_key("GET", key)
        opts = _get_options(method, options, kwargs)
        cache_ttl = check_cache_ttl("GET", opts.get("cacheTtl", MISSING))
        if cache_ttl is None or self._cache is None:  # the common path: straight to storage
            self._ensure_sweeper()
            try:
                entry = await self._backend.get(key, now=self._clock.now())
            except KVStorageError as exc:
                _backend_failed("GET", exc)
        else:
            entry = (await self._read([key], cache_ttl, "GET"))[key]
        if entry is None:
            return None, None
        value_type = _value_type(opts)
        return decode_value(key, entry, value_type), parse_metadata(entry.metadata)

    async def _get_bulk(
        self, keys: Sequence[Any], options: Any, kwargs: Mapping[str, Any], *, with_metadata: bool
    ) -> dict[str, Any]:
        opts = _get_options("getWithMetadata" if with_metadata else "get", options, kwargs)
        value_type = _value_type(opts)
        if value_type not in ("text", "json"):
            raise KVError(
                "GET_BULK", 400, f'"{value_type}" is not a valid type. Use "json" or "text"'
            )
        names = check_bulk_keys(keys)
        cache_ttl = check_cache_ttl("GET_BULK", opts.get("cacheTtl", MISSING))
        entries = await self._read(names, cache_ttl, "GET_BULK")
        result: dict[str, Any] = {}
        total = 0
        for name in names:
            entry = entries[name]
            if entry is None:
                result[name] = None
                continue
            total += len(entry.value)
            try:
                value = decode_value(name, entry, value_type)
            except KVValueError as exc:
                raise KVError(
                    "GET_BULK",
                    400,
                    "At least one of the requested keys corresponds to a non-json value",
                ) from exc
            result[name] = (
                JsDict(value=value, metadata=parse_metadata(entry.metadata))
                if with_metadata
                else value
            )
        if total > MAX_BULK_RESPONSE_BYTES:
            raise KVError(
                "GET_BULK",
                413,
                f"Total size of request exceeds the limit of {_MAX_BULK_RESPONSE_MIB}MB",
            )
        return result

    async def _read(
        self, keys: Sequence[str], cache_ttl: int | None, method: str
    ) -> dict[str, KVEntry | None]:
        """Entries by key; through the read cache if ``cacheTtl`` is given and storage is remote."""
        self._ensure_sweeper()
        now = self._clock.now()
        cache = self._cache if cache_ttl is not None else None
        found: dict[str, KVEntry | None] = {}
        wanted = list(keys)
        if cache is not None:
            wanted = []
            for key in keys:
                cached = cache.get(key, now)
                if cached is MISS:
                    wanted.append(key)
                else:
                    found[key] = cached  # type: ignore[assignment]
        if wanted:
            try:
                if len(wanted) == 1:
                    fetched = {wanted[0]: await self._backend.get(wanted[0], now=now)}
                else:
                    fetched = await self._backend.get_many(wanted, now=now)
            except KVStorageError as exc:
                _backend_failed(method, exc)
            found.update(fetched)
            if cache is not None and cache_ttl is not None:
                for key, entry in fetched.items():
                    cache.put(key, entry, now + cache_ttl)
        return found

    # -- writes ----------------------------------------------------------------------------------

    async def put(self, key: str, value: Any, options: Any = None, /, **kwargs: Any) -> None:
        """Store ``value`` (str, bytes-like or an async iterable of bytes) under ``key``."""
        key = js_key(key)
        check_key("PUT", key)
        opts = merge_options("put", options, kwargs, _PUT_OPTIONS)
        metadata = encode_metadata(opts.get("metadata")) if opts else None
        data: bytes | None
        if isinstance(value, str | bytes | bytearray | memoryview):
            data = buffered_body(value)
        elif value is None:
            data = b"null"  # the SDK passes None as null, which workerd stores as "null"
        elif isinstance(value, Mapping | list | tuple):
            raise KVTypeError(PUT_VALUE_TYPE_MESSAGE)
        elif isinstance(value, int | float):
            data = js_string(value).encode()
        elif hasattr(value, "__aiter__"):
            data = None  # read after the options are checked, as the KV service does
        else:
            raise KVTypeError(PUT_VALUE_TYPE_MESSAGE)
        now = self._clock.now()
        expiration = (
            resolve_expiration(
                now, opts.get("expiration", MISSING), opts.get("expirationTtl", MISSING)
            )
            if opts
            else None
        )
        check_metadata_size(metadata)
        if data is None:
            data = await read_stream(value)
        check_value_size(len(data))
        self._ensure_sweeper()
        try:
            await self._backend.put(key, KVEntry(data, expiration, metadata), now=now)
        except KVStorageError as exc:
            _backend_failed("PUT", exc)
        finally:
            if self._cache is not None:
                self._cache.invalidate(key)

    async def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""
        key = js_key(key)
        check_key("DELETE", key)
        self._ensure_sweeper()
        try:
            await self._backend.delete(key)
        except KVStorageError as exc:
            _backend_failed("DELETE", exc)
        finally:
            if self._cache is not None:
                self._cache.invalidate(key)

    # -- list ------------------------------------------------------------------------------------

    async def list(self, options: Any = None, /, **kwargs: Any) -> JsDict:
        """Keys in UTF-8 byte order: ``{"keys", "list_complete", "cursor"?, "cacheStatus"}``."""
        opts = merge_options("list", options, kwargs, _LIST_OPTIONS)
        limit = check_list_limit(opts.get("limit"))
        prefix = check_prefix(opts.get("prefix"))
        start_after = decode_cursor(opts.get("cursor"))
        self._ensure_sweeper()
        try:
            page = await self._backend.list(
                prefix=prefix, start_after=start_after, limit=limit, now=self._clock.now()
            )
        except KVStorageError as exc:
            _backend_failed("GET", exc)
        keys = []
        for listed in page.keys:
            item = JsDict(name=listed.name)
            if listed.expiration is not None:
                item["expiration"] = listed.expiration
            if listed.metadata is not None:
                item["metadata"] = parse_metadata(listed.metadata)
            keys.append(item)
        result = JsDict(keys=keys, list_complete=not page.more)
        if page.more and page.keys:
            result["cursor"] = encode_cursor(page.keys[-1].name)
        result["cacheStatus"] = None
        return result

    # -- lifecycle -------------------------------------------------------------------------------

    def _ensure_sweeper(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep_forever(self._clock.now() + self._sweep_interval_s),
                name=f"kv-sweeper-{self.name}",
            )

    async def _sweep_forever(self, due: float) -> None:
        # The flag backs up cancellation: a storage client that swallows CancelledError while a
        # sweep is in flight (redis-py can) must not leave this loop running after aclose().
        while not self._stopping:
            await self._clock.sleep_until(due)
            if self._stopping:
                return
            due = max(due + self._sweep_interval_s, self._clock.now())
            try:
                removed = await self._backend.sweep(now=self._clock.now())
            except KVStorageError as exc:
                log.warning("KV %s: sweeping expired keys failed: %s", self.name, exc)
            else:
                if removed:
                    log.debug("KV %s: swept %d expired keys", self.name, removed)
            self.sweeps += 1

    async def aclose(self) -> None:
        """Stop the sweeper and close the backend. The binding reopens if used again."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            self._stopping = True
            sweeper.cancel()
            try:
                await asyncio.wait([sweeper])  # our own cancellation still propagates
            finally:
                self._stopping = False
        if self._cache is not None:
            self._cache.clear()
        try:
            await self._backend.aclose()
        except KVStorageError as exc:
            _backend_failed("CLOSE", exc)
