"""A real uvicorn server on a free 127.0.0.1 port, serving the echo test Worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from primitives.runtime import create_app, serve_in_thread

ECHO_CONFIG = Path(__file__).parent / "echo_worker" / "wrangler.toml"


@pytest.fixture
def echo_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    return create_app(ECHO_CONFIG, data_dir=tmp_path / "data", max_body_bytes=64 * 1024 * 1024)


@pytest.fixture
def echo_url(echo_app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with serve_in_thread(echo_app) as url:
        yield url


@pytest.fixture(params=["direct", "asgi"])
def echo_ws_url(echo_app, request: pytest.FixtureRequest) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The echo Worker on uvicorn, for WebSocket tests: straight to the Worker (``edgeroom
    serve``'s way), and through ASGI (any other ASGI server's way)."""
    with serve_in_thread(echo_app, direct_websockets=request.param == "direct") as url:
        yield url
