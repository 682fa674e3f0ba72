"""Token buckets (sans-I/O): ``take(now)`` answers 0 when allowed, else seconds until it would be."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TokenBucket"]


@dataclass
class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``rate`` tokens per second."""

    capacity: float
    rate: float
    tokens: float = -1.0
    updated: float = 0.0

    def __post_init__(self) -> None:
        if self.capacity <= 0 or self.rate <= 0:
            raise ValueError("a token bucket needs a positive capacity and rate")
        if self.tokens < 0:
            self.tokens = self.capacity

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = max(self.updated, now)

    def take(self, now: float, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens if there are enough; otherwise spend nothing and say how long to wait."""
        self._refill(now)
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate

    def to_state(self) -> list[float]:
        return [self.tokens, self.updated]

    @classmethod
    def from_state(cls, capacity: float, rate: float, state: list[float] | None) -> TokenBucket:
        if not state:
            return cls(capacity, rate)
        return cls(capacity, rate, tokens=float(state[0]), updated=float(state[1]))
