"""MurmurHash3 x86_32 against published vectors; buckets are stable and evenly spread."""

from __future__ import annotations

import pytest

from app.flags.hashing import BUCKETS, bucket, murmur3_32


@pytest.mark.parametrize(
    ("data", "seed", "expected"),
    [
        (b"", 0, 0),
        (b"", 1, 0x514E28B7),
        (b"a", 0, 0x3C2569B2),
        (b"abcd", 0, 0x43ED676A),
        (b"hello", 0, 0x248BFA47),
        (b"The quick brown fox jumps over the lazy dog", 0, 0x2E4FF723),
    ],
)
def test_murmur3_32_matches_reference_vectors(data: bytes, seed: int, expected: int) -> None:
    assert murmur3_32(data, seed) == expected


def test_bucket_is_stable_across_calls_and_documented_formula() -> None:
    assert bucket("new-composer", "u_42") == murmur3_32(b"new-composer:u_42") % BUCKETS
    # Pinned so a change to the hash or the key format cannot slip through (clients rely on it).
    assert [bucket("new-composer", f"u_{i}") for i in range(3)] == [2960, 3807, 3208]
    # UTF-8 bytes; tests/web/flags.test.mjs checks the same vectors against web/lib/flags.js.
    assert bucket("ünïcode", "u_é") == 7866


def test_bucket_distribution_is_uniform_over_100000_ids() -> None:
    counts = [0] * 10
    for i in range(100_000):
        counts[bucket("flag", f"u_{i:x}") // 1000] += 1
    assert all(abs(count - 10_000) < 500 for count in counts), counts
