"""Who is in a room (per user, counting devices) and who is typing (throttled, self-expiring).

Presence is news only on a user's first arrival and last departure, and it is *published* in
batches: :meth:`Presence.publish` returns what changed since the last publication (a join and
a leave of the same user in between cancel out), and :meth:`Presence.published_roster` is the
roster as clients were last told it. A room publishes at most every so often (the actor decides
when), so a storm of N joins costs a bounded number of broadcasts instead of N.

Past :data:`ROSTER_LIMIT` users a room is *large*: telling every member who every other member
is costs work quadratic in the room's size (each of N arrivals is news to N members, and each
welcome lists N people), so a large room tells only how many are present (docs/protocol.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ROSTER_LIMIT",
    "TYPING_EXPIRES_MS",
    "TYPING_THROTTLE_MS",
    "Presence",
    "PresenceChange",
    "PresenceDiff",
    "TypingTracker",
]

#: A user's "typing" is forwarded at most this often.
TYPING_THROTTLE_MS = 2000
#: Without a refresh, "typing" ends by itself after this long.
TYPING_EXPIRES_MS = 6000
#: Rooms with more users than this publish a count instead of names (Pusher's presence channels
#: stop at 100 members; Discord's ``large_threshold`` is 50-250).
ROSTER_LIMIT = 100


@dataclass(frozen=True)
class PresenceChange:
    kind: Literal["presence.join", "presence.leave", "presence.devices"]
    user: str
    name: str
    devices: int


@dataclass(frozen=True)
class PresenceDiff:
    """What changed since the last publication: ``joins`` and ``leaves``, each sorted by user."""

    joins: tuple[PresenceChange, ...] = ()
    leaves: tuple[PresenceChange, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.joins or self.leaves)

    def __len__(self) -> int:
        return len(self.joins) + len(self.leaves)


@dataclass
class Presence:
    """Device counts per user; only the first arrival and the last departure are news."""

    _devices: dict[str, int] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)
    #: user -> (name, devices) as clients were last told
    _published: dict[str, tuple[str, int]] = field(default_factory=dict)
    _dirty: set[str] = field(default_factory=set)
    _published_roster: list[dict[str, object]] | None = None

    def connect(self, user: str, name: str) -> PresenceChange:
        count = self._devices.get(user, 0) + 1
        self._devices[user] = count
        self._names[user] = name
        self._dirty.add(user)
        return PresenceChange(
            "presence.join" if count == 1 else "presence.devices", user, name, count
        )

    def disconnect(self, user: str) -> PresenceChange | None:
        count = self._devices.get(user, 0)
        if count == 0:
            return None
        name = self._names[user]
        self._dirty.add(user)
        if count == 1:
            del self._devices[user]
            del self._names[user]
            return PresenceChange("presence.leave", user, name, 0)
        self._devices[user] = count - 1
        return PresenceChange("presence.devices", user, name, count - 1)

    def roster(self) -> list[dict[str, object]]:
        """Everyone present now, sorted by user."""
        return [
            {"user": user, "name": self._names[user], "devices": count}
            for user, count in sorted(self._devices.items())
        ]

    def publish(self) -> PresenceDiff:
        """Arrivals and departures since the last publication; clients now know the roster."""
        joins: list[PresenceChange] = []
        leaves: list[PresenceChange] = []
        for user in sorted(self._dirty):
            before = self._published.get(user)
            count = self._devices.get(user, 0)
            if count:
                name = self._names[user]
                self._published[user] = (name, count)
                if before is None:
                    joins.append(PresenceChange("presence.join", user, name, count))
            elif before is not None:
                del self._published[user]
                leaves.append(PresenceChange("presence.leave", user, before[0], 0))
        if self._dirty:
            self._published_roster = None
        self._dirty.clear()
        return PresenceDiff(tuple(joins), tuple(leaves))

    def published_roster(self) -> list[dict[str, object]]:
        """The roster as of the last publication, sorted by user (kept until the next one)."""
        if self._published_roster is None:
            self._published_roster = [
                {"user": user, "name": name, "devices": devices}
                for user, (name, devices) in sorted(self._published.items())
            ]
        return self._published_roster

    @property
    def published_count(self) -> int:
        """How many users clients were last told are present."""
        return len(self._published)

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
