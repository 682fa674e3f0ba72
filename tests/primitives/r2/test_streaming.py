"""Large objects stream through the binding: resident memory stays bounded.

The benchmark (``bench/r2.py``) measures the 1 GiB case; here a smaller object keeps the suite
fast while the bound stays meaningful (the object is several times larger than the bound).
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from primitives.clock import FakeClock
from primitives.http import Response
from primitives.r2 import R2Bucket, open_r2_backend
from tests.support.moto_server import s3_client, s3_url

CHUNK = 1 << 20
BOUND = 40 << 20


class Peak:
    def __init__(self) -> None:
        self.process = psutil.Process()
        gc.collect()
        self.base = self.process.memory_info().rss
        self.peak = self.base

    def sample(self) -> None:
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.base


async def roundtrip(bucket: R2Bucket, size: int) -> int:
    block = os.urandom(CHUNK)
    peak = Peak()

    async def source() -> AsyncIterator[bytes]:
        for _ in range(size // CHUNK):
            peak.sample()
            yield block

    obj = await bucket.put("big", source())
    assert obj is not None and obj.size == size
    body = await bucket.get("big")
    total = 0
    stream = Response(body).body
    assert stream is not None
    async for chunk in stream:
        total += len(chunk)
        peak.sample()
    assert total == size
    return peak.growth


@pytest.mark.parametrize(("kind", "size"), [("file", 128 << 20), ("s3", 64 << 20)])
async def test_put_and_get_stream_with_bounded_memory(
    kind: str, size: int, tmp_path: Path, fake_clock: FakeClock, request: pytest.FixtureRequest
) -> None:
    if kind == "file":
        url = f"file://{tmp_path}/r2"
    else:
        endpoint = request.getfixturevalue("moto_url")
        client = s3_client(endpoint)
        client.create_bucket(Bucket="streaming")
        client.close()
        url = s3_url(endpoint, "streaming")
    bucket = R2Bucket(open_r2_backend(url), clock=fake_clock)
    try:
        growth = await roundtrip(bucket, size)
    finally:
        await bucket.aclose()
    assert growth < BOUND, f"RSS grew {growth / 2**20:.1f} MiB for a {size >> 20} MiB object"
