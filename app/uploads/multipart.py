"""A streaming ``multipart/form-data`` parser (sans-I/O): bytes in, part events out, bounded memory.

``request.form_data()`` buffers the whole body; this parser keeps at most one part's headers and
one boundary's length of data, whatever the size of the files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_PARTS",
    "MultipartError",
    "MultipartParser",
    "PartData",
    "PartEnd",
    "PartStart",
    "boundary_from_content_type",
]

MAX_HEADER_BYTES = 8 * 1024
MAX_PARTS = 32
_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")


class MultipartError(ValueError):
    """The body is not well-formed ``multipart/form-data``; ``code`` is the API's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class PartStart:
    name: str
    filename: str | None
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PartData:
    data: bytes


@dataclass(frozen=True)
class PartEnd:
    pass


Event = PartStart | PartData | PartEnd


_PARAM = re.compile(r';\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _params(value: str) -> tuple[str, dict[str, str]]:
    """A header value's main value and lower-cased parameters (RFC 2231 ``name*`` decoded)."""
    main, sep, rest = value.partition(";")
    params: dict[str, str] = {}
    rest = sep + rest
    position = 0
    while position < len(rest.rstrip()):
        found = _PARAM.match(rest, position)
        if found is None:
            raise MultipartError("bad_multipart", "a header's parameters are malformed")
        position = found.end()
        key, raw = found.group(1).lower(), found.group(2).strip()
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        if key.endswith("*"):
            charset, _, encoded = raw.partition("'")
            _, _, encoded = encoded.partition("'")
            try:
                raw = unquote_to_bytes(encoded).decode(charset or "utf-8")
            except (LookupError, UnicodeError):
                raise MultipartError("bad_multipart", "a part header is not decodable") from None
        params[key] = raw
    return main.strip().lower(), params


def boundary_from_content_type(content_type: str) -> str:
    """The boundary of a ``multipart/form-data`` Content-Type, checked against RFC 2046."""
    main, params = _params(content_type)
    if main != "multipart/form-data":
        raise MultipartError("bad_multipart", "the content type is not multipart/form-data")
    boundary = params.get("boundary", "")
    if not _BOUNDARY.match(boundary):
        raise MultipartError("bad_multipart", "the multipart boundary is missing or invalid")
    return boundary


class MultipartParser:
    """``feed(chunk)`` returns events; ``close()`` checks the body ended with the final boundary."""

    def __init__(
        self, boundary: str, *, max_header_bytes: int = MAX_HEADER_BYTES, max_parts: int = MAX_PARTS
    ) -> None:
        self._first = b"--" + boundary.encode("latin-1")
        self._delimiter = b"\r\n" + self._first
        self._max_header_bytes = max_header_bytes
        self._max_parts = max_parts
        self._buffer = bytearray()
        self._state = "preamble"
        self._parts = 0
        self._preamble_seen = 0

    @property
    def done(self) -> bool:
        return self._state == "epilogue"

    def feed(self, chunk: bytes) -> list[Event]:
        if self._state == "epilogue":
            return []
        self._buffer += chunk
        events: list[Event] = []
        while self._step(events):
            pass
        return events

    def close(self) -> None:
        if self._state != "epilogue":
            raise MultipartError("truncated", "the multipart body ended before its final boundary")

    def _step(self, events: list[Event]) -> bool:
        """Advance one state if the buffer allows it; ``False`` when more bytes are needed."""
        buf = self._buffer
        if self._state == "preamble":
            # The first boundary may start the body or follow a (discarded) preamble line.
            if buf.startswith(self._first):
                del buf[: len(self._first)]
                self._state = "after_boundary"
                return True
            at = buf.find(self._delimiter)
            if at < 0:
                keep = len(self._delimiter)
                self._preamble_seen += max(0, len(buf) - keep)
                if self._preamble_seen > self._max_header_bytes:
                    raise MultipartError("bad_multipart", "no multipart boundary found")
                del buf[: max(0, len(buf) - keep)]
                return False
            del buf[: at + len(self._delimiter)]
            self._state = "after_boundary"
            return True
        if self._state == "after_boundary":
            if len(buf) < 2:
                return False
            if buf[:2] == b"--":
                del buf[:]
                self._state = "epilogue"
                return False
            # Transport padding (spaces/tabs) may precede the CRLF.
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > 256:
                    raise MultipartError("bad_multipart", "a multipart boundary line is malformed")
                return False
            if buf[:end].strip(b" \t"):
                raise MultipartError("bad_multipart", "a multipart boundary line is malformed")
            del buf[: end + 2]
            self._parts += 1
            if self._parts > self._max_parts:
                raise MultipartError("bad_multipart", f"more than {self._max_parts} parts")
            self._state = "headers"
            return True
        if self._state == "headers":
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self._max_header_bytes:
                    raise MultipartError("bad_multipart", "a part's headers are too large")
                return False
            if end > self._max_header_bytes:
                raise MultipartError("bad_multipart", "a part's headers are too large")
            events.append(self._part_start(bytes(buf[:end])))
            del buf[: end + 4]
            self._state = "body"
            return True
        if self._state == "body":
            at = buf.find(self._delimiter)
            if at < 0:
                # Keep a delimiter's length minus one: it might be split across chunks.
                safe = len(buf) - (len(self._delimiter) - 1)
                if safe > 0:
                    events.append(PartData(bytes(buf[:safe])))
                    del buf[:safe]
                return False
            if at:
                events.append(PartData(bytes(buf[:at])))
            events.append(PartEnd())
            del buf[: at + len(self._delimiter)]
            self._state = "after_boundary"
            return True
        return False

    def _part_start(self, raw: bytes) -> PartStart:
        headers: dict[str, str] = {}
        if raw:
            for line in raw.split(b"\r\n"):
                name, sep, value = line.partition(b":")
                if not sep or not name or name != name.strip() or b" " in name:
                    raise MultipartError("bad_multipart", "a part header line is malformed")
                try:
                    text = value.decode("utf-8").strip()
                except UnicodeDecodeError:
                    raise MultipartError("bad_multipart", "a part header is not UTF-8") from None
                headers[name.decode("latin-1").lower()] = text
        disposition = headers.get("content-disposition")
        if disposition is None:
            raise MultipartError("bad_multipart", "a part has no Content-Disposition")
        kind, params = _params(disposition)
        if kind != "form-data" or "name" not in params:
            raise MultipartError("bad_multipart", "a part's Content-Disposition is not form-data")
        filename = params.get("filename*") or params.get("filename")
        return PartStart(
            params["name"],
            filename,
            headers.get("content-type", "text/plain" if filename is None else ""),
            headers,
        )
