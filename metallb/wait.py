"""The one wait primitive of the project: poll a condition until it holds or a deadline.

Tests and lab code never sleep a fixed time hoping something happened; they ask
`poll_until` to re-check the real condition, so they are as fast as the system allows
and fail with a message saying what never became true.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """The condition did not hold before the deadline; carries the last value seen."""

    def __init__(self, what: str, timeout: float, last: object):
        self.what = what
        self.last = last
        super().__init__(f"timed out after {timeout:.1f}s waiting for {what}; last seen: {last!r}")


def poll_until(
    fn: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str | None = None,
    max_interval: float = 0.25,
) -> T:
    """Call `fn` until it returns a truthy value and return that value.

    The interval grows (x1.5) up to `max_interval`, so a fast condition is seen within
    milliseconds and a slow one does not burn CPU. Exceptions from `fn` propagate: a
    condition that cannot be evaluated is a bug, not "not yet".
    """
    deadline = time.monotonic() + timeout
    last: T = fn()
    while not last:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(what or getattr(fn, "__name__", "condition"), timeout, last)
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, max_interval)
        last = fn()
    return last
