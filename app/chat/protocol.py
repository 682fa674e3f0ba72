"""Wire messages of the chat protocol (docs/protocol.md): parsing client frames, building server frames.

``parse_client_frame`` turns one text frame into a typed message or raises ``ProtocolError`` with
the error code the client receives. Type strings are defined once here and once in
``web/protocol.js``; a test keeps the two in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from app import _json

__all__ = [
    "CLIENT_TYPES",
    "ERROR_CODES",
    "MAX_ATTACHMENTS",
    "MAX_FRAME_BYTES",
    "MAX_HELLO_PARAM_CHARS",
    "MAX_TEXT_CHARS",
    "SERVER_TYPES",
    "ChatDelete",
    "ChatEdit",
    "ChatSend",
    "ClientMessage",
    "Hello",
    "Ping",
    "ProtocolError",
    "Resume",
    "ResumePoint",
    "Typing",
    "encode",
    "error_frame",
    "parse_client_frame",
    "parse_hello_param",
    "hello_param",
]

MAX_FRAME_BYTES = 16 * 1024
MAX_TEXT_CHARS = 4000
MAX_DEVICE_CHARS = 64
#: The ``hello`` query parameter of a WebSocket upgrade, in characters (after URL decoding).
MAX_HELLO_PARAM_CHARS = 1024
_NONCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Attachments: ids of the sender's own public uploads (docs/uploads.md).
MAX_ATTACHMENTS = 4
_UPLOAD_ID = re.compile(r"^f_[0-9a-f]{24}$")

CLIENT_TYPES = ("hello", "chat.send", "chat.edit", "chat.delete", "typing", "resume", "ping")
SERVER_TYPES = (
    "welcome",
    "chat.message",
    "chat.edited",
    "chat.deleted",
    "chat.ack",
    "presence.join",
    "presence.leave",
    "presence.diff",
    "presence.count",
    "presence.roster",
    "typing",
    "resumed",
    "pong",
    "error",
    "batch",  # several of the above in one message, for a client that said hello.batch
    # Feature flags (docs/flags.md)
    "flags.changed",
)
ERROR_CODES = (
    "bad_json",
    "bad_message",
    "too_long",
    "rate_limited",
    "not_author",
    "not_found",
    "bad_nonce",
    "disabled",
    # Attachments (docs/uploads.md).
    "bad_attachment",
)


class ProtocolError(ValueError):
    """A frame the room refuses; ``code`` is one of ``ERROR_CODES``."""

    def __init__(self, code: str, message: str, *, nonce: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.nonce = nonce


@dataclass(frozen=True)
class ResumePoint:
    epoch: str
    seq: int


@dataclass(frozen=True)
class Hello:
    resume: ResumePoint | None
    device: str | None
    batch: bool = False  # the client takes ``batch`` messages (docs/protocol.md)


@dataclass(frozen=True)
class ChatSend:
    nonce: str
    text: str
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChatEdit:
    nonce: str
    target: int
    text: str


@dataclass(frozen=True)
class ChatDelete:
    nonce: str
    target: int


@dataclass(frozen=True)
class Typing:
    active: bool


@dataclass(frozen=True)
class Resume:
    point: ResumePoint


@dataclass(frozen=True)
class Ping:
    pass


ClientMessage = Hello | ChatSend | ChatEdit | ChatDelete | Typing | Resume | Ping


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError("bad_message", f"{data.get('type')}: {name!r} must be {what}")
    return value


def _nonce(data: dict[str, Any]) -> str:
    nonce = data.get("nonce")
    if not isinstance(nonce, str) or not _NONCE.match(nonce):
        raise ProtocolError(
            "bad_nonce", "nonce must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'"
        )
    return nonce


def _text(data: dict[str, Any], nonce: str) -> str:
    text = data.get("text")
    if not isinstance(text, str):
        raise ProtocolError(
            "bad_message", f"{data.get('type')}: 'text' must be a string", nonce=nonce
        )
    text = text.strip()
    if not text:
        raise ProtocolError("bad_message", "message text is empty", nonce=nonce)
    if len(text) > MAX_TEXT_CHARS:
        raise ProtocolError(
            "too_long",
            f"message text is {len(text)} characters; the limit is {MAX_TEXT_CHARS}",
            nonce=nonce,
        )
    return text


def _attachments(data: dict[str, Any], nonce: str) -> tuple[str, ...]:
    value = data.get("attachments")
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or not 0 < len(value) <= MAX_ATTACHMENTS
        or not all(isinstance(item, str) and _UPLOAD_ID.match(item) for item in value)
        or len(set(value)) != len(value)
    ):
        raise ProtocolError(
            "bad_attachment",
            f"attachments must be 1-{MAX_ATTACHMENTS} distinct upload ids",
            nonce=nonce,
        )
    return tuple(value)


def _seq(value: Any, name: str, kind: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > 2**53:
        raise ProtocolError("bad_message", f"{kind}: {name!r} must be a non-negative integer")
    return value


def _resume_point(value: Any, kind: str) -> ResumePoint:
    if not isinstance(value, dict):
        raise ProtocolError("bad_message", f"{kind}: resume must be an object {{epoch, seq}}")
    epoch = value.get("epoch")
    if not isinstance(epoch, str) or not 0 < len(epoch) <= 64:
        raise ProtocolError("bad_message", f"{kind}: 'epoch' must be a non-empty string")
    return ResumePoint(epoch, _seq(value.get("seq"), "seq", kind))


def parse_client_frame(frame: str | bytes) -> ClientMessage:
    """Parse one client frame; raises :class:`ProtocolError` naming what is wrong."""
    if isinstance(frame, bytes):
        raise ProtocolError("bad_message", "binary frames are not part of the protocol")
    if len(frame.encode("utf-8")) > MAX_FRAME_BYTES:
        raise ProtocolError("too_long", f"frame is larger than {MAX_FRAME_BYTES} bytes")
    try:
        data = _json.loads(frame)
    except (_json.JSONDecodeError, ValueError):
        raise ProtocolError("bad_json", "frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", "frame must be a JSON object")
    kind = data.get("type")
    if kind == "chat.send":
        nonce = _nonce(data)
        attachments = _attachments(data, nonce)
        if attachments and data.get("text") in (None, ""):
            return ChatSend(nonce, "", attachments)
        return ChatSend(nonce, _text(data, nonce), attachments)
    if kind == "chat.edit":
        nonce = _nonce(data)
        return ChatEdit(nonce, _seq(data.get("target"), "target", kind), _text(data, nonce))
    if kind == "chat.delete":
        return ChatDelete(_nonce(data), _seq(data.get("target"), "target", kind))
    if kind == "typing":
        return Typing(bool(_field(data, "active", bool, "true or false")))
    if kind == "hello":
        return _hello(data)
    if kind == "resume":
        return Resume(_resume_point(data, kind))
    if kind == "ping":
        return Ping()
    if isinstance(kind, str):
        raise ProtocolError("bad_message", f"unknown message type {kind[:40]!r}")
    raise ProtocolError("bad_message", "frame has no 'type'")


def _hello(data: dict[str, Any]) -> Hello:
    resume = data.get("resume")
    device = data.get("device")
    if device is not None and (
        not isinstance(device, str) or not 0 < len(device) <= MAX_DEVICE_CHARS
    ):
        raise ProtocolError(
            "bad_message", f"hello: 'device' must be 1-{MAX_DEVICE_CHARS} characters"
        )
    batch = data.get("batch", False)
    if not isinstance(batch, bool):
        raise ProtocolError("bad_message", "hello: 'batch' must be true or false")
    return Hello(None if resume is None else _resume_point(resume, "hello"), device, batch)


def parse_hello_param(text: str) -> Hello:
    """The ``hello`` of a WebSocket upgrade's URL (``?hello=<the hello frame's JSON>``).

    The same fields and rules as a ``hello`` frame; ``type`` may be left out. Raises
    :class:`ProtocolError` naming what is wrong.
    """
    if len(text) > MAX_HELLO_PARAM_CHARS:
        raise ProtocolError(
            "too_long", f"the hello parameter is longer than {MAX_HELLO_PARAM_CHARS} characters"
        )
    try:
        data = _json.loads(text)
    except (_json.JSONDecodeError, ValueError):
        raise ProtocolError("bad_json", "the hello parameter is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", "the hello parameter must be a JSON object")
    if data.get("type", "hello") != "hello":
        raise ProtocolError("bad_message", "the hello parameter's type must be 'hello'")
    return _hello(data)


def hello_param(hello: Hello) -> str:
    """``hello`` as compact JSON that :func:`parse_hello_param` reads back (no control characters)."""
    fields: dict[str, Any] = {"batch": hello.batch}
    if hello.device is not None:
        fields["device"] = hello.device
    if hello.resume is not None:
        fields["resume"] = {"epoch": hello.resume.epoch, "seq": hello.resume.seq}
    return _json.dumps(fields)


def encode(kind: str, **fields: Any) -> str:
    """One server frame as JSON text."""
    if kind not in SERVER_TYPES:
        raise ValueError(f"not a server message type: {kind!r}")
    return _json.dumps({"type": kind, **fields})


def error_frame(error: ProtocolError, retry_after: float | None = None) -> str:
    fields: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.nonce is not None:
        fields["nonce"] = error.nonce
    if retry_after is not None:
        fields["retry_after"] = round(retry_after, 3)
    return encode("error", **fields)
