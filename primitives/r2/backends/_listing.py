"""Listing for backends that can scan keys in order (memory, file): prefix, cursor, delimiter.

Keys are ordered by their UTF-8 bytes (as R2 and S3 order them). A cursor is the URL-safe
base64 of the position to continue after. After a folded prefix ``P`` the position is
``P + b"\\xff"``: no UTF-8 key contains ``0xff``, so every key starting with ``P`` sorts before it
and every later key after it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable

from ..backend import ListPage, ObjectRecord

__all__ = ["decode_cursor", "encode_cursor", "list_ordered", "prefix_upper_bound"]

#: ``scan(after, prefix, count)`` -> up to ``count`` records with key > after, starting with prefix
Scan = Callable[[bytes | None, bytes, int], Awaitable[list[ObjectRecord]]]


def encode_cursor(position: bytes) -> str:
    return base64.urlsafe_b64encode(position).decode("ascii")


def decode_cursor(cursor: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(cursor.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def prefix_upper_bound(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


async def list_ordered(
    scan: Scan,
    *,
    prefix: str,
    start_after: str | None,
    cursor: str | None,
    limit: int,
    delimiter: str | None,
) -> ListPage:
    prefix_b = prefix.encode("utf-8")
    position = start_after.encode("utf-8") if start_after is not None else None
    if cursor is not None:
        decoded = decode_cursor(cursor)
        if decoded is None:
            return ListPage([], [], None)
        if position is None or decoded > position:
            position = decoded
    objects: list[ObjectRecord] = []
    prefixes: list[str] = []
    delim_b = delimiter.encode("utf-8") if delimiter else None
    count = 0
    while count < limit:
        want = limit - count + 1
        batch = await scan(position, prefix_b, want)
        if not batch:
            return ListPage(objects, prefixes, None)
        restarted = False
        for record in batch:
            key_b = record.key.encode("utf-8")
            if delim_b is not None:
                index = key_b.find(delim_b, len(prefix_b))
                if index >= 0:
                    folded = key_b[: index + len(delim_b)]
                    prefixes.append(folded.decode("utf-8"))
                    position = folded + b"\xff"
                    count += 1
                    restarted = True
                    break
            objects.append(record)
            position = key_b
            count += 1
            if count == limit:
                break
        if count == limit:
            break
        if not restarted and len(batch) < want:
            return ListPage(objects, prefixes, None)
    more = await scan(position, prefix_b, 1)
    return ListPage(objects, prefixes, encode_cursor(position or b"") if more else None)
