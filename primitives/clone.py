"""Structured clone: the values that may cross an RPC boundary, be stored, or ride on a socket.

Workers copies such values with V8's serializer. Here the clonable set is the Python side of it:
``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``/``bytearray``/``memoryview`` (copied
to ``bytes``), ``list``/``tuple`` (to ``list``), ``dict`` with ``str`` keys, ``set``,
``datetime``. Anything else raises ``TypeError`` with Workers' wording. ``serialize`` gives the
bytes used to measure and persist a value; it only ever reads what ``serialize`` wrote.
"""

from __future__ import annotations

import datetime as _dt
import io
import pickle
from typing import Any

__all__ = ["deserialize", "serialize", "structured_clone"]

#: Deeper values (and cycles, which V8 would keep but a copy cannot) are refused with a
#: ``TypeError``; at 1,000 Python's own recursion limit struck first, as a ``RecursionError``.
_MAX_DEPTH = 200


def _unclonable(value: Any) -> TypeError:
    return TypeError(
        f'Could not serialize object of type "{type(value).__name__}". '
        "This type does not support serialization."
    )


def structured_clone(value: Any, _depth: int = 0) -> Any:
    """Return a deep copy of ``value``, or raise ``TypeError`` if it cannot be cloned."""
    if _depth > _MAX_DEPTH:
        raise TypeError("Could not serialize object: nesting is too deep.")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, _dt.datetime):
        return value
    if isinstance(value, list | tuple):
        return [structured_clone(item, _depth + 1) for item in value]
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str | int):
                raise _unclonable(key)
            out[key] = structured_clone(item, _depth + 1)
        return out
    if isinstance(value, set | frozenset):
        return {structured_clone(item, _depth + 1) for item in value}
    raise _unclonable(value)


#: Types that pickle as themselves and come back as themselves: no copy needed to encode them.
_PLAIN_SCALARS = frozenset({type(None), bool, int, float, str, bytes})


def _plain(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is made only of exact ``dict``/``list`` and :data:`_PLAIN_SCALARS`.

    Such a value is encoded as it is; anything else (a tuple, a subclass, a set, ...) is first
    turned into its clone, whose types are the ones :func:`deserialize` gives back.
    """
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return True
    if depth >= _MAX_DEPTH:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (
                type(item) in _PLAIN_SCALARS or _plain(item, depth + 1)
            ):
                return False
        return True
    if kind is list:
        return all(type(item) in _PLAIN_SCALARS or _plain(item, depth + 1) for item in value)
    return False


def serialize(value: Any) -> bytes:
    """Check that ``value`` is clonable and encode it."""
    if _plain(value):  # the common case (attachments, stored rows): no copy on the way
        return pickle.dumps(value, protocol=5)
    return pickle.dumps(structured_clone(value), protocol=5)


class _CloneUnpickler(pickle.Unpickler):
    """Loads only what :func:`serialize` can write: plain data and ``datetime`` values."""

    _ALLOWED = frozenset({"datetime", "timezone", "timedelta", "date", "time"})

    def find_class(self, module: str, name: str) -> Any:
        if module == "datetime" and name in self._ALLOWED:
            return getattr(_dt, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from stored data")


def deserialize(data: bytes) -> Any:
    """Decode bytes made by :func:`serialize`; anything else that names a class is refused."""
    return _CloneUnpickler(io.BytesIO(data)).load()
