"""Latency histograms and delivery accounting: pure, mergeable across worker processes.

:class:`LatencyHistogram` keeps counts in log-spaced buckets (2% wide, 1 µs to over an hour) so a
run of millions of deliveries ships as a few hundred integers; percentiles are the upper edge of
the bucket holding the rank (at most 2% high) and the maximum is exact.
:class:`DeliveryLedger` records, per receiver and sender, which counters arrived, so loss and
duplicates are exact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["DeliveryLedger", "LatencyHistogram", "LatencySummary", "percentile"]

_GROWTH = 1.02
_LOG_GROWTH = math.log(_GROWTH)


def percentile(samples: Iterable[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``samples``; 0.0 when empty."""
    ordered = sorted(samples)
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class LatencySummary:
    """Milliseconds."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float

    def as_dict(self) -> dict[str, float]:
        return {
            "count": self.count,
            "p50": self.p50,
            "p90": self.p90,
            "p99": self.p99,
            "max": self.max,
        }


@dataclass
class LatencyHistogram:
    """Counts of latencies in 2%-wide buckets of microseconds; negative clock skew counts as 0."""

    buckets: dict[int, int] = field(default_factory=dict)
    count: int = 0
    max_ns: int = 0

    @staticmethod
    def bucket_of(ns: int) -> int:
        us = ns / 1000
        return 0 if us < 1 else 1 + int(math.log(us) / _LOG_GROWTH)

    @staticmethod
    def upper_ms(bucket: int) -> float:
        """The upper edge of ``bucket`` in milliseconds."""
        return 0.001 if bucket == 0 else _GROWTH**bucket / 1000

    def add(self, ns: int) -> None:
        ns = max(ns, 0)
        bucket = self.bucket_of(ns)
        self.buckets[bucket] = self.buckets.get(bucket, 0) + 1
        self.count += 1
        if ns > self.max_ns:
            self.max_ns = ns

    def merge(self, other: LatencyHistogram) -> None:
        for bucket, n in other.buckets.items():
            self.buckets[bucket] = self.buckets.get(bucket, 0) + n
        self.count += other.count
        self.max_ns = max(self.max_ns, other.max_ns)

    def percentile_ms(self, q: float) -> float:
        if not self.count:
            return 0.0
        rank = max(1, math.ceil(q / 100 * self.count))
        seen = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= rank:
                return min(self.upper_ms(bucket), self.max_ns / 1e6)
        return self.max_ns / 1e6

    def summary(self) -> LatencySummary:
        return LatencySummary(
            self.count,
            self.percentile_ms(50),
            self.percentile_ms(90),
            self.percentile_ms(99),
            self.max_ns / 1e6,
        )

    @classmethod
    def merged(cls, parts: Iterable[LatencyHistogram]) -> LatencyHistogram:
        total = cls()
        for part in parts:
            total.merge(part)
        return total


@dataclass
class DeliveryLedger:
    """Which ``(sender, counter)`` each receiver got, for one traffic step.

    ``record`` answers False for a duplicate. ``unique`` and ``duplicates`` are totals over the
    receivers this ledger saw; loss is computed against what the senders say they sent
    (:meth:`lost`), since a receiver cannot know about messages it never got.
    """

    _seen: dict[tuple[int, int], bytearray] = field(default_factory=dict)
    unique: int = 0
    duplicates: int = 0
    #: per sender: how many receipts (unique) its messages got
    by_sender: dict[int, int] = field(default_factory=dict)

    def record(self, receiver: int, sender: int, counter: int) -> bool:
        key = (receiver, sender)
        seen = self._seen.get(key)
        if seen is None:
            seen = self._seen[key] = bytearray(max(64, counter + 1))
        elif counter >= len(seen):
            seen.extend(bytes(max(counter + 1 - len(seen), len(seen))))
        if seen[counter]:
            self.duplicates += 1
            return False
        seen[counter] = 1
        self.unique += 1
        self.by_sender[sender] = self.by_sender.get(sender, 0) + 1
        return True

    @staticmethod
    def expected(sent: Mapping[int, int], audience: Mapping[int, int]) -> int:
        """Deliveries owed: each sender's messages times the members of its room (itself included)."""
        return sum(n * audience[sender] for sender, n in sent.items())

    @staticmethod
    def lost(sent: Mapping[int, int], audience: Mapping[int, int], unique: int) -> int:
        return max(0, DeliveryLedger.expected(sent, audience) - unique)
