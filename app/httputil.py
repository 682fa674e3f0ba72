"""Small HTTP helpers for handlers: JSON errors, bounded JSON bodies, cookies, origins, client IP."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from app import _json
from app._runtime import Request, Response

__all__ = [
    "HttpError",
    "client_ip",
    "cookie",
    "error_response",
    "is_same_origin",
    "query_params",
    "read_json",
    "set_cookie_header",
]

MAX_JSON_BODY = 64 * 1024


class HttpError(Exception):
    """Raised by handlers to answer with ``{"error": {"code", "message", "retry_after"?}}``."""

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def response(self) -> Response:
        return error_response(self.status, self.code, self.message, retry_after=self.retry_after)


def error_response(
    status: int, code: str, message: str, *, retry_after: float | None = None
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    headers = {}
    if retry_after is not None:
        error["retry_after"] = round(retry_after, 3)
        headers["retry-after"] = str(max(1, round(retry_after)))
    return Response.json({"error": error}, status=status, headers=headers)


async def read_json(request: Request, limit: int = MAX_JSON_BODY) -> dict[str, Any]:
    """The body as a JSON object, at most ``limit`` bytes; anything else is a 4xx ``HttpError``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HttpError(413, "too_large", f"request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    if request.body is not None:
        async for chunk in request.body:
            size += len(chunk)
            if size > limit:
                raise HttpError(413, "too_large", f"request body is larger than {limit} bytes")
            chunks.append(chunk)
    try:
        data = _json.loads(b"".join(chunks) or b"{}")
    except (_json.JSONDecodeError, ValueError):
        raise HttpError(400, "bad_json", "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise HttpError(400, "bad_request", "request body must be a JSON object")
    return data


def cookie(request: Request, name: str) -> str | None:
    raw = request.headers.get("cookie")
    if not raw:
        return None
    jar = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def set_cookie_header(name: str, value: str, *, max_age: int, secure: bool) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax", f"Max-Age={max_age}"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def is_same_origin(request: Request, allowed: str = "") -> bool:
    """No ``Origin`` (a non-browser client), the request's own origin, or one listed in ``allowed``."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    url = urlsplit(request.url)
    host = request.headers.get("host") or url.netloc
    own = {f"http://{host}", f"https://{host}"}
    extra = {o.strip().rstrip("/") for o in allowed.split(",") if o.strip()}
    return origin.rstrip("/") in own | extra


def query_params(request: Request) -> dict[str, str]:
    """The URL's query parameters (the last value of each wins)."""
    return dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))


def query_param(request: Request, name: str) -> str | None:
    """One query parameter (the last value wins, as in :func:`query_params`), or ``None``.

    Looks at that parameter alone: a WebSocket upgrade reads ``hello`` this way on every join.
    """
    query = request.url.partition("?")[2].partition("#")[0]
    found = None
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == name or (("%" in key or "+" in key) and unquote(key.replace("+", " ")) == name):
            found = value
    return None if found is None else unquote(found.replace("+", " "))


def client_ip(request: Request) -> str:
    return request.headers.get("cf-connecting-ip") or "unknown"
