"""``s3://bucket?endpoint_url=...`` -- objects in any S3-compatible service, through boto3.

Query options: ``endpoint_url``, ``region``, ``access_key_id``, ``secret_access_key``,
``session_token`` (else boto3's standard AWS environment variables and files) and ``prefix``
(a key prefix inside the bucket). boto3 is synchronous: every call runs in a worker thread, and
botocore exceptions are translated here, at the boundary, into R2 errors or
:class:`~primitives.errors.BackendError` (``raise ... from exc``).

How R2 maps onto S3:

* A put is one ``PutObject`` (R2's single-upload limit, 5 GiB - 5 MiB, fits S3's 5 GiB), so the
  S3 ETag is the MD5 R2 wants; an R2 multipart upload is an S3 multipart upload, whose ETag is
  R2's ``md5-of-part-md5s-N``. Values are spooled (memory up to 8 MiB, then a temporary file)
  so the checksum can be verified before anything becomes visible.
* R2 metadata rides in user metadata as JSON (``x-amz-meta-r2-http``, ``-r2-custom``,
  ``-r2-checksums``), so key case and non-ASCII survive; the HTTP fields are also set natively.
* ``uploaded`` is S3's Last-Modified (whole seconds) and ``version`` is derived from the ETag and
  that time, so head, get and list agree without extra requests.
* Conditionals are checked against a HEAD just before the write: not atomic against other
  writers (see docs/r2.md).

The module is longer than the usual ~400 lines on purpose: it is the whole R2-to-S3 mapping, and
keeping every call beside the one place that translates botocore's errors keeps that boundary
tight.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from ...errors import BackendError, ConfigError
from ..backend import (
    Condition,
    GetOutcome,
    ListPage,
    ObjectRecord,
    PartRecord,
    RangeResolver,
    Staged,
    UploadRecord,
)
from ..errors import (
    EntityTooSmall,
    InternalError,
    InvalidObjectName,
    InvalidPart,
    NoSuchUpload,
    R2Error,
)

__all__ = ["S3R2Backend"]

T = TypeVar("T")
_SPOOL_BYTES = 8 << 20
_READ_BYTES = 1 << 20
_HTTP_FIELDS = {
    "contentType": "ContentType",
    "contentLanguage": "ContentLanguage",
    "contentDisposition": "ContentDisposition",
    "contentEncoding": "ContentEncoding",
    "cacheControl": "CacheControl",
}
_STORAGE = {"Standard": "STANDARD", "InfrequentAccess": "STANDARD_IA"}
_STORAGE_BACK = {"STANDARD_IA": "InfrequentAccess"}
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class _Missing(Exception):
    """Internal: S3 said 404 for the key."""


@dataclass(slots=True)
class S3Staged:
    data: bytes | None
    path: str | None
    size: int


def _encode_cursor(token: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"t": token}).encode()).decode()


def _decode_cursor(cursor: str) -> str | None:
    try:
        token = json.loads(base64.urlsafe_b64decode(cursor.encode()))["t"]
    except (ValueError, KeyError, TypeError):
        return None
    return token if isinstance(token, str) else None


def _seconds_ms(when: _dt.datetime) -> int:
    return int(when.timestamp()) * 1000


def _version(etag: str, uploaded_ms: int) -> str:
    return hashlib.md5(f"{etag}/{uploaded_ms}".encode()).hexdigest()


def _json_meta(meta: Mapping[str, str], name: str) -> Any:
    raw = meta.get(name)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


class S3R2Backend:
    """A bucket in an S3-compatible service (see the module docstring for the mapping)."""

    def __init__(self, bucket: str, *, prefix: str = "", client_kwargs: Mapping[str, Any]) -> None:
        self._bucket = bucket
        self._prefix = prefix
        self._client_kwargs = dict(client_kwargs)
        self._client: Any = None
        self._endpoint = self._client_kwargs.get("endpoint_url") or "the default AWS endpoint"

    @classmethod
    def from_url(cls, url: str) -> S3R2Backend:
        parts = urlsplit(url)
        if not parts.netloc:
            raise ConfigError(f"S3 URL names no bucket: {url!r} (use s3://bucket?endpoint_url=...)")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {
            "endpoint_url", "region", "access_key_id", "secret_access_key", "session_token",
            "prefix",
        }  # fmt: skip
        if unknown:
            raise ConfigError(f"unknown S3 URL option(s) {', '.join(sorted(unknown))} in {url!r}")
        kwargs: dict[str, Any] = {
            "endpoint_url": query.get("endpoint_url"),
            "region_name": query.get("region")
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1",
        }
        if "access_key_id" in query:
            kwargs["aws_access_key_id"] = query["access_key_id"]
            kwargs["aws_secret_access_key"] = query.get("secret_access_key")
            kwargs["aws_session_token"] = query.get("session_token")
        prefix = query.get("prefix", "") or parts.path.lstrip("/")
        return cls(parts.netloc, prefix=prefix, client_kwargs=kwargs)

    # -- plumbing -----------------------------------------------------------------------------
    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            s3={"addressing_style": "path"},
            connect_timeout=3,
            read_timeout=60,
            retries={"total_max_attempts": 2, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        return boto3.session.Session().client("s3", config=config, **self._client_kwargs)

    @contextlib.contextmanager
    def _mapped(self, operation: str) -> Iterator[None]:
        """Translate botocore's exceptions; nothing from botocore leaves this module."""
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchKey", "404", "NotFound") or (
                status == 404 and code != "NoSuchUpload"
            ):
                if code == "NoSuchBucket":
                    raise BackendError(
                        f"S3 bucket {self._bucket!r} does not exist at {self._endpoint}"
                    ) from exc
                raise _Missing() from exc
            mapped: dict[str, type[R2Error]] = {
                "NoSuchUpload": NoSuchUpload,
                "EntityTooSmall": EntityTooSmall,
                "InvalidPart": InvalidPart,
            }
            if code in mapped:
                raise mapped[code]() from exc
            raise BackendError(
                f"S3 {operation} on bucket {self._bucket!r} failed: "
                f"{code} {error.get('Message', '')}".rstrip()
            ) from exc
        except EndpointConnectionError as exc:
            raise BackendError(f"S3 endpoint {self._endpoint} is unreachable: {exc}") from exc
        except BotoCoreError as exc:
            raise BackendError(f"S3 {operation} on bucket {self._bucket!r} failed: {exc}") from exc

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        def call() -> Any:
            if self._client is None:
                self._client = self._make_client()
            with self._mapped(operation):
                return getattr(self._client, operation)(Bucket=self._bucket, **kwargs)

        return await asyncio.to_thread(call)

    def _s3_key(self, key: str) -> str:
        full = self._prefix + key
        if not full or _XML_ILLEGAL.search(full):
            # S3 has no empty key, and its XML bodies cannot carry control characters.
            raise InvalidObjectName()
        return full

    def _record(self, key: str, head: Mapping[str, Any]) -> ObjectRecord:
        meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
        etag = str(head["ETag"]).strip('"')
        uploaded = _seconds_ms(head["LastModified"])
        checksums = _json_meta(meta, "r2-checksums")
        if checksums is None:
            checksums = {} if "-" in etag else {"md5": etag}
        return ObjectRecord(
            key=key,
            version=_version(etag, uploaded),
            size=int(head["ContentLength"]),
            etag=etag,
            uploaded_ms=uploaded,
            checksums=checksums,
            http_metadata=_json_meta(meta, "r2-http") or {},
            custom_metadata=_json_meta(meta, "r2-custom") or {},
            storage_class=_STORAGE_BACK.get(str(head.get("StorageClass") or ""), "Standard"),
        )

    async def _head(self, key: str) -> ObjectRecord | None:
        try:
            head = await self._call("head_object", Key=self._s3_key(key))
        except _Missing:
            return None
        return self._record(key, head)

    @staticmethod
    def _write_args(
        http: Mapping[str, Any],
        custom: Mapping[str, str],
        checksums: Mapping[str, str],
        storage_class: str,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {
            "Metadata": {
                "r2-http": json.dumps(dict(http), separators=(",", ":")),
                "r2-custom": json.dumps(dict(custom), separators=(",", ":")),
                "r2-checksums": json.dumps(dict(checksums), separators=(",", ":")),
            },
            "StorageClass": _STORAGE.get(storage_class, "STANDARD"),
        }
        for field, name in _HTTP_FIELDS.items():
            if http.get(field) is not None and str(http[field]).isascii():
                args[name] = http[field]
        if http.get("cacheExpiry") is not None:
            args["Expires"] = _dt.datetime.fromtimestamp(http["cacheExpiry"] / 1000, tz=_dt.UTC)
        return args

    # -- objects --------------------------------------------------------------------------------
    async def head(self, key: str) -> ObjectRecord | None:
        return await self._head(key)

    async def get(
        self, key: str, *, condition: Condition | None, resolve_range: RangeResolver
    ) -> GetOutcome | None:
        try:
            response = await self._call("get_object", Key=self._s3_key(key))
        except _Missing:
            return None
        record = self._record(key, response)
        body = response["Body"]
        if condition is not None and not condition(record):
            body.close()
            return GetOutcome(record, None, 0, record.size)
        try:
            offset, length = resolve_range(record.size)
        except BaseException:
            body.close()
            raise
        if (offset, length) != (0, record.size):
            body.close()
            if length == 0:
                return GetOutcome(record, self._stream(None, 0), offset, 0)
            try:
                ranged = await self._call(
                    "get_object",
                    Key=self._s3_key(key),
                    Range=f"bytes={offset}-{offset + length - 1}",
                    IfMatch=f'"{record.etag}"',
                )
            except _Missing:
                return None
            body = ranged["Body"]
        return GetOutcome(record, self._stream(body, length), offset, length)

    async def _stream(self, body: Any, length: int) -> AsyncIterator[bytes]:
        if body is None:
            return
        loop = asyncio.get_running_loop()

        def read() -> bytes:
            with self._mapped("get_object"):
                return bytes(body.read(_READ_BYTES))

        try:
            remaining = length
            pending = loop.run_in_executor(None, read)
            while remaining > 0:
                chunk = await pending
                if not chunk:
                    raise InternalError()
                remaining -= len(chunk)
                if remaining > 0:
                    pending = loop.run_in_executor(None, read)
                yield chunk
        finally:
            body.close()

    async def stage(self, chunks: AsyncIterable[bytes | memoryview]) -> Staged:
        memory: list[bytes] = []
        size = 0
        handle: Any = None
        try:
            async for chunk in chunks:
                size += len(chunk)
                if handle is None:
                    memory.append(bytes(chunk))
                    if size > _SPOOL_BYTES:
                        handle = await asyncio.to_thread(
                            tempfile.NamedTemporaryFile, prefix="r2-s3-", delete=False
                        )
                        await asyncio.to_thread(handle.write, b"".join(memory))
                        memory = []
                else:
                    await asyncio.to_thread(handle.write, chunk)
        except BaseException:
            if handle is not None:
                handle.close()
                os.unlink(handle.name)
            raise
        if handle is None:
            return S3Staged(b"".join(memory), None, size)
        await asyncio.to_thread(handle.close)
        return S3Staged(None, handle.name, size)

    async def discard(self, staged: Staged) -> None:
        assert isinstance(staged, S3Staged)
        if staged.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged.path)

    async def _upload(self, staged: S3Staged, send: Callable[[Any], Any]) -> Any:
        try:
            if staged.path is None:
                return await send(staged.data)
            with open(staged.path, "rb") as handle:  # noqa: ASYNC230 -- only opens; reads happen in the thread
                return await send(handle)
        finally:
            await self.discard(staged)

    async def commit(
        self, record: ObjectRecord, staged: Staged, *, condition: Condition | None
    ) -> ObjectRecord | None:
        assert isinstance(staged, S3Staged)
        if condition is not None and not condition(await self._head(record.key)):
            await self.discard(staged)
            return None
        args = self._write_args(
            record.http_metadata, record.custom_metadata, record.checksums, record.storage_class
        )
        md5 = base64.b64encode(bytes.fromhex(record.etag)).decode()
        await self._upload(
            staged,
            lambda body: self._call(
                "put_object",
                Key=self._s3_key(record.key),
                Body=body,
                ContentLength=staged.size,
                ContentMD5=md5,
                **args,
            ),
        )
        stored = await self._head(record.key)
        if stored is None:
            raise InternalError()
        return stored

    async def delete(self, keys: builtins.list[str]) -> None:
        if not keys:
            return
        objects = [{"Key": self._s3_key(k)} for k in dict.fromkeys(keys)]
        response = await self._call("delete_objects", Delete={"Objects": objects, "Quiet": True})
        errors = response.get("Errors") or []
        if errors:
            first = errors[0]
            raise BackendError(
                f"S3 delete_objects failed for {first.get('Key')!r}: {first.get('Code')}"
            )

    async def list(
        self,
        *,
        prefix: str,
        start_after: str | None,
        cursor: str | None,
        limit: int,
        delimiter: str | None,
        include_http: bool,
        include_custom: bool,
    ) -> ListPage:
        kwargs: dict[str, Any] = {"Prefix": self._prefix + prefix, "MaxKeys": limit}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        if cursor is not None:
            token = _decode_cursor(cursor)
            if token is None:
                return ListPage([], [], None)
            kwargs["ContinuationToken"] = token
        if start_after is not None:
            kwargs["StartAfter"] = self._s3_key(start_after)
        response = await self._call("list_objects_v2", **kwargs)
        cut = len(self._prefix)
        records: list[ObjectRecord] = []
        for item in response.get("Contents") or []:
            key = str(item["Key"])[cut:]
            records.append(
                self._record(key, {**item, "ContentLength": item["Size"], "Metadata": {}})
            )
        if include_http or include_custom:
            heads = await asyncio.gather(*(self._head(r.key) for r in records))
            records = [h if h is not None else r for r, h in zip(records, heads, strict=True)]
        prefixes = [str(p["Prefix"])[cut:] for p in response.get("CommonPrefixes") or []]
        token = response.get("NextContinuationToken") if response.get("IsTruncated") else None
        return ListPage(records, prefixes, _encode_cursor(token) if token else None)

    # -- multipart -----------------------------------------------------------------------------
    async def create_upload(self, upload: UploadRecord) -> str:
        args = self._write_args(
            upload.http_metadata, upload.custom_metadata, {}, upload.storage_class
        )
        response = await self._call("create_multipart_upload", Key=self._s3_key(upload.key), **args)
        return str(response["UploadId"])

    async def get_upload(self, key: str, upload_id: str) -> UploadRecord | None:
        parts: dict[int, PartRecord] = {}
        marker = 0
        try:
            while True:
                response = await self._call(
                    "list_parts", Key=self._s3_key(key), UploadId=upload_id, PartNumberMarker=marker
                )
                for item in response.get("Parts") or []:
                    etag = str(item["ETag"]).strip('"')
                    number = int(item["PartNumber"])
                    parts[number] = PartRecord(number, etag, int(item["Size"]), etag)
                if not response.get("IsTruncated"):
                    break
                marker = int(response["NextPartNumberMarker"])
        except (NoSuchUpload, _Missing):
            # S3 forgets finished uploads: unknown, completed and aborted look the same.
            return UploadRecord(key, upload_id, "aborted", {}, {}, "Standard", {})
        return UploadRecord(key, upload_id, "in_progress", {}, {}, "Standard", parts)

    async def put_part(
        self, key: str, upload_id: str, part: PartRecord, staged: Staged
    ) -> PartRecord:
        assert isinstance(staged, S3Staged)
        try:
            response = await self._upload(
                staged,
                lambda body: self._call(
                    "upload_part",
                    Key=self._s3_key(key),
                    UploadId=upload_id,
                    PartNumber=part.part_number,
                    Body=body,
                    ContentLength=staged.size,
                ),
            )
        except _Missing as exc:
            raise NoSuchUpload() from exc
        etag = str(response["ETag"]).strip('"')
        return PartRecord(part.part_number, etag, part.size, part.md5_hex)

    async def complete_upload(
        self, key: str, upload_id: str, parts: builtins.list[PartRecord], record: ObjectRecord
    ) -> ObjectRecord:
        try:
            if parts:
                await self._call(
                    "complete_multipart_upload",
                    Key=self._s3_key(key),
                    UploadId=upload_id,
                    MultipartUpload={
                        "Parts": [
                            {"PartNumber": p.part_number, "ETag": f'"{p.etag}"'} for p in parts
                        ]
                    },
                )
            else:  # S3 refuses an empty completion; R2 makes an empty object
                head = await self._call("list_parts", Key=self._s3_key(key), UploadId=upload_id)
                del head
                await self._call(
                    "abort_multipart_upload", Key=self._s3_key(key), UploadId=upload_id
                )
                args = self._write_args(
                    record.http_metadata, record.custom_metadata, {}, record.storage_class
                )
                await self._call("put_object", Key=self._s3_key(key), Body=b"", **args)
        except _Missing as exc:
            raise NoSuchUpload() from exc
        stored = await self._head(key)
        if stored is None:
            raise InternalError()
        return stored

    async def abort_upload(self, key: str, upload_id: str) -> None:
        try:
            await self._call("abort_multipart_upload", Key=self._s3_key(key), UploadId=upload_id)
        except (NoSuchUpload, _Missing):
            return  # already finished (or unknown: S3 cannot tell)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)
