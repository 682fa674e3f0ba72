"""Sessions: a random token kept in KV (``SESSIONS``) with a TTL, sent as a cookie or bearer token."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from app._runtime import Request
from app.httputil import HttpError, cookie

__all__ = [
    "COOKIE_NAME",
    "GUEST_TTL_SECONDS",
    "MEMBER_TTL_SECONDS",
    "Session",
    "create_session",
    "delete_session",
    "require_session",
    "session_from_request",
    "token_from_request",
]

COOKIE_NAME = "edgeroom_session"
MEMBER_TTL_SECONDS = 7 * 24 * 3600
GUEST_TTL_SECONDS = 24 * 3600
_KEY_PREFIX = "session:"
#: A token is 43 url-safe characters; anything else is refused before it reaches KV.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,128}")


@dataclass(frozen=True)
class Session:
    token: str
    user_id: str
    name: str
    guest: bool

    def user(self) -> dict[str, Any]:
        return {"id": self.user_id, "name": self.name, "guest": self.guest}


async def create_session(env: Any, user_id: str, name: str, guest: bool) -> Session:
    token = secrets.token_urlsafe(32)
    ttl = GUEST_TTL_SECONDS if guest else MEMBER_TTL_SECONDS
    await env.SESSIONS.put(
        _KEY_PREFIX + token, user_id, expirationTtl=ttl, metadata={"name": name, "guest": guest}
    )
    return Session(token, user_id, name, guest)


def token_from_request(request: Request) -> str | None:
    auth = request.headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        token = auth[7:].strip()
    else:
        token = cookie(request, COOKIE_NAME) or ""
    if _TOKEN_SHAPE.fullmatch(token) is None:
        return None
    return token


async def session_from_request(env: Any, request: Request) -> Session | None:
    token = token_from_request(request)
    if token is None:
        return None
    found = await env.SESSIONS.getWithMetadata(_KEY_PREFIX + token)
    if found["value"] is None or not isinstance(found["metadata"], dict):
        return None
    meta = found["metadata"]
    return Session(token, found["value"], str(meta.get("name", "")), bool(meta.get("guest")))


async def require_session(env: Any, request: Request) -> Session:
    session = await session_from_request(env, request)
    if session is None:
        raise HttpError(401, "unauthenticated", "sign in or join as a guest first")
    return session


async def delete_session(env: Any, token: str) -> None:
    await env.SESSIONS.delete(_KEY_PREFIX + token)
