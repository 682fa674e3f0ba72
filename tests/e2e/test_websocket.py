"""WebSockets through a real uvicorn server and a real client (the ``websockets`` library)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from primitives.runtime import create_app, serve_in_thread
from tests.e2e.conftest import ECHO_CONFIG
from tests.support import free_port

pytestmark = pytest.mark.e2e


def ws_url(http_url: str, path: str) -> str:
    return "ws" + http_url.removeprefix("http") + path


async def test_echo_text_and_binary(echo_ws_url: str) -> None:
    async with connect(ws_url(echo_ws_url, "/ws")) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\x01\xff")
        assert await ws.recv() == b"\x00\x01\xff"


async def test_messages_arrive_in_order(echo_ws_url: str) -> None:
    async with connect(ws_url(echo_ws_url, "/ws?burst=500")) as ws:
        await ws.send("burst")
        received = [await ws.recv() for _ in range(500)]
    assert received == [f"msg {i}" for i in range(500)]


async def test_frames_keep_their_order_when_the_transport_pushes_back(echo_ws_url: str) -> None:
    """Written in place until the socket is full, then queued: one order all the same."""
    async with connect(ws_url(echo_ws_url, "/ws?burst=12000&size=1024"), max_queue=1) as ws:
        await ws.send("burst")
        await asyncio.sleep(0.2)  # let the burst fill the socket buffers before reading
        received = [str(await ws.recv())[:12].rstrip(".") for _ in range(12000)]
    assert received == [f"msg {i}" for i in range(12000)]


async def test_compression_is_off_unless_asked_for(tmp_path: Path) -> None:
    """The client offers permessage-deflate; the server declines it by default."""
    with serve_in_thread(create_app(ECHO_CONFIG, data_dir=tmp_path / "off")) as url:
        async with connect(ws_url(url, "/ws")) as ws:
            assert ws.response is not None
            assert "sec-websocket-extensions" not in ws.response.headers
            await ws.send("hello")
            assert await ws.recv() == "hello"
    app = create_app(ECHO_CONFIG, data_dir=tmp_path / "on")
    with serve_in_thread(app, ws_per_message_deflate=True) as url:
        async with connect(ws_url(url, "/ws")) as ws:
            assert ws.response is not None
            extensions = ws.response.headers["sec-websocket-extensions"]
            assert extensions.startswith("permessage-deflate")
            await ws.send("hello" * 100)
            assert await ws.recv() == "hello" * 100


async def test_ping_is_answered_with_pong(echo_ws_url: str) -> None:
    async with connect(ws_url(echo_ws_url, "/ws")) as ws:
        latency = await asyncio.wait_for(await ws.ping(b"are you there"), timeout=5)
    assert latency >= 0


async def test_client_that_does_not_read_is_closed_with_1013(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A 64 MiB burst at a client that reads nothing: the server drops it instead of buffering.

    What the kernel's socket buffers and the transport take is written at once; the rest queues
    in the bridge, and past the limit the server gives up on the client (1013).
    """
    caplog.set_level(logging.WARNING, logger="edgeroom.runtime")
    app = create_app(ECHO_CONFIG, data_dir=tmp_path, ws_outbound_limit=256 * 1024)
    with serve_in_thread(app) as url:
        async with connect(ws_url(url, "/ws?burst=65536&size=1024"), max_queue=1) as ws:
            await ws.send("burst")
            for _ in range(1000):  # no reading until the server has given up on this client
                if any(r.message == "closing slow WebSocket client" for r in caplog.records):
                    break
                await asyncio.sleep(0.01)
            else:
                pytest.fail("the server kept buffering for a client that reads nothing")
            received = 0
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await ws.recv()
                    received += 1
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (
            1013,
            "client too slow: send buffer full",
        )
        assert received < 65536 // 2  # most of the burst was dropped, not buffered
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/hello")).status_code == 200


async def test_server_close_code_and_reason_reach_the_client(echo_ws_url: str) -> None:
    async with connect(ws_url(echo_ws_url, "/ws?code=4000&reason=done+here")) as ws:
        await ws.send("close-me")
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4000, "done here")


async def test_client_close_code_reaches_the_worker(echo_app, echo_ws_url: str) -> None:  # type: ignore[no-untyped-def]
    close_events = sys.modules[echo_app.entrypoint.__module__].CLOSE_EVENTS
    close_events.clear()
    async with connect(ws_url(echo_ws_url, "/ws")) as ws:
        await ws.send("x")
        await ws.recv()
        await ws.close(4321, "client leaving")
    for _ in range(100):
        if close_events:
            break
        await asyncio.sleep(0.01)
    assert close_events == [(4321, "client leaving", True)]


async def test_upgrade_refused_by_the_worker_is_a_plain_http_response(echo_ws_url: str) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(ws_url(echo_ws_url, "/ws/reject")):
            pass
    assert info.value.response.status_code == 401
    assert info.value.response.body == b"no entry"


async def test_oversized_frame_closes_with_1009(tmp_path: Path) -> None:
    app = create_app(ECHO_CONFIG, data_dir=tmp_path)
    with serve_in_thread(app, ws_max_size=1024) as url:
        async with connect(ws_url(url, "/ws"), max_size=None) as ws:
            await ws.send("a" * 2048)
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/hello")).status_code == 200


async def test_invalid_utf8_text_frame_closes_with_1007(echo_ws_url: str) -> None:
    async with connect(ws_url(echo_ws_url, "/ws")) as ws:
        # The sans-I/O protocol sends a text frame's bytes as given, skipping the client's UTF-8 check.
        ws.protocol.send_text(b"\xff\xfe")
        ws.send_data()
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1007


async def test_graceful_shutdown_closes_open_sockets_with_1001(tmp_path: Path) -> None:
    app = create_app(ECHO_CONFIG, data_dir=tmp_path)
    server = serve_in_thread(app)
    url = server.__enter__()
    async with connect(ws_url(url, "/ws")) as ws:
        await ws.send("ping")
        assert await ws.recv() == "ping"
        stopper = asyncio.get_running_loop().run_in_executor(
            None, server.__exit__, None, None, None
        )
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), timeout=10)
        await asyncio.wait_for(stopper, timeout=30)
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (1001, "server shutting down")


async def test_sigterm_closes_sockets_with_1001_and_exits_in_bounded_time(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - a real server process, started once
        [
            sys.executable,
            "-m",
            "primitives.cli",
            "serve",
            "--config",
            str(ECHO_CONFIG),
            "--data-dir",
            str(tmp_path),
            "--port",
            str(port),
            "--log-level",
            "info",
        ],
        cwd=Path(__file__).parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                async with httpx.AsyncClient(timeout=1) as http:
                    if (await http.get(f"{url}/hello")).status_code == 200:
                        break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "server did not start"
            await asyncio.sleep(0.05)
        async with connect(ws_url(url, "/ws")) as ws:
            await ws.send("ping")
            assert await ws.recv() == "ping"
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), timeout=10)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1001
        # uvicorn re-raises the captured SIGTERM after its graceful shutdown, so either status is a clean exit.
        assert await asyncio.to_thread(process.wait, 15) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 15
        output = process.stdout.read().decode() if process.stdout else ""
        assert "Finished server process" in output, output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("failure", [ConnectionResetError, asyncio.CancelledError])
async def test_a_client_gone_during_the_handshake_is_a_1006_for_the_worker(  # type: ignore[no-untyped-def]
    echo_app, failure: type[BaseException]
) -> None:
    """uvicorn's accept fails (or the task is cancelled): the Worker's end must still hear it."""
    close_events = sys.modules[echo_app.entrypoint.__module__].CLOSE_EVENTS
    close_events.clear()
    inbox: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "websocket.accept":
            raise failure("the client went away")

    scope = {
        "type": "websocket",
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"upgrade", b"websocket")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8787),
    }
    try:
        await asyncio.wait_for(echo_app(scope, inbox.get, send), 5)
    except asyncio.CancelledError:
        assert failure is asyncio.CancelledError  # a cancellation goes on up, after the 1006
    for _ in range(100):
        if close_events:
            break
        await asyncio.sleep(0.01)
    assert close_events == [(1006, "WebSocket disconnected without sending Close frame.", False)]
