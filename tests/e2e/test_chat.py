"""Chat end to end: real uvicorn, real WebSocket clients, the real stack (KV, D1, Durable Objects on files)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from primitives.cli import main as edgeroom
from primitives.runtime import create_app, serve_in_thread
from tests.support import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / "wrangler.toml"
FAST_HASHING = {"PASSWORD_ITERATIONS": "1000"}


def migrate(data_dir: Path) -> None:
    assert edgeroom(["migrate", "--config", str(CONFIG), "--data-dir", str(data_dir)]) == 0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    migrate(tmp_path)
    app = create_app(CONFIG, data_dir=tmp_path, vars=FAST_HASHING)
    with serve_in_thread(app) as url:
        yield url


async def sign_up(url: str, username: str) -> str:
    async with httpx.AsyncClient(base_url=url) as http:
        response = await http.post(
            "/api/auth/signup", json={"username": username, "password": "hunter22!"}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["token"])


class Chat:
    """One WebSocket client speaking the chat protocol."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame))

    async def recv(self, kind: str | None = None, timeout: float = 10) -> dict[str, Any]:
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if kind is None or frame["type"] == kind:
                return dict(frame)


async def open_chat(
    url: str, token: str, room: str = "lobby", resume: dict[str, Any] | None = None
) -> tuple[Chat, dict[str, Any]]:
    ws = await connect(
        "ws" + url.removeprefix("http") + f"/api/rooms/{room}/ws",
        additional_headers={"authorization": f"Bearer {token}"},
    )
    chat = Chat(ws)
    await chat.send(type="hello", resume=resume)
    return chat, await chat.recv("welcome")


async def test_concurrent_senders_see_one_order(server: str) -> None:
    tokens = [await sign_up(server, f"user{i}") for i in range(4)]
    chats = [(await open_chat(server, token))[0] for token in tokens]
    per_sender = 10  # the per-connection burst; more would be refused with rate_limited

    async def send_all(index: int, chat: Chat) -> None:
        for n in range(per_sender):
            await chat.send(type="chat.send", nonce=f"u{index}-{n}", text=f"{index}:{n}")

    async def receive_all(chat: Chat) -> list[tuple[int, str]]:
        got: list[tuple[int, str]] = []
        while len(got) < per_sender * len(chats):
            frame = await chat.recv("chat.message")
            got.append((frame["seq"], frame["text"]))
        return got

    receivers = [asyncio.create_task(receive_all(chat)) for chat in chats]
    await asyncio.gather(*(send_all(i, chat) for i, chat in enumerate(chats)))
    streams = await asyncio.gather(*receivers)
    assert all(stream == streams[0] for stream in streams)  # everyone sees the same order
    assert [seq for seq, _ in streams[0]] == list(range(1, per_sender * len(chats) + 1))
    for index in range(len(chats)):  # each sender's messages keep their own order
        mine = [int(text.split(":")[1]) for _, text in streams[0] if text.startswith(f"{index}:")]
        assert mine == list(range(per_sender))
    for chat in chats:
        await chat.ws.close()


async def test_resume_after_an_abrupt_disconnect_and_a_resent_nonce(server: str) -> None:
    ann, bob = await sign_up(server, "ann"), await sign_up(server, "bob")
    a, _ = await open_chat(server, ann)
    b, welcome = await open_chat(server, bob)
    await a.send(type="chat.send", nonce="first", text="hello bob")
    assert (await a.recv("chat.ack"))["seq"] == 1
    seen = await b.recv("chat.message")
    b.ws.transport.abort()  # no close frame: the room sees 1006
    for n in range(5):
        await a.send(type="chat.send", nonce=f"m{n}", text=f"missed {n}")
        await a.recv("chat.ack")
    b2, back = await open_chat(server, bob, resume={"epoch": welcome["epoch"], "seq": seen["seq"]})
    assert back["recovered"] is True
    assert [e["text"] for e in back["events"]] == [f"missed {n}" for n in range(5)]
    # A message sent just before a disconnect, sent again after it with the same nonce: stored once.
    await b2.send(type="chat.send", nonce="bob-1", text="did this arrive?")
    first_ack = await b2.recv("chat.ack")
    await b2.ws.close()
    b3, _ = await open_chat(
        server, bob, resume={"epoch": welcome["epoch"], "seq": first_ack["seq"]}
    )
    await b3.send(type="chat.send", nonce="bob-1", text="did this arrive?")
    again = await b3.recv("chat.ack")
    assert (again["seq"], again["duplicate"]) == (first_ack["seq"], True)
    _, everything = await open_chat(server, ann, resume={"epoch": welcome["epoch"], "seq": 0})
    texts = [event["text"] for event in everything["events"]]
    assert texts.count("did this arrive?") == 1


async def test_session_tokens_never_reach_the_logs(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        token = await sign_up(server, "ann")
        chat, _ = await open_chat(server, token)
        await chat.send(type="chat.send", nonce="n", text="hello")
        await chat.recv("chat.ack")
        async with httpx.AsyncClient(base_url=server) as http:
            await http.get("/api/me", headers={"authorization": f"Bearer {token}"})
            await http.get("/api/me", headers={"cookie": f"edgeroom_session={token}"})
        await chat.ws.close()
        await asyncio.sleep(0.1)
    # The server's own records (the test's client libraries log their headers at DEBUG).
    server_records = [
        r for r in caplog.records if r.name.startswith(("edgeroom", "uvicorn", "primitives"))
    ]
    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in server_records)
    assert server_records and token not in logged


async def test_bad_input_gets_close_codes_and_the_room_survives(server: str) -> None:
    ann, bob = await sign_up(server, "ann"), await sign_up(server, "bob")
    a, _ = await open_chat(server, ann)
    b, _ = await open_chat(server, bob)
    await b.ws.send(b"\x01\x02binary")
    with pytest.raises(ConnectionClosed) as info:
        await b.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1003
    await a.send(type="chat.send", nonce="n", text="x" * 5000)
    assert (await a.recv("error"))["code"] == "too_long"
    await a.ws.send("[1]")
    assert (await a.recv("error"))["code"] == "bad_message"
    await a.send(type="chat.send", nonce="ok", text="still fine")
    assert (await a.recv("chat.ack"))["seq"] == 1
    carol = await sign_up(server, "carol")
    c, _ = await open_chat(server, carol)
    with pytest.raises(ConnectionClosed) as too_big:
        # Over the server's 1 MiB frame limit. The server may close (1009) while the frame is
        # still being written, so the refusal can surface in send() as well as in recv().
        await c.ws.send("x" * (2 * 1024 * 1024))
        await c.recv()
    assert too_big.value.rcvd is not None and too_big.value.rcvd.code == 1009
    await a.send(type="chat.send", nonce="ok2", text="and still fine")
    assert (await a.recv("chat.ack"))["seq"] == 2
    with pytest.raises(InvalidStatus) as refused:
        await connect(
            "ws" + server.removeprefix("http") + "/api/rooms/lobby/ws",
            additional_headers={"authorization": "Bearer " + "x" * 43},
        )
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as foreign:
        await connect(
            "ws" + server.removeprefix("http") + "/api/rooms/lobby/ws",
            additional_headers={"authorization": f"Bearer {ann}"},
            origin="https://evil.example",  # type: ignore[arg-type]
        )
    assert foreign.value.response.status_code == 403


def _start(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    with open(data_dir / "server.log", "ab") as log:  # the child keeps its own copy of the handle
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "primitives.cli",
                "serve",
                "--config",
                str(CONFIG),
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def _wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    async with httpx.AsyncClient(base_url=url, timeout=1) as http:
        while True:
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert process.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not start"
            await asyncio.sleep(0.05)


async def test_a_killed_server_loses_no_acknowledged_message(tmp_path: Path) -> None:
    """kill -9 mid-conversation, restart on the same data: every acked message is still there."""
    await asyncio.to_thread(migrate, tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start(port, tmp_path)
    try:
        await _wait_up(url, process)
        tokens = [await sign_up(url, f"writer{i}") for i in range(5)]
        opened = [await open_chat(url, token) for token in tokens]
        welcome = opened[0][1]
        acked: list[int] = []

        async def talk(index: int, chat: Chat) -> None:
            # Ten each: the per-connection burst, so no message is refused for speed.
            for n in range(10):
                await chat.send(type="chat.send", nonce=f"k{index}-{n}", text=f"{index}:{n}")
                acked.append((await chat.recv("chat.ack"))["seq"])

        talkers = [asyncio.create_task(talk(i, chat)) for i, (chat, _) in enumerate(opened)]
        deadline = time.monotonic() + 20
        while len(acked) < 20:
            assert time.monotonic() < deadline, f"only {len(acked)} acks"
            await asyncio.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        await asyncio.gather(*talkers, return_exceptions=True)
        process = _start(port, tmp_path)
        await _wait_up(url, process)
        _, back = await open_chat(url, tokens[0], resume={"epoch": welcome["epoch"], "seq": 0})
        stored = [e["seq"] for e in back["events"]]
        assert back["recovered"] is True and back["epoch"] == welcome["epoch"]
        assert stored == list(range(1, len(stored) + 1))
        assert set(acked) <= set(stored), f"acked but lost: {sorted(set(acked) - set(stored))}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
