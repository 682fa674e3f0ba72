"""Resumable uploads for REST clients on R2 multipart: create, PUT numbered parts, status, complete, abort.

A client that lost its connection asks ``GET /api/uploads/multipart/<id>`` which parts arrived and
sends only the rest. An upload with no new part for ``UPLOAD_STALE_SECONDS`` is swept by the cron.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

from app._runtime import Request, Response
from app.clock import now_ms
from app.handlers.uploads import (
    _check_origin,
    _classify,
    _owned,
    _raw_source,
    _row,
    delete_upload,
)
from app.httputil import HttpError, read_json
from app.sessions import require_session
from app.uploads.images import ImageRejected, process_image
from app.uploads.links import sanitize_filename
from app.uploads.sniff import SNIFF_BYTES, has_control_bytes
from app.uploads.store import (
    UploadConfig,
    describe,
    mark_ready,
    object_key,
    signing_key,
    used_bytes,
)

__all__ = ["abort", "complete", "create", "status", "upload_part"]

MiB = 1024 * 1024
MIN_PART_BYTES = 5 * MiB  # R2's minimum for every part but the last
MAX_PART_BYTES = 64 * MiB
DEFAULT_PART_BYTES = 8 * MiB
MAX_PARTS = 10_000


async def create(request: Request, env: Any, ctx: Any) -> Response:
    """``{name?, private?, part_size?}`` -> ``201 {upload, part_size}``; then PUT parts 1..N."""
    session = await require_session(env, request)
    _check_origin(request, env)
    body = await read_json(request)
    part_size = body.get("part_size", DEFAULT_PART_BYTES)
    if (
        not isinstance(part_size, int)
        or isinstance(part_size, bool)
        or not MIN_PART_BYTES <= part_size <= MAX_PART_BYTES
    ):
        raise HttpError(
            400, "bad_request", f"part_size must be {MIN_PART_BYTES}-{MAX_PART_BYTES} bytes"
        )
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise HttpError(400, "bad_request", "name must be a string")
    config = UploadConfig.from_env(env)
    if await used_bytes(env, session.user_id) >= config.quota_bytes:
        raise HttpError(
            413, "quota_exceeded", f"your uploads are limited to {config.quota_bytes} bytes"
        )
    file_id = "f_" + secrets.token_hex(12)
    # The type is decided from part 1's bytes; until then the row says so.
    upload = await env.UPLOADS.createMultipartUpload(object_key(file_id))
    now = now_ms(env)
    await (
        env.DB.prepare(
            "INSERT INTO uploads (id, owner, name, kind, content_type, private, state, upload_id,"
            " part_size, created_at, updated_at)"
            " VALUES (?, ?, ?, 'pending', 'application/octet-stream', ?, 'uploading', ?, ?, ?, ?)"
        )
        .bind(
            file_id,
            session.user_id,
            sanitize_filename(name),
            int(bool(body.get("private"))),
            upload.uploadId,
            part_size,
            now,
            now,
        )
        .run()
    )
    row = await _row(env, file_id)
    return Response.json(
        {"upload": describe(row, None, now / 1000), "part_size": part_size}, status=201
    )


async def _pending(env: Any, request: Request, file_id: str) -> Any:
    session = await require_session(env, request)
    row = await _owned(env, session, file_id)
    if row["state"] != "uploading" or not row["upload_id"]:
        raise HttpError(409, "not_uploading", "this upload is not in progress")
    return session, row


async def _parts(env: Any, file_id: str) -> list[Any]:
    return list(
        (
            await env.DB.prepare(
                "SELECT part, size, etag FROM upload_parts WHERE upload = ? ORDER BY part"
            )
            .bind(file_id)
            .all()
        )["results"]
    )


async def status(request: Request, env: Any, ctx: Any, file_id: str) -> Response:
    """Which parts arrived (so an interrupted client can resume)."""
    _, row = await _pending(env, request, file_id)
    parts = [{"part": p["part"], "size": p["size"]} for p in await _parts(env, file_id)]
    return Response.json(
        {
            "upload": describe(row, None, now_ms(env) / 1000),
            "part_size": await _stored_part_size(env, file_id),
            "parts": parts,
        }
    )


async def upload_part(request: Request, env: Any, ctx: Any, file_id: str, number: str) -> Response:
    """``PUT .../parts/<n>`` with the raw bytes (at most ``part_size``); re-sending a part replaces it."""
    session, row = await _pending(env, request, file_id)
    _check_origin(request, env)
    if not number.isdigit() or not 1 <= int(number) <= MAX_PARTS:
        raise HttpError(400, "bad_part_number", f"part numbers are 1-{MAX_PARTS}")
    part = int(number)
    part_size = await _stored_part_size(env, file_id)
    config = UploadConfig.from_env(env)
    previous = (
        await env.DB.prepare("SELECT size FROM upload_parts WHERE upload = ? AND part = ?")
        .bind(file_id, part)
        .first("size")
    )
    room = min(
        part_size,
        config.multipart_max_bytes - int(row["size"]) + int(previous or 0),
        config.quota_bytes - await used_bytes(env, session.user_id) + int(previous or 0),
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > part_size:
        raise HttpError(413, "part_too_large", f"parts are at most {part_size} bytes")
    source = _raw_source(request)
    head = bytearray()
    async for chunk in source:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    if part == 1:
        found = _classify(bytes(head), "", config)
        await (
            env.DB.prepare("UPDATE uploads SET kind = ?, content_type = ? WHERE id = ?")
            .bind(found.kind, found.content_type, file_id)
            .run()
        )
        row = await _row(env, file_id)
    # UTF-8 may be cut at part edges, so only the control-byte rule is checked per part.
    text = row["kind"] == "text"
    counted = {"size": 0}

    async def body() -> AsyncIterator[bytes]:
        chunk: bytes | None = bytes(head)
        while chunk is not None:
            counted["size"] += len(chunk)
            if counted["size"] > room:
                if counted["size"] > part_size:
                    raise HttpError(413, "part_too_large", f"parts are at most {part_size} bytes")
                raise HttpError(
                    413, "quota_exceeded", "this part would exceed your quota or the upload limit"
                )
            if text and has_control_bytes(chunk):
                raise HttpError(415, "bad_text", "the text contains control characters")
            if chunk:
                yield chunk
            chunk = await anext(source, None)

    data = bytearray()
    async for chunk in body():  # parts are bounded by part_size (<= 64 MiB)
        data += chunk
    if declared is not None and declared.isdigit() and len(data) != int(declared):
        raise HttpError(400, "truncated", f"the body ended after {len(data)} of {declared} bytes")
    if not data:
        raise HttpError(400, "empty_part", "a part cannot be empty")
    uploaded = await env.UPLOADS.resumeMultipartUpload(
        object_key(file_id), row["upload_id"]
    ).uploadPart(part, bytes(data))
    size_delta = len(data) - int(previous or 0)
    await env.DB.batch(
        [
            env.DB.prepare(
                "INSERT INTO upload_parts (upload, part, etag, size) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (upload, part) DO UPDATE SET etag = excluded.etag, size = excluded.size"
            ).bind(file_id, part, uploaded["etag"], len(data)),
            env.DB.prepare("UPDATE uploads SET size = size + ?, updated_at = ? WHERE id = ?").bind(
                size_delta, now_ms(env), file_id
            ),
        ]
    )
    return Response.json({"part": part, "size": len(data), "etag": uploaded["etag"]})


async def _stored_part_size(env: Any, file_id: str) -> int:
    value = (
        await env.DB.prepare("SELECT part_size FROM uploads WHERE id = ?")
        .bind(file_id)
        .first("part_size")
    )
    return int(value or DEFAULT_PART_BYTES)


async def complete(request: Request, env: Any, ctx: Any, file_id: str) -> Response:
    """Join parts 1..N (all ``part_size`` but the last) into the object; images get their variants."""
    _, row = await _pending(env, request, file_id)
    _check_origin(request, env)
    parts = await _parts(env, file_id)
    part_size = await _stored_part_size(env, file_id)
    if not parts:
        raise HttpError(400, "no_parts", "upload at least one part first")
    numbers = [p["part"] for p in parts]
    if numbers != list(range(1, len(parts) + 1)):
        missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        raise HttpError(400, "missing_parts", f"parts {missing} have not arrived")
    if any(p["size"] != part_size for p in parts[:-1]):
        raise HttpError(400, "bad_part_size", f"every part but the last must be {part_size} bytes")
    upload = env.UPLOADS.resumeMultipartUpload(object_key(file_id), row["upload_id"])
    try:
        stored = await upload.complete(
            [{"partNumber": p["part"], "etag": p["etag"]} for p in parts]
        )
    except Exception as exc:  # e.g. a part replaced concurrently: R2 refuses the recorded etag
        raise HttpError(
            409, "upload_conflict", f"R2 refused the parts ({exc}); re-send them and complete again"
        ) from None
    width = height = None
    variants: list[str] = []
    config = UploadConfig.from_env(env)
    if row["kind"] == "image" and stored.size <= config.max_bytes:
        original = await env.UPLOADS.get(object_key(file_id))
        try:
            processed = process_image(await original.bytes(), _image_format(row["content_type"]))
        except ImageRejected as exc:
            await (
                env.DB.prepare("UPDATE uploads SET upload_id = NULL WHERE id = ?")
                .bind(file_id)
                .run()
            )
            await delete_upload(request, env, ctx, file_id)
            raise HttpError(422, exc.code, str(exc)) from None
        width, height = processed.width, processed.height
        for variant in processed.variants:
            await env.UPLOADS.put(
                object_key(file_id, variant.name),
                variant.data,
                httpMetadata={"contentType": variant.content_type},
            )
            variants.append(variant.name)
    await env.DB.batch(
        [
            mark_ready(
                env,
                file_id,
                size=stored.size,
                etag=stored.httpEtag,
                width=width,
                height=height,
                variants=variants,
            ),
            env.DB.prepare("DELETE FROM upload_parts WHERE upload = ?").bind(file_id),
        ]
    )
    row = await _row(env, file_id)
    key = await signing_key(env) if row["private"] else None
    return Response.json({"upload": describe(row, key, now_ms(env) / 1000)})


def _image_format(content_type: str) -> str:
    return {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}[
        content_type
    ]


async def abort(request: Request, env: Any, ctx: Any, file_id: str) -> Response:
    """Abort an upload in progress (the same as deleting it)."""
    return await delete_upload(request, env, ctx, file_id)
