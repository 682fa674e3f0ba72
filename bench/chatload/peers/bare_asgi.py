"""The raw peer's protocol as a bare ASGI app on uvicorn: what uvicorn itself costs.

edgeroom's container runtime is an ASGI app on uvicorn (uvloop, httptools, no permessage-deflate,
pings every 20 s), whose WebSockets skip ASGI (primitives/runtime/websocket_protocol.py). This
peer runs on uvicorn with uvicorn's own WebSocket protocol and does nothing else: a client
connects to ``ws://host:port/<room>``, is sent ``welcome``, and every text frame it sends goes to
everyone in the room. Its join and fan-out figures are the floor any ASGI app on uvicorn starts
from. Not in the default server list:
``python -m bench.chatload --servers edgeroom,raw,uvicorn``.
"""

from __future__ import annotations

import sys
from typing import Any

from ._uvicorn import run_asgi_peer

__all__ = ["app", "main"]

Send = Any
ROOMS: dict[str, set[Send]] = {}


async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    members = ROOMS.setdefault(scope["path"], set())
    members.add(send)
    try:
        await send({"type": "websocket.send", "text": "welcome"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is not None:
                for member in list(members):
                    try:
                        await member({"type": "websocket.send", "text": text})
                    except Exception:  # that member is gone; the others still get it
                        members.discard(member)
    finally:
        members.discard(send)
        if not members:
            ROOMS.pop(scope["path"], None)


def main(argv: list[str] | None = None) -> int:
    description = __doc__.splitlines()[0] if __doc__ else ""
    return run_asgi_peer(app, argv, description, ws_ping_interval=20.0, ws_ping_timeout=20.0)


if __name__ == "__main__":
    sys.exit(main())
