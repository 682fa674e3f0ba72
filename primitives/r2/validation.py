"""R2's rules: keys, metadata, checksums, ranges, list options, part numbers.

Conditionals (``onlyIf``) are in :mod:`.conditionals`.

Client-side checks copy workerd (``api/r2-bucket.c++``, ``r2-multipart.c++``): their ``TypeError``
and ``RangeError`` texts are exact. Server-side rules copy Miniflare's copy of the R2 gateway
(``src/workers/r2/validator.worker.ts``): conditional evaluation, range clamping, metadata size.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..headers import Headers
from .conditionals import parse_http_date, to_ms
from .errors import (
    InvalidArgument,
    InvalidMaxKeys,
    InvalidObjectName,
    InvalidRange,
    MetadataTooLarge,
    R2RangeError,
    R2TypeError,
)
from .limits import MAX_KEY_BYTES, MAX_LIST_LIMIT, MAX_METADATA_BYTES, MAX_PART_NUMBER

__all__ = [
    "HASH_ALGORITHMS",
    "RangeSpec",
    "http_metadata_from",
    "metadata_size",
    "parse_checksum",
    "parse_include",
    "parse_range",
    "resolve_range",
    "validate_custom_metadata",
    "validate_key",
    "validate_limit",
    "validate_part_number",
    "validate_storage_class",
]

#: option field -> (R2's algorithm name, hashlib name, digest bytes)
HASH_ALGORITHMS: dict[str, tuple[str, str, int]] = {
    "md5": ("MD5", "md5", 16),
    "sha1": ("SHA-1", "sha1", 20),
    "sha256": ("SHA-256", "sha256", 32),
    "sha384": ("SHA-384", "sha384", 48),
    "sha512": ("SHA-512", "sha512", 64),
}
STORAGE_CLASSES = ("Standard", "InfrequentAccess")
HTTP_METADATA_FIELDS = (
    "contentType",
    "contentLanguage",
    "contentDisposition",
    "contentEncoding",
    "cacheControl",
    "cacheExpiry",
)


def validate_key(key: Any) -> str:
    """Return the key as R2 sees it; longer than 1,024 UTF-8 bytes -> InvalidObjectName (10020)."""
    if isinstance(key, int | float) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str):
        raise R2TypeError(
            f"Failed to execute on 'R2Bucket': key must be a string, got {type(key).__name__}"
        )
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates: V8 replaces them with U+FFFD when converting to UTF-8.
        key = key.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        encoded = key.encode("utf-8")
    if len(encoded) > MAX_KEY_BYTES:
        raise InvalidObjectName()
    checked: str = key
    return checked


def _weighted_length(text: str) -> int:
    """The gateway's length: UTF-16 code units, doubled if any unit is >= 256."""
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    return units * 2 if any(ord(ch) >= 256 for ch in text) else units


def metadata_size(custom: Mapping[str, str]) -> int:
    return sum(_weighted_length(k) + _weighted_length(v) for k, v in custom.items())


def validate_custom_metadata(custom: Any) -> dict[str, str]:
    if custom is None:
        return {}
    if not isinstance(custom, Mapping):
        raise R2TypeError("customMetadata must be an object with string values")
    out: dict[str, str] = {}
    for k, v in custom.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise R2TypeError("customMetadata must be an object with string values")
        out[k] = v
    if metadata_size(out) > MAX_METADATA_BYTES:
        raise MetadataTooLarge()
    return out


def http_metadata_from(value: Any) -> dict[str, Any]:
    """``httpMetadata`` (dict or Headers) -> stored form (``cacheExpiry`` in ms)."""
    if value is None:
        return {}
    if isinstance(value, Headers):
        out: dict[str, Any] = {}
        for field, header in (
            ("contentType", "content-type"),
            ("contentEncoding", "content-encoding"),
            ("contentDisposition", "content-disposition"),
            ("contentLanguage", "content-language"),
            ("cacheControl", "cache-control"),
        ):
            if (got := value.get(header)) is not None:
                out[field] = got
        if (expires := value.get("expires")) is not None:
            out["cacheExpiry"] = parse_http_date(expires)
        return out
    if not isinstance(value, Mapping):
        raise R2TypeError("httpMetadata must be an object or a Headers")
    stored: dict[str, Any] = {}
    for field in HTTP_METADATA_FIELDS:
        item = value.get(field)
        if item is None:
            continue
        if field == "cacheExpiry":
            stored[field] = to_ms(item, "cacheExpiry")
        elif not isinstance(item, str):
            raise R2TypeError(f"httpMetadata.{field} must be a string")
        else:
            stored[field] = item
    return stored


def parse_checksum(options: Mapping[str, Any]) -> tuple[str, bytes] | None:
    """The one hash a put may carry, decoded; workerd's TypeErrors otherwise."""
    found: tuple[str, bytes] | None = None
    for field, (name, _, size) in HASH_ALGORITHMS.items():
        value = options.get(field)
        if value is None:
            continue
        if found is not None:
            raise R2TypeError("You cannot specify multiple hashing algorithms.")
        if isinstance(value, str):
            if len(value) != size * 2:
                raise R2TypeError(f"{name} is {size * 2} hex characters, not {len(value)}")
            try:
                digest = binascii.unhexlify(value)
            except (binascii.Error, ValueError):
                raise R2TypeError(f"Provided {name} wasn't a valid hex string") from None
        elif isinstance(value, bytes | bytearray | memoryview):
            digest = bytes(value)
            if len(digest) != size:
                raise R2TypeError(f"{name} is {size} bytes, not {len(digest)}")
        else:
            raise R2TypeError(f"{field} must be a hex string or bytes, got {type(value).__name__}")
        found = (field, digest)
    return found


def validate_storage_class(value: Any) -> str:
    if value is None:
        return "Standard"
    if value not in STORAGE_CLASSES:
        raise InvalidArgument()
    return str(value)


# -- ranges ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RangeSpec:
    offset: int | None = None
    length: int | None = None
    suffix: int | None = None
    header: str | None = None


def _js_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _check_number(value: Any, label: str, invalid: str = "range") -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise R2TypeError(f"{label} must be a number, got {type(value).__name__}")
    if value < 0:
        if label == "Suffix":
            raise R2RangeError(
                f"Invalid suffix. Suffix ({_js_number(value)}) must be greater than or equal to 0."
            )
        raise R2RangeError(
            f"Invalid {invalid}. {label} ({_js_number(value)}) must be greater than or equal to 0."
        )
    if not float(value).is_integer():
        raise R2RangeError(
            f"Invalid range. {label} ({_js_number(value)}) must be an integer, not floating point."
        )
    return int(value)


def parse_range(value: Any) -> RangeSpec | None:
    """``range`` (``{offset, length}``, ``{suffix}`` or a Headers with ``Range``) -> RangeSpec."""
    if value is None:
        return None
    if isinstance(value, Headers):
        header = value.get("range")
        return RangeSpec(header=header) if header is not None else None
    if not isinstance(value, Mapping):
        raise R2TypeError("range must be an R2Range object or a Headers")
    offset, length, suffix = value.get("offset"), value.get("length"), value.get("suffix")
    off = _check_number(offset, "Starting offset") if offset is not None else None
    ln = _check_number(length, "Length") if length is not None else None
    suf = None
    if suffix is not None:
        if offset is not None:
            raise R2TypeError("Suffix is incompatible with offset.")
        if length is not None:
            raise R2TypeError("Suffix is incompatible with length.")
        suf = _check_number(suffix, "Suffix")
    return RangeSpec(offset=off, length=ln, suffix=suf)


_RANGE_UNIT = re.compile(r"^\s*bytes\s*=\s*(.*)$", re.IGNORECASE)
_RANGE_ITEM = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


def _parse_range_header(header: str, size: int) -> tuple[int, int] | None:
    """A single satisfiable range -> (offset, length); anything else -> None (full object)."""
    unit = _RANGE_UNIT.match(header)
    if not unit:
        return None
    items = unit.group(1).split(",")
    if len(items) != 1:
        return None
    match = _RANGE_ITEM.match(items[0])
    if not match or (not match.group(1) and not match.group(2)):
        return None
    start_s, end_s = match.groups()
    if not start_s:
        suffix = int(end_s)
        if suffix == 0 or size == 0:
            return None
        suffix = min(suffix, size)
        return size - suffix, suffix
    start = int(start_s)
    end = int(end_s) if end_s else size - 1
    if start > end or start >= size:
        return None
    end = min(end, size - 1)
    return start, end - start + 1


def resolve_range(spec: RangeSpec | None, size: int) -> tuple[int, int]:
    """(offset, length) to read from ``size`` bytes; InvalidRange (10039) if unsatisfiable."""
    if spec is None:
        return 0, size
    if spec.header is not None:
        return _parse_range_header(spec.header, size) or (0, size)
    offset, length = spec.offset, spec.length
    if spec.suffix is not None:
        if spec.suffix <= 0:
            raise InvalidRange()
        suffix = min(spec.suffix, size)
        offset, length = size - suffix, suffix
    if offset is None:
        offset = 0
    if length is None:
        length = size - offset
    if offset < 0 or offset > size or length <= 0:
        raise InvalidRange()
    return offset, min(length, size - offset)


# -- list, multipart --------------------------------------------------------------------------


def validate_limit(limit: Any) -> int:
    if limit is None:
        return MAX_LIST_LIMIT
    if (
        isinstance(limit, bool)
        or not isinstance(limit, int | float)
        or not float(limit).is_integer()
    ):
        raise InvalidMaxKeys()
    if limit < 1 or limit > MAX_LIST_LIMIT:
        raise InvalidMaxKeys()
    return int(limit)


def parse_include(include: Any) -> tuple[bool, bool]:
    """``include`` -> (httpMetadata?, customMetadata?); unknown value -> RangeError."""
    if include is None:
        return False, False
    if isinstance(include, str) or not hasattr(include, "__iter__"):
        raise R2TypeError("include must be an array of strings")
    http = custom = False
    for item in include:
        if item == "httpMetadata":
            http = True
        elif item == "customMetadata":
            custom = True
        else:
            raise R2RangeError(f"Unsupported include value {item}")
    return http, custom


def validate_part_number(number: Any) -> int:
    if isinstance(number, bool) or not isinstance(number, int):
        raise R2TypeError(f"Part number must be an integer, got {type(number).__name__}")
    if not 1 <= number <= MAX_PART_NUMBER:
        raise R2TypeError(
            f"Part number must be between 1 and 10000 (inclusive). Actual value was: {number}"
        )
    return number
