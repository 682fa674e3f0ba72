"""Test Worker: echoes HTTP bodies and WebSocket frames, streams big bodies, fails on purpose."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from primitives import Request, Response, WebSocketPair, WorkerEntrypoint

SCHEDULED_RUNS: list[tuple[str, int]] = []
CLOSE_EVENTS: list[tuple[int, str, bool]] = []


async def _generate(size: int, chunk: int = 64 * 1024) -> Any:
    block = b"x" * chunk
    remaining = size
    while remaining > 0:
        piece = block[: min(chunk, remaining)]
        remaining -= len(piece)
        yield piece


class Default(WorkerEntrypoint):
    async def fetch(self, request: Request) -> Response:
        url = urlsplit(request.url)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path
        if path == "/hello":
            greeting: str = self.env.GREETING
            return Response(f"{greeting} {request.method}", headers={"x-test": "1"})
        if path == "/echo":
            # Hands the request stream straight back: nothing is buffered.
            return Response(request.body, headers={"content-type": "application/octet-stream"})
        if path == "/count":
            total = 0
            assert request.body is not None
            async for chunk in request.body:
                total += len(chunk)
            return Response.json({"bytes": total})
        if path == "/big":
            return Response(_generate(int(query.get("size", "0"))))
        if path == "/boom":
            raise RuntimeError("secret internal detail")
        if path == "/not-a-response":
            return "oops"  # type: ignore[return-value]
        if path == "/waituntil":
            self.ctx.waitUntil(_noop())
            return Response("scheduled")
        if path.startswith("/ws"):
            return self._websocket(request, path, query)
        return Response("not found", status=404)

    def _websocket(self, request: Request, path: str, query: dict[str, str]) -> Response:
        if (request.headers.get("upgrade") or "").lower() != "websocket":
            return Response("expected a WebSocket upgrade", status=426)
        if path == "/ws/reject":
            return Response("no entry", status=401)
        client, server = WebSocketPair()
        server.accept()

        def on_message(event: Any) -> None:
            data = event.data
            if data == "close-me":
                server.close(int(query.get("code", "4000")), query.get("reason", "bye"))
            elif data == "burst":
                padding = "." * int(query.get("size", "0"))
                for i in range(int(query.get("burst", "100"))):
                    server.send(f"msg {i}{padding}")
            else:
                server.send(data)

        def on_close(event: Any) -> None:
            CLOSE_EVENTS.append((event.code, event.reason, event.wasClean))
            if server.readyState != server.READY_STATE_CLOSED:
                server.close(1000, "closing too")

        server.addEventListener("message", on_message)
        server.addEventListener("close", on_close)
        return Response(None, status=101, web_socket=client)

    async def scheduled(self, controller: Any) -> None:
        SCHEDULED_RUNS.append((controller.cron, controller.scheduledTime))


async def _noop() -> None:
    return None
