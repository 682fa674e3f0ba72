"""HTTP through a real uvicorn server: round trips, streaming, limits, errors."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from primitives.runtime import create_app, serve_in_thread
from tests.e2e.conftest import ECHO_CONFIG

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024


def test_round_trip_reaches_fetch_with_vars_and_headers(echo_url: str) -> None:
    response = httpx.get(f"{echo_url}/hello")
    assert response.status_code == 200
    assert response.text == "hello GET"
    assert response.headers["x-test"] == "1"
    assert response.headers["content-type"] == "text/plain;charset=UTF-8"
    assert len(response.headers["x-request-id"]) == 16


def test_static_assets_are_served_before_the_worker(echo_url: str) -> None:
    response = httpx.get(f"{echo_url}/")
    assert response.status_code == 200
    assert "static ok" in response.text
    assert httpx.get(f"{echo_url}/missing").status_code == 404


def test_head_sends_headers_without_body(echo_url: str) -> None:
    response = httpx.head(f"{echo_url}/hello")
    assert response.status_code == 200
    assert response.content == b""


def _chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    block = (bytes(range(256)) * (size // 256 + 1))[:size]
    sent = 0
    while sent < total:
        piece = block[: min(size, total - sent)]
        sent += len(piece)
        yield piece


def test_small_body_is_echoed_from_the_request_stream(echo_url: str) -> None:
    payload = bytes(range(256)) * 40
    response = httpx.post(f"{echo_url}/echo", content=payload)
    assert response.status_code == 200
    assert response.content == payload


def test_large_bodies_stream_both_ways_with_bounded_memory(echo_url: str) -> None:
    """48 MiB up and 48 MiB down; the server process (this process) must not hold either whole."""
    total = 48 * MiB
    process = psutil.Process()
    before = process.memory_info().rss
    peak = before
    with httpx.Client(timeout=60) as client:

        def upload() -> Iterator[bytes]:
            nonlocal peak
            for chunk in _chunks(total):
                peak = max(peak, process.memory_info().rss)
                yield chunk

        response = client.post(f"{echo_url}/count", content=upload())
        assert response.json() == {"bytes": total}
        with client.stream("GET", f"{echo_url}/big", params={"size": total}) as response:
            got = 0
            for chunk in response.iter_bytes():
                got += len(chunk)
                peak = max(peak, process.memory_info().rss)
        assert got == total
    assert peak - before < 32 * MiB, f"memory grew by {(peak - before) / MiB:.1f} MiB"


def test_body_over_declared_limit_gets_413_without_reaching_fetch(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(ECHO_CONFIG, data_dir=tmp_path, max_body_bytes=1000)
    with serve_in_thread(app) as url:
        response = httpx.post(f"{url}/count", content=b"x" * 1001)
        assert response.status_code == 413
        assert response.json() == {
            "error": "request body is larger than the limit of 1000 bytes (received at least 1001 bytes)"
        }
        # Chunked, no Content-Length: refused as soon as the limit is crossed while streaming.
        response = httpx.post(f"{url}/count", content=_chunks(5000, 100))
        assert response.status_code == 413
        assert httpx.post(f"{url}/count", content=b"x" * 1000).json() == {"bytes": 1000}


def test_unhandled_error_is_a_500_with_request_id_and_a_json_log_line(
    echo_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="edgeroom.runtime"):
        response = httpx.get(f"{echo_url}/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "internal error"
    assert body["request_id"] == response.headers["x-request-id"]
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    records = [r for r in caplog.records if getattr(r, "request_id", None) == body["request_id"]]
    assert records and records[0].exc_info is not None


def test_fetch_returning_a_non_response_is_a_500(echo_url: str) -> None:
    response = httpx.get(f"{echo_url}/not-a-response")
    assert response.status_code == 500
    assert response.json()["error"] == "internal error"


def test_malformed_upgrade_is_refused_and_the_server_keeps_serving(echo_url: str) -> None:
    parts = urlsplit(echo_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"  # no Sec-WebSocket-Key
        )
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 4"), reply[:60]
    assert httpx.get(f"{echo_url}/hello").status_code == 200


def test_garbage_request_line_does_not_crash_the_server(echo_url: str) -> None:
    parts = urlsplit(echo_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(b"\x00\xff NOT HTTP\r\n\r\n")
        sock.recv(4096)
    assert httpx.get(f"{echo_url}/hello").status_code == 200


def test_access_log_omits_query_strings(echo_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="edgeroom.access"):
        httpx.get(f"{echo_url}/hello", params={"token": "s3cret"})
        # The access line is written just after the response, on the server's thread.
        deadline = time.monotonic() + 5
        while not any(r.name == "edgeroom.access" for r in caplog.records):
            assert time.monotonic() < deadline, "no access log line"
            time.sleep(0.01)
    lines = [r for r in caplog.records if r.name == "edgeroom.access"]
    assert lines and all("s3cret" not in json.dumps(vars(r), default=str) for r in lines)
