"""A coalescing, bounded, rate-limited queue of status writes, off the data path.

Status objects (pool counts, ConfigurationState, Service conditions, ServiceBGPStatus,
BGPSessionState) say what the daemons are doing; they are information for users, never
state the daemons read back. So, as with Events (`metallb.kube.events`): the caller only
states what it wants an object to say, a thread of the queue's own writes it later, and
a slow or failing API server never delays an address or a route.

Two ideas keep the number of writes small:
- one entry per object: a newer desired state replaces the queued one (the last wins),
  so a burst of 10,000 allocations that each change a pool's counts is a few writes;
- a key is written at most once per `min_interval` seconds, and never again while its
  desired state equals what was last written for it.

The queue is bounded (`max_pending` keys). An owner that holds the whole desired state
anyway (the speaker: a ServiceBGPStatus per announced Service, 100,000 at scale) passes
`refill`: a state dropped because the queue was full is then not lost, the queue asks
`refill` for every desired state again once it has drained to half, and puts them (those
equal to what was written cost nothing).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from metallb.kube.backoff import Backoff
from metallb.kube.clock import REAL_CLOCK, Clock
from metallb.kube.ratelimit import TokenBucket
from metallb.logs import log_event

log = logging.getLogger("metallb.kube.status")

_RECHECK = 0.2  # seconds at most between looks at the clock while an entry waits

Writer = Callable[[Hashable, Any], None]
"""Writes one desired state (the queue's thread calls it; it raises to ask for a retry)."""

Refill = Callable[[], Iterable[tuple[Hashable, Any]]]
"""Every (key, desired state) the owner wants now (the queue's thread calls it)."""


@dataclass(slots=True)  # one per pending object: up to max_pending of them
class _Pending:
    desired: Any
    due: float  # monotonic time before which it is not written
    seq: int  # its entry in the heap (older heap entries of the key are stale)
    attempts: int = 0


class StatusQueue:
    """Desired states by key, written by one thread of its own through `write`.

    Always holds: at most one pending entry per key (the newest desired state) and at
    most `max_pending` keys pending (a new key past that is dropped and counted; a key
    already pending is always replaced); `_written[key]` is the last state written for
    it without an error, and a desired state equal to it is not queued.

    Threads: put(), settled(), forget() and idle() from any thread, never blocking (the
    lock guards `_pending`, `_written` and the counters, never an API call); one thread
    of the queue's own calls `write`, which may block up to its own request timeout;
    stop() from the owner's shutdown path, once. The rate limit is a TokenBucket on
    `clock` (real by default); a failed write is retried with backoff, at most
    `max_attempts` times, unless a newer desired state for its key came meanwhile.
    """

    def __init__(self, write: Writer, *, name: str = "status", max_pending: int = 50000,
                 rate: float = 20.0, burst: int = 50, min_interval: float = 1.0,
                 max_attempts: int = 5, clock: Clock = REAL_CLOCK,
                 refill: Refill | None = None):
        if max_pending < 1 or max_attempts < 1 or min_interval < 0:
            raise ValueError(f"max_pending ({max_pending}) and max_attempts ({max_attempts}) "
                             f"must be at least 1, min_interval ({min_interval}) >= 0")
        self._write, self._name = write, name
        self._max_pending, self._min_interval = max_pending, min_interval
        self._max_attempts = max_attempts
        self._clock = clock
        self._bucket = TokenBucket(rate, burst, clock)
        self._lock = threading.Condition()
        self._pending: dict[Hashable, _Pending] = {}
        self._due: list[tuple[float, int, Hashable]] = []  # heap; stale entries skipped
        self._seq = itertools.count()
        self._written: dict[Hashable, Any] = {}
        self._last_write: dict[Hashable, float] = {}
        self._busy = False  # the thread is writing an entry it took out of _pending
        self._inflight: Hashable | None = None  # its key
        self._inflight_desired: Any = None  # and the state it writes
        self._superseded = False  # settled() or forget() for that key came meanwhile
        self._stopping = False
        self._deadline = float("inf")  # set by stop(): write until then
        self.writes = 0  # successful writes
        self.failures = 0  # failed write attempts
        self.dropped = 0  # desired states never written (queue full, attempts, shutdown)
        self._refill = refill
        self._overflowed = False  # a put was dropped as the queue was full; refill later
        self.refills = 0
        self._thread = threading.Thread(target=self._run, name=f"{name}-writer", daemon=True)
        self._thread.start()

    # -- callers ------------------------------------------------------------------------

    def put(self, key: Hashable, desired: Any) -> None:
        """The object `key` should say `desired`; never blocks, never raises."""
        with self._lock:
            entry = self._pending.get(key)
            if entry is not None:
                entry.desired, entry.attempts = desired, 0
                return
            if key == self._inflight:
                if desired == self._inflight_desired and not self._superseded:
                    return  # being written (and retried if that fails)
            elif key in self._written and self._written[key] == desired:
                return
            if len(self._pending) >= self._max_pending:
                self.dropped += 1
                self._overflowed = self._refill is not None
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log_event(log, "warn", "status_dropped", queue=self._name,
                              count=self.dropped, reason="queue_full",
                              action="asked again once the queue has drained to half"
                              if self._refill is not None else "lost")
                return
            due = self._last_write.get(key, float("-inf")) + self._min_interval
            self._schedule(key, _Pending(desired, due, 0))

    def settled(self, key: Hashable, written: Any) -> None:
        """Somebody else just wrote `written` for `key` (the controller's own status
        write carries the condition): forget the queued entry, remember what is there."""
        with self._lock:
            self._pending.pop(key, None)
            self._written[key] = written
            self._superseded |= key == self._inflight

    def forget(self, key: Hashable) -> None:
        """The object is gone: drop its entry and what was written for it."""
        with self._lock:
            self._pending.pop(key, None)
            self._written.pop(key, None)
            self._last_write.pop(key, None)
            self._superseded |= key == self._inflight

    def last_written(self, key: Hashable) -> Any:
        with self._lock:
            return self._written.get(key)

    def idle(self) -> bool:
        """Nothing pending nor being written (for tests and benchmarks)."""
        with self._lock:
            return not self._pending and not self._busy

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is due for up to `timeout` seconds, then drop the rest (counted)."""
        with self._lock:
            self._stopping = True
            self._deadline = self._clock.monotonic() + timeout
            self._lock.notify()
        self._thread.join(max(0.0, timeout) + 1)
        with self._lock:
            left = len(self._pending)
            self._pending.clear()
            self.dropped += left
        if left:
            log_event(log, "warn", "status_dropped", queue=self._name, count=left,
                      reason="shutdown")

    # -- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        backoff = Backoff(initial=0.5, maximum=30.0)
        while (taken := self._take()) is not None:
            key, entry = taken
            if self._refill_due():
                self._refill_now()
            delay = self._bucket.reserve()
            if delay > 0:
                self._wait(delay)  # stop() cuts it short: drain without the limit
            try:
                self._write(key, entry.desired)
            except Exception as err:
                delay = backoff.next()
                self._failed(key, entry, err, delay)
                continue
            backoff.reset()
            with self._lock:
                self.writes += 1
                if not self._superseded:
                    self._written[key] = entry.desired
                    self._last_write[key] = self._clock.monotonic()
                self._end_write()

    def _refill_due(self) -> bool:
        with self._lock:
            due = self._overflowed and len(self._pending) <= self._max_pending // 2
            if due:
                self._overflowed = False
            return due

    def _refill_now(self) -> None:
        """Put every desired state the owner holds (dropped ones among them)."""
        assert self._refill is not None
        try:
            wanted = list(self._refill())
        except Exception as err:  # the owner's bug must not stop the writer
            log_event(log, "error", "status_refill_failed", queue=self._name, error=err)
            return
        self.refills += 1
        log_event(log, "info", "status_refill", queue=self._name, states=len(wanted))
        for key, desired in wanted:
            self.put(key, desired)

    def _end_write(self) -> None:
        """Under the lock: the thread is done with its entry."""
        self._busy, self._inflight, self._superseded = False, None, False
        self._inflight_desired = None

    def _schedule(self, key: Hashable, entry: _Pending) -> None:
        """Under the lock: `entry` is the pending state of `key`."""
        entry.seq = next(self._seq)
        self._pending[key] = entry
        heapq.heappush(self._due, (entry.due, entry.seq, key))
        self._lock.notify()

    def _take(self) -> tuple[Hashable, _Pending] | None:
        """The pending entry due first, once due (all of them when stopping); None
        when stopping and nothing is left."""
        with self._lock:
            while True:
                if self._stopping and self._clock.monotonic() > self._deadline:
                    return None
                while self._due and (self._due[0][2] not in self._pending or
                                     self._pending[self._due[0][2]].seq != self._due[0][1]):
                    heapq.heappop(self._due)  # replaced or forgotten since
                if not self._due:
                    if self._stopping:
                        return None
                    self._lock.wait()
                    continue
                due, _, key = self._due[0]
                now = self._clock.monotonic()
                if due <= now or self._stopping:
                    heapq.heappop(self._due)
                    entry = self._pending.pop(key)
                    self._busy, self._inflight = True, key
                    self._inflight_desired = entry.desired
                    return key, entry
                self._lock.wait(min(due - now, _RECHECK))

    def _wait(self, seconds: float) -> None:
        with self._lock:
            self._lock.wait_for(lambda: self._stopping, seconds)

    def _put_back(self, key: Hashable, entry: _Pending, delay: float) -> None:
        """Queue `entry` again unless a newer desired state for `key` came meanwhile."""
        with self._lock:
            superseded = self._superseded
            self._end_write()
            if key not in self._pending and not superseded:
                entry.due = self._clock.monotonic() + delay
                self._schedule(key, entry)

    def _failed(self, key: Hashable, entry: _Pending, err: Exception, delay: float) -> None:
        with self._lock:
            self.failures += 1
            if not self._superseded:  # unknown now: a later put() must write again
                self._written.pop(key, None)
        entry.attempts += 1
        if entry.attempts >= self._max_attempts:
            with self._lock:
                self.dropped += 1
                self._end_write()
            log_event(log, "warn", "status_write_failed", queue=self._name, key=key,
                      error=err, action="dropped", attempts=entry.attempts)
            return
        log_event(log, "info", "status_write_failed", queue=self._name, key=key, error=err,
                  retry_in=f"{delay:.2f}s")
        self._put_back(key, entry, delay)
