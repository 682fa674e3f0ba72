"""Room and user names: one set of rules, mirrored in ``web/protocol.js`` (a test compares them)."""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "PRIVATE_ROOM_PATTERN",
    "ROOM_NAME_PATTERN",
    "USERNAME_PATTERN",
    "NameError_",
    "normalize_room_name",
    "validate_display_name",
    "validate_room",
    "validate_username",
]

#: Public rooms: lower-case letters, digits and single dashes, 1-32 characters.
ROOM_NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$"
#: Private rooms: the 64-hex id of a Durable Object made with newUniqueId().
PRIVATE_ROOM_PATTERN = r"^[0-9a-f]{64}$"
#: Account names: 3-32 of letters, digits, '_', '.', '-'.
USERNAME_PATTERN = r"^[A-Za-z0-9_.-]{3,32}$"
MAX_DISPLAY_NAME = 32

_ROOM = re.compile(ROOM_NAME_PATTERN)
_PRIVATE = re.compile(PRIVATE_ROOM_PATTERN)
_USERNAME = re.compile(USERNAME_PATTERN)


class NameError_(ValueError):  # noqa: N801 - "NameError" is a builtin
    """A room, user or display name that the rules refuse."""


def normalize_room_name(raw: str) -> str:
    """What the client does before asking: lower-case, spaces and underscores to dashes."""
    return re.sub(r"[\s_]+", "-", raw.strip().lower())


def validate_room(room: str) -> tuple[str, bool]:
    """``(room, is_private)`` or :class:`NameError_`."""
    if _PRIVATE.match(room):
        return room, True
    if _ROOM.match(room):
        return room, False
    raise NameError_(
        "room names are 1-32 lower-case letters, digits and dashes (not at either end), "
        "or a 64-character private room id"
    )


def validate_username(name: str) -> str:
    if not _USERNAME.match(name):
        raise NameError_("user names are 3-32 letters, digits, '_', '.' or '-'")
    return name


def validate_display_name(raw: str) -> str:
    """Guest nicknames: 1-32 printable characters, no control or format characters."""
    name = unicodedata.normalize("NFC", raw.strip())
    if not 1 <= len(name) <= MAX_DISPLAY_NAME:
        raise NameError_(f"names are 1-{MAX_DISPLAY_NAME} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for ch in name):
        raise NameError_("names cannot contain control or invisible characters")
    return name
