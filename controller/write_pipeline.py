"""Service writes carried out beside the worker, so that the API round trips of
different Services overlap instead of queueing behind each other.

The one worker still decides every Service (it alone owns the allocator); what it hands
over is only the carrying out of a finished decision: the status write and the Events.
A profile of the worker writing for itself showed 85 % of its time waiting for the API.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable

Job = Callable[[], None]


class WritePipeline:
    """Runs jobs on `threads` threads of its own; two jobs of one key never run at once,
    and they run in the order they were handed over.

    Always holds: a key is in `_busy` from the moment its job is handed over until that
    job has ended; at most `max_pending` jobs are waiting or running (submit() blocks
    beyond that, so the worker never runs far ahead of the API and memory stays
    bounded). With `threads` 0 every job runs on the caller's thread, at once.

    Threads: submit(), run_now() and drain() from the controller's worker; the pool's
    threads run the jobs, which may block (each API call in them is bounded by the
    reconciler's write timeout) and must not raise (the reconciler's jobs catch
    everything and retry through the work queue); stop() from the shutdown path, once.
    One Condition guards `_jobs`, `_busy` and `_stopping`; no job runs while it is held.
    """

    def __init__(self, threads: int = 4, max_pending: int = 256):
        if threads < 0 or max_pending < 1:
            raise ValueError(f"threads ({threads}) must be >= 0 and max_pending "
                             f"({max_pending}) at least 1")
        self._cond = threading.Condition()
        self._jobs: deque[tuple[Hashable, Job]] = deque()
        self._busy: set[Hashable] = set()
        self._max_pending = max_pending
        self._stopping = False
        self._threads = [threading.Thread(target=self._run, name=f"controller-writer-{i}",
                                          daemon=True) for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, key: Hashable, job: Job) -> None:
        """Hand `job` over; returns once it is queued (after an earlier job of `key` and
        room below `max_pending`), or after it ran here when the pipeline has no
        threads or is stopping."""
        with self._cond:
            self._cond.wait_for(lambda: self._stopping or (
                key not in self._busy and len(self._busy) < self._max_pending))
            if self._threads and not self._stopping:
                self._busy.add(key)
                self._jobs.append((key, job))
                self._cond.notify_all()
                return
        job()

    def run_now(self, key: Hashable, job: Job) -> None:
        """Run `job` on the caller's thread once no earlier job of `key` is running: for
        a write that frees an address, which must be in the API before the worker can
        hand that address to anybody else."""
        with self._cond:
            self._cond.wait_for(lambda: key not in self._busy)
        job()

    def busy(self) -> bool:
        """A job is waiting or running."""
        with self._cond:
            return bool(self._busy)

    def drain(self) -> None:
        """Return once every job handed over so far has ended."""
        with self._cond:
            self._cond.wait_for(lambda: not self._busy)

    def stop(self, timeout: float) -> None:
        """Let the jobs handed over run (the reconciler's jobs check the lease before
        writing, so after the lease is gone they end at once), then end the threads;
        waits at most `timeout` seconds for them."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._jobs or self._stopping)
                if not self._jobs:
                    return
                key, job = self._jobs.popleft()
            try:
                job()
            finally:
                with self._cond:
                    self._busy.discard(key)
                    self._cond.notify_all()
