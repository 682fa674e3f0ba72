"""Accounts and sessions: sign up, log in (rate-limited), guests, log out, who am I."""

from __future__ import annotations

import functools
import secrets
from typing import Any
from urllib.parse import urlsplit

from app._runtime import Request, Response
from app.chat.names import NameError_, validate_display_name, validate_username
from app.chat.passwords import DEFAULT_ITERATIONS, hash_password, verify_password
from app.clock import now_ms
from app.httputil import HttpError, client_ip, read_json, set_cookie_header
from app.sessions import (
    COOKIE_NAME,
    GUEST_TTL_SECONDS,
    MEMBER_TTL_SECONDS,
    Session,
    create_session,
    delete_session,
    require_session,
    session_from_request,
)

__all__ = ["guest", "login", "logout", "me", "signup"]

#: Failed logins allowed per username and per IP, refilled over 15 minutes.
LOGIN_FAILURES = 5
LOGIN_WINDOW_SECONDS = 15 * 60


def _iterations(env: Any) -> int:
    """``PASSWORD_ITERATIONS`` from ``[vars]`` (tests lower it), else the secure default."""
    value = getattr(env, "PASSWORD_ITERATIONS", None)
    return int(value) if value else DEFAULT_ITERATIONS


@functools.cache
def _dummy_hash(iterations: int) -> str:
    """A hash no password matches, checked for unknown users so timing does not tell them apart."""
    return hash_password(secrets.token_urlsafe(16), iterations=iterations)


def _session_response(request: Request, session: Session, status: int) -> Response:
    secure = urlsplit(request.url).scheme == "https"
    ttl = GUEST_TTL_SECONDS if session.guest else MEMBER_TTL_SECONDS
    return Response.json(
        {"user": session.user(), "token": session.token},
        status=status,
        headers={
            "set-cookie": set_cookie_header(COOKIE_NAME, session.token, max_age=ttl, secure=secure)
        },
    )


def _credentials(body: dict[str, Any]) -> tuple[str, str]:
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise HttpError(400, "bad_request", "username and password are required strings")
    return username.strip(), password


async def signup(request: Request, env: Any, ctx: Any) -> Response:
    username, password = _credentials(await read_json(request))
    try:
        validate_username(username)
        password_hash = hash_password(password, iterations=_iterations(env))
    except (NameError_, ValueError) as exc:
        raise HttpError(400, "bad_request", str(exc)) from None
    user_id = "u_" + secrets.token_hex(8)
    result = (
        await env.DB.prepare(
            "INSERT INTO users (id, username, display_name, password_hash, guest, created_at)"
            " VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (username) DO NOTHING"
        )
        .bind(user_id, username, username, password_hash, now_ms(env))
        .run()
    )
    if result["meta"]["changes"] == 0:
        raise HttpError(409, "username_taken", f"the name {username!r} is taken")
    session = await create_session(env, user_id, username, guest=False)
    return _session_response(request, session, 201)


async def _login_wait(env: Any, username: str, ip: str) -> float:
    waits = [
        await env.LIMITERS.getByName(key).peek(
            "login", LOGIN_FAILURES, LOGIN_FAILURES / LOGIN_WINDOW_SECONDS
        )
        for key in (f"login:{username.lower()}", f"login-ip:{ip}")
    ]
    return float(max(waits))


async def _record_failure(env: Any, username: str, ip: str) -> None:
    for key in (f"login:{username.lower()}", f"login-ip:{ip}"):
        await env.LIMITERS.getByName(key).charge(
            "login", LOGIN_FAILURES, LOGIN_FAILURES / LOGIN_WINDOW_SECONDS
        )


async def login(request: Request, env: Any, ctx: Any) -> Response:
    username, password = _credentials(await read_json(request))
    ip = client_ip(request)
    wait = await _login_wait(env, username, ip)
    if wait > 0:
        raise HttpError(
            429, "rate_limited", "too many failed sign-ins; try again later", retry_after=wait
        )
    row = (
        await env.DB.prepare(
            "SELECT id, username, password_hash FROM users WHERE username = ? AND guest = 0"
        )
        .bind(username)
        .first()
    )
    stored = row["password_hash"] if row else _dummy_hash(_iterations(env))
    if not verify_password(password, stored) or row is None:
        await _record_failure(env, username, ip)
        raise HttpError(401, "bad_credentials", "wrong username or password")
    session = await create_session(env, row["id"], row["username"], guest=False)
    return _session_response(request, session, 200)


async def guest(request: Request, env: Any, ctx: Any) -> Response:
    body = await read_json(request)
    raw = body.get("name")
    if not isinstance(raw, str):
        raise HttpError(400, "bad_request", "name is a required string")
    try:
        name = validate_display_name(raw)
    except NameError_ as exc:
        raise HttpError(400, "bad_request", str(exc)) from None
    user_id = "g_" + secrets.token_hex(8)
    await (
        env.DB.prepare(
            "INSERT INTO users (id, username, display_name, password_hash, guest, created_at) VALUES (?, NULL, ?, NULL, 1, ?)"
        )
        .bind(user_id, name, now_ms(env))
        .run()
    )
    session = await create_session(env, user_id, name, guest=True)
    return _session_response(request, session, 201)


async def logout(request: Request, env: Any, ctx: Any) -> Response:
    session = await session_from_request(env, request)
    if session is not None:
        await delete_session(env, session.token)
    secure = urlsplit(request.url).scheme == "https"
    return Response(
        None,
        status=204,
        headers={"set-cookie": set_cookie_header(COOKIE_NAME, "", max_age=0, secure=secure)},
    )


async def me(request: Request, env: Any, ctx: Any) -> Response:
    session = await require_session(env, request)
    return Response.json({"user": session.user()})
