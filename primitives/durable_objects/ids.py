"""Durable Object ids, derived exactly as workerd derives them (``server/actor-id-impl.c++``).

``key = SHA-256(unique_key)``. An id is 32 bytes: 16 base bytes, then the first 16 bytes of
``HMAC-SHA256(key, base)``. ``idFromName`` uses ``HMAC-SHA256(key, name)[:16]`` as the base,
``newUniqueId`` 16 random bytes; ``idFromString`` recomputes the MAC to check that the id belongs
to the namespace.

The unique key here is derived from the class name (``edgeroom:<ClassName>``), so ids are stable
across restarts, machines and backends, and two bindings to one class share one namespace, as
on Cloudflare. Nothing needs persisting.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from .validation import DurableObjectError, DurableObjectTypeError

__all__ = ["DurableObjectId", "IdFactory"]

_BASE_BYTES = 16


class DurableObjectId:
    """An object's id: ``str(id)`` / ``id.toString()`` is 64 lowercase hex digits."""

    __slots__ = ("_factory", "_hex", "jurisdiction", "name")

    def __init__(self, factory: IdFactory, hex_id: str, name: str | None = None) -> None:
        self._factory = factory
        self._hex = hex_id
        self.name = name
        self.jurisdiction: str | None = None

    def toString(self) -> str:
        return self._hex

    def equals(self, other: object) -> bool:
        return isinstance(other, DurableObjectId) and other._hex == self._hex

    def __str__(self) -> str:
        return self._hex

    def __eq__(self, other: object) -> bool:
        return self.equals(other)

    def __hash__(self) -> int:
        return hash(self._hex)

    def __repr__(self) -> str:
        suffix = f" name={self.name!r}" if self.name is not None else ""
        return f"<DurableObjectId {self._hex}{suffix}>"


class IdFactory:
    """Makes and checks the ids of one namespace."""

    #: names whose ids are remembered (deriving one costs two HMACs); past it, the memo restarts
    MEMO_SIZE = 4096

    def __init__(self, unique_key: str) -> None:
        self.unique_key = unique_key
        self._key = hashlib.sha256(unique_key.encode("utf-8")).digest()
        self._by_name: dict[str, str] = {}

    def _mac(self, base: bytes) -> bytes:
        return hmac.new(self._key, base, hashlib.sha256).digest()[:_BASE_BYTES]

    def from_name(self, name: str) -> DurableObjectId:
        if not isinstance(name, str):
            raise DurableObjectTypeError(f"idFromName() takes a string, not {type(name).__name__}")
        hex_id = self._by_name.get(name)
        if hex_id is None:
            base = hmac.new(self._key, name.encode("utf-8"), hashlib.sha256).digest()[:_BASE_BYTES]
            hex_id = (base + self._mac(base)).hex()
            if len(self._by_name) >= self.MEMO_SIZE:
                self._by_name.clear()
            self._by_name[name] = hex_id
        return DurableObjectId(self, hex_id, name)

    def unique(self, jurisdiction: Any = None) -> DurableObjectId:
        if jurisdiction is not None:
            raise DurableObjectError("Jurisdiction restrictions are not implemented in workerd.")
        base = os.urandom(_BASE_BYTES)
        return DurableObjectId(self, (base + self._mac(base)).hex())

    def from_string(self, text: Any) -> DurableObjectId:
        try:
            raw = bytes.fromhex(text) if isinstance(text, str) and len(text) == 64 else b""
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise DurableObjectTypeError("Invalid Durable Object ID: must be 64 hex digits")
        if not hmac.compare_digest(self._mac(raw[:_BASE_BYTES]), raw[_BASE_BYTES:]):
            raise DurableObjectTypeError("Durable Object ID is not valid for this namespace.")
        return DurableObjectId(self, raw.hex())

    def owns(self, id: DurableObjectId) -> bool:
        if id._factory is self:
            return True  # made here, so its MAC is ours
        raw = bytes.fromhex(id.toString())
        return hmac.compare_digest(self._mac(raw[:_BASE_BYTES]), raw[_BASE_BYTES:])
