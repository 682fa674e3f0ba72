"""The one import switch: Workers' names from ``workers`` on Cloudflare, from ``primitives`` elsewhere.

Everything in ``app/`` imports runtime names from here and nowhere else.
"""

from __future__ import annotations

try:  # pragma: no cover - only on Cloudflare Python Workers
    from js import WebSocketPair  # type: ignore[import-not-found]
    from workers import Request, Response, WorkerEntrypoint  # type: ignore[import-not-found]

    ON_CLOUDFLARE = True
except ImportError:
    from primitives import Request, Response, WebSocketPair, WorkerEntrypoint

    ON_CLOUDFLARE = False

__all__ = ["ON_CLOUDFLARE", "Request", "Response", "WebSocketPair", "WorkerEntrypoint"]
