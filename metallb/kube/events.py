"""Recording core/v1 Events on objects, aggregated like client-go's EventCorrelator:
the same (object, type, reason, message) again bumps `count` and `lastTimestamp` on the
existing Event instead of creating a new object for every retry. Events are information
for users, never state: recording is best effort and never raises into the caller."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from metallb.kube.clock import REAL_CLOCK, Clock
from metallb.kube.errors import is_not_found
from metallb.kube.lean_api import LeanCoreV1Api
from metallb.kube.ratelimit import TokenBucket
from metallb.logs import log_event

log = logging.getLogger("metallb.kube.events")

YIELD_CHECK = 0.02  # seconds between looks at whether the daemon's work is done


class EventRecorder:
    """Writes (or bumps) one Event per record() call, synchronously.

    Always holds: `_seen` maps an aggregation key to the last Event written for it, at
    most `cache_size` entries (oldest forgotten first). record() may be called from any
    thread; the lock guards only `_seen`, never an API call. Each API call is bounded by
    `request_timeout` seconds: a hung API server must not hang the caller's worker.
    """

    def __init__(self, api_client: client.ApiClient, component: str, host: str | None = None,
                 *, request_timeout: float = 10.0, cache_size: int = 4096):
        if request_timeout <= 0 or cache_size < 1:
            raise ValueError(f"request_timeout ({request_timeout}) must be > 0 and "
                             f"cache_size ({cache_size}) at least 1")
        self._core = LeanCoreV1Api(api_client)
        self._source = {"component": component, **({"host": host} if host else {})}
        self._timeout, self._cache_size = request_timeout, cache_size
        self._lock = threading.Lock()
        # aggregation key -> (event namespace, event name, count)
        self._seen: OrderedDict[tuple, tuple[str, str, int]] = OrderedDict()

    def record(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Best effort: a failure to record an event is logged, never raised."""
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        involved = {
            "apiVersion": obj.get("apiVersion", "v1"),
            "kind": obj.get("kind", "Service"),
            "namespace": namespace,
            "name": meta.get("name"),
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        }
        key = (namespace, involved["kind"], meta.get("name"), meta.get("uid"), type_, reason,
               message)
        now = _now()
        try:
            with self._lock:
                previous = self._seen.get(key)
            if previous is not None and self._bump(previous, now, key):
                return
            name = f"{meta.get('name')}.{time.time_ns():x}"
            body = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "type": type_,
                "source": self._source,
                "reportingComponent": self._source["component"],
                "reportingInstance": self._source.get("host", ""),
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            }
            # Read the answer: only a response read to its end gives its connection back
            # to the pool (otherwise every Event costs a new connection).
            self._core.create_namespaced_event(namespace, body, _preload_content=False,
                                               _request_timeout=self._timeout).drain_conn()
            self._remember(key, (namespace, name, 1))
        except ApiException as err:
            log_event(log, "warn", "record_event_failed",
                      object=f"{namespace}/{meta.get('name')}", reason=reason,
                      status=err.status)
        except Exception as err:  # connection errors
            log_event(log, "warn", "record_event_failed",
                      object=f"{namespace}/{meta.get('name')}", reason=reason, error=err)

    def _bump(self, previous: tuple[str, str, int], now: str, key: tuple) -> bool:
        namespace, name, count = previous
        try:
            self._core.patch_namespaced_event(
                name, namespace, {"count": count + 1, "lastTimestamp": now},
                _preload_content=False, _request_timeout=self._timeout,
            ).drain_conn()  # read to its end: the connection goes back to the pool
        except ApiException as err:
            if is_not_found(err):  # expired or deleted: start a new one
                return False
            raise
        self._remember(key, (namespace, name, count + 1))
        return True

    def _remember(self, key: tuple, value: tuple[str, str, int]) -> None:
        with self._lock:
            self._seen[key] = value
            self._seen.move_to_end(key)
            while len(self._seen) > self._cache_size:
                self._seen.popitem(last=False)


def involved_reference(obj: dict[str, Any]) -> dict[str, Any]:
    """What `EventRecorder.record` reads of the object an Event is about, and nothing
    else: a queued Event must not keep the whole object alive. (The controller hands over
    the answer of its status write, managedFields and all: 10,000 of them waiting for
    the rate limit after a burst were ~57 MiB.)"""
    meta = obj.get("metadata") or {}
    reference: dict[str, Any] = {
        "metadata": {k: meta[k] for k in ("namespace", "name", "uid", "resourceVersion")
                     if k in meta}}
    for k in ("apiVersion", "kind"):
        if k in obj:
            reference[k] = obj[k]
    return reference


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class BackgroundEventRecorder:
    """Records events from a thread of its own, so a burst of events (a speaker that
    starts announcing 10,000 services, a controller assigning them) never holds up the
    work that caused them. Events past `max_pending` are dropped and counted: they are
    information for users, never state the daemons depend on.

    `yield_to` says when the daemon's own work is in flight (the speaker: routes ExaBGP
    has not acknowledged yet); events wait for it, at most `max_yield` seconds each, so
    a burst of events never takes the CPU a burst of routes needs on the same node.

    Threads: record() from any thread, never blocks (queue.Full -> dropped); one thread
    of its own calls the EventRecorder; stop() from the owner's shutdown path, once.
    `yield_to` is called on the recorder's thread and must not block. `dropped`,
    `yields` and `throttled` are counters written by one thread at a time (plain ints).
    The rate limit is a TokenBucket on `clock` (real by default).
    """

    def __init__(self, recorder: EventRecorder, max_pending: int = 10000,
                 rate: float = 100.0, burst: int = 200,
                 yield_to: Callable[[], bool] | None = None, max_yield: float = 5.0,
                 clock: Clock = REAL_CLOCK):
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self._bucket = TokenBucket(rate, burst, clock)
        self._recorder = recorder
        self._yield_to, self._max_yield = yield_to, max_yield
        self.yields = 0  # times an event waited for the daemon's work
        self._queue: queue.Queue[tuple | None] = queue.Queue(maxsize=max_pending)
        self.dropped = 0
        self._deadline: float | None = None  # set by stop(): record until then
        self.throttled = 0  # times an event waited for the rate limit
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-recorder", daemon=True)
        self._thread.start()

    def record(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        try:
            self._queue.put_nowait((involved_reference(obj), type_, reason, message))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log_event(log, "warn", "events_dropped", count=self.dropped,
                          reason="queue_full")

    def stop(self, timeout: float = 5.0) -> None:
        """Record what is queued for up to `timeout`, then drop the rest (counted) and end
        the thread: a daemon shutting down must not keep writing events after it."""
        self._deadline = time.monotonic() + timeout
        self._stopping.set()
        with contextlib.suppress(queue.Full):  # full until the worker takes one more
            self._queue.put(None, timeout=timeout)
        self._thread.join(max(0.0, self._deadline - time.monotonic()) + 1)
        left = 0
        while True:
            try:
                left += self._queue.get_nowait() is not None
            except queue.Empty:
                break
        if left:
            self.dropped += left
            log_event(log, "warn", "events_dropped", count=left, reason="shutdown")

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            self._yield()
            self._take_token()
            if self._deadline is not None and time.monotonic() > self._deadline:
                self.dropped += 1
                return
            self._recorder.record(*item)

    def _yield(self) -> None:
        if self._yield_to is None or not self._yield_to():
            return
        self.yields += 1
        until = time.monotonic() + self._max_yield
        while self._yield_to() and time.monotonic() < until:
            if self._stopping.wait(YIELD_CHECK):  # stop() cuts it short
                return

    def _take_token(self) -> None:
        delay = self._bucket.reserve()
        if delay > 0:
            # Rate limiting is waiting for time itself; stop() cuts it short.
            self.throttled += 1
            self._stopping.wait(delay)
