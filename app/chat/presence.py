"""Who is in a room (per user, counting devices) and who is typing (throttled, self-expiring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["TYPING_EXPIRES_MS", "TYPING_THROTTLE_MS", "Presence", "PresenceChange", "TypingTracker"]

#: A user's "typing" is forwarded at most this often.
TYPING_THROTTLE_MS = 2000
#: Without a refresh, "typing" ends by itself after this long.
TYPING_EXPIRES_MS = 6000


@dataclass(frozen=True)
class PresenceChange:
    kind: Literal["presence.join", "presence.leave", "presence.devices"]
    user: str
    name: str
    devices: int


@dataclass
class Presence:
    """Device counts per user; only the first arrival and the last departure are news."""

    _devices: dict[str, int] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)

    def connect(self, user: str, name: str) -> PresenceChange:
        count = self._devices.get(user, 0) + 1
        self._devices[user] = count
        self._names[user] = name
        return PresenceChange(
            "presence.join" if count == 1 else "presence.devices", user, name, count
        )

    def disconnect(self, user: str) -> PresenceChange | None:
        count = self._devices.get(user, 0)
        if count == 0:
            return None
        name = self._names[user]
        if count == 1:
            del self._devices[user]
            del self._names[user]
            return PresenceChange("presence.leave", user, name, 0)
        self._devices[user] = count - 1
        return PresenceChange("presence.devices", user, name, count - 1)

    def roster(self) -> list[dict[str, object]]:
        return [
            {"user": user, "name": self._names[user], "devices": count}
            for user, count in sorted(self._devices.items())
        ]

    def __contains__(self, user: object) -> bool:
        return user in self._devices

    def __len__(self) -> int:
        return len(self._devices)


@dataclass
class TypingTracker:
    """Typing state per user. ``update`` says whether to forward; ``expire`` ends stale ones."""

    _until: dict[str, int] = field(default_factory=dict)
    _last_forwarded: dict[str, int] = field(default_factory=dict)

    def update(self, user: str, active: bool, now_ms: int) -> bool:
        """Record a typing frame; True if it should be forwarded to the room now."""
        if not active:
            was_typing = self._until.pop(user, 0) > now_ms
            self._last_forwarded.pop(user, None)
            return was_typing
        self._until[user] = now_ms + TYPING_EXPIRES_MS
        last = self._last_forwarded.get(user)
        if last is not None and now_ms - last < TYPING_THROTTLE_MS:
            return False
        self._last_forwarded[user] = now_ms
        return True

    def stop(self, user: str) -> bool:
        """The user sent a message or left: typing ends. True if they were typing."""
        self._last_forwarded.pop(user, None)
        return self._until.pop(user, None) is not None

    def expire(self, now_ms: int) -> list[str]:
        """Users whose typing ran out (each reported once)."""
        gone = [user for user, until in self._until.items() if until <= now_ms]
        for user in gone:
            del self._until[user]
            self._last_forwarded.pop(user, None)
        return sorted(gone)

    def active(self, now_ms: int) -> list[str]:
        return sorted(user for user, until in self._until.items() if until > now_ms)

    def next_expiry(self) -> int | None:
        return min(self._until.values(), default=None)
