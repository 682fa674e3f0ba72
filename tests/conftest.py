"""Suite-wide fixtures and the rule that, in CI, a skipped test is a failed test."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from primitives.clock import FakeClock
from tests.support import require_all


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that only moves when the test says so."""
    return FakeClock()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if require_all() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, but EDGEROOM_REQUIRE_ALL=1 forbids skips: {report.longrepr}"
