"""Backends for the contract suites: each test runs once per backend URL."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from primitives.clock import FakeClock
from primitives.r2 import R2Bucket, open_r2_backend
from tests.support.moto_server import MOTO_MIN_PART_BYTES, moto_endpoint, s3_client, s3_url

R2_BACKENDS = ["memory", "file", "s3"]
_bucket_ids = itertools.count()


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    yield from moto_endpoint()


def r2_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "memory":
        return "memory:"
    if kind == "file":
        return f"file://{tmp_path}/r2"
    endpoint = request.getfixturevalue("moto_url")
    name = f"contract-{next(_bucket_ids)}"
    client: Any = s3_client(endpoint)
    client.create_bucket(Bucket=name)
    client.close()
    return s3_url(endpoint, name)


@pytest.fixture(params=R2_BACKENDS)
async def r2(
    request: pytest.FixtureRequest, tmp_path: Path, fake_clock: FakeClock
) -> AsyncIterator[R2Bucket]:
    """An R2 binding over each backend, with multipart's minimum part size cut to 50 bytes."""
    url = r2_url(request.param, tmp_path, request)
    bucket = R2Bucket(
        open_r2_backend(url), clock=fake_clock, name="BUCKET", min_part_bytes=MOTO_MIN_PART_BYTES
    )
    yield bucket
    await bucket.aclose()
