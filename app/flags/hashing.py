"""MurmurHash3 x86_32 in pure Python, and the bucket a user falls into for a flag.

The same hash Unleash and flagd use for sticky percentage rollouts. Test vectors (seed 0):
``murmur3_32(b"") == 0``, ``murmur3_32(b"hello") == 0x248BFA47``,
``murmur3_32(b"The quick brown fox jumps over the lazy dog") == 0x2E4FF723``.
"""

from __future__ import annotations

import struct

__all__ = ["BUCKETS", "bucket", "murmur3_32"]

#: Buckets per flag: rollouts are in basis points (0.01 %), so 12.5 % is 1250 buckets.
BUCKETS = 10_000

_C1 = 0xCC9E2D51
_C2 = 0x1B873593
_MASK = 0xFFFFFFFF


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3 x86_32 of ``data`` as an unsigned 32-bit integer."""
    h = seed & _MASK
    length = len(data)
    full = length - (length & 3)
    for (k,) in struct.iter_unpack("<I", data[:full]):
        k = (k * _C1) & _MASK
        k = ((k << 15) | (k >> 17)) & _MASK
        k = (k * _C2) & _MASK
        h ^= k
        h = ((h << 13) | (h >> 19)) & _MASK
        h = (h * 5 + 0xE6546B64) & _MASK
    tail = data[full:]
    if tail:
        k = int.from_bytes(tail, "little")
        k = (k * _C1) & _MASK
        k = ((k << 15) | (k >> 17)) & _MASK
        k = (k * _C2) & _MASK
        h ^= k
    h ^= length
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    h ^= h >> 16
    return h


def bucket(salt: str, user: str) -> int:
    """The user's bucket (0..9999) for ``salt``: ``murmur3_32(utf8(salt + ":" + user)) % 10000``."""
    return murmur3_32(f"{salt}:{user}".encode()) % BUCKETS
