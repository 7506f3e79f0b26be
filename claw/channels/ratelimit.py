"""A token bucket per key (sender) with an injectable clock: pure logic, no I/O, no threads."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable


class TokenBucket:
    """`capacity` tokens per key, refilled continuously at `capacity / per_seconds` tokens a second.

    A key seen for the first time starts full. Keys whose bucket has refilled completely carry no
    information and are dropped when the table grows past `max_keys`, so memory stays bounded."""

    def __init__(self, capacity: float, per_seconds: float = 60.0, *,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000) -> None:
        if capacity <= 0 or per_seconds <= 0:
            raise ValueError("capacity and per_seconds must be positive")
        self.capacity = float(capacity)
        self.rate = self.capacity / per_seconds
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, at)

    def _level(self, key: Hashable, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + max(0.0, now - at) * self.rate)

    def take(self, key: Hashable, n: float = 1.0) -> bool:
        """Take `n` tokens for `key` if it has them; False (and nothing taken) when it does not."""
        now = self.clock()
        level = self._level(key, now)
        if level < n:
            self._buckets[key] = (level, now)
            return False
        self._buckets[key] = (level - n, now)
        if len(self._buckets) > self.max_keys:
            self.prune()
        return True

    def refund(self, key: Hashable, n: float = 1.0) -> None:
        """Give back tokens taken for something that turned out not to count (e.g. a duplicate)."""
        now = self.clock()
        self._buckets[key] = (min(self.capacity, self._level(key, now) + n), now)

    def tokens(self, key: Hashable) -> float:
        return self._level(key, self.clock())

    def retry_after(self, key: Hashable, n: float = 1.0) -> float:
        """Seconds until `key` has `n` tokens again (0 when it has them now)."""
        missing = n - self._level(key, self.clock())
        return max(0.0, missing / self.rate)

    def prune(self) -> int:
        """Forget keys whose bucket is full again; returns how many were dropped."""
        now = self.clock()
        full = [k for k in self._buckets if self._level(k, now) >= self.capacity]
        for key in full:
            del self._buckets[key]
        return len(full)

    def __len__(self) -> int:
        return len(self._buckets)
