"""A real ``kill -9`` of a server: no client ever saw an acknowledgement whose write was lost.

The server here is the small line protocol of ``kill_server.py`` in front of a bare namespace on
the SQLite backend; ``tests/e2e/test_do_kill9.py`` does the same through ``edgeroom serve``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ROOMS = ["r0", "r1", "r2", "r3"]


async def start_server(data_dir: Path) -> tuple[asyncio.subprocess.Process, int]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.primitives.durable_objects.kill_server",
        str(data_dir),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 10)
    assert line.startswith(b"READY "), line
    return process, int(line.split()[1])


async def writer(port: int, room: str, start: int, acked: list[tuple[str, int]]) -> None:
    reader, stream = await asyncio.open_connection("127.0.0.1", port)
    n = start
    try:
        while True:
            stream.write(f"PUT {room} {n}\n".encode())
            await stream.drain()
            reply = await reader.readline()
            if not reply:
                return
            assert reply == f"OK {n}\n".encode()
            acked.append((room, n))
            n += 1
    except (ConnectionError, OSError):
        return
    finally:
        stream.close()


@pytest.mark.e2e
async def test_every_acknowledged_write_survives_kill_9(tmp_path: Path) -> None:
    data_dir = tmp_path / "do"
    process, port = await start_server(data_dir)
    acked: list[tuple[str, int]] = []
    clients = [
        asyncio.ensure_future(writer(port, room, 100_000 * i + c * 10_000, acked))
        for i, room in enumerate(ROOMS)
        for c in range(3)
    ]
    try:
        while len(acked) < 600:
            await asyncio.sleep(0.01)
            assert not all(c.done() for c in clients), "clients stopped before the kill"
        os.kill(process.pid, signal.SIGKILL)  # mid-stream: writes are in flight
        await asyncio.wait_for(process.wait(), 10)
        await asyncio.wait_for(asyncio.gather(*clients), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == -signal.SIGKILL
    seen = list(acked)

    process, port = await start_server(data_dir)
    try:
        reader, stream = await asyncio.open_connection("127.0.0.1", port)
        missing = []
        for room, n in seen:
            stream.write(f"GET {room} {n}\n".encode())
            await stream.drain()
            reply = (await reader.readline()).decode().split()
            if reply != [str(n), "1"]:  # the KV value and its SQL row, committed together
                missing.append((room, n, reply))
        stream.close()
    finally:
        process.kill()
        await process.wait()
    assert len(seen) >= 600 and missing == []
