"""Uploads over REST: ``POST /api/uploads`` (raw body or streamed multipart form), list, show, delete.

The bytes decide the type (``app.uploads.sniff``); the body is hashed, counted, checked and written
to R2 while it streams; a D1 row in state ``uploading`` exists from before the first byte reaches
R2, so a crash leaves nothing the sweeper cannot find.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

from app._runtime import Request, Response
from app.clock import now_ms
from app.httputil import HttpError, is_same_origin, query_params
from app.sessions import Session, require_session
from app.uploads.images import ImageRejected, process_image
from app.uploads.links import sanitize_filename
from app.uploads.multipart import (
    MultipartError,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    boundary_from_content_type,
)
from app.uploads.sniff import SNIFF_BYTES, Sniffed, TextValidator, looks_like_markup, sniff
from app.uploads.store import (
    MAX_LINK_TTL_SECONDS,
    StreamingPut,
    UploadConfig,
    describe,
    finish_delete,
    mark_ready,
    object_key,
    signing_key,
    used_bytes,
)

__all__ = ["create_upload", "delete_upload", "get_upload", "list_uploads"]

#: Room for the multipart envelope (boundaries, part headers, small fields) above the file's limit.
FORM_OVERHEAD_BYTES = 64 * 1024
#: Types a client may declare that we can compare with the sniffed one (others are not checked).
_CHECKED_DECLARED = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
}
_COLUMNS = (
    "id, owner, name, kind, content_type, size, sha256, width, height, variants, private, state,"
    " upload_id, created_at"
)


def _check_origin(request: Request, env: Any) -> None:
    if not is_same_origin(request, str(getattr(env, "ALLOWED_ORIGINS", "") or "")):
        raise HttpError(403, "forbidden_origin", "this origin may not change uploads")


async def _raw_source(request: Request) -> AsyncIterator[bytes]:
    if request.body is None:
        return
    async for chunk in request.body:
        if chunk:
            yield bytes(chunk)


class _FormFile:
    """The ``file`` part of a streamed multipart form: its name and type, then its bytes."""

    def __init__(self, request: Request, boundary: str) -> None:
        self.parser = MultipartParser(boundary)
        self.body = _raw_source(request)
        self.pending: list[Any] = []
        self.filename: str | None = None
        self.content_type = ""

    async def _events(self) -> AsyncIterator[Any]:
        while True:
            while self.pending:
                yield self.pending.pop(0)
            chunk = await anext(self.body, None)
            if chunk is None:
                self.parser.close()
                return
            self.pending = self.parser.feed(chunk)

    async def start(self) -> None:
        """Skip to the part named ``file``; ``HttpError`` if there is none."""
        async for event in self._events():
            if isinstance(event, PartStart) and event.name == "file":
                self.filename = event.filename
                self.content_type = event.content_type
                return
        raise HttpError(400, "missing_file", "the form has no part named 'file'")

    async def chunks(self) -> AsyncIterator[bytes]:
        async for event in self._events():
            if isinstance(event, PartData):
                yield event.data
            elif isinstance(event, PartEnd):
                break
        # The rest of the form is read (and checked for its final boundary) but ignored.
        async for _ in self._events():
            pass


def _declared_type(value: str) -> str:
    return value.split(";")[0].strip().lower()


async def create_upload(request: Request, env: Any, ctx: Any) -> Response:
    session = await require_session(env, request)
    _check_origin(request, env)
    config = UploadConfig.from_env(env)
    params = query_params(request)
    declared_length = request.headers.get("content-length")
    content_type = request.headers.get("content-type") or ""
    is_form = _declared_type(content_type) == "multipart/form-data"
    limit = config.max_bytes + (FORM_OVERHEAD_BYTES if is_form else 0)
    if declared_length is not None and declared_length.isdigit() and int(declared_length) > limit:
        raise HttpError(413, "too_large", f"files are limited to {config.max_bytes} bytes")
    used = await used_bytes(env, session.user_id)
    if used >= config.quota_bytes or (
        not is_form
        and declared_length
        and declared_length.isdigit()
        and used + int(declared_length) > config.quota_bytes
    ):
        raise HttpError(
            413, "quota_exceeded", f"your uploads are limited to {config.quota_bytes} bytes"
        )
    try:
        if is_form:
            form = _FormFile(request, boundary_from_content_type(content_type))
            await form.start()
            filename, declared, source = form.filename, form.content_type, form.chunks()
        else:
            filename = params.get("name") or _filename_from_disposition(request)
            declared, source = content_type, _raw_source(request)
        row = await _receive(
            env,
            session,
            config,
            source,
            sanitize_filename(filename),
            _declared_type(declared),
            params.get("private") in ("1", "true"),
            used,
            int(declared_length)
            if declared_length and declared_length.isdigit() and not is_form
            else None,
        )
    except MultipartError as exc:
        raise HttpError(400, exc.code, str(exc)) from None
    key = await signing_key(env) if row["private"] else None
    return Response.json({"upload": describe(row, key, now_ms(env) / 1000)}, status=201)


def _filename_from_disposition(request: Request) -> str | None:
    value = request.headers.get("content-disposition")
    if not value:
        return None
    from app.uploads.multipart import _params  # the same RFC 2231-aware parameter parsing

    try:
        params = _params(value)[1]
    except MultipartError:
        return None
    return params.get("filename*") or params.get("filename")


async def _head_and_rest(source: AsyncIterator[bytes]) -> tuple[bytes, AsyncIterator[bytes]]:
    """At least ``SNIFF_BYTES`` leading bytes (fewer only at the end), and an iterator of the rest."""
    head = bytearray()
    async for chunk in source:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    return bytes(head), source


def _classify(head: bytes, declared: str, config: UploadConfig) -> Sniffed:
    if not head:
        raise HttpError(400, "empty_file", "the file is empty")
    found = sniff(head)
    if found is not None and found.kind in ("image", "pdf") and looks_like_markup(head):
        raise HttpError(415, "polyglot", "the file is also valid HTML/SVG/XML and is refused")
    if found is not None and found.kind == "text" and looks_like_markup(head):
        found = None  # HTML, SVG and XML are never accepted as text
    if found is None:
        if config.other_types != "attachment":
            raise HttpError(
                415,
                "unsupported_type",
                "only PNG, JPEG, GIF, WebP, PDF and plain text are accepted",
            )
        return Sniffed("attachment", "application/octet-stream")
    if declared in _CHECKED_DECLARED and declared != found.content_type.split(";")[0]:
        raise HttpError(
            415,
            "type_mismatch",
            f"the file was declared {declared} but its bytes are {found.content_type}",
        )
    return found


async def _receive(
    env: Any,
    session: Session,
    config: UploadConfig,
    source: AsyncIterator[bytes],
    name: str,
    declared: str,
    private: bool,
    used: int,
    expected_length: int | None,
) -> Any:
    head, rest = await _head_and_rest(source)
    found = _classify(head, declared, config)
    file_id = "f_" + secrets.token_hex(12)
    now = now_ms(env)
    await (
        env.DB.prepare(
            "INSERT INTO uploads (id, owner, name, kind, content_type, private, state, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, 'uploading', ?, ?)"
        )
        .bind(
            file_id, session.user_id, name, found.kind, found.content_type, int(private), now, now
        )
        .run()
    )

    async def remember_upload(upload_id: str) -> None:
        await (
            env.DB.prepare("UPDATE uploads SET upload_id = ? WHERE id = ?")
            .bind(upload_id, file_id)
            .run()
        )

    writer = StreamingPut(
        env.UPLOADS,
        object_key(file_id),
        found.content_type,
        {"uploader": session.user_id, "name": name[:200]},
        remember_upload,
    )
    limit = min(config.max_bytes, config.quota_bytes - used)
    digest = hashlib.sha256()
    text = TextValidator() if found.kind == "text" else None
    image = bytearray() if found.kind == "image" else None
    size = 0
    written: list[str] = []
    try:
        chunk: bytes | None = head
        while chunk is not None:
            size += len(chunk)
            if size > limit:
                if size > config.max_bytes:
                    raise HttpError(
                        413, "too_large", f"files are limited to {config.max_bytes} bytes"
                    )
                raise HttpError(
                    413, "quota_exceeded", f"your uploads are limited to {config.quota_bytes} bytes"
                )
            digest.update(chunk)
            if text is not None and not text.feed(chunk):
                raise HttpError(
                    415, "bad_text", "the text is not valid UTF-8 without control characters"
                )
            if image is not None:
                image += chunk
            await writer.write(chunk)
            chunk = await anext(rest, None)
        if expected_length is not None and size != expected_length:
            raise HttpError(
                400, "truncated", f"the body ended after {size} of {expected_length} bytes"
            )
        if text is not None and not text.close():
            raise HttpError(415, "bad_text", "the text ends in the middle of a UTF-8 character")
        width = height = None
        variants: list[str] = []
        if image is not None:
            try:
                processed = process_image(bytes(image), found.image_format or "")
            except ImageRejected as exc:
                raise HttpError(422, exc.code, str(exc)) from None
            image.clear()
            width, height = processed.width, processed.height
            for variant in processed.variants:
                key = object_key(file_id, variant.name)
                written.append(key)
                await env.UPLOADS.put(
                    key, variant.data, httpMetadata={"contentType": variant.content_type}
                )
                variants.append(variant.name)
        sha256 = digest.hexdigest()
        stored = await writer.finish(sha256)
        await mark_ready(
            env,
            file_id,
            size=size,
            etag=stored.httpEtag,
            width=width,
            height=height,
            variants=variants,
            sha256=sha256,
        ).run()
    except BaseException:
        await writer.abort()
        await _discard(env, file_id)
        raise
    return await _row(env, file_id)


async def _discard(env: Any, file_id: str) -> None:
    """Remove a failed upload now; if that fails too, the row stays ``deleting`` for the sweeper."""
    await env.DB.prepare("UPDATE uploads SET state = 'deleting' WHERE id = ?").bind(file_id).run()
    row = (
        await env.DB.prepare("SELECT id, upload_id FROM uploads WHERE id = ?").bind(file_id).first()
    )
    if row is not None:
        await finish_delete(env, row)


async def _row(env: Any, file_id: str) -> Any:
    return (
        await env.DB.prepare(f"SELECT {_COLUMNS} FROM uploads WHERE id = ?").bind(file_id).first()
    )


async def _owned(env: Any, session: Session, file_id: str) -> Any:
    row = await _row(env, file_id)
    if row is None or row["state"] == "deleting":
        raise HttpError(404, "not_found", "no such upload")
    if row["owner"] != session.user_id:
        raise HttpError(403, "forbidden", "this upload belongs to someone else")
    return row


def _ttl(request: Request) -> int:
    raw = query_params(request).get("ttl", "")
    if not raw:
        return 3600
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LINK_TTL_SECONDS:
        raise HttpError(400, "bad_request", f"ttl must be 1-{MAX_LINK_TTL_SECONDS} seconds")
    return int(raw)


async def get_upload(request: Request, env: Any, ctx: Any, file_id: str) -> Response:
    """The owner's view of an upload, with fresh signed links (``?ttl=`` seconds, default 1 hour)."""
    session = await require_session(env, request)
    row = await _owned(env, session, file_id)
    key = await signing_key(env)
    return Response.json({"upload": describe(row, key, now_ms(env) / 1000, _ttl(request))})


async def list_uploads(request: Request, env: Any, ctx: Any) -> Response:
    session = await require_session(env, request)
    rows = (
        await env.DB.prepare(
            f"SELECT {_COLUMNS} FROM uploads WHERE owner = ? AND state = 'ready'"
            " ORDER BY created_at DESC LIMIT 100"
        )
        .bind(session.user_id)
        .all()
    )["results"]
    key = await signing_key(env)
    now = now_ms(env) / 1000
    return Response.json(
        {
            "uploads": [describe(row, key, now) for row in rows],
            "used_bytes": await used_bytes(env, session.user_id),
        }
    )


async def delete_upload(request: Request, env: Any, ctx: Any, file_id: str) -> Response:
    """Owner only: the row is marked ``deleting`` (downloads stop at once), R2 objects go, then the row."""
    session = await require_session(env, request)
    _check_origin(request, env)
    await _owned(env, session, file_id)
    await (
        env.DB.prepare("UPDATE uploads SET state = 'deleting', updated_at = ? WHERE id = ?")
        .bind(now_ms(env), file_id)
        .run()
    )
    row = (
        await env.DB.prepare("SELECT id, upload_id FROM uploads WHERE id = ?").bind(file_id).first()
    )
    if row is not None and not await finish_delete(env, row):
        return Response.json({"status": "deleting"}, status=202)
    return Response(None, status=204)
