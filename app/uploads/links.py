"""Signed links, safe file names, Content-Disposition and Range parsing (sans-I/O)."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from urllib.parse import quote

__all__ = [
    "LinkRejected",
    "content_disposition",
    "parse_range",
    "sanitize_filename",
    "sign",
    "verify",
]

MAX_FILENAME_BYTES = 200
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"*/:<>?\\|]+')


class LinkRejected(Exception):
    """A signed link that must get 403: ``code`` is ``signature_required``, ``bad_signature`` or ``link_expired``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _message(file_id: str, variant: str, expires: int) -> bytes:
    return f"edgeroom-file\n{file_id}\n{variant}\n{expires}".encode()


def sign(key: bytes, file_id: str, variant: str, expires: int) -> str:
    """The hex HMAC-SHA256 that lets ``/files/<file_id>[/<variant>]`` be read until ``expires`` (Unix s)."""
    return hmac.new(key, _message(file_id, variant, expires), hashlib.sha256).hexdigest()


def verify(
    key: bytes, file_id: str, variant: str, expires: str | None, signature: str | None, now: float
) -> None:
    """Raise ``LinkRejected`` unless ``signature`` signs this file and variant and has not expired."""
    if not expires or not signature:
        raise LinkRejected("signature_required", "this file is private: use a signed link")
    if not expires.isdigit() or len(expires) > 12 or not re.fullmatch(r"[0-9a-f]{64}", signature):
        raise LinkRejected("bad_signature", "the link's signature is not valid")
    if not hmac.compare_digest(sign(key, file_id, variant, int(expires)), signature):
        raise LinkRejected("bad_signature", "the link's signature is not valid")
    if int(expires) <= now:
        raise LinkRejected("link_expired", "the link has expired")


def sanitize_filename(name: str | None, fallback: str = "file") -> str:
    """A display name safe everywhere: no directories, controls, reserved characters or leading dots."""
    if not name:
        return fallback
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE_NAME.sub("_", name)
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    name = " ".join(name.split()).lstrip(".").strip(" _")
    encoded = name.encode()
    if len(encoded) > MAX_FILENAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and len(ext.encode()) <= 16 else ""
        budget = MAX_FILENAME_BYTES - len(ext.encode()) - (1 if ext else 0)
        head = (stem if ext else name).encode()[:budget].decode("utf-8", "ignore")
        name = f"{head}.{ext}" if ext else head
    return name or fallback


def content_disposition(disposition: str, filename: str) -> str:
    """``inline`` or ``attachment`` with an ASCII fallback name and the RFC 6266 ``filename*``."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def parse_range(header: str | None, size: int) -> tuple[int, int] | bool | None:
    """A single ``bytes=`` range as ``(offset, length)``; ``None`` to send it all; ``False`` if unsatisfiable.

    Several ranges or a malformed header are ignored (the whole file is sent), as RFC 9110 allows.
    """
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if len(first) > 18 or len(last) > 18:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            return False
        return (max(0, size - suffix), min(suffix, size))
    start = int(first)
    if start >= size:
        return False
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return None
    return (start, end - start + 1)
