"""When and how a room tells its members who is present (docs/protocol.md, "Presence").

Changes are published in batches: the first change after a quiet spell goes out at once, later
ones wait until the interval since the last publication is over and then go out together.

What a publication says depends on the room's size as published:

* up to :data:`~app.chat.presence.ROSTER_LIMIT` users, names: ``presence.join`` /
  ``presence.leave`` for a single change, ``presence.diff`` for several, and the whole roster
  in each ``welcome``;
* above it, only the count: ``presence.count {online}``, at most every
  :data:`LARGE_ROOM_INTERVAL_MS`, and an empty roster in each ``welcome``. Otherwise a storm
  of N arrivals costs N^2 roster entries (every arrival is news to every member, and every
  welcome lists everyone);
* shrinking back to 90% of the limit, one ``presence.roster`` gives every member the whole roster
  again (the margin keeps a room that hovers around the limit from sending it every second).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from app.chat.presence import ROSTER_LIMIT, Presence, PresenceChange
from app.chat.protocol import encode

__all__ = ["LARGE_ROOM_INTERVAL_MS", "PRESENCE_INTERVAL_MS", "PresencePublisher"]

#: Presence changes are published at most this often (Cloudflare's batching guidance: 50-100 ms).
PRESENCE_INTERVAL_MS = 100
#: A large room's count goes out at most this often (Phoenix.Tracker broadcasts every 1,500 ms).
LARGE_ROOM_INTERVAL_MS = 1000


class PresencePublisher:
    """Publishes one room's :class:`Presence` through ``broadcast`` (an encoded frame to all)."""

    def __init__(
        self,
        presence: Presence,
        broadcast: Callable[[str], None],
        now_ms: Callable[[], int],
        sleep_ms: Callable[[int], Awaitable[None]],
    ) -> None:
        self.presence = presence
        self._broadcast = broadcast
        self._now_ms = now_ms
        self._sleep_ms = sleep_ms
        self._published_at: int | None = None
        self._timer: asyncio.Future[None] | None = None
        self._large = False

    @property
    def large(self) -> bool:
        """Whether members were last told a count rather than names."""
        return self._large

    def restored(self) -> None:
        """After a wake: the members' clients already know what the connected sockets say."""
        self.presence.publish()
        self._large = self.presence.published_count > ROSTER_LIMIT

    def welcome_fields(self) -> dict[str, Any]:
        """``roster`` and ``online`` for a welcome: as last published (frames that follow agree)."""
        roster = [] if self.large else self.presence.published_roster()
        return {"roster": roster, "online": self.presence.published_count}

    def changed(self) -> None:
        """Publish now if the last publication is old enough, else once the interval is over."""
        if self._timer is not None:
            return  # a publication is already due; it will carry this change too
        now = self._now_ms()
        interval = LARGE_ROOM_INTERVAL_MS if self.large else PRESENCE_INTERVAL_MS
        last = self._published_at
        wait = 0 if last is None else last + interval - now
        if wait <= 0:
            self._publish(now)
        else:
            self._timer = asyncio.ensure_future(self._publish_later(wait))

    async def _publish_later(self, wait_ms: int) -> None:
        try:
            await self._sleep_ms(wait_ms)
        finally:
            self._timer = None
        self._publish(self._now_ms())

    def _publish(self, now: int) -> None:
        self._published_at = now
        was_large, told = self._large, self.presence.published_count
        diff = self.presence.publish()
        count = self.presence.published_count
        self._large = count > (ROSTER_LIMIT * 9 // 10 if was_large else ROSTER_LIMIT)
        if self._large:
            if not was_large or count != told:  # a large room was last told its published count
                self._broadcast(encode("presence.count", online=count))
            return
        if was_large:
            roster = self.presence.published_roster()
            self._broadcast(encode("presence.roster", roster=roster, online=count))
        elif len(diff) == 1:  # the common case keeps the simple frames
            self._broadcast(_change_frame((diff.joins or diff.leaves)[0]))
        elif diff:
            self._broadcast(
                encode(
                    "presence.diff",
                    joins=[
                        {"user": c.user, "name": c.name, "devices": c.devices} for c in diff.joins
                    ],
                    leaves=[{"user": c.user, "name": c.name} for c in diff.leaves],
                )
            )


def _change_frame(change: PresenceChange) -> str:
    if change.kind == "presence.join":
        return encode("presence.join", user=change.user, name=change.name, devices=change.devices)
    return encode("presence.leave", user=change.user, name=change.name, devices=0)
