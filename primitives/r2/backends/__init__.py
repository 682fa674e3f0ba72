"""``open_r2_backend(url)``: the one place a URL scheme becomes a backend class.

* ``memory:``                      -- in this process
* ``file:///abs/dir``              -- embedded default: files + a SQLite index under ``dir``
* ``s3://bucket?endpoint_url=...`` -- any S3-compatible service through boto3 (``region``,
  ``access_key_id``, ``secret_access_key`` in the query, else the standard AWS variables)

Opening does no I/O; each backend opens its storage on first use.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from ...errors import ConfigError, UnsupportedBackend
from ..backend import R2Backend

__all__ = ["open_r2_backend"]


def open_r2_backend(url: str) -> R2Backend:
    scheme = url.partition(":")[0].lower()
    if scheme == "memory":
        from .memory import MemoryR2Backend

        return MemoryR2Backend()
    if scheme == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"file URL for R2 must be file:///absolute/dir, got {url!r}")
        path = unquote(parts.path)
        if not path or path == "/":
            raise ConfigError(f"file URL for R2 names no directory: {url!r}")
        from .file import FileR2Backend

        return FileR2Backend(path)
    if scheme == "s3":
        from .s3 import S3R2Backend

        return S3R2Backend.from_url(url)
    raise UnsupportedBackend(f"unsupported backend {scheme!r} for R2: {url}")
