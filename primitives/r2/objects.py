"""``R2Object``, ``R2ObjectBody`` and ``R2Checksums`` as the Python Workers SDK returns them.

They are dicts that also allow attribute access (``obj["size"] == obj.size``), with R2's
methods: ``writeHttpMetadata(headers)``, and on a body ``text()``, ``json()``, ``arrayBuffer()``,
``bytes()``, ``blob()``. ``body`` is a :class:`~primitives.streams.ReadableStream`, so an
``R2ObjectBody`` (or its ``body``) can be handed straight to ``Response``.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import email.utils
import json as _json
from typing import Any

from .._dictlike import JsDict
from ..errors import BodyError
from ..headers import Headers
from ..streams import BODY_USED_MESSAGE, ReadableStream
from .backend import ObjectRecord
from .errors import R2TypeError

__all__ = ["R2Checksums", "R2Object", "R2ObjectBody", "ms_to_datetime"]


def ms_to_datetime(ms: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.UTC)


class R2Checksums(JsDict):
    """Stored checksums as bytes (``memoryview``); ``toJSON()`` gives them as hex strings."""

    __slots__ = ()

    def toJSON(self) -> JsDict:
        return JsDict({name: bytes(value).hex() for name, value in self.items()})


def _http_metadata(stored: dict[str, Any] | Any) -> JsDict:
    out = JsDict()
    for name, value in dict(stored).items():
        out[name] = ms_to_datetime(value) if name == "cacheExpiry" else value
    return out


class R2Object(JsDict):
    """A stored object's metadata (``head``, ``put``, ``list``, a failed conditional ``get``)."""

    __slots__ = ("_http_known",)
    _http_known: bool

    def __init__(
        self,
        record: ObjectRecord,
        *,
        range: tuple[int, int] | None = None,
        include_http: bool = True,
        include_custom: bool = True,
    ) -> None:
        super().__init__(
            key=record.key,
            version=record.version,
            size=record.size,
            etag=record.etag,
            httpEtag=f'"{record.etag}"',
            uploaded=ms_to_datetime(record.uploaded_ms),
            httpMetadata=_http_metadata(record.http_metadata) if include_http else JsDict(),
            customMetadata=JsDict(record.custom_metadata) if include_custom else JsDict(),
            range=JsDict(offset=range[0], length=range[1]) if range is not None else None,
            checksums=R2Checksums(
                {name: memoryview(bytes.fromhex(value)) for name, value in record.checksums.items()}
            ),
            storageClass=record.storage_class,
        )
        object.__setattr__(self, "_http_known", include_http)

    def writeHttpMetadata(self, headers: Headers) -> None:
        """Set Content-Type, Content-Language, ... (and Expires) on ``headers``."""
        if not self._http_known:
            raise R2TypeError(
                f"HTTP metadata unknown for key `{self['key']}`. "
                "Did you forget to add 'httpMetadata' to `include` when listing?"
            )
        meta = self["httpMetadata"]
        for field, header in (
            ("contentType", "content-type"),
            ("contentLanguage", "content-language"),
            ("contentDisposition", "content-disposition"),
            ("contentEncoding", "content-encoding"),
            ("cacheControl", "cache-control"),
        ):
            if meta.get(field) is not None:
                headers.set(header, meta[field])
        expiry = meta.get("cacheExpiry")
        if isinstance(expiry, _dt.datetime):
            headers.set(
                "expires", email.utils.format_datetime(expiry.astimezone(_dt.UTC), usegmt=True)
            )

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} key={self['key']!r} size={self['size']} etag={self['etag']!r}>"
        )


class R2ObjectBody(R2Object):
    """An object with its body: a stream readable once."""

    __slots__ = ("_stream",)
    _stream: ReadableStream

    def __init__(
        self, record: ObjectRecord, stream: ReadableStream, *, range: tuple[int, int]
    ) -> None:
        super().__init__(record, range=range)
        object.__setattr__(self, "_stream", stream)
        self["body"] = stream
        self["bodyUsed"] = False

    def __getitem__(self, name: str) -> Any:
        if name == "bodyUsed":
            return self._stream.locked
        return super().__getitem__(name)

    @property
    def body(self) -> ReadableStream:
        return self._stream

    @property
    def bodyUsed(self) -> bool:
        return self._stream.locked

    async def bytes(self) -> bytes:
        if self._stream.locked:
            raise BodyError(BODY_USED_MESSAGE)
        return await self._stream.read_all()

    async def arrayBuffer(self) -> memoryview:
        return memoryview(await self.bytes())

    async def text(self) -> str:
        return (await self.bytes()).decode("utf-8", errors="replace")

    async def json(self) -> Any:
        return _json.loads(await self.text())

    async def blob(self) -> builtins.bytes:
        """The body as bytes (Python has no ``Blob``)."""
        return await self.bytes()
