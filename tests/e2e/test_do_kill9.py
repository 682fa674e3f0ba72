"""``kill -9`` of a real ``edgeroom serve`` process while writes stream in: after a restart on the
same data directory, every write a client saw acknowledged is there (KV value and SQL row)."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).parent / "do_worker" / "wrangler.toml"
ROOMS = ["r0", "r1", "r2", "r3"]

pytestmark = pytest.mark.e2e


async def start_server(
    data_dir: Path, port: int, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "primitives.cli", "serve", "--config", str(CONFIG),
        "--data-dir", str(data_dir), "--port", str(port), "--log-level", "warning",
        cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(200):
            try:
                await client.get("/read", params={"room": "r0", "n": -1})
                return process
            except httpx.TransportError:
                if process.returncode is not None:
                    break
                await asyncio.sleep(0.05)
    process.kill()
    await process.wait()
    raise AssertionError("edgeroom serve did not start")


async def writer(
    client: httpx.AsyncClient, room: str, start: int, acked: list[tuple[str, int]]
) -> None:
    n = start
    while True:
        try:
            response = await client.post("/write", params={"room": room, "n": n})
        except httpx.TransportError:
            return
        assert response.status_code == 200 and response.text == f"OK {n}"
        acked.append((room, n))
        n += 1


async def test_acknowledged_writes_survive_kill_9_of_the_server(tmp_path: Path) -> None:
    if importlib.util.find_spec("primitives.runtime") is None:
        skip_or_fail("primitives.runtime (edgeroom serve) is not available in this checkout")
    data_dir, port = tmp_path / "data", free_port()
    process = await start_server(data_dir, port)
    acked: list[tuple[str, int]] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            tasks = [
                asyncio.ensure_future(writer(client, room, 100_000 * i + 10_000 * c, acked))
                for i, room in enumerate(ROOMS)
                for c in range(3)
            ]
            while len(acked) < 400:
                await asyncio.sleep(0.01)
                assert not all(t.done() for t in tasks), "writers stopped before the kill"
            os.kill(process.pid, signal.SIGKILL)  # mid-stream
            await asyncio.wait_for(process.wait(), 10)
            await asyncio.wait_for(asyncio.gather(*tasks), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == -signal.SIGKILL
    seen = list(acked)

    port = free_port()
    process = await start_server(data_dir, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            missing = []
            for room, n in seen:
                response = await client.get("/read", params={"room": room, "n": n})
                if response.text != f"{n} 1":
                    missing.append((room, n, response.text))
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 15)
    assert len(seen) >= 400 and missing == []


async def test_hibernated_room_wakes_for_the_next_message_over_a_real_socket(
    tmp_path: Path,
) -> None:
    if importlib.util.find_spec("primitives.runtime") is None:
        skip_or_fail("primitives.runtime (edgeroom serve) is not available in this checkout")
    import websockets

    data_dir, port = tmp_path / "data", free_port()
    url = f"sqlite:///{data_dir / 'do' / 'Ledger'}?idle_seconds=0.2"
    process = await start_server(data_dir, port, {"EDGEROOM_LEDGER_URL": url})
    try:
        uri = f"ws://127.0.0.1:{port}/ws?room=lobby&user=ann"
        async with (
            websockets.connect(uri) as socket,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
        ):
            await socket.send("hello")
            user, text, count, built = str(await asyncio.wait_for(socket.recv(), 5)).split(":")
            assert (user, text, count) == ("ann", "hello", "1")
            for _ in range(200):  # wait (bounded) until the idle room was evicted
                if (await http.get("/live", params={"room": "lobby", "n": 0})).text == "0":
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the idle room was never hibernated")
            await socket.send("again")  # wakes it: constructor again, storage and attachment kept
            reply = str(await asyncio.wait_for(socket.recv(), 5)).split(":")
            assert reply[:3] == ["ann", "again", "2"] and int(reply[3]) > int(built)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 15)
