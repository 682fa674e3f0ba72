"""Sessions: a random token kept in KV (``SESSIONS``) with a TTL, sent as a cookie or bearer token.

An isolate remembers the sessions it made or read for up to ``CACHE_SECONDS`` (Workers KV's own
default ``cacheTtl``: a read at one location may be served from its cache for that long), never
past the session's expiry. Signing out here forgets the token at once; a session deleted
elsewhere (another process, ``edgeroom kv key delete``) may still be accepted here for at most
that long, as with Workers KV, whose deletes take up to 60 s to reach every location. A join
(sign in, then open a room's socket) or a reconnect then costs no KV read.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from app._runtime import Request
from app.clock import now_ms
from app.httputil import HttpError, cookie
from app.per_binding import PerBinding

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
#: How long an isolate may accept a session it made or read without asking KV again.
CACHE_SECONDS = 60
#: Sessions remembered per isolate (least recently used ones are forgotten first).
CACHE_ENTRIES = 20_000


@dataclass(frozen=True)
class Session:
    token: str
    user_id: str
    name: str
    guest: bool

    def user(self) -> dict[str, Any]:
        return {"id": self.user_id, "name": self.name, "guest": self.guest}


@dataclass
class _Memory:
    """One ``SESSIONS`` binding's remembered sessions: token -> (session, until ms), least
    recent first; ``generation`` moves on at each sign-out here."""

    sessions: OrderedDict[str, tuple[Session, int]] = field(default_factory=OrderedDict)
    generation: int = 0


class _Remembered:
    """Sessions an isolate made or read, per ``SESSIONS`` binding.

    A session read from KV is remembered only if no sign-out happened here while it was being
    read (that read may predate the delete).
    """

    def __init__(self) -> None:
        self._memories: PerBinding[_Memory] = PerBinding()

    def _memory(self, env: Any) -> _Memory:
        memory = self._memories.get(env.SESSIONS)
        if memory is None:
            memory = _Memory()
            self._memories.set(env.SESSIONS, memory)
        return memory

    def generation(self, env: Any) -> int:
        return self._memory(env).generation

    def get(self, env: Any, token: str) -> Session | None:
        sessions = self._memory(env).sessions
        found = sessions.get(token)
        if found is None:
            return None
        session, until = found
        if now_ms(env) >= until:
            del sessions[token]
            return None
        sessions.move_to_end(token)
        return session

    def put(
        self, env: Any, session: Session, expires_ms: int | None, read_at: int | None = None
    ) -> None:
        """Remember ``session``; ``read_at``: the generation when its KV read began."""
        memory = self._memory(env)
        if read_at is not None and read_at != memory.generation:
            return  # signed out somewhere in this isolate meanwhile: the read may be stale
        until = now_ms(env) + CACHE_SECONDS * 1000
        if expires_ms is not None:
            until = min(until, expires_ms)
        memory.sessions[session.token] = (session, until)
        memory.sessions.move_to_end(session.token)
        while len(memory.sessions) > CACHE_ENTRIES:
            memory.sessions.popitem(last=False)

    def forget(self, env: Any, token: str) -> None:
        memory = self._memory(env)
        memory.generation += 1
        memory.sessions.pop(token, None)


_remembered = _Remembered()


async def create_session(env: Any, user_id: str, name: str, guest: bool) -> Session:
    token = secrets.token_urlsafe(32)
    ttl = GUEST_TTL_SECONDS if guest else MEMBER_TTL_SECONDS
    expires_ms = now_ms(env) + ttl * 1000
    await env.SESSIONS.put(
        _KEY_PREFIX + token,
        user_id,
        expirationTtl=ttl,
        metadata={"name": name, "guest": guest, "expires": expires_ms // 1000},
    )
    session = Session(token, user_id, name, guest)
    _remembered.put(env, session, expires_ms)
    return session


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
    remembered = _remembered.get(env, token)
    if remembered is not None:
        return remembered
    read_at = _remembered.generation(env)
    found = await env.SESSIONS.getWithMetadata(_KEY_PREFIX + token)
    if found["value"] is None or not isinstance(found["metadata"], dict):
        return None
    meta = found["metadata"]
    session = Session(token, found["value"], str(meta.get("name", "")), bool(meta.get("guest")))
    expires = meta.get("expires")
    if isinstance(expires, int) and not isinstance(expires, bool):
        _remembered.put(env, session, expires * 1000, read_at)
    # A session from before "expires" was kept in its metadata is not remembered: its expiry is
    # unknown here, and a remembered session must never outlive it.
    return session


async def require_session(env: Any, request: Request) -> Session:
    session = await session_from_request(env, request)
    if session is None:
        raise HttpError(401, "unauthenticated", "sign in or join as a guest first")
    return session


async def delete_session(env: Any, token: str) -> None:
    _remembered.forget(env, token)
    try:
        await env.SESSIONS.delete(_KEY_PREFIX + token)
    finally:
        _remembered.forget(env, token)  # a read that began during the delete is not kept either
