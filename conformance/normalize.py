"""One normal form for results from workerd (the oracle) and from ``primitives`` (Python).

Stage 1 turns live values into JSON (``worker.mjs`` does the same in JavaScript):

* bytes / ``memoryview`` / ``ArrayBuffer`` -> ``{"$bytes": base64}``
* ``datetime`` / ``Date`` -> ``{"$date": epoch ms}``
* a JS ``Map`` (a ``dict`` from the Python SDK, for the ops in :data:`MAP_RESULTS`) ->
  ``{"$map": [[key, value], ...]}`` so that key order is compared too
* R2 objects -> their documented fields (``checksums`` as ``toJSON()``; ``bodyUsed`` on bodies)
* errors -> ``{"error": {"type": "TypeError"|"RangeError"|"SyntaxError"|"Error", "message": ...}}``
  (plus ``"cause"`` for D1), the Python exception mapped to the JS type it mirrors by
  :func:`js_error_type`.

Stage 2 (:func:`canonical`) replaces what legitimately differs run to run on *both* sides:
epoch times become relative to the case's start (``{"$rel_s": 120}``), R2 versions and upload
dates, opaque cursors, upload ids, Durable Object ids and durations become placeholders.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = [
    "ERROR_TYPES",
    "MAP_RESULTS",
    "canonical",
    "error_form",
    "js_error_type",
    "to_json",
]

#: Python exception classes (by qualified name) and the JavaScript error type each mirrors.
#: Checked along the MRO before the generic rules (``TypeError`` subclasses -> "TypeError",
#: a ``js_name`` class attribute -> its value, anything else -> "Error").
ERROR_TYPES: dict[str, str] = {
    "primitives.durable_objects.validation.RangeError": "RangeError",
    "primitives.r2.errors.R2RangeError": "RangeError",
    "primitives.kv.errors.KVValueError": "SyntaxError",
}

#: ``(primitive, op)`` pairs whose JavaScript result is a ``Map`` (a ``dict`` in Python) when
#: the first argument is a list (``get``), or always (``list``).
MAP_RESULTS: dict[tuple[str, str], Callable[[list[Any]], bool]] = {
    ("kv", "get"): lambda args: bool(args) and isinstance(args[0], list),
    ("kv", "getWithMetadata"): lambda args: bool(args) and isinstance(args[0], list),
    ("do", "get"): lambda args: bool(args) and isinstance(args[0], list),
    ("do", "list"): lambda args: True,
}

R2_FIELDS = (
    "key",
    "version",
    "size",
    "etag",
    "httpEtag",
    "uploaded",
    "httpMetadata",
    "customMetadata",
    "range",
    "storageClass",
    "ssecKeyMd5",
)


def js_error_type(exc: BaseException) -> str:
    """The JavaScript error type (``name``) that ``exc`` stands for."""
    for cls in type(exc).__mro__:
        mapped = ERROR_TYPES.get(f"{cls.__module__}.{cls.__qualname__}")
        if mapped:
            return mapped
    js_name = getattr(type(exc), "js_name", None)
    if isinstance(js_name, str):
        return js_name
    if isinstance(exc, TypeError):
        return "TypeError"
    return "Error"


def error_form(exc: BaseException) -> dict[str, Any]:
    """``{"error": {"type", "message"[, "cause"]}}`` for a Python exception."""
    error: dict[str, Any] = {"type": js_error_type(exc), "message": str(exc)}
    cause = exc.__cause__
    if cause is not None and type(cause).__name__ == "D1CauseError":
        error["cause"] = str(cause)
    return {"error": error}


def _is_r2_object(value: Any) -> bool:
    return isinstance(value, Mapping) and "httpEtag" in value and "version" in value


def to_json(value: Any) -> Any:
    """Stage 1 for a Python value (see the module docstring)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return {"$num": "NaN"}
        if math.isinf(value):
            return {"$num": "Infinity" if value > 0 else "-Infinity"}
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dt.datetime):
        return {"$date": round(value.timestamp() * 1000)}
    if _is_r2_object(value):
        out = {f: to_json(value[f]) for f in R2_FIELDS if f in value and value[f] is not None}
        checksums = value.get("checksums")
        to_dict = getattr(checksums, "toJSON", None)
        out["checksums"] = to_json(to_dict() if callable(to_dict) else checksums)
        if hasattr(value, "bodyUsed"):
            out["bodyUsed"] = value.bodyUsed
        return out
    if hasattr(value, "uploadPart") and hasattr(value, "uploadId"):
        return {"key": value.key, "uploadId": value.uploadId}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if type(value).__name__ == "DurableObjectId":
        return {"$id": str(value)}
    if hasattr(value, "toArray") and hasattr(value, "columnNames"):
        return {"$type": "SqlStorageCursor"}
    return {"$type": type(value).__name__}


# ---- stage 2 ---------------------------------------------------------------------------------

_BOOKMARK = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$")
_EPOCH_S = re.compile(r"\b1[5-9]\d{8}\b")
_PLACEHOLDER_KEYS = {
    "version": "<version>",
    "uploaded": "<date>",
    "uploadId": "<upload-id>",
    "duration": "<duration>",
}


def _rel_s(value: int, now_s: int) -> dict[str, int]:
    # Expirations computed from a TTL on the server may be a second later than the case start.
    return {"$rel_s": round((value - now_s) / 5) * 5}


def _message(text: str, now_s: int) -> str:
    def sub(match: re.Match[str]) -> str:
        delta = int(match.group()) - now_s
        if abs(delta) > 10**7:
            return match.group()
        return f"<now{round(delta / 5) * 5:+d}>"

    return _EPOCH_S.sub(sub, text)


def canonical(value: Any, now_ms: int, key: str | None = None) -> Any:
    """Stage 2: make a stage-1 JSON value comparable across runs and runtimes."""
    now_s = now_ms // 1000
    if isinstance(value, dict):
        if "$date" in value and len(value) == 1:
            return (
                {"$rel_ms": value["$date"] - now_ms} if key not in _PLACEHOLDER_KEYS else "<date>"
            )
        if "error" in value and len(value) == 1 and isinstance(value["error"], dict):
            err = dict(value["error"])
            err["message"] = _message(str(err.get("message", "")), now_s)
            if "cause" in err:
                err["cause"] = _message(str(err["cause"]), now_s)
            return {"error": err}
        if "$id" in value and len(value) == 1:
            return {"$id": "<id>"}
        if set(value) == {"etag", "partNumber"}:  # an uploaded part: its etag is opaque
            return {"partNumber": value["partNumber"], "etag": "<part-etag>"}
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in _PLACEHOLDER_KEYS and v is not None:
                out[k] = _PLACEHOLDER_KEYS[k]
            elif k == "cursor" and isinstance(v, str):
                out[k] = "<cursor>" if v else ""
            elif k == "expiration" and isinstance(v, int | float):
                out[k] = _rel_s(int(v), now_s)
            else:
                out[k] = canonical(v, now_ms, k)
        return out
    if isinstance(value, list):
        return [canonical(v, now_ms, key) for v in value]
    if isinstance(value, str) and _BOOKMARK.match(value):
        return "<bookmark>"  # D1 bookmarks: opaque, compared by format
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value - now_ms) < 10**10 and value > 10**12:
            return {"$rel_ms": value - now_ms}
        if abs(value - now_s) < 10**7 and value > 10**9:
            return _rel_s(value, now_s)
    return value
