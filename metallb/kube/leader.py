"""Leader election on a coordination.k8s.io/v1 Lease, like client-go's leaderelection:
acquire when the lease is free or expired, renew well before it expires, and release it
on shutdown so a standby takes over at once instead of after the lease duration.

Expiry is judged as client-go judges it: from when THIS replica last saw the lease
record change, on its own monotonic clock. The holder's `renewTime` is written (for
humans and other implementations) but never compared with the local clock: two nodes
whose clocks disagree must never both lead.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from metallb.kube.clock import REAL_CLOCK, Clock
from metallb.kube.errors import is_conflict, is_not_found
from metallb.logs import log_event

log = logging.getLogger("metallb.kube.leader")

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class LeaderElector:
    """Competes for one Lease and reports leadership through two callbacks.

    Always holds: `is_leader` is True only between an on_started_leading and the next
    on_stopped_leading; this replica leads only while its last successful renewal is at
    most `renew_deadline` old (monotonic clock), and `renew_deadline` < `lease_duration`,
    so it stops leading before any other replica may judge the lease expired.

    Threads: start() runs the election loop (tick() every `retry_period`) in a thread of
    its own; the callbacks run on that thread (and on the caller's in stop()) and must
    not block: set a flag and return. stop() and is_leader are safe from any thread.
    The observed record and the leading flag are only written by the election thread
    (or by stop() after that thread ended), so they need no lock.
    """

    def __init__(
        self,
        api_client: client.ApiClient,
        namespace: str,
        name: str,
        identity: str,
        *,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        on_started_leading: Callable[[], None] = lambda: None,
        on_stopped_leading: Callable[[], None] = lambda: None,
        clock: Clock = REAL_CLOCK,
    ):
        if not identity:
            raise ValueError("leader election needs a non-empty identity")
        if retry_period <= 0:
            raise ValueError(f"retry_period must be > 0 seconds, got {retry_period}")
        if renew_deadline <= retry_period:
            raise ValueError(f"renew_deadline ({renew_deadline} s) must be longer than "
                             f"retry_period ({retry_period} s): a leader must get to try "
                             "renewing before it gives up")
        if lease_duration <= renew_deadline:
            raise ValueError(f"lease_duration ({lease_duration} s) must be longer than "
                             f"renew_deadline ({renew_deadline} s): a leader must give up "
                             "before others may take the lease")
        self._api = client.CoordinationV1Api(api_client)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._on_start, self._on_stop = on_started_leading, on_stopped_leading
        self._clock = clock
        self._leading = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_renew: float | None = None  # monotonic
        # The lease record as last read or written, and when (monotonic) it last changed.
        self._observed: str | None = None
        self._observed_at = 0.0
        # A hung call must not outlive the renew deadline (client-go does the same).
        self._opts = {"_preload_content": False, "_request_timeout": max(1.0, renew_deadline)}

    @property
    def is_leader(self) -> bool:
        return self._leading.is_set()

    @property
    def running(self) -> bool:
        """The election loop is alive (started and not stopped)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> LeaderElector:
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)
        self._thread.start()
        return self

    def stop(self, release: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.retry_period + 5)
        if release and self._leading.is_set():
            self._release()
        self._set_leading(False)

    def tick(self) -> bool:
        """One round of the election: try to acquire or renew, give up leadership when
        the renew deadline passed; returns is_leader. The loop calls it every
        retry_period; tests call it directly with a ManualClock."""
        try:
            ok = self._try_acquire_or_renew()
        except Exception as err:  # API errors, connection errors
            log_event(log, "warn", "lease_error", lease=f"{self.namespace}/{self.name}",
                      error=err)
            ok = False
        now = self._clock.monotonic()
        if ok:
            self._last_renew = now
            self._set_leading(True)
        elif self._leading.is_set() and (
            self._last_renew is None or now - self._last_renew > self.renew_deadline
        ):
            log_event(log, "error", "leadership_lost", lease=f"{self.namespace}/{self.name}",
                      identity=self.identity)
            self._set_leading(False)
        return self._leading.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.retry_period)

    def _set_leading(self, leading: bool) -> None:
        if leading and not self._leading.is_set():
            self._leading.set()
            log_event(log, "info", "became_leader", lease=f"{self.namespace}/{self.name}",
                      identity=self.identity)
            self._on_start()
        elif not leading and self._leading.is_set():
            self._leading.clear()
            self._on_stop()

    def _observe(self, spec: dict[str, Any]) -> None:
        """Remember the record; restart its expiry countdown when it changed."""
        record = json.dumps(spec, sort_keys=True, default=str)
        if record != self._observed:
            self._observed = record
            self._observed_at = self._clock.monotonic()

    def _expired(self, spec: dict[str, Any]) -> bool:
        """The holder has not changed the record for a whole lease duration, as seen by
        this replica's monotonic clock (never by the holder's renewTime)."""
        try:
            duration = float(spec.get("leaseDurationSeconds") or 0)
        except (TypeError, ValueError):
            duration = 0.0
        return self._clock.monotonic() >= self._observed_at + duration

    def _try_acquire_or_renew(self) -> bool:
        now = self._clock.now().strftime(_FORMAT)
        try:
            lease = self._api.read_namespaced_lease(self.name, self.namespace,
                                                    **self._opts)
        except ApiException as err:
            if not is_not_found(err):
                raise
            return self._create(now)
        obj = _json(lease)
        spec = obj.get("spec") or {}
        self._observe(spec)
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self.identity and not self._expired(spec):
            return False
        transitions = _int(spec.get("leaseTransitions"))
        if holder != self.identity:
            transitions += 1
            spec["acquireTime"] = now
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=max(1, round(self.lease_duration)),
            renewTime=now,
            leaseTransitions=transitions,
        )
        obj["spec"] = spec
        try:
            self._api.replace_namespaced_lease(self.name, self.namespace, obj,
                                               **self._opts)
        except ApiException as err:
            if is_conflict(err):  # someone else wrote it first
                return False
            raise
        self._observe(spec)
        return True

    def _create(self, now: str) -> bool:
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.lease_duration)),
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": 0,
        }
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": spec,
        }
        try:
            self._api.create_namespaced_lease(self.namespace, body, **self._opts)
        except ApiException as err:
            if is_conflict(err):
                return False
            raise
        self._observe(spec)
        return True

    def _release(self) -> None:
        lease_name = f"{self.namespace}/{self.name}"
        try:
            lease = _json(self._api.read_namespaced_lease(self.name, self.namespace,
                                                          **self._opts))
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            spec.update(holderIdentity="", leaseDurationSeconds=1,
                        renewTime=self._clock.now().strftime(_FORMAT))
            self._api.replace_namespaced_lease(self.name, self.namespace, lease,
                                               **self._opts)
            log_event(log, "info", "lease_released", lease=lease_name,
                      identity=self.identity)
        except Exception as err:
            log_event(log, "warn", "lease_release_failed", lease=lease_name, error=err)


def _json(resp: Any) -> dict[str, Any]:
    return json.loads(resp.data)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
