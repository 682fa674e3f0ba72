"""Rooms: list, create, join, history, search, invites, and the WebSocket into the room's object."""

from __future__ import annotations

import secrets
from typing import Any

from app import _json
from app._runtime import Request, Response
from app.chat.names import NameError_, normalize_room_name, validate_display_name, validate_room
from app.chat.protocol import ProtocolError, hello_param, parse_hello_param
from app.clock import now_ms
from app.httputil import (
    HttpError,
    client_ip,
    is_same_origin,
    query_param,
    query_params,
    read_json,
)
from app.per_binding import KnownFacts
from app.sessions import Session, require_session

__all__ = [
    "create_invite",
    "create_room",
    "follow_invite",
    "get_room",
    "join_room",
    "list_rooms",
    "messages",
    "search",
    "websocket",
]

INVITE_PREFIX = "invite:"
MAX_PAGE = 100
#: Public rooms and memberships this isolate has written: every WebSocket upgrade would otherwise
#: write both again (rooms and memberships are never deleted, so a remembered one stays true).
_written = KnownFacts()


def _room(raw: str) -> tuple[str, bool]:
    try:
        return validate_room(raw)
    except NameError_ as exc:
        raise HttpError(400, "bad_room", str(exc)) from None


async def _room_row(env: Any, room: str) -> dict[str, Any]:
    row = (
        await env.DB.prepare(
            "SELECT room, title, private, created_at, last_activity, message_count,"
            " (SELECT COUNT(*) FROM memberships m WHERE m.room = rooms.room) AS members"
            " FROM rooms WHERE room = ?"
        )
        .bind(room)
        .first()
    )
    if row is None:
        raise HttpError(404, "not_found", "no such room")
    return {**row, "private": bool(row["private"])}


async def _ensure_public_room(env: Any, room: str, session: Session) -> None:
    fact = ("room", room)
    if (env.DB, fact) in _written:
        return
    now = now_ms(env)
    await (
        env.DB.prepare(
            "INSERT INTO rooms (room, title, private, created_by, created_at, last_activity)"
            " VALUES (?, ?, 0, ?, ?, ?) ON CONFLICT (room) DO NOTHING"
        )
        .bind(room, room, session.user_id, now, now)
        .run()
    )
    _written.add(env.DB, fact)


async def _join(env: Any, room: str, session: Session) -> None:
    fact = ("member", room, session.user_id)
    if (env.DB, fact) in _written:
        return
    await (
        env.DB.prepare(
            "INSERT INTO memberships (room, user_id, joined_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
        )
        .bind(room, session.user_id, now_ms(env))
        .run()
    )
    _written.add(env.DB, fact)


async def _require_member(env: Any, room: str, session: Session) -> None:
    row = (
        await env.DB.prepare("SELECT 1 AS ok FROM memberships WHERE room = ? AND user_id = ?")
        .bind(room, session.user_id)
        .first()
    )
    if row is None:
        raise HttpError(403, "not_member", "join the room first")


def _hello_param(request: Request) -> str | None:
    """The upgrade's ``?hello=`` (docs/protocol.md, "Hello in the URL"), checked (400 if bad)
    and re-encoded as compact JSON for the room, which reads it again."""
    text = query_param(request, "hello") if "?" in request.url else None
    if text is None:
        return None
    try:
        return hello_param(parse_hello_param(text))
    except ProtocolError as exc:
        raise HttpError(400, exc.code, exc.message) from None


def _stub(env: Any, room: str, private: bool) -> Any:
    namespace = env.ROOMS
    return namespace.get(namespace.idFromString(room)) if private else namespace.getByName(room)


# -- listing and creating ------------------------------------------------------------------------
async def list_rooms(request: Request, env: Any, ctx: Any) -> Response:
    await require_session(env, request)
    rows = await env.DB.prepare(
        "SELECT room, title, last_activity, message_count,"
        " (SELECT COUNT(*) FROM memberships m WHERE m.room = rooms.room) AS members"
        " FROM rooms WHERE private = 0 ORDER BY last_activity DESC LIMIT 200"
    ).all()
    return Response.json({"rooms": rows["results"]})


async def create_room(request: Request, env: Any, ctx: Any) -> Response:
    session = await require_session(env, request)
    if not is_same_origin(request, getattr(env, "ALLOWED_ORIGINS", "") or ""):
        raise HttpError(403, "bad_origin", "cross-site requests are not allowed")
    body = await read_json(request)
    now = now_ms(env)
    if body.get("private") is True:
        room = env.ROOMS.newUniqueId().toString()
        raw_title = body.get("title") or "Private room"
        try:
            title = validate_display_name(str(raw_title))
        except NameError_ as exc:
            raise HttpError(400, "bad_request", f"title: {exc}") from None
        private = True
    else:
        raw = body.get("name")
        if not isinstance(raw, str):
            raise HttpError(400, "bad_request", "name is a required string (or send private: true)")
        room, private = _room(normalize_room_name(raw))
        if private:
            raise HttpError(400, "bad_room", "public room names cannot look like private ids")
        title = room
    result = (
        await env.DB.prepare(
            "INSERT INTO rooms (room, title, private, created_by, created_at, last_activity)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (room) DO NOTHING"
        )
        .bind(room, title, 1 if private else 0, session.user_id, now, now)
        .run()
    )
    if result["meta"]["changes"] == 0:
        raise HttpError(409, "room_exists", f"the room {room!r} already exists")
    await _join(env, room, session)
    return Response.json({"room": room, "private": private, "title": title}, status=201)


async def get_room(request: Request, env: Any, ctx: Any, room: str) -> Response:
    await require_session(env, request)
    _room(room)
    return Response.json(await _room_row(env, room))


async def join_room(request: Request, env: Any, ctx: Any, room: str) -> Response:
    session = await require_session(env, request)
    room, private = _room(room)
    if not private:
        await _ensure_public_room(env, room, session)
    await _room_row(env, room)
    await _join(env, room, session)
    return Response.json({"room": room})


# -- history and search -------------------------------------------------------------------------------
def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = query_params(request).get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise HttpError(400, "bad_request", f"{name} must be an integer from {low} to {high}")
    return int(raw)


def _message_from_row(row: dict[str, Any], epoch: str | None = None) -> dict[str, Any]:
    message = {
        "type": "chat.message",
        "seq": row["seq"],
        "epoch": row["epoch"] if epoch is None else epoch,
        "id": f"{row['epoch']}.{row['seq']}",
        "user": row["user_id"],
        "name": row["name"],
        "ts": row["ts"],
        "nonce": row["nonce"],
        "text": row["text"],
    }
    if row.get("attachments") and not row.get("deleted"):
        message["attachments"] = _json.loads(row["attachments"])
    if row.get("edited_at"):
        message["edited_at"] = row["edited_at"]
    message["deleted"] = bool(row.get("deleted"))
    return message


async def messages(request: Request, env: Any, ctx: Any, room: str) -> Response:
    """Messages below ``before_seq``, oldest first: the room's own recent events, then D1."""
    session = await require_session(env, request)
    room, private = _room(room)
    await _require_member(env, room, session)
    limit = _int_param(request, "limit", 50, 1, MAX_PAGE)
    before = _int_param(request, "before_seq", 2**53, 1, 2**53)
    recent = await _stub(env, room, private).recent(before, limit)
    events = list(recent["messages"])
    if not recent["complete"] and len(events) < limit:
        rows = (
            await env.DB.prepare(
                "SELECT seq, epoch, user_id, name, ts, nonce, text, edited_at, deleted, attachments"
                " FROM messages WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?"
            )
            .bind(room, recent["oldest"], limit - len(events))
            .all()
        )
        events = [_message_from_row(row) for row in reversed(rows["results"])] + events
    has_more = bool(events) and events[0]["seq"] > 1
    return Response.json({"epoch": recent["epoch"], "messages": events, "has_more": has_more})


async def search(request: Request, env: Any, ctx: Any, room: str) -> Response:
    session = await require_session(env, request)
    room, _ = _room(room)
    await _require_member(env, room, session)
    query = (query_params(request).get("q") or "").strip()
    if not 1 <= len(query) <= 200:
        raise HttpError(400, "bad_request", "q must be 1-200 characters")
    limit = _int_param(request, "limit", 20, 1, MAX_PAGE)
    # Each word is quoted, so FTS5 operators in user input are searched for, never interpreted.
    fts_query = " ".join('"' + word.replace('"', '""') + '"' for word in query.split())
    rows = (
        await env.DB.prepare(
            "SELECT m.seq, m.epoch, m.user_id, m.name, m.ts, m.nonce, m.text, m.edited_at, m.deleted,"
            " m.attachments FROM messages_fts f JOIN messages m ON m.id = f.rowid"
            " WHERE messages_fts MATCH ? AND m.room = ? AND m.deleted = 0 ORDER BY m.seq DESC LIMIT ?"
        )
        .bind(fts_query, room, limit)
        .all()
    )
    return Response.json({"results": [_message_from_row(row) for row in rows["results"]]})


# -- invites ----------------------------------------------------------------------------------------
async def create_invite(request: Request, env: Any, ctx: Any, room: str) -> Response:
    session = await require_session(env, request)
    room, _ = _room(room)
    await _require_member(env, room, session)
    body = await read_json(request)
    hours = body.get("ttl_hours", 24)
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= 168:
        raise HttpError(400, "bad_request", "ttl_hours must be an integer from 1 to 168")
    code = secrets.token_urlsafe(6)
    ttl = hours * 3600
    await env.INVITES.put(
        INVITE_PREFIX + code, room, expirationTtl=ttl, metadata={"by": session.user_id}
    )
    origin = request.url.split("/api/", 1)[0]
    return Response.json(
        {"code": code, "url": f"{origin}/i/{code}", "expires_at": now_ms(env) // 1000 + ttl},
        status=201,
    )


async def follow_invite(request: Request, env: Any, ctx: Any, code: str) -> Response:
    if not 4 <= len(code) <= 32 or not all(c.isalnum() or c in "-_" for c in code):
        raise HttpError(404, "not_found", "no such invite")
    room = await env.INVITES.get(INVITE_PREFIX + code)
    if room is None:
        raise HttpError(404, "not_found", "this invite does not exist or has expired")
    await (
        env.DB.prepare(
            "INSERT INTO invite_uses (code, room, used_at, user_id, ip) VALUES (?, ?, ?, NULL, ?)"
        )
        .bind(code, room, now_ms(env), client_ip(request))
        .run()
    )
    return Response.redirect(request.url.split("/i/", 1)[0] + f"/#/room/{room}", 302)


# -- the WebSocket -------------------------------------------------------------------------------------
async def websocket(request: Request, env: Any, ctx: Any, room: str) -> Response:
    if (request.headers.get("upgrade") or "").lower() != "websocket":
        raise HttpError(426, "upgrade_required", "this endpoint takes a WebSocket upgrade")
    if not is_same_origin(request, getattr(env, "ALLOWED_ORIGINS", "") or ""):
        raise HttpError(403, "bad_origin", "this page's origin may not open the room")
    hello = _hello_param(request)
    session = await require_session(env, request)
    room, private = _room(room)
    if not private:
        await _ensure_public_room(env, room, session)
    else:
        await _room_row(env, room)
    await _join(env, room, session)
    # A fresh request: only the upgrade and what the room must know; never the client's cookies.
    headers = {
        "upgrade": "websocket",
        "x-edgeroom-user": session.user_id,
        "x-edgeroom-name": session.name,
        "x-edgeroom-room": room,
        "x-edgeroom-ip": client_ip(request),
        "x-edgeroom-guest": "1" if session.guest else "0",
    }
    if hello is not None:
        headers["x-edgeroom-hello"] = hello
    forwarded = Request("https://room/ws", headers=headers)
    response: Response = await _stub(env, room, private).fetch(forwarded)
    return response
