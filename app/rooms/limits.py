"""A room's three rate limits: per connection, per user (all devices), per client IP (all rooms).

The connection's bucket rides in the socket's attachment (it survives hibernation); users'
buckets live in the room's memory; an IP's budget belongs to its ``RateLimiter`` object, from
which the room leases a few tokens at a time so senders never wait on a round trip per message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.chat.protocol import MAX_TEXT_CHARS
from app.chat.ratelimit import TokenBucket

__all__ = [
    "CONNECTION_LIMIT",
    "IP_LEASE",
    "IP_LIMIT",
    "LIMITS",
    "MAX_REFUSALS",
    "USER_LIMIT",
    "Limit",
    "RoomLimits",
]


@dataclass(frozen=True)
class Limit:
    burst: float
    per_second: float

    def bucket(self, state: list[float] | None = None) -> TokenBucket:
        return TokenBucket.from_state(self.burst, self.per_second, state)


CONNECTION_LIMIT = Limit(10, 1.0)
USER_LIMIT = Limit(20, 2.0)
IP_LIMIT = Limit(60, 1.0)
#: What ``welcome.limits`` tells clients.
LIMITS = {
    "text_chars": MAX_TEXT_CHARS,
    "connection": vars(CONNECTION_LIMIT),
    "user": vars(USER_LIMIT),
    "ip": vars(IP_LIMIT),
}
#: An IP's tokens are leased from its RateLimiter this many at a time.
IP_LEASE = 5
#: After this many refusals in a row the connection is closed with 1008.
MAX_REFUSALS = 20


@dataclass
class RoomLimits:
    """The limits one room applies; :meth:`check` spends a token from each or reports the wait."""

    limiters: Any  # the LIMITERS Durable Object namespace
    _users: dict[str, TokenBucket] = field(default_factory=dict)
    _ip_tokens: dict[str, int] = field(default_factory=dict)

    async def check(self, info: dict[str, Any], now: float) -> float:
        """0 when a write may go ahead; otherwise seconds to wait. Updates ``info`` (the attachment)."""
        connection = CONNECTION_LIMIT.bucket(info.get("bucket"))
        user = self._users.setdefault(info["user"], USER_LIMIT.bucket())
        wait = max(connection.take(now), user.take(now))
        if wait == 0:
            wait = await self._take_ip_token(info.get("ip") or "unknown")
        info["bucket"] = connection.to_state()
        info["refusals"] = info.get("refusals", 0) + 1 if wait > 0 else 0
        return wait

    async def _take_ip_token(self, ip: str) -> float:
        if self._ip_tokens.get(ip, 0) > 0:
            self._ip_tokens[ip] -= 1
            return 0.0
        limiter = self.limiters.getByName(f"ip:{ip}")
        lease = await limiter.lease("messages", IP_LEASE, IP_LIMIT.burst, IP_LIMIT.per_second)
        granted = int(lease["granted"])
        if granted == 0:
            return float(lease["retry_after"])
        self._ip_tokens[ip] = self._ip_tokens.get(ip, 0) + granted - 1
        return 0.0
