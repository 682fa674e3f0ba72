"""R2 objects stream through the real server: uploads and downloads never sit in memory whole."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from primitives.runtime import create_app, serve_in_thread

R2_CONFIG = Path(__file__).parent / "r2_worker" / "wrangler.toml"
MiB = 1 << 20

pytestmark = pytest.mark.e2e


class PeakRSS:
    """Samples this process's resident memory on a background thread."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.base = self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.base


@pytest.fixture
def r2_url(tmp_path: Path) -> Iterator[str]:
    app = create_app(R2_CONFIG, data_dir=tmp_path / "data", max_body_bytes=1 << 31)
    with serve_in_thread(app) as url:
        yield url


def blocks(count: int, block: bytes) -> Iterator[bytes]:
    for _ in range(count):
        yield block


def test_put_and_get_stream_through_the_server_with_bounded_memory(r2_url: str) -> None:
    size, block = 160 * MiB, bytes(range(256)) * 4096
    expected = hashlib.md5()
    for piece in blocks(size // MiB, block):
        expected.update(piece)
    with httpx.Client(timeout=60) as client, PeakRSS() as rss:
        put = client.put(
            f"{r2_url}/objects/big.bin",
            content=blocks(size // MiB, block),
            headers={"content-type": "application/x-big"},
        )
        assert put.status_code == 200, put.text
        assert put.json() == {"key": "big.bin", "size": size, "etag": expected.hexdigest()}
        received = hashlib.md5()
        total = 0
        with client.stream("GET", f"{r2_url}/objects/big.bin") as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/x-big"
            assert response.headers["content-length"] == str(size)
            assert response.headers["etag"] == f'"{expected.hexdigest()}"'
            for chunk in response.iter_bytes():
                received.update(chunk)
                total += len(chunk)
        time.sleep(0.02)
    assert total == size and received.hexdigest() == expected.hexdigest()
    # the bound the issue sets for 1 GiB; a buffering server would grow by the whole object
    assert rss.growth < 64 * MiB, f"RSS grew {rss.growth / MiB:.1f} MiB for a 160 MiB object"


def test_get_honours_range_and_conditional_headers(r2_url: str) -> None:
    with httpx.Client(timeout=10) as client:
        put = client.put(f"{r2_url}/objects/a%2Fb", content=b"abcdefghij")
        etag = put.json()["etag"]
        ranged = client.get(f"{r2_url}/objects/a%2Fb", headers={"range": "bytes=2-4"})
        assert (ranged.status_code, ranged.content) == (206, b"cde")
        cached = client.get(f"{r2_url}/objects/a%2Fb", headers={"if-none-match": f'"{etag}"'})
        assert cached.status_code == 304
        assert client.get(f"{r2_url}/objects/missing").status_code == 404
