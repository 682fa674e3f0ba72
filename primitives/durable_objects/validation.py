"""Durable Object limits and Cloudflare's exact error texts (workerd ``actor-state.c++``,
``actor-storage.c++``, ``sql.c++``, ``actor-id-impl.c++``).

Where workerd throws ``TypeError`` the class here inherits ``TypeError``; ``RangeError`` inherits
``ValueError`` (Python has no RangeError); a plain JavaScript ``Error`` is
:class:`DurableObjectError`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

from ..clone import serialize
from ..errors import PrimitiveError

__all__ = [
    "ALARM_RETRY_MAX_TRIES",
    "ALARM_RETRY_START_SECONDS",
    "BLOCK_CONCURRENCY_TIMEOUT_SECONDS",
    "DurableObjectError",
    "DurableObjectResetError",
    "DurableObjectTypeError",
    "MAX_AUTO_RESPONSE_BYTES",
    "MAX_EVENT_TIMEOUT_MS",
    "MAX_HIBERNATABLE_SOCKETS",
    "MAX_KEYS_PER_CALL",
    "MAX_KEY_BYTES",
    "MAX_TAGS",
    "MAX_TAG_CHARS",
    "MAX_VALUE_BYTES",
    "VALUE_HEADER_ALLOWANCE_BYTES",
    "RangeError",
    "SqlError",
    "alarm_time_ms",
    "check_key",
    "check_key_count",
    "check_value",
    "options_of",
]

MAX_KEY_BYTES = 2048
MAX_VALUE_BYTES = 128 * 1024
#: workerd enforces 131,072 + 34 to allow for the serialization header; 128 KiB of bytes or of
#: ASCII text fits here too (our header is ~17 bytes).
VALUE_HEADER_ALLOWANCE_BYTES = 34
MAX_KEYS_PER_CALL = 128
MAX_TAGS = 10
MAX_TAG_CHARS = 256
MAX_HIBERNATABLE_SOCKETS = 32_768
MAX_AUTO_RESPONSE_BYTES = 2048
MAX_EVENT_TIMEOUT_MS = 604_800_000
ALARM_RETRY_START_SECONDS = 2
ALARM_RETRY_MAX_TRIES = 6
BLOCK_CONCURRENCY_TIMEOUT_SECONDS = 30.0


class DurableObjectError(PrimitiveError):
    """A JavaScript ``Error`` raised by the Durable Object runtime."""


class DurableObjectTypeError(PrimitiveError, TypeError):
    """A JavaScript ``TypeError`` raised by the Durable Object runtime."""


class RangeError(PrimitiveError, ValueError):
    """A JavaScript ``RangeError`` (storage limits)."""


class SqlError(DurableObjectError):
    """An error from ``ctx.storage.sql`` (SQLite's message, workerd's wording)."""


class DurableObjectResetError(DurableObjectError):
    """The object was reset (a storage failure, ``abort()``, a failed blockConcurrencyWhile)."""

    durableObjectReset = True


def options_of(options: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Options as Python Workers pass them: a dict, ``None``, or keyword arguments."""
    if options is not None and not isinstance(options, Mapping):
        raise DurableObjectTypeError(
            f"options must be a dict or None, not {type(options).__name__}"
        )
    merged = dict(options or {})
    merged.update(kwargs)
    return merged


def check_key(key: Any) -> str:
    """A storage key: a ``str`` of at most 2 KiB of UTF-8."""
    if not isinstance(key, str):
        raise DurableObjectTypeError(f"Storage keys must be strings, not {type(key).__name__}.")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise DurableObjectTypeError("Storage keys must be valid Unicode strings.") from None
    if size > MAX_KEY_BYTES:
        raise RangeError(
            f"Keys cannot be larger than {MAX_KEY_BYTES} bytes. A key of size {size} was provided."
        )
    return key


def check_key_count(count: int) -> None:
    if count > MAX_KEYS_PER_CALL:
        raise RangeError(
            f"Maximum number of key value pairs is {MAX_KEYS_PER_CALL}. "
            f"{count} pairs were provided."
        )


def check_value(value: Any) -> bytes:
    """Serialize a value (structured clone) and enforce the 128 KiB value limit."""
    data = serialize(value)  # TypeError for unclonable values
    if len(data) > MAX_VALUE_BYTES + VALUE_HEADER_ALLOWANCE_BYTES:
        raise RangeError(
            f"Values cannot be larger than {MAX_VALUE_BYTES} bytes. "
            f"A value of size {len(data)} was provided."
        )
    return data


def alarm_time_ms(when: Any) -> int:
    """``setAlarm`` accepts epoch milliseconds or a ``datetime`` (naive means UTC)."""
    if isinstance(when, _dt.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.UTC)
        ms = int(when.timestamp() * 1000)
    elif isinstance(when, int | float) and not isinstance(when, bool):
        if when != when:  # NaN
            raise DurableObjectTypeError("setAlarm() cannot be called with an alarm time <= 0")
        ms = int(when)
    else:
        raise DurableObjectTypeError(
            f"setAlarm() takes a number of milliseconds or a datetime, not {type(when).__name__}"
        )
    if ms <= 0:
        raise DurableObjectTypeError("setAlarm() cannot be called with an alarm time <= 0")
    return ms
