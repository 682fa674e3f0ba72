"""An in-process edgeroom: the real Worker, handlers and Durable Objects on memory backends and a fake clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.worker import Default
from primitives import ExecutionContext, FakeClock, Request, Response, build_env
from primitives.d1.migrations import apply_migrations
from primitives.env import Env
from primitives.websocket import CloseEvent, MessageEvent, WebSocket

ROOT = Path(__file__).parents[3]
MEMORY = {
    name: "memory:"
    for name in ("SESSIONS", "INVITES", "DB", "ROOMS", "LIMITERS", "FLAGS", "FLAGS_HUB", "UPLOADS")
}


async def open_chat_env(tmp_path: Path, **vars: str) -> Env:
    """The Worker's env on memory backends and a fake clock, migrated; ``vars`` over the defaults."""
    env = build_env(
        ROOT / "wrangler.toml",
        data_dir=tmp_path,
        urls=MEMORY,
        environ={},
        clock=FakeClock(1_800_000_000.0),
        vars={"PASSWORD_ITERATIONS": "1000", **vars},
    )
    await apply_migrations(env.DB, ROOT / "migrations")
    return env


@pytest.fixture
async def chat_env(tmp_path: Path) -> AsyncIterator[Env]:
    env = await open_chat_env(tmp_path)
    yield env
    await env.aclose()


class Socket:
    """The client end of a room WebSocket, coupled in-process the way the server's bridge couples it."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.messages: list[dict[str, Any]] = []  # as received: a ``batch`` is one message
        self.closed: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        self._pending: set[asyncio.Future[Any]] = set()
        ws._attach_transport(self._receive)

    def _receive(self, ws: WebSocket, event: Any) -> None:
        if isinstance(event, MessageEvent):
            message = json.loads(event.data)
            self.messages.append(message)
            for frame in message["frames"] if message["type"] == "batch" else [message]:
                self.frames.put_nowait(frame)
        elif isinstance(event, CloseEvent) and not self.closed.done():
            self.closed.set_result((event.code, event.reason))

    def send_raw(self, data: str | bytes) -> None:
        self._deliver(self.ws._inject(MessageEvent(data)))

    def send(self, **frame: Any) -> None:
        self.send_raw(json.dumps(frame))

    async def recv(self, kind: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame (of ``kind``, skipping others)."""
        while True:
            frame = await asyncio.wait_for(self.frames.get(), timeout)
            if kind is None or frame["type"] == kind:
                return frame

    async def quiet(self) -> list[dict[str, Any]]:
        """Frames that arrive once everything pending has run."""
        await asyncio.sleep(0.05)
        frames = []
        while not self.frames.empty():
            frames.append(self.frames.get_nowait())
        return frames

    async def hello(self, **fields: Any) -> dict[str, Any]:
        self.send(type="hello", **fields)
        return await self.recv("welcome")

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._deliver(self.ws._inject(CloseEvent(code, reason, True)))

    def _deliver(self, result: Any) -> None:
        """Run the room's handler for a frame (as the server's bridge awaits it, in order)."""
        if result is not None:
            task = asyncio.ensure_future(result)
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)


class Client:
    """A user of the in-process server: REST calls and sockets, with its session token."""

    def __init__(self, env: Env, token: str | None = None, ip: str = "10.0.0.1") -> None:
        self.env = env
        self.token = token
        self.ip = ip

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"host": "edgeroom.test", "cf-connecting-ip": self.ip}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        return {**headers, **(extra or {})}

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        payload = None if body is None else json.dumps(body)
        request = Request(f"http://edgeroom.test{path}", method, self.headers(headers), payload)
        response = await Default(ExecutionContext(), self.env).fetch(request)
        data = await response.bytes()
        return (
            response.status,
            (
                json.loads(data)
                if data and response.headers.get("content-type") == "application/json"
                else data
            ),
            response,
        )

    async def upgrade(
        self, room: str, headers: dict[str, str] | None = None, query: str = ""
    ) -> Response:
        request = Request(
            f"http://edgeroom.test/api/rooms/{room}/ws{query}",
            "GET",
            self.headers({"upgrade": "websocket", **(headers or {})}),
        )
        response: Response = await Default(ExecutionContext(), self.env).fetch(request)
        return response

    async def connect(
        self, room: str, headers: dict[str, str] | None = None, query: str = ""
    ) -> Socket:
        response = await self.upgrade(room, headers, query)
        assert response.status == 101, (response.status, await response.text())
        assert response.webSocket is not None
        return Socket(response.webSocket)


async def sign_up(env: Env, username: str, ip: str = "10.0.0.1") -> Client:
    status, body, _ = await Client(env, ip=ip).call(
        "POST", "/api/auth/signup", {"username": username, "password": "hunter22!"}
    )
    assert status == 201, body
    return Client(env, body["token"], ip=ip)
