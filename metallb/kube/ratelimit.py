"""A token bucket, like a real client's QPS limit: a burst of 10,000 events must not
flood the API server (nor take the CPU the routes need right then)."""

from __future__ import annotations

from metallb.kube.clock import REAL_CLOCK, Clock


class TokenBucket:
    """`burst` tokens at most, refilled at `rate` per second of `clock` time.

    reserve() always takes a token and says how long to wait before using it, so the
    caller decides how to wait (and can be woken early). Not thread-safe: one caller.
    """

    def __init__(self, rate: float, burst: int, clock: Clock = REAL_CLOCK):
        if rate <= 0:
            raise ValueError(f"rate must be > 0 per second, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate, self.burst = rate, float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._refilled = clock.monotonic()

    def reserve(self) -> float:
        """Take one token; seconds to wait before acting on it (0.0 if one was there)."""
        now = self._clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate
