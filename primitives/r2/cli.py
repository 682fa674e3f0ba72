"""``edgeroom r2 object put|get|delete|list``: wrangler's R2 object commands, locally.

``<BUCKET>`` is a ``bucket_name`` from wrangler.toml (as with wrangler); the command acts on the
binding that names it, through the same backend the server would use (the local data
directory, or what ``EDGEROOM_<BINDING>_URL`` says). Large transfers stream and show a progress
bar on stderr when it is a terminal (or with ``--progress``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import email.utils
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from typing import IO, Any

from ..cli import add_env_options, env_from_args, run_command
from ..env import Env
from ..errors import ConfigError
from .binding import R2Bucket
from .errors import NoSuchKey
from .objects import R2ObjectBody

__all__ = ["register"]

_CHUNK_BYTES = 1 << 20


class _Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(
        self, label: str, total: int | None, enabled: bool, stream: IO[str] | None = None
    ) -> None:
        self._label, self._total, self._enabled = label, total, enabled
        self._stream = stream or sys.stderr
        self._done = 0
        self._start = self._last = time.monotonic()

    def advance(self, count: int) -> None:
        self._done += count
        now = time.monotonic()
        if self._enabled and now - self._last >= 0.1:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        mib = self._done / (1 << 20)
        rate = mib / max(now - self._start, 1e-6)
        if self._total:
            share = self._done / self._total
            bar = "#" * int(share * 30)
            text = f"{bar:<30} {mib:8.1f} / {self._total / (1 << 20):.1f} MiB ({share:4.0%})"
        else:
            text = f"{mib:8.1f} MiB"
        self._stream.write(f"\r{self._label}: {text} {rate:7.1f} MiB/s")
        self._stream.flush()

    def finish(self) -> None:
        if self._enabled:
            self._draw(time.monotonic())
            self._stream.write("\n")
            self._stream.flush()


def _show_progress(args: argparse.Namespace) -> bool:
    return bool(args.progress) or sys.stderr.isatty()


def _split(target: str) -> tuple[str, str]:
    bucket, sep, key = target.partition("/")
    if not bucket or not sep or not key:
        raise ConfigError(f"expected <BUCKET>/<KEY>, got {target!r}")
    return bucket, key


def _binding(env: Env, bucket_name: str) -> R2Bucket:
    specs = env.config.of_kind("r2")
    for spec in specs:
        if spec.resource == bucket_name:
            binding = env[spec.name]
            assert isinstance(binding, R2Bucket)
            return binding
    names = ", ".join(sorted(spec.resource for spec in specs)) or "none"
    raise ConfigError(f"no R2 bucket named {bucket_name!r} in {env.config.path} (buckets: {names})")


async def _read_chunks(handle: IO[bytes], progress: _Progress) -> AsyncIterator[bytes]:
    while True:
        chunk = await asyncio.to_thread(handle.read, _CHUNK_BYTES)
        if not chunk:
            return
        progress.advance(len(chunk))
        yield chunk


async def _put(args: argparse.Namespace) -> int:
    bucket_name, key = _split(args.target)
    if (args.file is None) == (not args.pipe):
        raise ConfigError("put needs exactly one of --file PATH or --pipe")
    http: dict[str, Any] = {}
    for option, field in (
        ("content_type", "contentType"),
        ("content_disposition", "contentDisposition"),
        ("content_encoding", "contentEncoding"),
        ("content_language", "contentLanguage"),
        ("cache_control", "cacheControl"),
    ):
        if getattr(args, option) is not None:
            http[field] = getattr(args, option)
    if args.expires is not None:
        try:
            http["cacheExpiry"] = email.utils.parsedate_to_datetime(args.expires)
        except (TypeError, ValueError):
            http["cacheExpiry"] = _dt.datetime.fromisoformat(args.expires)
    async with env_from_args(args) as env:
        bucket = _binding(env, bucket_name)
        if args.pipe:
            handle: IO[bytes] = sys.stdin.buffer
            total = None
        else:
            try:
                handle = open(args.file, "rb")  # noqa: ASYNC230,SIM115 -- reads happen in a thread
            except OSError as exc:
                raise ConfigError(f"cannot read {args.file}: {exc}") from exc
            total = os.fstat(handle.fileno()).st_size
        progress = _Progress(f"Uploading {key}", total, _show_progress(args))
        try:
            obj = await bucket.put(
                key,
                _read_chunks(handle, progress),
                httpMetadata=http or None,
                storageClass=args.storage_class,
            )
        finally:
            if not args.pipe:
                handle.close()
        progress.finish()
        assert obj is not None
        print(
            f"Upload complete: {bucket_name}/{key} ({obj.size} bytes, etag {obj.etag})",
            file=sys.stderr,
        )
    return 0


async def _get(args: argparse.Namespace) -> int:
    bucket_name, key = _split(args.target)
    async with env_from_args(args) as env:
        bucket = _binding(env, bucket_name)
        obj = await bucket.get(key)
        if not isinstance(obj, R2ObjectBody):
            raise NoSuchKey("get")
        out: IO[bytes]
        if args.pipe or args.file is None:
            out = sys.stdout.buffer
        else:
            try:
                out = open(args.file, "wb")  # noqa: ASYNC230,SIM115 -- writes happen in a thread
            except OSError as exc:
                raise ConfigError(f"cannot write {args.file}: {exc}") from exc
        progress = _Progress(f"Downloading {key}", obj.size, _show_progress(args) and not args.pipe)
        try:
            async for chunk in obj.body:
                await asyncio.to_thread(out.write, chunk)
                progress.advance(len(chunk))
            await asyncio.to_thread(out.flush)
        finally:
            if out is not sys.stdout.buffer:
                out.close()
        progress.finish()
        if out is not sys.stdout.buffer:
            print(f"Download complete: {bucket_name}/{key} -> {args.file}", file=sys.stderr)
    return 0


async def _delete(args: argparse.Namespace) -> int:
    bucket_name, key = _split(args.target)
    async with env_from_args(args) as env:
        await _binding(env, bucket_name).delete(key)
    print(f"Deleted {bucket_name}/{key}", file=sys.stderr)
    return 0


async def _list(args: argparse.Namespace) -> int:
    async with env_from_args(args) as env:
        bucket = _binding(env, args.bucket)
        cursor = None
        while True:
            page = await bucket.list(
                prefix=args.prefix,
                delimiter=args.delimiter,
                cursor=cursor,
                include=["httpMetadata"],
            )
            for prefix in page.delimitedPrefixes:
                print(json.dumps({"prefix": prefix}))
            for obj in page.objects:
                line = {
                    "key": obj.key,
                    "size": obj.size,
                    "etag": obj.etag,
                    "uploaded": obj.uploaded.isoformat(),
                    "contentType": obj.httpMetadata.get("contentType"),
                }
                print(json.dumps(line, ensure_ascii=False))
            if not page.truncated:
                return 0
            cursor = page.cursor


def register(subparsers: Any) -> None:
    """Add ``r2 object put|get|delete|list`` to the ``edgeroom`` command."""
    r2 = subparsers.add_parser("r2", help="R2 object storage (wrangler r2 ...)")
    r2_sub = r2.add_subparsers(dest="r2_command", metavar="COMMAND")
    obj = r2_sub.add_parser("object", help="put, get, delete or list objects")
    obj_sub = obj.add_subparsers(dest="object_command", metavar="COMMAND")

    put = obj_sub.add_parser("put", help="upload an object: <BUCKET>/<KEY> --file PATH | --pipe")
    put.add_argument("target", metavar="<BUCKET>/<KEY>")
    put.add_argument("--file", "-f", help="the file to upload")
    put.add_argument("--pipe", "-p", action="store_true", help="read the object from stdin")
    put.add_argument("--content-type", "--ct", dest="content_type")
    put.add_argument("--content-disposition", "--cd", dest="content_disposition")
    put.add_argument("--content-encoding", "--ce", dest="content_encoding")
    put.add_argument("--content-language", "--cl", dest="content_language")
    put.add_argument("--cache-control", "--cc", dest="cache_control")
    put.add_argument("--expires", "-e", help="cache expiry (HTTP date or ISO 8601)")
    put.add_argument(
        "--storage-class", "-s", dest="storage_class", choices=["Standard", "InfrequentAccess"]
    )
    put.add_argument("--progress", action="store_true", help="show progress even when not on a TTY")
    add_env_options(put)
    put.set_defaults(handler=run_command(_put))

    get = obj_sub.add_parser(
        "get", help="download an object: <BUCKET>/<KEY> [--file PATH | --pipe]"
    )
    get.add_argument("target", metavar="<BUCKET>/<KEY>")
    get.add_argument("--file", "-f", help="where to write the object")
    get.add_argument("--pipe", "-p", action="store_true", help="write the object to stdout")
    get.add_argument("--progress", action="store_true", help="show progress even when not on a TTY")
    add_env_options(get)
    get.set_defaults(handler=run_command(_get))

    delete = obj_sub.add_parser("delete", help="delete an object: <BUCKET>/<KEY>")
    delete.add_argument("target", metavar="<BUCKET>/<KEY>")
    add_env_options(delete)
    delete.set_defaults(handler=run_command(_delete))

    listing = obj_sub.add_parser("list", help="list objects as JSON lines: <BUCKET>")
    listing.add_argument("bucket", metavar="<BUCKET>")
    listing.add_argument("--prefix", default="")
    listing.add_argument("--delimiter", default=None)
    add_env_options(listing)
    listing.set_defaults(handler=run_command(_list))
