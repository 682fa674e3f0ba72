"""A python-socketio room server (``AsyncServer`` as an ASGI app) under uvicorn.

Events: ``join`` (a room name) puts the client in that room and answers ``joined``; ``chat`` (a
payload) is emitted to the sender's room, the sender included. Nothing stored, no presence.
Run by the harness as ``python -m bench.chatload.peers.sio --port P``.
"""

from __future__ import annotations

import sys
from typing import Any

import socketio

from ._uvicorn import run_asgi_peer

__all__ = ["build_app", "main"]


def build_app() -> Any:
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins=[], logger=False)
    rooms: dict[str, str] = {}

    @sio.on("join")  # type: ignore[untyped-decorator]
    async def join(sid: str, room: str) -> None:
        await sio.enter_room(sid, room)
        rooms[sid] = room
        await sio.emit("joined", room, to=sid)

    @sio.on("chat")  # type: ignore[untyped-decorator]
    async def chat(sid: str, payload: str) -> None:
        room = rooms.get(sid)
        if room is not None:
            await sio.emit("chat", payload, room=room)

    @sio.on("disconnect")  # type: ignore[untyped-decorator]
    async def disconnect(sid: str, *reason: Any) -> None:
        rooms.pop(sid, None)

    return socketio.ASGIApp(sio)


def main(argv: list[str] | None = None) -> int:
    description = __doc__.splitlines()[0] if __doc__ else ""
    return run_asgi_peer(build_app(), argv, description, backlog=4096, timeout_graceful_shutdown=2)


if __name__ == "__main__":
    sys.exit(main())
