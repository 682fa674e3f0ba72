"""Helpers shared by the test suites."""

from __future__ import annotations

import os
import socket

import pytest

__all__ = ["free_port", "require_all", "skip_or_fail"]


def require_all() -> bool:
    """True in CI (``EDGEROOM_REQUIRE_ALL=1``), where nothing may be skipped."""
    return os.environ.get("EDGEROOM_REQUIRE_ALL", "") not in ("", "0")


def skip_or_fail(reason: str) -> None:
    """Skip locally when a tool is missing; fail in CI, where it must be installed."""
    if require_all():
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
