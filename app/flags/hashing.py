"""MurmurHash3 x86_32 in pure Python, and the bucket a user falls into for a flag.

The same hash Unleash and flagd use for sticky percentage rollouts. Test vectors (seed 0):
``murmur3_32(b"") == 0``, ``murmur3_32(b"hello") == 0x248BFA47``,
``murmur3_32(b"The quick brown fox jumps over the lazy dog") == 0x2E4FF723``.
"""

from __future__ import annotations

import struct

__all__ = ["BUCKETS", "Bucketer", "bucket", "murmur3_32"]

#: Buckets per flag: rollouts are in basis points (0.01 %), so 12.5 % is 1250 buckets.
BUCKETS = 10_000

_MASK = 0xFFFFFFFF


def _blocks(h: int, data: bytes) -> int:
    """Mix the whole 4-byte blocks of ``data`` into the state ``h``."""
    for (k,) in struct.iter_unpack("<I", data):
        k = (k * 0xCC9E2D51) & 0xFFFFFFFF
        k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
        h ^= (k * 0x1B873593) & 0xFFFFFFFF
        h = ((h << 13) | (h >> 19)) & 0xFFFFFFFF
        h = (h * 5 + 0xE6546B64) & 0xFFFFFFFF
    return h


def _finish(h: int, tail: bytes, length: int) -> int:
    if tail:
        k = (int.from_bytes(tail, "little") * 0xCC9E2D51) & 0xFFFFFFFF
        k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
        h ^= (k * 0x1B873593) & 0xFFFFFFFF
    h ^= length
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86_32 of ``data`` as an unsigned 32-bit integer."""
    full = len(data) & ~3
    return _finish(_blocks(seed & _MASK, data[:full]), data[full:], len(data))


class Bucketer:
    """``bucket(salt, user)`` with the salt's whole blocks hashed once (a flag keeps one)."""

    __slots__ = ("_prefix_len", "_rest", "_state")

    def __init__(self, salt: str) -> None:
        prefix = f"{salt}:".encode()
        full = len(prefix) & ~3
        self._state = _blocks(0, prefix[:full])
        self._rest = prefix[full:]
        self._prefix_len = full

    def __call__(self, user: str) -> int:
        data = self._rest + user.encode()
        full = len(data) & ~3
        h = _blocks(self._state, data[:full])
        return _finish(h, data[full:], self._prefix_len + len(data)) % BUCKETS


def bucket(salt: str, user: str) -> int:
    """The user's bucket (0..9999) for ``salt``: ``murmur3_32(utf8(salt + ":" + user)) % 10000``."""
    return murmur3_32(f"{salt}:{user}".encode()) % BUCKETS
