"""``Headers``: case-insensitive, multi-valued HTTP headers with the Fetch API's behaviour.

``get(name)`` joins repeated values with ``", "`` (as JavaScript does); ``getAll``/``getSetCookie``
return them separately; iteration yields lower-case names in sorted order. Names and values are
checked: a name must be an HTTP token and a value must not contain CR, LF or NUL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Union

__all__ = ["Headers", "HeadersInit"]

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(r"[\r\n\x00]")

HeadersInit = Union["Headers", Mapping[str, str], Iterable[tuple[str, str]], None]
#: names already checked, with their lower-case form (bounded: names can come from clients)
_CHECKED_NAMES: dict[str, str] = {}
_CHECKED_NAMES_MAX = 512


def _coerce(name: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"Invalid header value for {name!r}: expected str, got {type(value).__name__}")


class Headers:
    """A list of ``(name, value)`` pairs with case-insensitive lookup."""

    __slots__ = ("_items",)

    def __init__(self, init: HeadersInit = None) -> None:
        self._items: list[tuple[str, str]] = []
        if init is None:
            return
        if isinstance(init, Headers):
            self._items = list(init._items)
            return
        pairs: Iterable[tuple[str, str]] = init.items() if isinstance(init, Mapping) else init
        items = self._items
        for pair in pairs:  # append() inlined: every request builds its headers here
            if len(pair) != 2:
                raise TypeError("Headers init pairs must have exactly two items: (name, value)")
            name, value = pair
            text = value if type(value) is str else _coerce(name, value)
            key = _CHECKED_NAMES.get(name) if type(name) is str else None
            if key is None or _BAD_VALUE.search(text):
                key = self._check(name, text)  # raises for a bad name or value
            items.append((key, text.strip(" \t")))

    @staticmethod
    def _check(name: str, value: str | None = None) -> str:
        key = _CHECKED_NAMES.get(name) if isinstance(name, str) else None
        if key is None:
            if not isinstance(name, str) or not _TOKEN.match(name):
                raise TypeError(f"Invalid header name: {name!r}")
            key = name.lower()
            if len(_CHECKED_NAMES) < _CHECKED_NAMES_MAX:
                _CHECKED_NAMES[name] = key
        if value is not None and (not isinstance(value, str) or _BAD_VALUE.search(value)):
            raise TypeError(f"Invalid header value for {name!r}: {value!r}")
        return key

    # -- Fetch API --------------------------------------------------------------------------
    def append(self, name: str, value: str | int | float) -> None:
        text = _coerce(name, value)
        key = self._check(name, text)
        self._items.append((key, text.strip(" \t")))

    def set(self, name: str, value: str | int | float) -> None:
        text = _coerce(name, value)
        key = self._check(name, text)
        self._items = [(k, v) for k, v in self._items if k != key]
        self._items.append((key, text.strip(" \t")))

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.lower()
        found: str | None = None
        for k, v in self._items:
            if k == key:
                found = v if found is None else f"{found}, {v}"
        return default if found is None else found

    def getAll(self, name: str) -> list[str]:
        key = name.lower()
        return [v for k, v in self._items if k == key]

    def getSetCookie(self) -> list[str]:
        return self.getAll("set-cookie")

    def has(self, name: str) -> bool:
        key = name.lower()
        return any(k == key for k, _ in self._items)

    def delete(self, name: str) -> None:
        key = name.lower()
        self._items = [(k, v) for k, v in self._items if k != key]

    def entries(self) -> Iterator[tuple[str, str]]:
        """Sorted, combined pairs as JavaScript iterates them (``set-cookie`` stays separate)."""
        for name in sorted({k for k, _ in self._items}):
            if name == "set-cookie":
                for value in self.getAll(name):
                    yield name, value
            else:
                yield name, self.get(name) or ""

    # -- Python mapping conveniences ----------------------------------------------------------
    def items(self) -> list[tuple[str, str]]:
        return list(self.entries())

    def keys(self) -> list[str]:
        return sorted({k for k, _ in self._items})

    def values(self) -> list[str]:
        return [v for _, v in self.entries()]

    def raw(self) -> list[tuple[str, str]]:
        """Every pair in insertion order, names lower-cased (for writing to the wire)."""
        return list(self._items)

    def copy(self) -> Headers:
        return Headers(self)

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: str) -> None:
        self.set(name, value)

    def __delitem__(self, name: str) -> None:
        if not self.has(name):
            raise KeyError(name)
        self.delete(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.has(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return sorted(self._items) == sorted(other._items)
        if isinstance(other, Mapping):
            return dict(self.items()) == {k.lower(): v for k, v in other.items()}
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self.items()!r})"
