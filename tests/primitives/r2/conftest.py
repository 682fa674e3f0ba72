"""Fixtures for the R2 unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.moto_server import moto_endpoint


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """A moto_server for this session (skipped locally / failed in CI without the binary)."""
    yield from moto_endpoint()
