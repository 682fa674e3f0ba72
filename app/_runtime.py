"""The one import switch: Workers' names from ``workers`` on Cloudflare, ``primitives`` elsewhere.

Everything in ``app/`` imports runtime names from here and nowhere else. Type checkers always see
the ``primitives`` names, which have the same shapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from primitives import (
        DurableObject,
        Request,
        Response,
        WebSocketPair,
        WebSocketRequestResponsePair,
        WorkerEntrypoint,
    )

    ON_CLOUDFLARE = False
else:
    try:  # only on Cloudflare Python Workers
        from js import WebSocketPair, WebSocketRequestResponsePair
        from workers import DurableObject, Request, Response, WorkerEntrypoint

        ON_CLOUDFLARE = True
    except ImportError:
        from primitives import (
            DurableObject,
            Request,
            Response,
            WebSocketPair,
            WebSocketRequestResponsePair,
            WorkerEntrypoint,
        )

        ON_CLOUDFLARE = False


def websocket_pair() -> tuple[Any, Any]:
    """``(client, server)``: Pyodide unpacks the JavaScript pair with ``object_values()``."""
    pair = WebSocketPair.new()
    if ON_CLOUDFLARE:  # pragma: no cover
        client, server = pair.object_values()  # type: ignore[attr-defined]
        return client, server
    return pair.client, pair.server


__all__ = [
    "ON_CLOUDFLARE",
    "DurableObject",
    "Request",
    "Response",
    "WebSocketPair",
    "WebSocketRequestResponsePair",
    "WorkerEntrypoint",
    "websocket_pair",
]
