"""Dict-like results with attribute access, as the Python Workers SDK returns them.

On Cloudflare, ``workers-runtime-sdk`` wraps JavaScript result objects in ``JsDict``: a real
``dict`` that also answers ``result.name`` for ``result["name"]``. Bindings here return the same.
"""

from __future__ import annotations

from typing import Any

__all__ = ["JsDict", "to_jsdict"]


class JsDict(dict[str, Any]):
    """A ``dict`` whose keys can also be read (and written) as attributes."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__!s} has no attribute or key {name!r}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


def to_jsdict(value: Any) -> Any:
    """Convert nested plain dicts (and dicts inside lists) to :class:`JsDict`."""
    if isinstance(value, dict) and not isinstance(value, JsDict):
        return JsDict({k: to_jsdict(v) for k, v in value.items()})
    if isinstance(value, list):
        return [to_jsdict(v) for v in value]
    return value
