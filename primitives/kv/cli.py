"""``edgeroom kv``: wrangler's ``kv key`` and ``kv bulk`` commands against local (or Redis) KV.

    edgeroom kv key put SESSIONS greeting "hello" [--ttl 3600] [--expiration N] [--metadata JSON]
    edgeroom kv key put SESSIONS blob --path ./file.bin
    edgeroom kv key get SESSIONS greeting [--text] [--with-metadata]
    edgeroom kv key delete SESSIONS greeting
    edgeroom kv key list SESSIONS [--prefix user:]
    edgeroom kv bulk put SESSIONS pairs.json

The binding is the name in ``wrangler.toml``; its storage is whatever the server would use (the
data directory, or ``EDGEROOM_<BINDING>_URL``). Every write goes through the binding, so the
same limits and error texts apply as in a Worker. ``bulk put`` takes wrangler's file format: a
JSON array of ``{"key", "value", "expiration"?, "expiration_ttl"?, "metadata"?, "base64"?}``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import sys
from pathlib import Path
from typing import Any

from ..cli import add_env_options, env_from_args, run_command
from ..env import Env
from ..errors import ConfigError, PrimitiveError
from .binding import KVNamespace

__all__ = ["MAX_BULK_PAIRS", "register"]

#: wrangler's limit for one bulk upload
MAX_BULK_PAIRS = 10_000


class KVCommandError(PrimitiveError):
    """The command line or an input file is wrong."""


def _given(**options: Any) -> dict[str, Any]:
    """The options that were given: ``None`` would reach the binding as JavaScript ``null``."""
    return {name: value for name, value in options.items() if value is not None}


def _namespace(env: Env, binding: str) -> KVNamespace:
    if binding not in env:
        raise ConfigError(f"no binding named {binding!r} in {env.config.path}")
    value = env[binding]
    if not isinstance(value, KVNamespace):
        raise ConfigError(f"binding {binding!r} is not a KV namespace")
    return value


def _metadata(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise KVCommandError(f"--metadata is not valid JSON: {exc}") from exc


async def _put(args: argparse.Namespace) -> int:
    if (args.value is None) == (args.path is None):
        raise KVCommandError("give exactly one of VALUE or --path")
    value: str | bytes
    if args.path is not None:
        try:
            value = await asyncio.to_thread(Path(args.path).read_bytes)
        except OSError as exc:
            raise KVCommandError(f"cannot read --path {args.path}: {exc}") from exc
    else:
        value = args.value
    metadata = _metadata(args.metadata)
    async with env_from_args(args) as env:
        kv = _namespace(env, args.binding)
        await kv.put(
            args.key,
            value,
            **_given(expiration=args.expiration, expirationTtl=args.ttl, metadata=metadata),
        )
    shown = f"the contents of {args.path}" if args.path is not None else f'the value "{args.value}"'
    print(f'Writing {shown} to key "{args.key}" on binding {args.binding}.')
    return 0


async def _get(args: argparse.Namespace) -> int:
    async with env_from_args(args) as env:
        kv = _namespace(env, args.binding)
        result = await kv.getWithMetadata(args.key, "arrayBuffer")
    value = result["value"]
    if value is None:
        print("Value not found")
        return 0
    data = bytes(value)
    if args.with_metadata:
        print(
            json.dumps({"value": data.decode("utf-8", "replace"), "metadata": result["metadata"]})
        )
    elif args.text:
        print(data.decode("utf-8", "replace"))
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


async def _delete(args: argparse.Namespace) -> int:
    async with env_from_args(args) as env:
        await _namespace(env, args.binding).delete(args.key)
    print(f'Deleting the key "{args.key}" on binding {args.binding}.')
    return 0


async def _list(args: argparse.Namespace) -> int:
    keys: list[dict[str, Any]] = []
    async with env_from_args(args) as env:
        kv = _namespace(env, args.binding)
        cursor = None
        while True:
            page = await kv.list(prefix=args.prefix, cursor=cursor)
            keys.extend(dict(key) for key in page["keys"])
            if page["list_complete"]:
                break
            cursor = page["cursor"]
    print(json.dumps(keys, indent=2, ensure_ascii=False))
    return 0


def _bulk_pairs(path: str) -> list[dict[str, Any]]:
    try:
        pairs = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise KVCommandError(f"cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise KVCommandError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(pairs, list):
        raise KVCommandError(f"{path} must hold a JSON array of {{key, value}} objects")
    if len(pairs) > MAX_BULK_PAIRS:
        raise KVCommandError(f"{path} has {len(pairs)} pairs; the limit is {MAX_BULK_PAIRS}")
    allowed = {"key", "value", "expiration", "expiration_ttl", "metadata", "base64"}
    for index, pair in enumerate(pairs):
        where = f"{path}: entry {index}"
        if not isinstance(pair, dict):
            raise KVCommandError(f"{where} is not an object")
        unknown = sorted(set(pair) - allowed)
        if unknown:
            raise KVCommandError(f"{where} has unexpected field(s) {', '.join(unknown)}")
        if not isinstance(pair.get("key"), str) or not isinstance(pair.get("value"), str):
            raise KVCommandError(f'{where} needs string "key" and "value"')
        if pair.get("base64"):
            try:
                pair["value"] = base64.b64decode(pair["value"], validate=True)
            except binascii.Error as exc:
                raise KVCommandError(f"{where}: value is not valid base64: {exc}") from exc
    return pairs


async def _bulk_put(args: argparse.Namespace) -> int:
    pairs = await asyncio.to_thread(_bulk_pairs, args.filename)
    async with env_from_args(args) as env:
        kv = _namespace(env, args.binding)
        for pair in pairs:
            await kv.put(
                pair["key"],
                pair["value"],
                **_given(
                    expiration=pair.get("expiration"),
                    expirationTtl=pair.get("expiration_ttl"),
                    metadata=pair.get("metadata"),
                ),
            )
    print(f"Success! Wrote {len(pairs)} key-value pairs to binding {args.binding}.")
    return 0


def _command(
    parent: Any, name: str, help_text: str, handler: Any, key: bool = True
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = parent.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("binding", metavar="BINDING", help="the KV binding name in wrangler.toml")
    if key:
        parser.add_argument("key", metavar="KEY")
    add_env_options(parser)
    parser.set_defaults(handler=run_command(handler))
    return parser


def register(subparsers: Any) -> None:
    """Add ``kv key put|get|delete|list`` and ``kv bulk put``."""
    kv = subparsers.add_parser("kv", help="read and write KV namespaces (like wrangler kv)")
    families = kv.add_subparsers(dest="kv_family", metavar="{key,bulk}", required=True)
    key = families.add_parser("key", help="one key at a time").add_subparsers(
        dest="kv_command", metavar="{put,get,delete,list}", required=True
    )

    put = _command(key, "put", "write one value", _put)
    put.add_argument("value", metavar="VALUE", nargs="?", help="the value (or use --path)")
    put.add_argument("--path", help="read the value from this file")
    put.add_argument("--metadata", help="metadata, as JSON")
    put.add_argument("--ttl", type=int, help="expire after this many seconds (>= 60)")
    put.add_argument("--expiration", type=int, help="expire at this epoch second")

    get = _command(key, "get", "read one value (raw bytes unless --text)", _get)
    get.add_argument("--text", action="store_true", help="decode the value as UTF-8 text")
    get.add_argument("--with-metadata", action="store_true", help="print {value, metadata} as JSON")

    _command(key, "delete", "delete one key", _delete)
    listing = _command(key, "list", "list keys as JSON", _list, key=False)
    listing.add_argument("--prefix", help="only keys starting with this prefix")

    bulk = families.add_parser("bulk", help="many keys from a JSON file").add_subparsers(
        dest="kv_command", metavar="{put}", required=True
    )
    bulk_put = _command(
        bulk, "put", "write the pairs in a wrangler bulk JSON file", _bulk_put, False
    )
    bulk_put.add_argument("filename", metavar="FILE", help="JSON array of {key, value, ...}")
