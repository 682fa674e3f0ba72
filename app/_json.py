"""JSON for the app: orjson when it is there (containers), the standard library otherwise (Workers)."""

from __future__ import annotations

from typing import Any

try:
    import orjson

    def dumps(value: Any) -> str:
        return orjson.dumps(value).decode()

    def loads(text: str | bytes) -> Any:
        return orjson.loads(text)

    JSONDecodeError: type[ValueError] = orjson.JSONDecodeError
except ImportError:  # pragma: no cover - Pyodide without orjson
    import json

    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def loads(text: str | bytes) -> Any:
        return json.loads(text)

    JSONDecodeError = json.JSONDecodeError

__all__ = ["JSONDecodeError", "dumps", "loads"]
