"""Keyed work queue in the style of client-go: a key is queued once however often it is
added, is never processed by two workers at once, and failed keys come back with
per-key exponential backoff."""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from metallb.kube.backoff import Backoff
from metallb.kube.clock import REAL_CLOCK, Clock

K = TypeVar("K", bound=Hashable)


class ShutDown(Exception):
    """Raised by get() once the queue is shut down and empty of ready keys."""


class WorkQueue(Generic[K]):
    """A set of keys waiting for a worker, plus keys waiting out a backoff delay.

    Always holds: a key is in at most one of queued / processing (a key added while it is
    processed is marked dirty and queued again by done()); a ready key is handed out
    once. Any thread may call add / add_after / retry / forget / shut_down; workers call
    get() then done() for each key they got. One Condition guards every field; nothing
    blocks while holding it except the wait in get(). Delays are measured on `clock`
    (real by default): with a ManualClock a test advances time and calls get(0).
    """

    def __init__(self, initial_backoff: float = 0.05, max_backoff: float = 30.0,
                 clock: Clock = REAL_CLOCK):
        if initial_backoff <= 0:
            raise ValueError(f"initial_backoff must be > 0 seconds, got {initial_backoff}")
        if max_backoff < initial_backoff:
            raise ValueError(f"max_backoff ({max_backoff}) must be >= initial_backoff "
                             f"({initial_backoff})")
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[K] = deque()
        self._queued: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()  # added while processing: requeue on done()
        self._delayed: list[tuple[float, int, K]] = []
        self._seq = 0
        self._failures: dict[K, Backoff] = {}
        self._initial, self._max = initial_backoff, max_backoff
        self._shutdown = False

    def add(self, key: K) -> None:
        with self._cond:
            if self._shutdown:
                return
            if key in self._processing:
                self._dirty.add(key)
            elif key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)
                self._cond.notify()

    def add_first(self, keys: list[K]) -> None:
        """Queue `keys` ahead of every other queued key, in the order given (a key
        already queued moves up). A key being processed is marked dirty as by add():
        it comes back at the end, after its own processing. O(queued + keys)."""
        with self._cond:
            if self._shutdown or not keys:
                return
            first = [k for k in dict.fromkeys(keys) if k not in self._processing]
            for key in keys:
                if key in self._processing:
                    self._dirty.add(key)
            moved = set(first)
            self._queue = deque([*first, *(k for k in self._queue if k not in moved)])
            self._queued |= moved
            self._cond.notify()

    def add_after(self, key: K, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            self._seq += 1
            heapq.heappush(self._delayed, (self._clock.monotonic() + delay, self._seq, key))
            self._cond.notify()

    def retry(self, key: K) -> float:
        """Requeue a failed key after its next backoff delay; returns that delay."""
        with self._cond:
            backoff = self._failures.setdefault(key, Backoff(self._initial, self._max))
            delay = backoff.next()
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """The key succeeded: its next failure starts from the initial backoff again."""
        with self._cond:
            self._failures.pop(key, None)

    def get(self, timeout: float | None = None) -> K | None:
        """Next ready key (None on timeout); raises ShutDown once shut down.

        `timeout` is real waiting time (how long the worker may block), not clock time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                self._promote_delayed()
                if self._queue:
                    key = self._queue.popleft()
                    self._queued.discard(key)
                    self._processing.add(key)
                    return key
                if self._shutdown:
                    raise ShutDown
                real_now = time.monotonic()
                if deadline is not None and real_now >= deadline:
                    return None
                waits = [deadline - real_now] if deadline is not None else []
                if self._delayed:
                    waits.append(self._delayed[0][0] - self._clock.monotonic())
                self._cond.wait(max(0.0, min(waits)) if waits else None)

    def done(self, key: K) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                if key not in self._queued:
                    self._queued.add(key)
                    self._queue.append(key)
                    self._cond.notify()

    def shut_down(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._delayed)

    def busy(self) -> bool:
        """A key is ready or in progress. Delayed retries do not count: a Service that
        waits for an address retries for as long as it waits, and must not make the
        controller look busy for that whole time."""
        with self._cond:
            return bool(self._queue or self._processing)

    def idle(self) -> bool:
        """Nothing queued, delayed or in progress."""
        with self._cond:
            return not (self._queue or self._delayed or self._processing or self._dirty)

    def _promote_delayed(self) -> None:
        now = self._clock.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            if key in self._processing:
                self._dirty.add(key)
            elif key not in self._queued:
                self._queued.add(key)
                self._queue.append(key)
