"""``redis://host:port/db``: one KV namespace shared by a fleet of processes (redis-py asyncio).

Layout, under the prefix ``edgeroom:kv:<namespace>:`` (namespace: ``?namespace=`` in the URL,
else the binding name):

* ``k:<key>`` -- a hash holding ``v`` (value), ``m`` (metadata JSON) and ``e`` (expiration,
  epoch seconds), written in one Lua script, so a reader never sees a value without its metadata;
* ``idx`` -- a sorted set of every key with score 0: Redis orders equal scores by ``memcmp``,
  which is UTF-8 byte order, so ``ZRANGEBYLEX`` pages through keys in Cloudflare's order;
* ``exp`` -- a sorted set of the keys that expire, scored by expiration, for the sweeper.

Expiry follows the binding's injected clock: reads and lists drop entries whose ``e <= now``
(``now`` comes from the clock), and :meth:`RedisKVBackend.sweep` deletes what the clock says has
expired. Redis's own expiry is only a cleanup aid for hashes nobody sweeps: it is set *relative*
to the write (``PEXPIRE`` of the remaining time plus a grace period), so a clock that differs
from the Redis server's (a test's fake clock, a skewed host) never makes Redis drop a key the
clock still considers live, within the grace period.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError, RedisError, TimeoutError

from ..backend import KVEntry, KVListedKey, KVPage
from ..errors import KVStorageError

__all__ = ["NATIVE_EXPIRY_GRACE_MS", "RedisKVBackend", "redis_key_layout"]

#: Redis deletes an expiring hash this long after the clock-derived expiry, never before.
NATIVE_EXPIRY_GRACE_MS = 60_000
_SOCKET_TIMEOUT_S = 5.0
_SWEEP_BATCH = 500

_PUT_LUA = """
redis.call('DEL', KEYS[1])
if ARGV[3] ~= '' and ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'm', ARGV[3], 'e', ARGV[4])
elseif ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'm', ARGV[3])
elseif ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 'e', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'v', ARGV[2])
end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
else
  redis.call('ZREM', KEYS[3], ARGV[1])
end
return 1
"""

_DELETE_LUA = """
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""

# KEYS[1] idx; ARGV: hash prefix, min, max, wanted, now. Returns name, e, m triples.
_LIST_LUA = """
local out = {}
local found = 0
local wanted = tonumber(ARGV[4])
local now = tonumber(ARGV[5])
local low = ARGV[2]
while found < wanted do
  local ask = wanted - found
  local batch = redis.call('ZRANGEBYLEX', KEYS[1], low, ARGV[3], 'LIMIT', 0, ask)
  for _, name in ipairs(batch) do
    local hash = ARGV[1] .. name
    if redis.call('EXISTS', hash) == 1 then
      local fields = redis.call('HMGET', hash, 'e', 'm')
      if not fields[1] or tonumber(fields[1]) > now then
        out[#out + 1] = name
        out[#out + 1] = fields[1] or ''
        out[#out + 1] = fields[2] or ''
        found = found + 1
      end
    end
  end
  if #batch < ask then break end
  low = '(' .. batch[#batch]
end
return out
"""

# KEYS[1] idx, KEYS[2] exp; ARGV: hash prefix, now, batch size.
_SWEEP_LUA = """
local names = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
for _, name in ipairs(names) do
  redis.call('DEL', ARGV[1] .. name)
  redis.call('ZREM', KEYS[1], name)
  redis.call('ZREM', KEYS[2], name)
end
return #names
"""


def redis_key_layout(namespace: str) -> tuple[bytes, bytes, bytes]:
    """``(hash prefix, index key, expiry key)`` for a namespace."""
    base = f"edgeroom:kv:{namespace}:".encode()
    return base + b"k:", base + b"idx", base + b"exp"


def _split_url(url: str) -> tuple[str, str | None]:
    """Remove ``namespace=`` from the query (redis-py would reject it)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    namespace = next((value for name, value in query if name == "namespace"), None)
    rest = urlencode([(name, value) for name, value in query if name != "namespace"])
    return urlunsplit(parts._replace(query=rest)), namespace


class _MappedErrors:
    """Translate redis-py errors at the boundary: unreachable -> 503, anything else -> 500.

    A class rather than a generator-based context manager: it wraps every call, so it is kept cheap.
    """

    __slots__ = ("_where",)

    def __init__(self, where: str) -> None:
        self._where = where

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            return
        if isinstance(exc, RedisConnectionError | TimeoutError | OSError):
            raise KVStorageError(
                f"Redis at {self._where} is unavailable: {exc}", status=503
            ) from exc
        if isinstance(exc, RedisError):
            raise KVStorageError(f"Redis at {self._where} failed: {exc}") from exc


class RedisKVBackend:
    """A namespace in a Redis database; the client connects on first use."""

    def __init__(self, url: str, *, namespace: str = "default") -> None:
        client_url, url_namespace = _split_url(url)
        self.namespace = url_namespace or namespace
        parts = urlsplit(client_url)
        self._where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or '/0'}"
        self._errors = _MappedErrors(self._where)
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            client_url,
            decode_responses=False,
            socket_timeout=_SOCKET_TIMEOUT_S,
            socket_connect_timeout=_SOCKET_TIMEOUT_S,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
            retry_on_error=[RedisConnectionError, TimeoutError],
        )
        self._hash_prefix, self._index, self._expiry = redis_key_layout(self.namespace)
        self._put = self._client.register_script(_PUT_LUA)
        self._delete = self._client.register_script(_DELETE_LUA)
        self._list = self._client.register_script(_LIST_LUA)
        self._sweep = self._client.register_script(_SWEEP_LUA)

    @property
    def remote(self) -> bool:
        return True

    def _hash(self, key: str) -> bytes:
        return self._hash_prefix + key.encode()

    @staticmethod
    def _entry(fields: list[Any], now: float) -> KVEntry | None:
        value, metadata, expiration = fields
        if value is None:
            return None
        exp = int(expiration) if expiration is not None else None
        if exp is not None and exp <= now:
            return None
        return KVEntry(bytes(value), exp, metadata)

    async def get(self, key: str, *, now: float) -> KVEntry | None:
        with self._errors:
            fields = await self._client.hmget(self._hash(key), [b"v", b"m", b"e"])
        return self._entry(fields, now)

    async def get_many(self, keys: Sequence[str], *, now: float) -> dict[str, KVEntry | None]:
        unique = list(dict.fromkeys(keys))
        with self._errors:
            async with self._client.pipeline(transaction=False) as pipe:
                for key in unique:
                    pipe.hmget(self._hash(key), [b"v", b"m", b"e"])
                results = await pipe.execute()
        return {key: self._entry(fields, now) for key, fields in zip(unique, results, strict=True)}

    async def put(self, key: str, entry: KVEntry, *, now: float) -> None:
        expiration = b"" if entry.expiration is None else str(entry.expiration).encode()
        native_ms = b""
        if entry.expiration is not None:
            remaining_ms = math.ceil((entry.expiration - now) * 1000)
            native_ms = str(max(remaining_ms, 0) + NATIVE_EXPIRY_GRACE_MS).encode()
        with self._errors:
            await self._put(
                keys=[self._hash(key), self._index, self._expiry],
                args=[key.encode(), entry.value, entry.metadata or b"", expiration, native_ms],
            )

    async def delete(self, key: str) -> None:
        with self._errors:
            await self._delete(
                keys=[self._hash(key), self._index, self._expiry], args=[key.encode()]
            )

    async def list(self, *, prefix: str, start_after: str | None, limit: int, now: float) -> KVPage:
        raw_prefix = prefix.encode()
        low = b"[" + raw_prefix if raw_prefix else b"-"
        if start_after is not None and start_after.encode() >= raw_prefix:
            low = b"(" + start_after.encode()
        high = b"(" + raw_prefix + b"\xff" if raw_prefix else b"+"
        with self._errors:
            flat = await self._list(
                keys=[self._index], args=[self._hash_prefix, low, high, limit + 1, repr(now)]
            )
        keys = [
            KVListedKey(
                bytes(flat[i]).decode(),
                int(flat[i + 1]) if flat[i + 1] else None,
                bytes(flat[i + 2]) if flat[i + 2] else None,
            )
            for i in range(0, len(flat), 3)
        ]
        return KVPage(keys[:limit], more=len(keys) > limit)

    async def sweep(self, *, now: float) -> int:
        removed = 0
        while True:
            with self._errors:
                count = int(
                    await self._sweep(
                        keys=[self._index, self._expiry],
                        args=[self._hash_prefix, repr(now), _SWEEP_BATCH],
                    )
                )
            removed += count
            if count < _SWEEP_BATCH:
                return removed

    async def aclose(self) -> None:
        with self._errors:
            await self._client.aclose()
