"""Rate and connection limits: per WebSocket, per client address, per login name."""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque


class TooManyAttempts(Exception):
    """Login attempts throttled; `retry_after` seconds to wait."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many login attempts; try again in {retry_after:.0f} s")
        self.retry_after = retry_after


class TokenBucket:
    """Per-connection rate limit: `rate` frames a second with bursts of `burst`."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class ConnectionLimit:
    """Open WebSockets per client address."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self.open: Counter[str] = Counter()

    def acquire(self, client: str) -> bool:
        if self.open[client] >= self.per_client:
            return False
        self.open[client] += 1
        return True

    def release(self, client: str) -> None:
        self.open[client] -= 1
        if self.open[client] <= 0:
            del self.open[client]


class AttemptLimiter:
    """At most `limit` attempts per key in a sliding minute (per process)."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._attempts: defaultdict[str, deque[float]] = defaultdict(deque)

    def check(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            attempts = self._attempts[key]
            while attempts and attempts[0] <= now - self.window:
                attempts.popleft()
            if len(attempts) >= self.limit:
                raise TooManyAttempts(attempts[0] + self.window - now)
        for key in keys:
            self._attempts[key].append(now)
