"""R2 throughput and memory: the binding next to a plain baseline measured in the same run.

    python bench/r2.py            # 4 KiB, 1 MiB, 256 MiB on file and S3 (moto); 1 GiB memory check
    python bench/r2.py --quick    # small sizes, a few seconds (make bench)
    python bench/r2.py --big 0 --no-s3

File backend: ``put`` vs a plain write + fsync + rename of the same bytes (equivalent
durability); ``get`` vs a plain streaming read of the file in the same chunk size. S3: the
binding vs boto3 called directly (``put_object`` / ``get_object``) against the same moto_server.
Target: the file backend reaches >= 70% of plain throughput for large objects. The bounded-memory
check puts and gets a --big object through the file backend and reports peak RSS growth
(target < 64 MiB for 1 GiB); --http sends an object through the real server (uvicorn, in this
process) and compares it with the binding called directly. For large objects the run also times
MD5 over the same bytes: a put computes R2's etag (MD5: one stream, one core), so it cannot beat
min(MD5 rate, plain write rate), and the line after the put ratio states that bound.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from primitives.clock import SystemClock
from primitives.r2 import R2Bucket, R2ObjectBody, open_r2_backend
from primitives.r2.backends.file import READ_CHUNK_BYTES

MiB = 1 << 20
R2_WORKER_CONFIG = (
    Path(__file__).resolve().parents[1] / "tests" / "e2e" / "r2_worker" / "wrangler.toml"
)
READ_CHUNK = READ_CHUNK_BYTES  # the plain read uses the backend's chunk size
TARGET = 0.70


def label(size: int) -> str:
    return f"{size // MiB} MiB" if size >= MiB else f"{size // 1024} KiB"


def count_for(size: int, quick: bool) -> int:
    budget = (128 if quick else 1536) * MiB
    return max(5, min(200 if not quick else 50, budget // size))


def plain_put(directory: Path, name: str, data: bytes) -> None:
    tmp = directory / f".{name}.tmp"
    with open(tmp, "wb", buffering=0) as handle:
        view = memoryview(data)
        while view:
            view = view[handle.write(view) :]
        os.fsync(handle.fileno())
    os.replace(tmp, directory / name)


def plain_get(directory: Path, name: str) -> int:
    total = 0
    with open(directory / name, "rb", buffering=0) as handle:
        while chunk := handle.read(READ_CHUNK):
            total += len(chunk)
    return total


async def timed_one(operation: Awaitable[Any]) -> float:
    start = time.perf_counter()
    await operation
    return time.perf_counter() - start


def report(
    what: str,
    size: int,
    mine: float,
    base: float,
    base_name: str,
    check: bool,
    name: str = "binding",
) -> bool:
    ratio = mine / base
    ok = not check or ratio >= TARGET
    target = f" (target >= {TARGET:.0%})" if check else ""
    verdict = "" if not check else (" ok" if ok else " MISSED")
    print(
        f"  {what} {label(size):>8}: {name} {mine:9.1f} MB/s, {base_name} {base:9.1f} MB/s, "
        f"ratio {ratio:6.1%}{target}{verdict}"
    )
    return ok


async def drain(body: Any) -> int:
    total = 0
    async for chunk in body:
        total += len(chunk)
    return total


async def get_all(bucket: R2Bucket, key: str, size: int) -> None:
    obj = await bucket.get(key)
    assert isinstance(obj, R2ObjectBody)
    assert await drain(obj.body) == size


def medians(times: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) for name, values in times.items()}


async def bench_file(sizes: list[int], quick: bool) -> bool:
    print("file backend (file:///tmp/...) vs plain write+fsync+rename / streaming read")
    ok = True
    with tempfile.TemporaryDirectory(prefix="r2-bench-") as tmp:
        root = Path(tmp)
        plain_dir = root / "plain"
        plain_dir.mkdir()
        bucket = R2Bucket(open_r2_backend(f"file://{root}/r2"), clock=SystemClock())
        await bucket.head("warm-up")
        for size in sizes:
            data = os.urandom(size)
            count = count_for(size, quick)
            times: dict[str, list[float]] = {
                "plain put": [], "put": [], "md5": [], "plain get": [], "get": []
            }  # fmt: skip
            # alternate baseline and binding object by object and compare medians, so the noise
            # of a shared machine (other processes writing to the same disk) hits both alike
            for i in range(count):
                plain = asyncio.to_thread(plain_put, plain_dir, f"o{i}", data)
                times["plain put"].append(await timed_one(plain))
                times["put"].append(await timed_one(bucket.put(f"o{i}", data)))
                times["md5"].append(await timed_one(asyncio.to_thread(hashlib.md5, data)))
            # reads are cheap next to writes: read every object several times (alternating) so the
            # medians of large objects rest on ~24 samples rather than a handful
            for _round in range(max(1, 24 // count)):
                for i in range(count):
                    times["plain get"].append(
                        await timed_one(asyncio.to_thread(plain_get, plain_dir, f"o{i}"))
                    )
                    times["get"].append(await timed_one(get_all(bucket, f"o{i}", size)))
            m = medians(times)
            large = size >= 64 * MiB
            ok &= report(
                "put", size, size / MiB / m["put"], size / MiB / m["plain put"], "plain", large
            )
            ok &= report(
                "get", size, size / MiB / m["get"], size / MiB / m["plain get"], "plain", large
            )
            if large:
                # a put cannot outrun MD5 (R2's etag; one stream, one core) nor the disk
                md5, plain_put_rate = size / MiB / m["md5"], size / MiB / m["plain put"]
                print(
                    f"  bound for put: MD5 {md5:.1f} MB/s vs plain write {plain_put_rate:.1f} MB/s"
                    f" -> at most {min(md5, plain_put_rate) / plain_put_rate:.1%} of plain"
                )
            await bucket.delete([f"o{i}" for i in range(count)])
            for name in os.listdir(plain_dir):
                os.unlink(plain_dir / name)
        await bucket.aclose()
    return ok


def raw_get(client: Any, key: str) -> None:
    body = client.get_object(Bucket="bench", Key=key)["Body"]
    while body.read(MiB):
        pass


async def bench_s3(sizes: list[int], quick: bool) -> None:
    from tests.support.moto_server import moto_available, moto_server, s3_client, s3_url

    if not moto_available():
        print("S3: skipped (moto_server is not installed)")
        return
    print("S3 backend (moto_server) vs boto3 called directly")
    with moto_server() as endpoint:
        client = s3_client(endpoint)
        client.create_bucket(Bucket="bench")
        bucket = R2Bucket(open_r2_backend(s3_url(endpoint, "bench")), clock=SystemClock())
        await bucket.head("warm-up")
        for size in sizes:
            data = os.urandom(size)
            count = max(3, count_for(size, quick) // 4)
            times: dict[str, list[float]] = {"boto3 put": [], "put": [], "boto3 get": [], "get": []}
            for i in range(count):
                raw = asyncio.to_thread(client.put_object, Bucket="bench", Key=f"raw{i}", Body=data)
                times["boto3 put"].append(await timed_one(raw))
                times["put"].append(await timed_one(bucket.put(f"o{i}", data)))
            for i in range(count):
                times["boto3 get"].append(
                    await timed_one(asyncio.to_thread(raw_get, client, f"raw{i}"))
                )
                times["get"].append(await timed_one(get_all(bucket, f"o{i}", size)))
            m = medians(times)
            report("put", size, size / MiB / m["put"], size / MiB / m["boto3 put"], "boto3", False)
            report("get", size, size / MiB / m["get"], size / MiB / m["boto3 get"], "boto3", False)
        await bucket.aclose()
        client.close()


async def bench_memory(size: int) -> bool:
    print(f"bounded memory: put + get of {label(size)} through the file backend")
    process = psutil.Process()
    block = os.urandom(MiB)
    with tempfile.TemporaryDirectory(prefix="r2-bench-") as tmp:
        bucket = R2Bucket(open_r2_backend(f"file://{tmp}/r2"), clock=SystemClock())
        await bucket.head("warm-up")
        gc.collect()
        base = peak = process.memory_info().rss

        async def source() -> AsyncIterator[bytes]:
            nonlocal peak
            for _ in range(size // MiB):
                peak = max(peak, process.memory_info().rss)
                yield block

        start = time.perf_counter()
        await bucket.put("big", source())
        put_s = time.perf_counter() - start
        obj = await bucket.get("big")
        assert isinstance(obj, R2ObjectBody)
        start = time.perf_counter()
        total = 0
        async for chunk in obj.body:
            total += len(chunk)
            peak = max(peak, process.memory_info().rss)
        get_s = time.perf_counter() - start
        assert total == size
        await bucket.aclose()
    growth = (peak - base) / MiB
    ok = growth < 64
    print(
        f"  {label(size)}: put {size / MiB / put_s:.1f} MB/s, get {size / MiB / get_s:.1f} MB/s, "
        f"peak RSS growth {growth:.1f} MiB (target < 64 MiB){' ok' if ok else ' MISSED'}"
    )
    return ok


def http_roundtrip(url: str, size: int) -> tuple[float, float, float]:
    """PUT then GET ``size`` bytes through the server; (put s, get s, peak RSS growth MiB)."""
    import httpx

    from tests.e2e.test_r2_http import PeakRSS

    block = os.urandom(MiB)

    def blocks() -> Any:
        for _ in range(size // MiB):
            yield block

    with httpx.Client(timeout=300) as client, PeakRSS() as rss:
        start = time.perf_counter()
        response = client.put(f"{url}/objects/big", content=blocks())
        assert response.status_code == 200, response.text
        put_s = time.perf_counter() - start
        start = time.perf_counter()
        total = 0
        with client.stream("GET", f"{url}/objects/big") as stream:
            for chunk in stream.iter_bytes():
                total += len(chunk)
        get_s = time.perf_counter() - start
        assert total == size
    return put_s, get_s, rss.growth / MiB


async def bench_http(size: int) -> bool:
    """The same object through the real server (uvicorn) next to the binding called directly."""
    from primitives.runtime import create_app, serve_in_thread

    print(
        f"HTTP: PUT + GET of {label(size)} through the server (file backend) vs the binding directly"
    )
    block = os.urandom(MiB)

    async def source() -> AsyncIterator[bytes]:
        for _ in range(size // MiB):
            yield block

    with tempfile.TemporaryDirectory(prefix="r2-bench-") as tmp:
        bucket = R2Bucket(open_r2_backend(f"file://{tmp}/direct"), clock=SystemClock())
        start = time.perf_counter()
        await bucket.put("big", source())
        direct_put = time.perf_counter() - start
        start = time.perf_counter()
        await get_all(bucket, "big", size)
        direct_get = time.perf_counter() - start
        await bucket.aclose()
        app = create_app(R2_WORKER_CONFIG, data_dir=Path(tmp) / "server", max_body_bytes=size + MiB)
        with serve_in_thread(app) as url:
            put_s, get_s, growth = await asyncio.to_thread(http_roundtrip, url, size)
    mb = size / MiB
    report("put", size, mb / put_s, mb / direct_put, "direct binding", False, "HTTP")
    report("get", size, mb / get_s, mb / direct_get, "direct binding", False, "HTTP")
    ok = growth < 64
    print(
        f"  peak RSS growth (server + client in this process) {growth:.1f} MiB (target < 64 MiB)"
        f"{' ok' if ok else ' MISSED'}"
    )
    return ok


def parse_size(text: str) -> int:
    text = text.strip().upper()
    for suffix, factor in (("K", 1024), ("M", MiB), ("G", 1024 * MiB)):
        if text.endswith(suffix):
            return int(float(text[:-1]) * factor)
    return int(text)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes; a few seconds")
    parser.add_argument(
        "--sizes", help="comma-separated object sizes (default 4K,1M,256M; quick 4K,1M,64M)"
    )
    parser.add_argument(
        "--big", default=None, help="bounded-memory object size (default 1G; quick 64M; 0 skips)"
    )
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 (moto_server) comparison")
    parser.add_argument(
        "--http",
        default=None,
        help="size sent through the HTTP server (default 1G; quick 32M; 0 skips)",
    )
    args = parser.parse_args()
    sizes = [
        parse_size(s)
        for s in (args.sizes or ("4K,1M,64M" if args.quick else "4K,1M,256M")).split(",")
    ]
    big = parse_size(args.big or ("64M" if args.quick else "1G"))
    ok = await bench_file(sizes, args.quick)
    if not args.no_s3:
        await bench_s3([s for s in sizes if s <= 16 * MiB] if args.quick else sizes, args.quick)
    if big:
        ok &= await bench_memory(big)
    http = parse_size(args.http or ("32M" if args.quick else "1G"))
    if http:
        ok &= await bench_http(http)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
