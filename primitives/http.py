"""``Request`` and ``Response``: the Fetch API objects as the Python Workers SDK shapes them.

Bodies stream: ``request.body`` is a :class:`~primitives.streams.ReadableStream` read chunk by
chunk, and ``Response(body=<async iterable>)`` streams to the client. ``text()``, ``json()``,
``bytes()`` and ``form_data()`` read the whole body once; a second read raises the Fetch API's
"Body has already been used" ``TypeError``.
"""

from __future__ import annotations

import email.parser
import email.policy
import functools
import json as _json
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import parse_qsl, urlsplit

import orjson

from .errors import BodyError
from .headers import Headers, HeadersInit
from .streams import BODY_USED_MESSAGE, BodyInit, ReadableStream, body_to_stream

if TYPE_CHECKING:
    from .websocket import WebSocket

__all__ = ["File", "FormData", "Request", "Response"]

_NULL_BODY_STATUSES = frozenset({101, 204, 205, 304})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class File:
    """An uploaded file from a multipart form (the Fetch API's ``File``)."""

    def __init__(self, data: bytes, name: str, type: str = "") -> None:
        self._data = data
        self.name = name
        self.type = type

    @property
    def size(self) -> int:
        return len(self._data)

    async def bytes(self) -> bytes:
        return self._data

    async def arrayBuffer(self) -> memoryview:
        return memoryview(self._data)

    async def text(self) -> str:
        return self._data.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        return f"File(name={self.name!r}, type={self.type!r}, size={self.size})"


class FormData:
    """Ordered multi-valued form fields; values are ``str`` or :class:`File`."""

    def __init__(self) -> None:
        self._items: list[tuple[str, str | File]] = []

    def append(self, name: str, value: str | File) -> None:
        self._items.append((name, value))

    def set(self, name: str, value: str | File) -> None:
        self.delete(name)
        self.append(name, value)

    def delete(self, name: str) -> None:
        self._items = [(k, v) for k, v in self._items if k != name]

    def get(self, name: str) -> str | File | None:
        return next((v for k, v in self._items if k == name), None)

    def getAll(self, name: str) -> list[str | File]:
        return [v for k, v in self._items if k == name]

    def has(self, name: str) -> bool:
        return any(k == name for k, _ in self._items)

    def items(self) -> list[tuple[str, str | File]]:
        return list(self._items)

    def keys(self) -> list[str]:
        return [k for k, _ in self._items]

    def __iter__(self) -> Iterator[tuple[str, str | File]]:
        return iter(self._items)

    def __getitem__(self, name: str) -> str | File:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.has(name)


def _parse_form(content_type: str, data: bytes) -> FormData:
    form = FormData()
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "application/x-www-form-urlencoded":
        for key, value in parse_qsl(data.decode("utf-8", errors="replace"), keep_blank_values=True):
            form.append(key, value)
        return form
    if mime != "multipart/form-data" or "boundary=" not in content_type.lower():
        raise TypeError(
            f'Unrecognized Content-Type header value "{content_type}". FormData can only parse the '
            "following MIME types: multipart/form-data, application/x-www-form-urlencoded"
        )
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + data)
    if not message.is_multipart():
        raise TypeError("Failed to parse body as FormData.")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            form.append(name, File(raw, filename, part.get_content_type()))
        else:
            charset = part.get_content_charset() or "utf-8"
            form.append(name, raw.decode(charset, errors="replace"))
    return form


class _Body:
    """The body half of Request and Response."""

    _stream: ReadableStream | None
    _buffer: bytes | None
    _used: bool
    headers: Headers

    def _init_body(self, body: BodyInit) -> None:
        self._stream, self._buffer = body_to_stream(body)
        self._used = False

    @property
    def body(self) -> ReadableStream | None:
        """The body as a stream of ``bytes`` chunks, or None when there is none."""
        return self._stream

    @property
    def bodyUsed(self) -> bool:
        return self._used or (self._stream is not None and self._stream.locked)

    async def bytes(self) -> bytes:
        """Read the whole body."""
        if self.bodyUsed:
            raise BodyError(BODY_USED_MESSAGE)
        self._used = True
        if self._stream is None:
            return b""
        if self._buffer is not None:
            self._stream._locked = True
            return self._buffer
        return await self._stream.read_all()

    async def arrayBuffer(self) -> memoryview:
        return memoryview(await self.bytes())

    async def text(self) -> str:
        return (await self.bytes()).decode("utf-8", errors="replace")

    async def json(self) -> Any:
        data = await self.bytes()
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"Unexpected token in JSON body: {exc}") from None

    async def form_data(self) -> FormData:
        return _parse_form(self.headers.get("content-type") or "", await self.bytes())

    formData = form_data


class Request(_Body):
    """An HTTP request: ``Request(url, method="GET", headers=None, body=None)``.

    ``input`` may be another Request, whose method, headers and body are copied unless given.
    """

    url: str
    method: str
    cf: dict[str, Any]

    def __init__(
        self,
        input: str | Request,
        method: str | None = None,
        headers: HeadersInit = None,
        body: BodyInit = None,
        *,
        cf: Mapping[str, Any] | None = None,
        redirect: str = "follow",
    ) -> None:
        if isinstance(input, Request):
            url = input.url
            method = method or input.method
            headers = input.headers if headers is None else headers
            if body is None and input.body is not None:
                body = input.body
                input._used = True
            cf = cf if cf is not None else input.cf
        else:
            url = str(input)
        self.url = url
        self.method = (method or "GET").upper()
        self.headers = Headers(headers)
        self.cf = dict(cf or {})
        self.redirect = redirect
        if body is not None and self.method in ("GET", "HEAD"):
            raise TypeError("Request with a GET or HEAD method cannot have a body.")
        self._init_body(body)

    @property
    def path(self) -> str:
        """The URL's path (a convenience; not in the Fetch API)."""
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        """The URL's query parameters, last value winning (a convenience)."""
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    def clone(self) -> Request:
        if self._stream is not None and self._buffer is None:
            raise TypeError("cannot clone a Request whose body is a stream")
        return Request(self.url, self.method, self.headers, self._buffer, cf=self.cf)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url}>"


class _ClassOrInstance:
    """``Response.json(data)`` builds a response; ``await response.json()`` reads one (as in JS)."""

    def __init__(self, on_class: Any, on_instance: Any) -> None:
        self._on_class = on_class.__func__ if isinstance(on_class, staticmethod) else on_class
        self._on_instance = on_instance

    @overload
    def __get__(self, instance: None, owner: type) -> Callable[..., Response]: ...

    @overload
    def __get__(self, instance: _Body, owner: type) -> Callable[[], Coroutine[Any, Any, Any]]: ...

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return functools.partial(self._on_class, owner)
        return functools.partial(self._on_instance, instance)


class Response(_Body):
    """An HTTP response: ``Response(body=None, status=200, headers=None, web_socket=None)``."""

    def __init__(
        self,
        body: BodyInit = None,
        status: int = 200,
        headers: HeadersInit = None,
        *,
        status_text: str = "",
        web_socket: WebSocket | None = None,
    ) -> None:
        if not isinstance(status, int) or isinstance(status, bool):
            raise TypeError(f"Response status must be an int, got {type(status).__name__}")
        if web_socket is not None:
            if status != 101:
                raise ValueError("Responses with a WebSocket must have status code 101.")
            web_socket._couple_to_response()
        elif not 200 <= status <= 599:
            raise ValueError(
                "Responses may only be constructed with status codes in the range 200 to 599, inclusive."
            )
        if body is not None and status in _NULL_BODY_STATUSES:
            raise TypeError(f"Response with null body status ({status}) cannot have a body.")
        self.status = status
        self.statusText = status_text
        self.headers = Headers(headers)
        self.webSocket = web_socket
        self._init_body(body)
        if isinstance(body, str) and not self.headers.has("content-type"):
            self.headers.set("content-type", "text/plain;charset=UTF-8")

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299

    @property
    def web_socket(self) -> WebSocket | None:
        return self.webSocket

    @staticmethod
    def _json_response(
        cls: type[Response], data: Any, status: int = 200, headers: HeadersInit = None
    ) -> Response:
        """A JSON response (``Response.json`` of the Fetch API)."""
        try:
            payload = orjson.dumps(data)
        except TypeError:
            payload = _json.dumps(data, separators=(",", ":"), default=str).encode()
        merged = Headers(headers)
        if not merged.has("content-type"):
            merged.set("content-type", "application/json")
        return cls(payload, status=status, headers=merged)

    json = _ClassOrInstance(_json_response, _Body.json)  # type: ignore[assignment]

    @classmethod
    def redirect(cls, url: str, status: int = 302) -> Response:
        if status not in _REDIRECT_STATUSES:
            raise ValueError(
                f"Invalid redirect status code {status}: use 301, 302, 303, 307 or 308"
            )
        return cls(None, status=status, headers={"location": url})

    def __repr__(self) -> str:
        return f"<Response {self.status}>"
