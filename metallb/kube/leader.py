"""Leader election on a coordination.k8s.io/v1 Lease, like client-go's leaderelection:
acquire when the lease is free or expired, renew well before it expires, and release it
on shutdown so a standby takes over at once instead of after the lease duration."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger("metallb.kube.leader")

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class LeaderElector:
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
    ):
        self._api = client.CoordinationV1Api(api_client)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._on_start, self._on_stop = on_started_leading, on_stopped_leading
        self._leading = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_renew: datetime | None = None
        # A hung call must not outlive the renew deadline (client-go does the same).
        self._opts = {"_preload_content": False, "_request_timeout": max(1.0, renew_deadline)}

    @property
    def is_leader(self) -> bool:
        return self._leading.is_set()

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

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ok = self._try_acquire_or_renew()
            except Exception as err:  # API errors, connection errors
                log.warning("event=lease_error lease=%s/%s error=%s", self.namespace, self.name,
                            " ".join(str(err).split())[:200])
                ok = False
            now = datetime.now(UTC)
            if ok:
                self._last_renew = now
                self._set_leading(True)
            elif self._leading.is_set() and (
                self._last_renew is None
                or now - self._last_renew > timedelta(seconds=self.renew_deadline)
            ):
                log.error("event=leadership_lost lease=%s/%s identity=%s", self.namespace,
                          self.name, self.identity)
                self._set_leading(False)
            self._stop.wait(self.retry_period)

    def _set_leading(self, leading: bool) -> None:
        if leading and not self._leading.is_set():
            self._leading.set()
            log.info("event=became_leader lease=%s/%s identity=%s", self.namespace, self.name,
                     self.identity)
            self._on_start()
        elif not leading and self._leading.is_set():
            self._leading.clear()
            self._on_stop()

    def _try_acquire_or_renew(self) -> bool:
        now = datetime.now(UTC)
        try:
            lease = self._api.read_namespaced_lease(self.name, self.namespace,
                                                    **self._opts)
        except ApiException as err:
            if err.status != 404:
                raise
            return self._create(now)
        obj = _json(lease)
        spec = obj.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self.identity and not _expired(spec, now):
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder != self.identity:
            transitions += 1
            spec["acquireTime"] = now.strftime(_FORMAT)
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=max(1, round(self.lease_duration)),
            renewTime=now.strftime(_FORMAT),
            leaseTransitions=transitions,
        )
        obj["spec"] = spec
        try:
            self._api.replace_namespaced_lease(self.name, self.namespace, obj,
                                               **self._opts)
        except ApiException as err:
            if err.status == 409:  # someone else wrote it first
                return False
            raise
        return True

    def _create(self, now: datetime) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self.lease_duration)),
                "acquireTime": now.strftime(_FORMAT),
                "renewTime": now.strftime(_FORMAT),
                "leaseTransitions": 0,
            },
        }
        try:
            self._api.create_namespaced_lease(self.namespace, body, **self._opts)
        except ApiException as err:
            if err.status == 409:
                return False
            raise
        return True

    def _release(self) -> None:
        try:
            lease = _json(self._api.read_namespaced_lease(self.name, self.namespace,
                                                          **self._opts))
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            spec.update(holderIdentity="", leaseDurationSeconds=1,
                        renewTime=datetime.now(UTC).strftime(_FORMAT))
            self._api.replace_namespaced_lease(self.name, self.namespace, lease,
                                               **self._opts)
            log.info("event=lease_released lease=%s/%s identity=%s", self.namespace, self.name,
                     self.identity)
        except Exception as err:
            log.warning("event=lease_release_failed lease=%s/%s error=%s", self.namespace,
                        self.name, " ".join(str(err).split())[:200])


def _json(resp: Any) -> dict[str, Any]:
    return json.loads(resp.data)


def _expired(spec: dict[str, Any], now: datetime) -> bool:
    renew = spec.get("renewTime") or spec.get("acquireTime")
    if not renew:
        return True
    try:
        renewed = _parse_time(renew)
    except ValueError:
        return True
    duration = float(spec.get("leaseDurationSeconds") or 0)
    return now > renewed + timedelta(seconds=duration)


def _parse_time(value: str) -> datetime:
    for fmt in (_FORMAT, "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
