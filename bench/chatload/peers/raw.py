"""A minimal broadcast server on ``websockets``: rooms by path, ``websockets.broadcast``, nothing stored.

A client connects to ``ws://host:port/<room>``, is sent ``welcome`` once it is in the room, and
every text frame it sends goes, unchanged, to everyone in the room (itself included, as edgeroom
does). Run by the harness as ``python -m bench.chatload.peers.raw --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from websockets import broadcast
from websockets.asyncio.server import ServerConnection, serve

__all__ = ["main"]

ROOMS: dict[str, set[ServerConnection]] = {}


async def handler(ws: ServerConnection) -> None:
    room = ws.request.path if ws.request is not None else "/"
    members = ROOMS.setdefault(room, set())
    members.add(ws)
    try:
        await ws.send("welcome")
        async for frame in ws:
            if isinstance(frame, str):
                broadcast(members, frame)
    finally:
        members.discard(ws)
        if not members:
            ROOMS.pop(room, None)


async def run(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        handler,
        host,
        port,
        compression=None,
        max_queue=64,
        ping_interval=None,
        backlog=4096,
        close_timeout=1,
    ):
        await stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    # uvloop, as uvicorn picks for edgeroom and the socketio peer when it is installed.
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the bench extra installs it
        asyncio.run(run(args.host, args.port))
    else:
        uvloop.run(run(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
