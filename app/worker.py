"""The edgeroom Worker: ``class Default(WorkerEntrypoint)``, the only entry into the app."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from app._runtime import Request, Response, WorkerEntrypoint
from app.routing import Router

__all__ = ["Default"]

VERSION = "0.1.0"


async def healthz(request: Request, env: Any) -> Response:
    """Liveness for load balancers and the container HEALTHCHECK."""
    return Response.json({"status": "ok", "service": "edgeroom", "version": VERSION})


ROUTES = Router()
ROUTES.add("GET", "/healthz", healthz)


class Default(WorkerEntrypoint):
    async def fetch(self, request: Request) -> Response:
        handler, found = ROUTES.match(request.method, urlsplit(request.url).path)
        if handler is None:
            if found:
                return Response.json(
                    {"error": "method not allowed"},
                    status=405,
                    headers={"allow": ", ".join(sorted(found))},
                )
            return Response.json({"error": "not found"}, status=404)
        assert isinstance(found, dict)
        return await handler(request, self.env, **found)
