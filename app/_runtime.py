"""The one import switch: Workers' names from ``workers`` on Cloudflare, ``primitives`` elsewhere.

Everything in ``app/`` imports runtime names from here and nowhere else. Type checkers always see
the ``primitives`` names, which have the same shapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from primitives import Request, Response, WebSocketPair, WorkerEntrypoint

    ON_CLOUDFLARE = False
else:
    try:  # only on Cloudflare Python Workers
        from js import WebSocketPair
        from workers import Request, Response, WorkerEntrypoint

        ON_CLOUDFLARE = True
    except ImportError:
        from primitives import Request, Response, WebSocketPair, WorkerEntrypoint

        ON_CLOUDFLARE = False

__all__ = ["ON_CLOUDFLARE", "Request", "Response", "WebSocketPair", "WorkerEntrypoint"]
