"""R2: object storage with Cloudflare's R2 binding API (``env.UPLOADS.put/get/list/...``).

``open_r2_bucket(url, clock=..., name=...)`` builds a binding over the backend the URL names
(``memory:``, ``file:///dir``, ``s3://bucket?endpoint_url=...``) without doing any I/O.
"""

from __future__ import annotations

from ..clock import Clock
from .backend import R2Backend
from .backends import open_r2_backend
from .binding import R2Bucket, R2MultipartUpload
from .errors import (
    BadDigest,
    BadUpload,
    EntityTooLarge,
    EntityTooSmall,
    InternalError,
    InvalidArgument,
    InvalidMaxKeys,
    InvalidObjectName,
    InvalidPart,
    InvalidRange,
    MetadataTooLarge,
    NoSuchKey,
    NoSuchUpload,
    PreconditionFailed,
    R2Error,
    R2HeaderError,
    R2RangeError,
    R2TypeError,
)
from .objects import R2Checksums, R2Object, R2ObjectBody

__all__ = [
    "BadDigest",
    "BadUpload",
    "EntityTooLarge",
    "EntityTooSmall",
    "InternalError",
    "InvalidArgument",
    "InvalidMaxKeys",
    "InvalidObjectName",
    "InvalidPart",
    "InvalidRange",
    "MetadataTooLarge",
    "NoSuchKey",
    "NoSuchUpload",
    "PreconditionFailed",
    "R2Backend",
    "R2Bucket",
    "R2Checksums",
    "R2Error",
    "R2HeaderError",
    "R2MultipartUpload",
    "R2Object",
    "R2ObjectBody",
    "R2RangeError",
    "R2TypeError",
    "open_r2_backend",
    "open_r2_bucket",
]


def open_r2_bucket(url: str, *, clock: Clock, name: str) -> R2Bucket:
    """The R2 binding ``name`` over the backend ``url`` names; no I/O until first use."""
    return R2Bucket(open_r2_backend(url), clock=clock, name=name)
