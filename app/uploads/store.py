"""Uploads in R2 and D1: configuration, the signing key, streaming writes, rows, deletes and the sweeper."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from app.clock import now_ms
from app.uploads.links import sign

__all__ = [
    "mark_ready",
    "PART_BYTES",
    "StreamingPut",
    "UploadConfig",
    "describe",
    "finish_delete",
    "object_key",
    "object_keys",
    "signing_key",
    "sweep",
    "used_bytes",
]

log = logging.getLogger("edgeroom.uploads")

MiB = 1024 * 1024
#: Size of each R2 multipart part while streaming an upload (R2: >= 5 MiB, all but the last equal).
PART_BYTES = 8 * MiB
DEFAULT_MAX_BYTES = 25 * MiB
DEFAULT_QUOTA_BYTES = 1024 * MiB
DEFAULT_LINK_TTL_SECONDS = 3600
MAX_LINK_TTL_SECONDS = 7 * 24 * 3600
#: An upload still 'uploading' after this long was abandoned (a resumable one: since its last part).
DEFAULT_STALE_SECONDS = 24 * 3600
VARIANT_NAMES = ("256", "1024")


def _int_var(env: Any, name: str, default: int) -> int:
    value = getattr(env, name, None)
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class UploadConfig:
    """From ``[vars]``: ``UPLOAD_MAX_BYTES``, ``UPLOAD_QUOTA_BYTES``, ``UPLOAD_OTHER_TYPES`` (reject|attachment)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    multipart_max_bytes: int = 5 * 1024 * MiB
    quota_bytes: int = DEFAULT_QUOTA_BYTES
    other_types: str = "reject"
    stale_seconds: int = DEFAULT_STALE_SECONDS

    @classmethod
    def from_env(cls, env: Any) -> UploadConfig:
        other = str(getattr(env, "UPLOAD_OTHER_TYPES", "") or "reject").strip().lower()
        return cls(
            max_bytes=_int_var(env, "UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES),
            multipart_max_bytes=_int_var(env, "UPLOAD_MULTIPART_MAX_BYTES", 5 * 1024 * MiB),
            quota_bytes=_int_var(env, "UPLOAD_QUOTA_BYTES", DEFAULT_QUOTA_BYTES),
            other_types="attachment" if other == "attachment" else "reject",
            stale_seconds=_int_var(env, "UPLOAD_STALE_SECONDS", DEFAULT_STALE_SECONDS),
        )


def object_key(file_id: str, variant: str = "original") -> str:
    return f"files/{file_id}/{variant}"


def object_keys(file_id: str) -> list[str]:
    """Every key an upload may have written (deleting one that does not exist is a no-op)."""
    return [object_key(file_id)] + [object_key(file_id, name) for name in VARIANT_NAMES]


def mark_ready(
    env: Any,
    file_id: str,
    *,
    size: int,
    etag: str,
    width: int | None,
    height: int | None,
    variants: list[str],
    sha256: str | None = None,
) -> Any:
    """The statement that makes an upload visible: state ``ready`` with its final size and variants.

    ``sha256`` is None for resumable uploads, whose parts are hashed by no one (docs/uploads.md).
    """
    return env.DB.prepare(
        "UPDATE uploads SET state = 'ready', size = ?, sha256 = ?, etag = ?, width = ?, height = ?,"
        " variants = ?, upload_id = NULL, updated_at = ? WHERE id = ?"
    ).bind(size, sha256, etag, width, height, ",".join(variants), now_ms(env), file_id)


async def signing_key(env: Any) -> bytes:
    """``SIGNING_KEY`` (a var or secret) when set; else a key generated once and kept in D1."""
    configured = getattr(env, "SIGNING_KEY", None)
    if configured:
        return str(configured).encode()
    await (
        env.DB.prepare(
            "INSERT INTO app_secrets (name, value, created_at) VALUES ('signing_key', ?, ?)"
            " ON CONFLICT (name) DO NOTHING"
        )
        .bind(secrets.token_hex(32), now_ms(env))
        .run()
    )
    value = await env.DB.prepare("SELECT value FROM app_secrets WHERE name = 'signing_key'").first(
        "value"
    )
    return str(value).encode()


async def used_bytes(env: Any, owner: str) -> int:
    """Bytes counted against ``owner``'s quota (finished uploads and parts of unfinished ones)."""
    row = (
        await env.DB.prepare(
            "SELECT COALESCE(SUM(size), 0) AS used FROM uploads WHERE owner = ? AND state != 'deleting'"
        )
        .bind(owner)
        .first()
    )
    return int(row["used"]) if row else 0


def describe(
    row: Any, key: bytes | None, now_s: float, ttl: int = DEFAULT_LINK_TTL_SECONDS
) -> dict[str, Any]:
    """The JSON view of an upload row; ``key`` signs the links (required for private files)."""
    file_id = str(row["id"])
    variants = [v for v in str(row["variants"] or "").split(",") if v]
    expires = int(now_s) + ttl

    def link(variant: str) -> str:
        path = f"/files/{file_id}" + ("" if variant == "original" else f"/{variant}")
        if not row["private"] or key is None:
            return path
        return f"{path}?exp={expires}&sig={sign(key, file_id, variant, expires)}"

    return {
        "id": file_id,
        "name": row["name"],
        "kind": row["kind"],
        "content_type": row["content_type"],
        "size": row["size"],
        "sha256": row["sha256"],
        "width": row["width"],
        "height": row["height"],
        "private": bool(row["private"]),
        "state": row["state"],
        "created_at": row["created_at"],
        "links": {
            "self": f"/api/uploads/{file_id}",
            "file": link("original"),
            "variants": {v: link(v) for v in variants},
            **({"expires_at": expires} if row["private"] and key is not None else {}),
        },
    }


class StreamingPut:
    """Writes a stream of chunks to one R2 key holding at most ``PART_BYTES`` in memory.

    Up to ``PART_BYTES`` it is one ``put`` (with its SHA-256 checked by R2); above, an R2 multipart
    upload of equal parts whose id is reported through ``on_multipart`` so a sweeper can abort it.
    """

    def __init__(
        self, bucket: Any, key: str, content_type: str, custom: dict[str, str], on_multipart: Any
    ) -> None:
        self.bucket = bucket
        self.key = key
        self.content_type = content_type
        self.custom = custom
        self.on_multipart = on_multipart
        self.upload: Any = None
        self.parts: list[Any] = []
        self.buffer = bytearray()

    async def write(self, chunk: bytes) -> None:
        self.buffer += chunk
        while len(self.buffer) >= PART_BYTES:
            if self.upload is None:
                self.upload = await self.bucket.createMultipartUpload(
                    self.key,
                    httpMetadata={"contentType": self.content_type},
                    customMetadata=self.custom,
                )
                await self.on_multipart(self.upload.uploadId)
            part = bytes(self.buffer[:PART_BYTES])
            del self.buffer[:PART_BYTES]
            self.parts.append(await self.upload.uploadPart(len(self.parts) + 1, part))

    async def finish(self, sha256_hex: str) -> Any:
        """The stored ``R2Object``."""
        if self.upload is None:
            return await self.bucket.put(
                self.key,
                bytes(self.buffer),
                httpMetadata={"contentType": self.content_type},
                customMetadata={**self.custom, "sha256": sha256_hex},
                sha256=sha256_hex,
            )
        if self.buffer:
            self.parts.append(await self.upload.uploadPart(len(self.parts) + 1, bytes(self.buffer)))
            self.buffer.clear()
        return await self.upload.complete(self.parts)

    async def abort(self) -> None:
        self.buffer.clear()
        if self.upload is not None:
            try:
                await self.upload.abort()
            except Exception:  # the sweeper retries from the row's upload_id
                log.warning("aborting multipart upload of %s failed", self.key, exc_info=True)


async def finish_delete(env: Any, row: Any) -> bool:
    """Remove an upload marked ``deleting``: R2 objects first, then the row. ``False`` if R2 failed."""
    file_id = str(row["id"])
    try:
        if row["upload_id"]:
            await env.UPLOADS.resumeMultipartUpload(object_key(file_id), row["upload_id"]).abort()
        await env.UPLOADS.delete(object_keys(file_id))
    except Exception:
        log.warning(
            "deleting the objects of upload %s failed; the sweeper retries", file_id, exc_info=True
        )
        return False
    await env.DB.batch(
        [
            env.DB.prepare("DELETE FROM upload_parts WHERE upload = ?").bind(file_id),
            env.DB.prepare("DELETE FROM uploads WHERE id = ? AND state = 'deleting'").bind(file_id),
        ]
    )
    return True


async def sweep(env: Any, limit: int = 100) -> int:
    """Finish half-done deletes and remove abandoned uploads (a cron trigger calls it). Returns how many."""
    stale_before = now_ms(env) - UploadConfig.from_env(env).stale_seconds * 1000
    await (
        env.DB.prepare(
            "UPDATE uploads SET state = 'deleting', updated_at = ? WHERE state = 'uploading' AND updated_at < ?"
        )
        .bind(now_ms(env), stale_before)
        .run()
    )
    rows = (
        await env.DB.prepare(
            "SELECT id, upload_id FROM uploads WHERE state = 'deleting' ORDER BY updated_at LIMIT ?"
        )
        .bind(limit)
        .all()
    )["results"]
    done = 0
    for row in rows:
        done += await finish_delete(env, row)
    return done
