"""A room's three rate limits: per connection, per user (all devices), per client IP (all rooms).

The connection's bucket rides in the socket's attachment (it survives hibernation); users'
buckets live in the room's memory; an IP's budget belongs to its ``RateLimiter`` object, from
which the room leases a few tokens at a time so senders never wait on a round trip per message.

Each limit can be changed, or turned off, by a ``[vars]`` entry (docs/protocol.md, "Limits"):
``RATE_LIMIT_CONNECTION``, ``RATE_LIMIT_USER`` and ``RATE_LIMIT_IP``, each ``"burst/per_second"``
(``"10/1"``) or ``"off"``. Unset, the defaults below apply. The load harness (docs/benchmarks.md)
turns all three off, since every one of its clients comes from 127.0.0.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from app.chat.protocol import MAX_TEXT_CHARS
from app.chat.ratelimit import TokenBucket

__all__ = [
    "CONNECTION_LIMIT",
    "IP_LEASE",
    "IP_LIMIT",
    "LIMITS",
    "LIMIT_VARS",
    "MAX_REFUSALS",
    "USER_LIMIT",
    "Limit",
    "LimitSettings",
    "RoomLimits",
    "parse_limit",
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
#: The ``[vars]`` entry that overrides each limit.
LIMIT_VARS = {
    "connection": "RATE_LIMIT_CONNECTION",
    "user": "RATE_LIMIT_USER",
    "ip": "RATE_LIMIT_IP",
}
#: An IP's tokens are leased from its RateLimiter this many at a time.
IP_LEASE = 5
#: After this many refusals in a row the connection is closed with 1008.
MAX_REFUSALS = 20


def parse_limit(var: str, text: str) -> Limit | None:
    """``"burst/per_second"`` -> a :class:`Limit`; ``"off"`` -> ``None`` (no limit)."""
    cleaned = text.strip().lower()
    if cleaned == "off":
        return None
    burst_text, slash, rate_text = cleaned.partition("/")
    try:
        burst, rate = float(burst_text), float(rate_text)
    except ValueError:
        burst = rate = math.nan
    if not slash or not (0 < burst < math.inf and 0 < rate < math.inf):
        raise ValueError(
            f"{var} = {text!r}: expected 'burst/per_second' with positive numbers (like '10/1') or 'off'"
        )
    return Limit(burst, rate)


@dataclass(frozen=True)
class LimitSettings:
    """The limits in force; ``None`` means that limit is off."""

    connection: Limit | None = CONNECTION_LIMIT
    user: Limit | None = USER_LIMIT
    ip: Limit | None = IP_LIMIT

    @classmethod
    def from_env(cls, env: Any) -> LimitSettings:
        """The defaults, with each ``RATE_LIMIT_*`` var that is set (and not empty) applied."""
        chosen: dict[str, Limit | None] = {}
        for key, var in LIMIT_VARS.items():
            value = getattr(env, var, None)
            if value is not None and str(value).strip():
                chosen[key] = parse_limit(var, str(value))
        return cls(**chosen)

    def describe(self) -> dict[str, Any]:
        """What ``welcome.limits`` tells clients (a limit that is off is ``null``)."""
        return {
            "text_chars": MAX_TEXT_CHARS,
            "connection": _describe(self.connection),
            "user": _describe(self.user),
            "ip": _describe(self.ip),
        }


def _describe(limit: Limit | None) -> dict[str, float] | None:
    return None if limit is None else vars(limit)


#: What ``welcome.limits`` tells clients with the default limits.
LIMITS = LimitSettings().describe()


@dataclass
class RoomLimits:
    """The limits one room applies; :meth:`check` spends a token from each or reports the wait."""

    limiters: Any  # the LIMITERS Durable Object namespace
    settings: LimitSettings = field(default_factory=LimitSettings)
    _users: dict[str, TokenBucket] = field(default_factory=dict)
    _ip_tokens: dict[str, int] = field(default_factory=dict)

    async def check(self, info: dict[str, Any], now: float) -> float:
        """0 when a write may go ahead; otherwise seconds to wait. Updates ``info`` (the attachment)."""
        settings = self.settings
        wait = 0.0
        if settings.connection is not None:
            connection = settings.connection.bucket(info.get("bucket"))
            wait = connection.take(now)
            info["bucket"] = connection.to_state()
        if settings.user is not None:
            user = self._users.setdefault(info["user"], settings.user.bucket())
            wait = max(wait, user.take(now))
        if wait == 0 and settings.ip is not None:
            wait = await self._take_ip_token(settings.ip, info.get("ip") or "unknown")
        info["refusals"] = info.get("refusals", 0) + 1 if wait > 0 else 0
        return wait

    async def _take_ip_token(self, limit: Limit, ip: str) -> float:
        if self._ip_tokens.get(ip, 0) > 0:
            self._ip_tokens[ip] -= 1
            return 0.0
        limiter = self.limiters.getByName(f"ip:{ip}")
        lease = await limiter.lease("messages", IP_LEASE, limit.burst, limit.per_second)
        granted = int(lease["granted"])
        if granted == 0:
            return float(lease["retry_after"])
        self._ip_tokens[ip] = self._ip_tokens.get(ip, 0) + granted - 1
        return 0.0
