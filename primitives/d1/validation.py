"""Checks and conversions D1 applies before a query leaves the Worker, with D1's exact texts.

Values follow ``d1-api.ts bind()``: ``None`` is NULL, ``bool`` becomes 1/0, ``int`` and
``float`` are numbers, ``str`` is TEXT, bytes-like values and lists of integers 0..255 (a JS
``number[]``) are BLOBs; anything else is ``D1_TYPE_ERROR: Type '<typeof>' not supported for
value '<value>'`` with the JavaScript ``typeof`` and string form D1 would print.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .backend import D1Value
from .errors import D1Error, D1TypeError, d1_cause
from .limits import MAX_INTEGER, MAX_SQL_STATEMENT_BYTES, MAX_VALUE_BYTES, MIN_INTEGER

__all__ = ["check_query", "check_sql", "convert_value", "convert_values", "raw_column_names"]

_SURROGATE = re.compile("[\ud800-\udfff]")
TOO_BIG = "string or blob too big: SQLITE_TOOBIG"
STATEMENT_TOO_LONG = "statement too long: SQLITE_TOOBIG"


def check_sql(sql: object) -> str:
    """The SQL text, if it is a string (its length is checked when it runs, as on D1)."""
    if not isinstance(sql, str):
        raise TypeError(f"D1 prepare() needs the SQL as a str, got {type(sql).__name__}")
    return sql


def _utf8_length_over(text: str, limit: int) -> bool:
    return len(text) > limit // 4 and len(text.encode("utf-8", "surrogatepass")) > limit


def check_query(sql: str, params: tuple[D1Value, ...]) -> None:
    """D1's size limits for a query about to run: 100 KB of SQL, 2 MB per string or BLOB.

    D1 enforces them on its side, so they surface when the query runs (``run()``, ``all()``…),
    with SQLite's own text, never at ``prepare()`` or ``bind()``.
    """
    if _utf8_length_over(sql, MAX_SQL_STATEMENT_BYTES):
        raise D1Error(STATEMENT_TOO_LONG) from d1_cause(STATEMENT_TOO_LONG)
    for value in params:
        if type(value) is str:
            if _utf8_length_over(value, MAX_VALUE_BYTES):  # type: ignore[arg-type]
                raise D1Error(TOO_BIG) from d1_cause(TOO_BIG)
        elif type(value) is bytes and len(value) > MAX_VALUE_BYTES:  # type: ignore[arg-type]
            raise D1Error(TOO_BIG) from d1_cause(TOO_BIG)


def _js_typeof(value: object) -> str:
    if isinstance(value, int):
        return "bigint"  # only reached for integers outside SQLite's 64-bit range
    return "function" if callable(value) else "object"


def _js_string(value: object) -> str:
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, list | tuple):
        return ",".join("" if v is None else _js_string(v) for v in value)
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def _type_error(value: object) -> D1TypeError:
    typeof, text = _js_typeof(value), _js_string(value)
    message = f"Type '{typeof}' not supported for value '{text}'"
    error = D1TypeError(message)
    error.__cause__ = d1_cause(message)
    return error


def _well_formed(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD, as JavaScript's UTF-8 encoding does."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def _byte_list(value: list[Any] | tuple[Any, ...]) -> bytes | None:
    if all(type(b) is int and 0 <= b < 256 for b in value):
        return bytes(value)
    return None


def convert_value(value: object) -> D1Value:
    """One bound value as SQLite stores it, or :class:`D1TypeError`."""
    kind = type(value)
    if value is None or kind is float:
        return value  # type: ignore[return-value]
    if kind is str:
        assert isinstance(value, str)
        return value if value.isascii() else _well_formed(value)
    if kind is bool:
        return 1 if value else 0
    if isinstance(value, int) and not isinstance(value, bool):
        if MIN_INTEGER <= value <= MAX_INTEGER:
            return int(value)
        raise _type_error(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return convert_value(str(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, list | tuple):
        data = _byte_list(value)
        if data is not None:
            return data
    raise _type_error(value)


def convert_values(values: Iterable[object]) -> tuple[D1Value, ...]:
    """All bound values, converted (see :func:`convert_value`)."""
    return tuple(convert_value(v) for v in values)


def raw_column_names(options: Mapping[str, Any] | None, column_names: bool | None) -> bool:
    """``raw()``'s ``columnNames`` option, given as a keyword or in an options dict (or None)."""
    if column_names is not None:
        return bool(column_names)
    if options is None:
        return False
    if not isinstance(options, Mapping):
        raise TypeError(f"raw() options must be a dict or None, got {type(options).__name__}")
    return bool(options.get("columnNames", False))
