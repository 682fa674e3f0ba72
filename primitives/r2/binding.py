"""``R2Bucket`` and ``R2MultipartUpload``: Cloudflare's R2 binding, in the Python SDK's shape.

Options are keyword arguments (or one dict, or None); results are dict-likes with attribute
access. Values stream through in chunks: a put hashes (MD5 always, plus the one checksum asked
for) while the backend writes, so memory stays bounded whatever the object size.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from .._dictlike import JsDict
from .._lifecycle import AsyncClosing
from ..clock import Clock
from ..streams import ReadableStream
from ._values import Digesting, options_from, r2_action, value_source
from .backend import ObjectRecord, PartRecord, R2Backend, UploadRecord
from .conditionals import check_conditional, parse_conditional
from .errors import (
    BadDigest,
    BadUpload,
    EntityTooLarge,
    EntityTooSmall,
    InternalError,
    InvalidArgument,
    InvalidPart,
    NoSuchUpload,
    R2TypeError,
)
from .limits import MAX_DELETE_KEYS, MAX_LIST_LIMIT_WITH_INCLUDE, MAX_VALUE_BYTES, MIN_PART_BYTES
from .objects import R2Object, R2ObjectBody
from .validation import (
    HASH_ALGORITHMS,
    http_metadata_from,
    parse_checksum,
    parse_include,
    parse_range,
    resolve_range,
    validate_custom_metadata,
    validate_key,
    validate_limit,
    validate_part_number,
    validate_storage_class,
)

__all__ = ["R2Bucket", "R2MultipartUpload"]


class R2Bucket(AsyncClosing):
    """An R2 bucket binding (``env.UPLOADS``) over an :class:`~primitives.r2.backend.R2Backend`."""

    def __init__(
        self,
        backend: R2Backend,
        *,
        clock: Clock,
        name: str = "",
        min_part_bytes: int = MIN_PART_BYTES,
    ) -> None:
        self._backend = backend
        self._clock = clock
        self._name = name
        self._min_part_bytes = min_part_bytes

    @property
    def backend(self) -> R2Backend:
        return self._backend

    def _now_ms(self) -> int:
        return self._clock.now_ms()

    async def head(self, key: str) -> R2Object | None:
        with r2_action("head"):
            key = validate_key(key)
            record = await self._backend.head(key)
            return R2Object(record, range=(0, record.size)) if record is not None else None

    async def get(
        self, key: str, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> R2ObjectBody | R2Object | None:
        """The object with its body; without a body if ``onlyIf`` fails; None if missing."""
        with r2_action("get"):
            opts = options_from(options, kwargs)
            cond = parse_conditional(opts.get("onlyIf"))
            spec = parse_range(opts.get("range"))
            if opts.get("ssecKey") is not None:
                raise R2TypeError("ssecKey (SSE-C) is not supported by the local R2 binding")
            key = validate_key(key)
            outcome = await self._backend.get(
                key,
                condition=(lambda rec: check_conditional(cond, rec)) if cond is not None else None,
                resolve_range=lambda size: resolve_range(spec, size),
            )
            if outcome is None:
                return None
            if outcome.body is None:
                return R2Object(outcome.record, range=(0, outcome.record.size))
            stream = ReadableStream(outcome.body, outcome.length)
            return R2ObjectBody(outcome.record, stream, range=(outcome.offset, outcome.length))

    async def put(
        self, key: str, value: Any, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> R2Object | None:
        """Store ``value``; None (nothing written) if ``onlyIf`` fails."""
        with r2_action("put"):
            opts = options_from(options, kwargs)
            cond = parse_conditional(opts.get("onlyIf"))
            http = http_metadata_from(opts.get("httpMetadata"))
            checksum = parse_checksum(opts)
            if opts.get("ssecKey") is not None:
                raise R2TypeError("ssecKey (SSE-C) is not supported by the local R2 binding")
            source, known_size = value_source(value)
            key = validate_key(key)
            if known_size is not None and known_size > MAX_VALUE_BYTES:
                raise EntityTooLarge()
            custom = validate_custom_metadata(opts.get("customMetadata"))
            storage_class = validate_storage_class(opts.get("storageClass"))
            fields = ["md5"] + ([checksum[0]] if checksum and checksum[0] != "md5" else [])
            digesting = Digesting(source, fields)
            staged = await self._backend.stage(digesting)
            try:
                checksums = {"md5": digesting.hex("md5")}
                if checksum is not None:
                    field, provided = checksum
                    actual = digesting.hex(field)
                    if provided.hex() != actual:
                        raise BadDigest(HASH_ALGORITHMS[field][0], provided.hex(), actual)
                    checksums[field] = actual
                record = ObjectRecord(
                    key=key,
                    version=secrets.token_hex(16),
                    size=staged.size,
                    etag=checksums["md5"],
                    uploaded_ms=self._now_ms(),
                    checksums=checksums,
                    http_metadata=http,
                    custom_metadata=custom,
                    storage_class=storage_class,
                )
            except BaseException:
                await self._backend.discard(staged)
                raise
            stored = await self._backend.commit(
                record,
                staged,
                condition=(lambda rec: check_conditional(cond, rec)) if cond is not None else None,
            )
            return R2Object(stored) if stored is not None else None

    async def delete(self, keys: str | list[str]) -> None:
        """Delete one key or up to 1,000; missing keys are ignored."""
        with r2_action("delete"):
            many = [keys] if isinstance(keys, str) else list(keys)
            if len(many) > MAX_DELETE_KEYS:
                raise InvalidArgument()
            checked = [validate_key(k) for k in many]
            await self._backend.delete(checked)

    async def list(self, options: Mapping[str, Any] | None = None, **kwargs: Any) -> JsDict:
        """``{objects, delimitedPrefixes, truncated, cursor?}`` in key order."""
        with r2_action("list"):
            opts = options_from(options, kwargs)
            include_http, include_custom = parse_include(opts.get("include"))
            limit = validate_limit(opts.get("limit"))
            if include_http or include_custom:
                limit = min(limit, MAX_LIST_LIMIT_WITH_INCLUDE)
            delimiter = opts.get("delimiter") or None
            page = await self._backend.list(
                prefix=str(opts.get("prefix") or ""),
                start_after=opts.get("startAfter"),
                cursor=opts.get("cursor"),
                limit=limit,
                delimiter=delimiter,
                include_http=include_http,
                include_custom=include_custom,
            )
            result = JsDict(
                objects=[
                    R2Object(rec, include_http=include_http, include_custom=include_custom)
                    for rec in page.objects
                ],
                delimitedPrefixes=list(page.delimited_prefixes),
                truncated=page.cursor is not None,
            )
            if page.cursor is not None:
                result["cursor"] = page.cursor
            return result

    async def createMultipartUpload(
        self, key: str, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> R2MultipartUpload:
        with r2_action("createMultipartUpload"):
            opts = options_from(options, kwargs)
            http = http_metadata_from(opts.get("httpMetadata"))
            if opts.get("ssecKey") is not None:
                raise R2TypeError("ssecKey (SSE-C) is not supported by the local R2 binding")
            key = validate_key(key)
            custom = validate_custom_metadata(opts.get("customMetadata"))
            storage_class = validate_storage_class(opts.get("storageClass"))
            upload = UploadRecord(key, "", "in_progress", http, custom, storage_class, {})
            upload_id = await self._backend.create_upload(upload)
            return R2MultipartUpload(self, key, upload_id)

    def resumeMultipartUpload(self, key: str, uploadId: str) -> R2MultipartUpload:
        """A handle on an existing upload; checks nothing (as R2)."""
        return R2MultipartUpload(self, key, uploadId)

    # -- multipart internals, called by R2MultipartUpload ---------------------------------------

    async def _upload_part(self, key: str, upload_id: str, number: int, value: Any) -> JsDict:
        with r2_action("uploadPart"):
            number = validate_part_number(number)
            source, known_size = value_source(value)
            key = validate_key(key)
            upload = await self._backend.get_upload(key, upload_id)
            if upload is None or upload.state != "in_progress":
                raise NoSuchUpload()
            if known_size is not None and known_size > MAX_VALUE_BYTES:
                raise EntityTooLarge()
            digesting = Digesting(source, ["md5"])
            staged = await self._backend.stage(digesting)
            part = PartRecord(number, secrets.token_hex(16), staged.size, digesting.hex("md5"))
            stored = await self._backend.put_part(key, upload_id, part, staged)
            return JsDict(partNumber=number, etag=stored.etag)

    async def _complete(self, key: str, upload_id: str, parts: Iterable[Any]) -> R2Object:
        with r2_action("completeMultipartUpload"):
            wanted: list[tuple[int, str]] = []
            for item in parts:
                number = (
                    item.get("partNumber")
                    if isinstance(item, Mapping)
                    else getattr(item, "partNumber", None)
                )
                etag = (
                    item.get("etag") if isinstance(item, Mapping) else getattr(item, "etag", None)
                )
                wanted.append((validate_part_number(number), str(etag)))
            key = validate_key(key)
            upload = await self._backend.get_upload(key, upload_id)
            if upload is None:
                raise InternalError()
            if upload.state != "in_progress":
                raise NoSuchUpload()
            if len({number for number, _ in wanted}) != len(wanted):
                raise InternalError()
            selected: list[PartRecord] = []
            for number, etag in wanted:
                found = upload.parts.get(number)
                if found is None or found.etag != etag:
                    raise InvalidPart()
                selected.append(found)
            for part in selected[:-1]:
                if part.size < self._min_part_bytes:
                    raise EntityTooSmall()
            selected.sort(key=lambda p: p.part_number)
            first_size = selected[0].size if len(selected) > 1 else None
            for part in selected[:-1]:
                if part.size < self._min_part_bytes or part.size != first_size:
                    raise BadUpload()
            if first_size is not None and selected[-1].size > first_size:
                raise BadUpload()
            digest = hashlib.md5(b"".join(bytes.fromhex(p.md5_hex) for p in selected))
            record = ObjectRecord(
                key=key,
                version=secrets.token_hex(16),
                size=sum(p.size for p in selected),
                etag=f"{digest.hexdigest()}-{len(selected)}",
                uploaded_ms=self._now_ms(),
                checksums={},
                http_metadata=upload.http_metadata,
                custom_metadata=upload.custom_metadata,
                storage_class=upload.storage_class,
            )
            stored = await self._backend.complete_upload(key, upload_id, selected, record)
            return R2Object(stored)

    async def _abort(self, key: str, upload_id: str) -> None:
        with r2_action("abortMultipartUpload"):
            key = validate_key(key)
            await self._backend.abort_upload(key, upload_id)

    async def aclose(self) -> None:
        """Close the backend (flushes and releases files, connections, threads)."""
        await self._backend.aclose()

    def __repr__(self) -> str:
        return f"<R2Bucket {self._name!r} backend={type(self._backend).__name__}>"


class R2MultipartUpload(JsDict):
    """An upload in progress: ``key``, ``uploadId``, ``uploadPart``, ``complete``, ``abort``."""

    __slots__ = ("_bucket",)
    _bucket: R2Bucket

    def __init__(self, bucket: R2Bucket, key: str, upload_id: str) -> None:
        super().__init__(key=key, uploadId=upload_id)
        object.__setattr__(self, "_bucket", bucket)

    async def uploadPart(
        self, partNumber: int, value: Any, options: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> JsDict:
        """Store one part -> ``{partNumber, etag}``; re-uploading a number replaces the part."""
        if options_from(options, kwargs).get("ssecKey") is not None:
            raise R2TypeError("ssecKey (SSE-C) is not supported by the local R2 binding")
        return await self._bucket._upload_part(self["key"], self["uploadId"], partNumber, value)

    async def complete(self, uploadedParts: Iterable[Any]) -> R2Object:
        """Assemble the listed parts (any order, gaps allowed) into the object."""
        return await self._bucket._complete(self["key"], self["uploadId"], uploadedParts)

    async def abort(self) -> None:
        """Drop the upload's parts; aborting twice or after completing is fine."""
        await self._bucket._abort(self["key"], self["uploadId"])

    def __repr__(self) -> str:
        return f"<R2MultipartUpload key={self['key']!r} uploadId={self['uploadId']!r}>"
