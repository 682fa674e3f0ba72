"""Upload throughput through the HTTP server vs a plain R2 binding put, and memory while uploading 1 GiB.

    python bench/uploads.py           # 1 MiB and 100 MiB files, 1 GiB memory check
    python bench/uploads.py --quick   # 1 MiB and 16 MiB, 128 MiB memory check (a few seconds)

Both sides use the file backend (the local default) in the same temporary directory. The HTTP
side is the whole path: uvicorn, the runtime's body stream, session lookup, sniffing, SHA-256,
the size and quota checks, R2 (single put up to 8 MiB, multipart above) and the D1 row.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parents[1]))

from primitives.cli import main as edgeroom
from primitives.clock import SystemClock
from primitives.r2 import R2Bucket, open_r2_backend
from primitives.runtime import create_app, serve_in_thread
from tests.e2e.test_r2_http import PeakRSS

MiB = 1024 * 1024
CONFIG = Path(__file__).parents[1] / "wrangler.toml"
MEMORY_TARGET_MIB = 64


def label(size: int) -> str:
    return f"{size // MiB} MiB" if size < 1024 * MiB else f"{size // (1024 * MiB)} GiB"


def signed_in(url: str) -> httpx.Client:
    http = httpx.Client(base_url=url, timeout=600)
    response = http.post("/api/auth/signup", json={"username": "bench", "password": "hunter22!"})
    response.raise_for_status()
    http.headers["authorization"] = f"Bearer {response.json()['token']}"
    http.cookies.clear()
    return http


def http_upload(http: httpx.Client, data: bytes) -> float:
    """One upload; above 1 MiB streamed in 1 MiB blocks, as a client reading a file sends it."""
    body: bytes | Iterator[bytes] = data
    if len(data) > MiB:
        body = (data[at : at + MiB] for at in range(0, len(data), MiB))
    start = time.perf_counter()
    response = http.post("/api/uploads?name=bench.bin", content=body)
    elapsed = time.perf_counter() - start
    assert response.status_code == 201, response.text
    assert http.delete(response.json()["upload"]["links"]["self"]).status_code == 204
    return elapsed


async def direct_put(bucket: R2Bucket, data: bytes) -> float:
    start = time.perf_counter()
    await bucket.put("bench", data)
    return time.perf_counter() - start


def streamed_upload(http: httpx.Client, size: int) -> tuple[float, float]:
    """``size`` bytes sent chunked (no Content-Length) in 1 MiB blocks; (seconds, peak RSS growth MiB)."""
    block = os.urandom(MiB)

    def blocks() -> Iterator[bytes]:
        for _ in range(size // MiB):
            yield block

    with PeakRSS() as rss:
        start = time.perf_counter()
        response = http.post("/api/uploads?name=huge.bin", content=blocks())
        elapsed = time.perf_counter() - start
    assert response.status_code == 201, response.text
    assert response.json()["upload"]["size"] == size
    return elapsed, rss.growth / MiB


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes; a few seconds")
    args = parser.parse_args()
    sizes = [MiB, 16 * MiB] if args.quick else [MiB, 100 * MiB]
    big = 128 * MiB if args.quick else 1024 * MiB
    ok = True
    with tempfile.TemporaryDirectory(prefix="uploads-bench-") as tmp:
        data_dir = Path(tmp) / "server"
        migrate = ["migrate", "--config", str(CONFIG), "--data-dir", str(data_dir)]
        assert await asyncio.to_thread(edgeroom, migrate) == 0
        app = create_app(
            CONFIG,
            data_dir=data_dir,
            vars={
                "PASSWORD_ITERATIONS": "1000",
                "UPLOAD_MAX_BYTES": str(big),
                "UPLOAD_QUOTA_BYTES": str(4 * big),
                "UPLOAD_OTHER_TYPES": "attachment",
            },
            max_body_bytes=big + MiB,
        )
        bucket = R2Bucket(open_r2_backend(f"file://{tmp}/direct"), clock=SystemClock())
        with serve_in_thread(app) as url:
            http = await asyncio.to_thread(signed_in, url)
            print("uploads through the HTTP server vs a plain R2 binding put (file backend)")
            for size in sizes:
                data = os.urandom(size)
                rounds = (8 if args.quick else 20) if size <= MiB else (2 if args.quick else 4)
                via_http, direct = [], []
                for _ in range(rounds):  # alternate, so disk noise hits both
                    via_http.append(await asyncio.to_thread(http_upload, http, data))
                    direct.append(await direct_put(bucket, data))
                h = size / MiB / statistics.median(via_http)
                d = size / MiB / statistics.median(direct)
                print(
                    f"  {label(size):>8}: HTTP upload {h:8.1f} MB/s, binding put {d:8.1f} MB/s, "
                    f"ratio {h / d * 100:5.1f}% (median of {rounds})"
                )
            print(f"bounded memory: one {label(big)} upload streamed through the server")
            seconds, growth = await asyncio.to_thread(streamed_upload, http, big)
            fine = growth < MEMORY_TARGET_MIB
            ok = ok and fine
            print(
                f"  {label(big)}: {big / MiB / seconds:.1f} MB/s, peak RSS growth {growth:.1f} MiB "
                f"(target < {MEMORY_TARGET_MIB} MiB){' ok' if fine else ' MISSED'}"
            )
            http.close()
        await bucket.aclose()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
