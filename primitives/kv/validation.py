"""Cloudflare's KV limits and the exact errors for breaking them (spec section 1.3 and 1.5).

Checks that workerd makes before sending a request raise ``TypeError`` (``KVTypeError``) or
``Error("KV <METHOD> failed: 414 ...")``; checks that the KV service makes raise
``KVError(method, status, text)`` with the service's text. Numbers given as options pass through
JavaScript's integer conversion first (``NaN`` -> 0, fractions truncated), because workerd
declares them ``int``; that is why ``expirationTtl=float("nan")`` reports ``of 0``.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from typing import Any

import orjson

from .errors import KVError, KVTypeError

__all__ = [
    "MISSING",
    "BULK_VALUE_TYPES",
    "DEFAULT_LIST_LIMIT",
    "MAX_BULK_GET_KEYS",
    "MAX_BULK_RESPONSE_BYTES",
    "MAX_KEY_BYTES",
    "MAX_LIST_LIMIT",
    "MAX_METADATA_BYTES",
    "MAX_VALUE_BYTES",
    "MIN_CACHE_TTL_S",
    "MIN_EXPIRATION_TTL_S",
    "PUT_VALUE_TYPE_MESSAGE",
    "UNKNOWN_TYPE_MESSAGE",
    "VALUE_TYPES",
    "check_bulk_keys",
    "check_cache_ttl",
    "check_key",
    "js_key",
    "js_number",
    "check_list_limit",
    "check_metadata_size",
    "check_prefix",
    "check_value_size",
    "decode_cursor",
    "encode_cursor",
    "encode_metadata",
    "merge_options",
    "resolve_expiration",
    "to_js_int",
]

MAX_KEY_BYTES = 512
MAX_VALUE_BYTES = 25 * 1024 * 1024
MAX_METADATA_BYTES = 1024
MIN_EXPIRATION_TTL_S = 60
MIN_CACHE_TTL_S = 30
MAX_LIST_LIMIT = 1000
DEFAULT_LIST_LIMIT = 1000
MAX_BULK_GET_KEYS = 100
MAX_BULK_RESPONSE_BYTES = 25 * 1024 * 1024

VALUE_TYPES = ("text", "json", "arrayBuffer", "stream")
BULK_VALUE_TYPES = ("text", "json")

UNKNOWN_TYPE_MESSAGE = (
    'Unknown response type. Possible types are "text", "arrayBuffer", "json", and "stream".'
)
PUT_VALUE_TYPE_MESSAGE = (
    "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values."
)


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise KVTypeError(f"{what} is not valid Unicode (it contains a lone surrogate).") from exc


def js_key(key: Any) -> Any:
    """The key name workerd sees: WebIDL turns ``null``, booleans and numbers into strings.

    (The Python SDK passes ``None`` as ``null``, so ``get(None)`` reads the key ``"null"``.)
    Anything else is returned unchanged for :func:`check_key` to refuse.
    """
    if key is None:
        return "null"
    if isinstance(key, bool | int | float):
        from .values import js_string

        return js_string(key)
    return key


def js_number(value: Any) -> float:
    """JavaScript's ``Number(value)`` for what the Python SDK can pass (``None`` is ``null``)."""
    if value is None or value is False:
        return 0.0
    if value is True:
        return 1.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip(" \t\n\r\v\f\u00a0\ufeff")
        if text == "":
            return 0.0
        if text in ("Infinity", "+Infinity", "-Infinity"):
            return float(text.replace("Infinity", "inf"))
        try:
            if text[:2].lower() in ("0x", "0o", "0b"):
                return float(int(text, 0))
            if any(c in text.lower() for c in ("n", "_")):  # "nan", "inf", "1_0": not JS
                return math.nan
            return float(text)
        except ValueError:
            return math.nan
    return math.nan


def check_key(method: str, key: Any) -> bytes:
    """workerd's ``validateKeyName``; returns the key's UTF-8 bytes."""
    if not isinstance(key, str):
        raise KVTypeError(f"Key name must be a string, not {type(key).__name__}.")
    if key == "":
        raise KVTypeError("Key name cannot be empty.")
    if key in (".", ".."):
        raise KVTypeError(f'"{key}" is not allowed as a key name.')
    encoded = _utf8(key, "Key name")
    if len(encoded) > MAX_KEY_BYTES:
        raise KVError(
            method,
            414,
            f"UTF-8 encoded length of {len(encoded)} exceeds key length limit of {MAX_KEY_BYTES}.",
        )
    return encoded


def check_bulk_keys(keys: Any) -> list[str]:
    """The bulk-get service's checks on the key list (workerd sends it unchecked)."""
    if not isinstance(keys, list | tuple):
        raise KVTypeError(f"Bulk get needs a list of key names, not {type(keys).__name__}.")
    if len(keys) > MAX_BULK_GET_KEYS:
        raise KVError("GET_BULK", 400, f"You can request a maximum of {MAX_BULK_GET_KEYS} keys")
    if len(keys) < 1:
        raise KVError("GET_BULK", 400, "You must request a minimum of 1 key")
    for key in keys:
        if not isinstance(key, str):
            raise KVTypeError(f"Key name must be a string, not {type(key).__name__}.")
        if key == "":
            raise KVError("GET_BULK", 400, "Key names must not be empty")
        if key in (".", ".."):
            raise KVError(
                "GET_BULK", 400, f'Illegal key name "{key}". Please use a different name.'
            )
        length = len(_utf8(key, "Key name"))
        if length > MAX_KEY_BYTES:
            raise KVError(
                "GET_BULK",
                414,
                f"UTF-8 encoded length of {length} exceeds key length limit of {MAX_KEY_BYTES}.",
            )
    return list(keys)


def to_js_int(value: Any, option: str) -> int:
    """JavaScript's conversion to a WebIDL integer: ``Number(value)``, NaN and infinities 0.

    Lists and dicts are refused (JavaScript objects; never meant as a number here).
    """
    if isinstance(value, list | tuple | dict):
        raise KVTypeError(f"Option {option} must be a number, not {type(value).__name__}.")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = js_number(value)
    if math.isnan(number) or math.isinf(number):
        return 0
    return math.trunc(number)


#: An option that was not given (``None`` is given: the Python SDK passes it as ``null``).
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


def check_cache_ttl(method: str, cache_ttl: Any = MISSING) -> int | None:
    """The ``cacheTtl`` option (``null`` converts to 0, below the minimum, as on workerd)."""
    if cache_ttl is MISSING:
        return None
    ttl = to_js_int(cache_ttl, "cacheTtl")
    if ttl < MIN_CACHE_TTL_S:
        raise KVError(
            method,
            400,
            f"Invalid cache_ttl of {ttl}. Cache TTL must be at least {MIN_CACHE_TTL_S}.",
        )
    return ttl


def resolve_expiration(
    now: float, expiration: Any = MISSING, expiration_ttl: Any = MISSING
) -> int | None:
    """Absolute expiry in epoch seconds; ``expirationTtl`` wins when both are given.

    An option given as ``None`` is JavaScript ``null``, which converts to 0 and is refused.
    """
    now_s = math.floor(now)
    if expiration_ttl is not MISSING:
        ttl = to_js_int(expiration_ttl, "expirationTtl")
        if ttl <= 0:
            raise KVError(
                "PUT",
                400,
                f"Invalid expiration_ttl of {ttl}. Please specify integer greater than 0.",
            )
        if ttl < MIN_EXPIRATION_TTL_S:
            raise KVError(
                "PUT",
                400,
                f"Invalid expiration_ttl of {ttl}. "
                f"Expiration TTL must be at least {MIN_EXPIRATION_TTL_S}.",
            )
        return now_s + ttl
    if expiration is not MISSING:
        when = to_js_int(expiration, "expiration")
        if when <= now_s:
            raise KVError(
                "PUT",
                400,
                f"Invalid expiration of {when}. Please specify integer greater than the current "
                "number of seconds since the UNIX epoch.",
            )
        if when < now_s + MIN_EXPIRATION_TTL_S:
            raise KVError(
                "PUT",
                400,
                f"Invalid expiration of {when}. Expiration times must be at least "
                f"{MIN_EXPIRATION_TTL_S} seconds in the future.",
            )
        return when
    return None


def encode_metadata(metadata: Any) -> bytes | None:
    """Serialise metadata as ``JSON.stringify`` would (compact; NaN becomes null)."""
    if metadata is None:
        return None
    try:
        return orjson.dumps(metadata, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, ValueError) as exc:
        raise KVTypeError(f"KV put() metadata must be JSON-serialisable: {exc}") from exc


def check_metadata_size(encoded: bytes | None) -> None:
    if encoded is not None and len(encoded) > MAX_METADATA_BYTES:
        raise KVError(
            "PUT", 413, f"Metadata length of {len(encoded)} exceeds limit of {MAX_METADATA_BYTES}."
        )


def check_value_size(length: int) -> None:
    if length > MAX_VALUE_BYTES:
        raise KVError("PUT", 413, f"Value length of {length} exceeds limit of {MAX_VALUE_BYTES}.")


def check_list_limit(limit: Any) -> int:
    """workerd only sends a limit above 0, so 0, negatives and NaN mean the default (1000)."""
    if limit is None:
        return DEFAULT_LIST_LIMIT
    value = to_js_int(limit, "limit")
    if value <= 0:
        return DEFAULT_LIST_LIMIT
    if value > MAX_LIST_LIMIT:
        raise KVError(
            "GET",
            400,
            f"Invalid key_count_limit of {value}. "
            f"Please specify an integer less than {MAX_LIST_LIMIT}.",
        )
    return value


def check_prefix(prefix: Any) -> str:
    if prefix is None:
        return ""
    if not isinstance(prefix, str):
        raise KVTypeError(f"Option prefix must be a string, not {type(prefix).__name__}.")
    length = len(_utf8(prefix, "Prefix"))
    if length > MAX_KEY_BYTES:
        raise KVError(
            "GET",
            414,
            f"UTF-8 encoded length of {length} exceeds key length limit of {MAX_KEY_BYTES}.",
        )
    return prefix


def encode_cursor(last_key: str) -> str:
    """An opaque cursor: "start after this key" (as Miniflare's), URL-safe base64."""
    return base64.urlsafe_b64encode(last_key.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: Any) -> str | None:
    """The key a cursor starts after. Like Miniflare, a cursor that is not one of ours is
    decoded leniently (characters outside base64 are dropped, bad UTF-8 becomes U+FFFD), so a
    garbage cursor lists from some key onwards (usually past the end) instead of failing."""
    if cursor is None or cursor == "":
        return None
    if not isinstance(cursor, str):
        raise KVTypeError(f"Option cursor must be a string, not {type(cursor).__name__}.")
    text = "".join(c for c in cursor.replace("-", "+").replace("_", "/") if c in _B64)
    text = text[: len(text) - len(text) % 4 if len(text) % 4 == 1 else len(text)]
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return "\uffff"
    return raw.decode("utf-8", errors="replace")


_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def merge_options(
    method: str, options: Any, kwargs: Mapping[str, Any], allowed: tuple[str, ...]
) -> dict[str, Any]:
    """Options as a dict or keyword arguments (or None), as the Python SDK accepts them.

    Unknown option names are refused (JavaScript would ignore them silently; a typo such as
    ``expirationTTL`` is better caught).
    """
    if options is None and not kwargs:
        return {}
    merged: dict[str, Any] = {}
    if options is not None:
        if not isinstance(options, Mapping):
            raise KVTypeError(
                f"KV {method}() options must be a dict or keyword arguments, "
                f"not {type(options).__name__}."
            )
        merged.update(options)
    merged.update(kwargs)
    unknown = sorted(name for name in merged if name not in allowed)
    if unknown:
        raise KVTypeError(
            f"KV {method}() got unknown option(s) {', '.join(map(repr, unknown))}; "
            f"expected {', '.join(allowed)}."
        )
    return merged
