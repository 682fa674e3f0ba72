"""How a Worker gets served: the ASGI adapter, the uvicorn server, the cron scheduler.

This package is the only place that imports Starlette and uvicorn.
"""

from __future__ import annotations

from .asgi import EdgeroomApp, as_asgi
from .server import EdgeroomServer, create_app, serve, serve_in_thread

__all__ = ["EdgeroomApp", "EdgeroomServer", "as_asgi", "create_app", "serve", "serve_in_thread"]
