"""A circuit breaker: after N consecutive failures an action fails at once for M seconds.

A dead action server then costs a turn microseconds instead of its timeout. After the
cooldown one call goes through as a trial; its success closes the breaker, its failure
opens it for another cooldown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Counts consecutive failures of one action; `clock` is injectable for tests."""

    def __init__(self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.cooldown = cooldown
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self._opened_at >= self.cooldown else "open"

    def allow(self) -> bool:
        """Whether a call may go out now; when half-open, only one trial at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial:
            self._trial = True
            return True
        return False

    def succeeded(self) -> None:
        self._consecutive = 0
        self._opened_at = None
        self._trial = False

    def failed(self) -> None:
        self._consecutive += 1
        if self._trial or self._consecutive >= self.failures:
            self._opened_at = self._clock()
        self._trial = False

    def abandoned(self) -> None:
        """A call was cancelled before it settled: free the trial without a verdict."""
        self._trial = False
