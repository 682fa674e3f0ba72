"""The edgeroom Worker: ``class Default(WorkerEntrypoint)``, the only entry into the app.

The Durable Object classes are imported here because wrangler.toml's ``main`` module must define
every class it binds.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from app._runtime import Request, Response, WorkerEntrypoint
from app.handlers import auth, files, flags, resumable, rooms, uploads
from app.httputil import HttpError, error_response
from app.rooms.chat_room import ChatRoom
from app.rooms.flags_hub import FlagsHub
from app.rooms.rate_limiter import RateLimiter
from app.routing import Router
from app.uploads.store import sweep

__all__ = ["ChatRoom", "Default", "FlagsHub", "RateLimiter"]

VERSION = "0.1.0"
log = logging.getLogger("edgeroom.app")


async def healthz(request: Request, env: Any, ctx: Any) -> Response:
    """Liveness for load balancers and the container HEALTHCHECK."""
    return Response.json({"status": "ok", "service": "edgeroom", "version": VERSION})


ROUTES = Router()
ROUTES.add("GET", "/healthz", healthz)
ROUTES.add("POST", "/api/auth/signup", auth.signup)
ROUTES.add("POST", "/api/auth/login", auth.login)
ROUTES.add("POST", "/api/auth/guest", auth.guest)
ROUTES.add("POST", "/api/auth/logout", auth.logout)
ROUTES.add("GET", "/api/me", auth.me)
ROUTES.add("GET", "/api/rooms", rooms.list_rooms)
ROUTES.add("POST", "/api/rooms", rooms.create_room)
ROUTES.add("GET", "/api/rooms/{room}", rooms.get_room)
ROUTES.add("POST", "/api/rooms/{room}/join", rooms.join_room)
ROUTES.add("GET", "/api/rooms/{room}/messages", rooms.messages)
ROUTES.add("GET", "/api/rooms/{room}/search", rooms.search)
ROUTES.add("POST", "/api/rooms/{room}/invites", rooms.create_invite)
ROUTES.add("GET", "/api/rooms/{room}/ws", rooms.websocket)
ROUTES.add("GET", "/i/{code}", rooms.follow_invite)
# Feature flags (docs/flags.md)
ROUTES.add("GET", "/api/flags", flags.client_flags)
ROUTES.add("GET", "/admin/flags", flags.admin_list)
ROUTES.add("GET", "/admin/audit", flags.admin_audit)
ROUTES.add("GET", "/admin/flags/{key}", flags.admin_get)
ROUTES.add("PUT", "/admin/flags/{key}", flags.admin_put)
ROUTES.add("PATCH", "/admin/flags/{key}", flags.admin_patch)
ROUTES.add("DELETE", "/admin/flags/{key}", flags.admin_delete)
ROUTES.add("GET", "/admin/flags/{key}/history", flags.admin_history)
ROUTES.add("GET", "/admin/flags/{key}/results", flags.admin_results)

# Uploads (docs/uploads.md).
ROUTES.add("POST", "/api/uploads/multipart", resumable.create)
ROUTES.add("GET", "/api/uploads/multipart/{file_id}", resumable.status)
ROUTES.add("PUT", "/api/uploads/multipart/{file_id}/parts/{number}", resumable.upload_part)
ROUTES.add("POST", "/api/uploads/multipart/{file_id}/complete", resumable.complete)
ROUTES.add("DELETE", "/api/uploads/multipart/{file_id}", resumable.abort)
ROUTES.add("POST", "/api/uploads", uploads.create_upload)
ROUTES.add("GET", "/api/uploads", uploads.list_uploads)
ROUTES.add("GET", "/api/uploads/{file_id}", uploads.get_upload)
ROUTES.add("DELETE", "/api/uploads/{file_id}", uploads.delete_upload)
ROUTES.add("GET", "/files/{file_id}", files.download)
ROUTES.add("GET", "/files/{file_id}/{variant}", files.download_variant)
# End of uploads.


class Default(WorkerEntrypoint):
    async def fetch(self, request: Request) -> Response:
        handler, found = ROUTES.match(request.method, urlsplit(request.url).path)
        if handler is None:
            if found:
                return Response.json(
                    {"error": {"code": "method_not_allowed", "message": "method not allowed"}},
                    status=405,
                    headers={"allow": ", ".join(sorted(found))},
                )
            return error_response(404, "not_found", "not found")
        assert isinstance(found, dict)
        try:
            return await handler(request, self.env, self.ctx, **found)
        except HttpError as exc:
            return exc.response()

    async def scheduled(self, controller: Any) -> None:
        """Cron: finish half-done upload deletes and remove abandoned uploads."""
        swept = await sweep(self.env)
        if swept:
            log.info("swept %d uploads", swept)
