"""The harness's pure parts: payloads, latency histograms, delivery accounting, client layout."""

from __future__ import annotations

import random
import re

import pytest

from bench.chatload.payload import Payload, decode, decode_nonce, encode, encode_nonce
from bench.chatload.scenarios import make_clients
from bench.chatload.stats import DeliveryLedger, LatencyHistogram, percentile

NONCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # app.chat.protocol's rule


def test_payload_round_trip_and_garbage() -> None:
    sent = 1_800_000_000_123_456_789
    assert decode(encode(3, 17, 42, sent)) == Payload(3, 17, 42, sent)
    assert decode_nonce(encode_nonce(3, 17, 42, sent)) == Payload(3, 17, 42, sent)
    assert NONCE.match(encode_nonce(999, 99_999, 10**9, sent))
    for garbage in ("", "welcome", "1|2|3", "1|2|3|x", "1|2|3|4|5"):
        assert decode(garbage) is None


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) == 0.0
    samples = [float(i) for i in range(1, 101)]
    assert (percentile(samples, 50), percentile(samples, 99), percentile(samples, 100)) == (
        50.0,
        99.0,
        100.0,
    )
    assert percentile([5.0], 1) == 5.0


def test_histogram_percentiles_are_within_two_percent_and_max_is_exact() -> None:
    rng = random.Random(7)
    samples_ns = [int(rng.lognormvariate(15, 1.2)) for _ in range(20_000)]
    histogram = LatencyHistogram()
    for ns in samples_ns:
        histogram.add(ns)
    exact_ms = [ns / 1e6 for ns in samples_ns]
    for q in (50, 90, 99):
        assert (
            percentile(exact_ms, q) <= histogram.percentile_ms(q) <= percentile(exact_ms, q) * 1.021
        )
    summary = histogram.summary()
    assert summary.count == 20_000 and summary.max == max(exact_ms)


def test_histograms_merge_and_clock_skew_counts_as_zero() -> None:
    a, b = LatencyHistogram(), LatencyHistogram()
    a.add(-5_000)  # a receiver's clock a little behind: not negative latency
    a.add(2_000_000)
    b.add(9_000_000)
    merged = LatencyHistogram.merged([a, b])
    assert merged.count == 3 and merged.max_ns == 9_000_000
    assert merged.percentile_ms(1) == pytest.approx(0.001)
    assert LatencyHistogram().summary().p99 == 0.0


def test_ledger_counts_unique_duplicates_and_loss() -> None:
    ledger = DeliveryLedger()
    for receiver in (1, 2):
        for counter in range(100):
            assert ledger.record(receiver, 1, counter)
    assert not ledger.record(1, 1, 5)
    assert ledger.record(2, 1, 500)  # far past the first allocation
    assert (ledger.unique, ledger.duplicates, ledger.by_sender[1]) == (201, 1, 201)
    sent, audience = {1: 101}, {1: 2}
    assert DeliveryLedger.expected(sent, audience) == 202
    assert DeliveryLedger.lost(sent, audience, ledger.unique) == 1


def test_clients_are_dealt_over_rooms_with_senders_first() -> None:
    specs = make_clients("fanout", 10, 3, 2)
    rooms = {s.room for s in specs}
    assert rooms == {"fanout-0", "fanout-1", "fanout-2"}
    assert [s.id for s in specs] == list(range(1, 11))
    assert sum(s.sends for s in specs) == 6
    assert all(sum(s.sends for s in specs if s.room == r) == 2 for r in rooms)
