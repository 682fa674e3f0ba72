"""``RateLimiter``: one Durable Object per key (a client IP, a login name) holding token buckets.

Unlike the reference demo's limiter, the bucket is stored (an eviction does not reset it), and
rooms take *leases* of several tokens at once and spend them locally, so a sender never waits
for a round trip per message and is never refused just because a round trip is in flight.
"""

from __future__ import annotations

from typing import Any

from app._runtime import DurableObject
from app.chat.ratelimit import TokenBucket
from app.clock import now_ms

__all__ = ["RateLimiter"]


class RateLimiter(DurableObject):
    def _bucket(self, name: str, capacity: float, rate: float) -> TokenBucket:
        state = self.ctx.storage.kv.get(f"bucket:{name}")
        return TokenBucket.from_state(capacity, rate, state)

    def _save(self, name: str, bucket: TokenBucket) -> None:
        self.ctx.storage.kv.put(f"bucket:{name}", bucket.to_state())

    async def lease(self, bucket: str, want: int, capacity: float, rate: float) -> dict[str, Any]:
        """Grant up to ``want`` tokens now; with none to give, say when to ask again."""
        now = now_ms(self.env) / 1000
        tokens = self._bucket(bucket, capacity, rate)
        granted = 0
        retry_after = 0.0
        while granted < want:
            wait = tokens.take(now)
            if wait > 0:
                retry_after = wait if granted == 0 else 0.0
                break
            granted += 1
        self._save(bucket, tokens)
        return {"granted": granted, "retry_after": retry_after}

    async def peek(self, bucket: str, capacity: float, rate: float) -> float:
        """Seconds until one token is available (0 when it is), without spending it."""
        probe = self._bucket(bucket, capacity, rate)  # a copy: taking from it is not saved
        return probe.take(now_ms(self.env) / 1000)

    async def charge(self, bucket: str, capacity: float, rate: float) -> float:
        """Spend a token if there is one; returns the wait that remains (0 if it was spent)."""
        tokens = self._bucket(bucket, capacity, rate)
        wait = tokens.take(now_ms(self.env) / 1000)
        if wait == 0:
            self._save(bucket, tokens)
        return wait
