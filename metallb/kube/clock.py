"""Time as a dependency: whatever waits, backs off or expires takes a Clock.

Production code uses REAL_CLOCK; tests pass a ManualClock and step it, so a test of a
30-second lease or a 10-second backoff runs in microseconds and never sleeps.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never jumps: for every duration and expiry."""

    def now(self) -> datetime:
        """Wall-clock time (UTC): only for timestamps written for humans and other
        programs, never for judging how much time passed."""


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)


REAL_CLOCK: Clock = RealClock()


class ManualClock:
    """A clock that moves only when told to (`advance`); its wall time can be set apart
    from its monotonic time to play a node with a skewed clock. Thread-safe."""

    def __init__(self, start: float = 1000.0, wall: datetime | None = None):
        self._lock = threading.Lock()
        self._monotonic = start
        self._wall = wall or datetime(2026, 1, 1, tzinfo=UTC)

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def now(self) -> datetime:
        with self._lock:
            return self._wall

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._monotonic += seconds
            self._wall += timedelta(seconds=seconds)
