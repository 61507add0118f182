"""Recording core/v1 Events on objects, aggregated like client-go's EventCorrelator:
the same (object, type, reason, message) again bumps `count` and `lastTimestamp` on the
existing Event instead of creating a new object for every retry."""

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

log = logging.getLogger("metallb.kube.events")

_CACHE_SIZE = 4096
_TIMEOUT = 10  # seconds: a hung API server must not hang the caller's worker
YIELD_CHECK = 0.02  # seconds between looks at whether the daemon's work is done


class EventRecorder:
    def __init__(self, api_client: client.ApiClient, component: str, host: str | None = None):
        self._core = client.CoreV1Api(api_client)
        self._source = {"component": component, **({"host": host} if host else {})}
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
            self._core.create_namespaced_event(namespace, body, _preload_content=False,
                                               _request_timeout=_TIMEOUT)
            self._remember(key, (namespace, name, 1))
        except ApiException as err:
            log.warning("event=record_event_failed object=%s/%s reason=%s status=%s",
                        namespace, meta.get("name"), reason, err.status)
        except Exception as err:  # connection errors
            log.warning("event=record_event_failed object=%s/%s reason=%s error=%s",
                        namespace, meta.get("name"), reason, err)

    def _bump(self, previous: tuple[str, str, int], now: str, key: tuple) -> bool:
        namespace, name, count = previous
        try:
            self._core.patch_namespaced_event(
                name, namespace, {"count": count + 1, "lastTimestamp": now},
                _preload_content=False, _request_timeout=_TIMEOUT,
            )
        except ApiException as err:
            if err.status == 404:  # expired or deleted: start a new one
                return False
            raise
        self._remember(key, (namespace, name, count + 1))
        return True

    def _remember(self, key: tuple, value: tuple[str, str, int]) -> None:
        with self._lock:
            self._seen[key] = value
            self._seen.move_to_end(key)
            while len(self._seen) > _CACHE_SIZE:
                self._seen.popitem(last=False)


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
    """

    def __init__(self, recorder: EventRecorder, max_pending: int = 10000,
                 rate: float = 100.0, burst: int = 200,
                 yield_to: Callable[[], bool] | None = None, max_yield: float = 5.0):
        self._recorder = recorder
        self._yield_to, self._max_yield = yield_to, max_yield
        self.yields = 0  # times an event waited for the daemon's work
        self._queue: queue.Queue[tuple | None] = queue.Queue(maxsize=max_pending)
        self.dropped = 0
        self._deadline: float | None = None  # set by stop(): record until then
        # A token bucket, like a real client's QPS limit: a burst of 10,000 events must
        # not flood the API server (nor take the CPU the routes need right then).
        self._rate, self._burst = rate, float(burst)
        self._tokens, self._refilled = float(burst), time.monotonic()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-recorder", daemon=True)
        self._thread.start()

    def record(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        try:
            self._queue.put_nowait((obj, type_, reason, message))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("event=events_dropped count=%d reason=queue_full", self.dropped)

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
            log.warning("event=events_dropped count=%d reason=shutdown", left)

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
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._refilled) * self._rate)
        self._refilled = now
        if self._tokens < 1:
            # Rate limiting is waiting for time itself; stop() cuts it short.
            self._stopping.wait((1 - self._tokens) / self._rate)
            self._tokens = 1.0
            self._refilled = time.monotonic()
        self._tokens -= 1
