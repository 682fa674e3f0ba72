"""Decide a file's type from its first bytes (sans-I/O): never from its name or a client's header."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = [
    "SNIFF_BYTES",
    "Sniffed",
    "TextValidator",
    "has_control_bytes",
    "looks_like_markup",
    "sniff",
]

#: How many leading bytes ``sniff`` needs (fewer only when the whole file is shorter).
SNIFF_BYTES = 1024

#: Markers of HTML, SVG or XML: a file whose first bytes contain one could run in a browser.
_MARKUP = (
    b"<!doctype",
    b"<html",
    b"<head",
    b"<body",
    b"<script",
    b"<svg",
    b"<iframe",
    b"<object",
    b"<embed",
    b"<?xml",
    b"<meta",
    b"<a ",
    b"<img",
    b"<style",
    b"<xsl",
    b"<!--",
    b"<?php",
)


_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Sniffed:
    """``kind`` is ``image``, ``pdf`` or ``text``; ``content_type`` the type we serve it with."""

    kind: str
    content_type: str
    image_format: str | None = None


def looks_like_markup(head: bytes) -> bool:
    """Whether ``head`` holds a tag a browser would treat as HTML, SVG or XML (a polyglot's sign)."""
    lowered = head.lower()
    return any(marker in lowered for marker in _MARKUP)


def sniff(head: bytes) -> Sniffed | None:
    """The type of a file from its first ``SNIFF_BYTES`` bytes, or ``None`` when unsupported."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image", "image/png", "PNG")
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image", "image/jpeg", "JPEG")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return Sniffed("image", "image/gif", "GIF")
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image", "image/webp", "WEBP")
    if head.startswith(b"%PDF-"):
        return Sniffed("pdf", "application/pdf")
    if _is_text(head):
        return Sniffed("text", "text/plain; charset=utf-8")
    return None


def has_control_bytes(chunk: bytes) -> bool:
    """Whether ``chunk`` holds a C0 control (other than tab, LF, FF, CR) or DEL."""
    return _CONTROL.search(chunk) is not None


def _is_text(head: bytes) -> bool:
    """UTF-8 (a cut character at the end is fine) without NUL or other C0 controls but tab/CR/LF/FF."""
    if not head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head.removeprefix(codecs.BOM_UTF8))
    except UnicodeDecodeError:
        return False
    return _CONTROL.search(head) is None


class TextValidator:
    """Checks a whole ``text/plain`` stream chunk by chunk: valid UTF-8 and no control bytes."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, chunk: bytes) -> bool:
        try:
            self._decoder.decode(chunk)
        except UnicodeDecodeError:
            return False
        return _CONTROL.search(chunk) is None

    def close(self) -> bool:
        try:
            self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
        return True
