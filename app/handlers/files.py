"""``GET /files/<id>[/<variant>]``: stream from R2 with Range, ETag/304 and safe types; signed links for private files."""

from __future__ import annotations

from typing import Any

from app._runtime import Request, Response
from app.clock import now_ms
from app.httputil import HttpError, query_params
from app.uploads.links import LinkRejected, content_disposition, parse_range, verify
from app.uploads.store import object_key, signing_key

__all__ = ["download", "download_variant", "served_type"]

#: Types shown inline. Anything else (PDF, which can carry scripts, and every attachment) downloads;
#: nothing is ever served as HTML, SVG or XML from our origin.
_INLINE = {"image/png", "image/jpeg", "image/gif", "image/webp", "text/plain; charset=utf-8"}
_SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; sandbox",
    "cross-origin-resource-policy": "same-origin",
    "referrer-policy": "no-referrer",
}


def served_type(content_type: str) -> tuple[str, str]:
    """``(Content-Type, disposition)`` for a stored type: inline only for inert types."""
    if content_type in _INLINE:
        return content_type, "inline"
    if content_type == "application/pdf":
        return content_type, "attachment"
    return "application/octet-stream", "attachment"


def _etag_matches(header: str, etag: str) -> bool:
    """RFC 9110 weak comparison for If-None-Match."""
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


async def download(request: Request, env: Any, ctx: Any, file_id: str) -> Response:
    return await _serve(request, env, file_id, "original")


async def download_variant(
    request: Request, env: Any, ctx: Any, file_id: str, variant: str
) -> Response:
    return await _serve(request, env, file_id, variant)


async def _serve(request: Request, env: Any, file_id: str, variant: str) -> Response:
    row = (
        await env.DB.prepare(
            "SELECT id, name, content_type, variants, private, state FROM uploads WHERE id = ?"
        )
        .bind(file_id)
        .first()
    )
    if row is None or row["state"] != "ready":
        raise HttpError(404, "not_found", "no such file")
    if variant != "original" and variant not in str(row["variants"] or "").split(","):
        raise HttpError(404, "not_found", "no such variant")
    params = query_params(request)
    if row["private"]:
        try:
            verify(
                await signing_key(env),
                file_id,
                variant,
                params.get("exp"),
                params.get("sig"),
                now_ms(env) / 1000,
            )
        except LinkRejected as exc:
            raise HttpError(403, exc.code, str(exc)) from None
    key = object_key(file_id, variant)
    head = await env.UPLOADS.head(key)
    if head is None:  # the row says ready but the object is gone: treat as missing, never 500
        raise HttpError(404, "not_found", "no such file")
    stored_type = (
        row["content_type"]
        if variant == "original"
        else (head.httpMetadata or {}).get("contentType", "")
    )
    content_type, disposition = served_type(str(stored_type))
    if params.get("download") == "1":
        disposition = "attachment"
    name = str(row["name"])
    if variant != "original":
        stem, dot, _ = name.rpartition(".")
        ext = "png" if content_type == "image/png" else "jpg"
        name = f"{stem if dot else name}-{variant}.{ext}"
    headers = {
        **_SECURITY_HEADERS,
        "content-type": content_type,
        "content-disposition": content_disposition(disposition, name),
        "etag": head.httpEtag,
        "accept-ranges": "bytes",
        "cache-control": "private, max-age=300" if row["private"] else "public, max-age=3600",
    }
    inm = request.headers.get("if-none-match")
    if inm is not None and _etag_matches(inm, head.httpEtag):
        return Response(
            None, status=304, headers={k: v for k, v in headers.items() if k != "content-type"}
        )
    size = int(head.size)
    if_range = request.headers.get("if-range")
    wanted = parse_range(request.headers.get("range"), size)
    if if_range is not None and if_range.strip() != head.httpEtag:
        wanted = None
    if wanted is False:
        return Response.json(
            {"error": {"code": "range_not_satisfiable", "message": f"the file has {size} bytes"}},
            status=416,
            headers={"content-range": f"bytes */{size}"},
        )
    if request.method.upper() == "HEAD":
        return Response(None, headers={**headers, "content-length": str(size)})
    if isinstance(wanted, tuple):
        offset, length = wanted
        body = await env.UPLOADS.get(key, range={"offset": offset, "length": length})
        if body is None:
            raise HttpError(404, "not_found", "no such file")
        headers["content-range"] = f"bytes {offset}-{offset + length - 1}/{size}"
        headers["content-length"] = str(length)
        return Response(body.body, status=206, headers=headers)
    body = await env.UPLOADS.get(key)
    if body is None:
        raise HttpError(404, "not_found", "no such file")
    headers["content-length"] = str(size)
    return Response(body.body, headers=headers)
