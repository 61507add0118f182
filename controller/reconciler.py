"""The controller's I/O: feed the core what the informers cache, carry out its Steps.

Everything is decided in `metallb.allocator.core` (the code `metallb plan` drives too):
config, allocator, pending Services, their order and retries. This module reads the
cached objects, and carries out each Step: the status write (status subresource, with
the object's resourceVersion, carrying the pool annotation as upstream's UpdateStatus
does), the Events, the metrics, and the keys to queue again. The writes of a Service
run on a WritePipeline, so those of different Services overlap; only the decisions are
the worker's own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.status import ControllerStatus
from controller.work_items import CONFIG, ConfigKey, ServiceKey, WorkItem
from controller.write_pipeline import WritePipeline
from metallb.allocator.core import APPLIED, REFUSED, ControllerCore, ObservedService, observe
from metallb.allocator.decision import WARNING, Decision
from metallb.allocator.service import service_namespace
from metallb.config_source import ConfigSource
from metallb.keys import object_key
from metallb.kube.config_informers import ConfigInformers
from metallb.kube.errors import is_api_error, is_conflict, is_not_found
from metallb.kube.events import BackgroundEventRecorder, EventRecorder
from metallb.kube.informer import Informer, list_all
from metallb.kube.lean_api import LeanCoreV1Api
from metallb.kube.workqueue import WorkQueue
from metallb.logs import format_event, log_event
from metallb.metrics import AllocatorMetrics, K8sClientMetrics
from metallb.status.conditions import merge_patch_list

log = logging.getLogger("metallb.controller")

ALLOCATED_FROM_POOL_ANNOTATION = "metallb.io/ip-allocated-from-pool"
"""Written by the controller: the pool a Service's address came from (upstream's name).
Not to be confused with the `address-pool` annotation a user sets to ask for a pool."""


@dataclass(frozen=True)
class ServiceWrite:
    """What a decision leaves to write for one Service (the cached object it was made
    on, and the conditions its status write carries), and whether the write takes an
    address away from the Service (then the worker waits for it: the address must be
    off this Service in the API before the worker may give it to another)."""

    obj: dict[str, Any]
    decision: Decision
    conditions: list[dict] | None
    frees_addresses: bool


class Reconciler:
    """Turns work items into API writes through the ControllerCore.

    Always holds: nothing is written while `may_write()` is False (the lease is lost or
    the daemon stops), checked before every write; without a config nothing is allocated.

    Threads: one worker thread calls begin() and process(); nothing else touches the
    core, so there is no lock. A Service's writes run on `writes` (a WritePipeline; the
    worker's own thread without one): they touch only the informer's cache, the work
    queue, the status queue and the Event recorder, all thread-safe. The key of a
    Service stays in the queue's processing set until its writes have ended, so the
    worker never decides a Service again while its last write is on the wire. Every
    API call is bounded by `write_timeout` seconds: a hung API server must not hang the
    worker forever.
    """

    def __init__(
        self,
        *,
        core: client.CoreV1Api | LeanCoreV1Api,
        services: Informer,
        config_inputs: ConfigInformers,
        config_source: ConfigSource,
        events: EventRecorder | BackgroundEventRecorder,
        queue: WorkQueue[WorkItem],
        k8s_metrics: K8sClientMetrics,
        allocator_metrics: AllocatorMetrics,
        load_balancer_class: str | None = None,
        may_write: Callable[[], bool] = lambda: True,
        write_timeout: float = 30.0,
        status: ControllerStatus | None = None,
        namespace_labels: Callable[[str], Mapping[str, str]] = lambda namespace: {},
        writes: WritePipeline | None = None,
    ):
        self._api = core
        self._services = services
        self._config_inputs = config_inputs
        self._source = config_source
        self._events = events
        self._queue = queue
        self._k8s_metrics = k8s_metrics
        self._alloc_metrics = allocator_metrics
        self._may_write = may_write  # False once the lease is lost: stop at once
        self._timeout = write_timeout
        self._status = status  # pool counts, Service conditions, ConfigurationState
        self._namespace_labels = namespace_labels  # for serviceAllocation.namespaceSelectors
        self._writes = writes or WritePipeline(threads=0)
        self.core = ControllerCore(load_balancer_class)
        self._blocking: frozenset[str] = frozenset()  # services a refused config would rob

    # -- entry points -------------------------------------------------------------------

    def begin(self) -> None:
        """Called when this replica starts to lead: read every Service fresh (the cache
        may lag behind the previous leader's last writes), then queue the config, whose
        first load rebuilds the allocator from the statuses before anything else runs."""
        fresh, _version = list_all(self._api.list_service_for_all_namespaces,
                                   transform=self._services.transform,
                                   _request_timeout=self._timeout)
        for obj in fresh:
            self._services.update_local(obj)
        self.core.reset()
        self._queue.add(CONFIG)

    def process(self, item: WorkItem) -> None:
        """sync(item), then its writes (handed to the pipeline, or run here when they
        free an address); a failure is counted, logged, and the item retried with
        backoff. Calls `queue.done(item)` once all of it has ended, which may be after
        this returns."""
        try:
            write = self.sync(item)
        except Exception as err:
            self._finished(item, err)
            return
        if write is None:
            self._finished(item, None)
        elif write.frees_addresses:
            self._writes.run_now(item, lambda: self._carry_out(item, write))
        else:
            self._writes.submit(item, lambda: self._carry_out(item, write))

    def sync(self, item: WorkItem) -> ServiceWrite | None:
        """Bring one item to its desired state, up to the Service write it leaves to
        carry out (if any); API errors propagate (the worker retries the item with
        backoff)."""
        if isinstance(item, ConfigKey):
            self._sync_config()
            if self._status is not None:
                self._status.config(self._source)
        elif self.core.allocator is not None:  # without a config nothing is allocated
            write = self._sync_service(item.key)
            if write is None:
                self._k8s_metrics.updates.inc()
            return write
        return None

    def _carry_out(self, item: WorkItem, write: ServiceWrite) -> None:
        try:
            self._write(write)
        except Exception as err:
            self._finished(item, err)
        else:
            self._k8s_metrics.updates.inc()
            self._finished(item, None)

    def _finished(self, item: WorkItem, error: Exception | None) -> None:
        if error is None:
            self._queue.forget(item)
        else:
            self._k8s_metrics.update_errors.inc()
            delay = self._queue.retry(item)
            log.warning("%s", format_event("sync_failed", {
                "key": str(item), "error": error, "retry_in": f"{delay:.2f}s"}),
                exc_info=not is_api_error(error))
        self._queue.done(item)

    # -- config -------------------------------------------------------------------------

    def _sync_config(self) -> None:
        config = self._source.candidate(self._config_inputs.observed())
        if config is None:
            return
        if self.core.allocator is None:
            first_pass = self.core.start(config, self._observed())
            log_event(log, "info", "assignments_loaded",
                      count=len(self.core.allocator.assignments()))
            self._source.applied(config)
            self._first_pass(first_pass)
            self._publish()
            return
        change = self.core.change_config(config)
        self._blocking = frozenset(b.key for b in change.blocked)
        if change.outcome == REFUSED:
            self._source.refused(change.blocked)
        elif change.outcome == APPLIED:
            self._source.applied(config)
            for service in sorted(self._observed(), key=lambda s: s.order):
                self._queue.add(ServiceKey(service.key))
            self._publish()
        elif self._source.stale:  # the good config is back: nothing to redo
            self._source.applied(config)

    def _observed(self) -> list[ObservedService]:
        return [self._observe(obj) for obj in self._services.items()]

    def _observe(self, obj: dict[str, Any]) -> ObservedService:
        return observe(obj, self._namespace_labels(service_namespace(obj)))

    def _first_pass(self, services: list[ObservedService]) -> None:
        """Right after the first config: every service in the core's first-pass order,
        here and now rather than through the queue (which may already hold keys in
        watch-arrival order); the same order `metallb plan` uses."""
        for service in services:
            if not self._may_write():
                break
            self.process(ServiceKey(service.key))
        self._writes.drain()  # the queue may hold these keys too: no write overlaps

    # -- services -----------------------------------------------------------------------

    def _sync_service(self, key: str) -> ServiceWrite | None:
        obj = self._services.get(key)
        write = None
        if obj is None:
            step = self.core.delete(key)
            if self._status is not None:
                self._status.deleted(key)
            if step.released is not None:
                log_event(log, "info", "service_deleted", service=key,
                          pool=step.released.pool, ips=",".join(step.released.ip_strings),
                          released="yes")
        else:
            observed = self._observe(obj)
            step = self.core.decide(observed)
            assert step.decision is not None
            write = self._apply(obj, step.decision, observed.intent.existing_ips)
        # addresses were freed: the waiting services try now, in the one order and before
        # anything already queued (a waiting service queued earlier for another reason
        # must not take the address from one before it in that order)
        self._queue.add_first([ServiceKey(retry) for retry in step.retry])
        if key in self._blocking:  # a service that blocked the new config changed or went:
            self._queue.add(CONFIG)  # try the refused config again (upstream retries it too)
        if step.stats_changed:
            self._publish()
        return write

    def _apply(self, obj: dict[str, Any], decision: Decision,
               existing_ips: tuple[str, ...]) -> ServiceWrite | None:
        """What is left to write after `decision` (nothing for another implementation's
        Service); the status conditions are stated here, on the worker."""
        conditions = None
        if self._status is not None:
            conditions = self._status.conditions_for(obj, decision)
            if not decision.writes_status:
                self._status.service(obj, decision)
        if decision.foreign:
            return None
        return ServiceWrite(obj, decision, conditions,
                            frees_addresses=not set(existing_ips) <= set(decision.ips))

    def _write(self, write: ServiceWrite) -> None:
        """Write status (with the pool annotation), then the events. A stale object
        (conflict) is re-read and its key queued again. The annotation gets a write of
        its own only when the status needs none (or the API server dropped it from the
        status write)."""
        obj, decision = write.obj, write.decision
        key = decision.key
        if decision.writes_status:
            written = self._write_status(obj, decision, write.conditions)
            if written is None:
                return
            if self._status is not None:
                self._status.written(written, decision)
            obj = written
            log_event(log, "info", "status_written", service=key, pool=decision.pool,
                      ips=",".join(decision.ips) or None)
        if _annotation_differs(obj, decision.pool):
            self._annotate(obj, decision.pool)
        for event in decision.events:
            self._events.record(obj, event.type, event.reason, event.message)
            log_event(log, "warn" if event.type == WARNING else "info", event.reason,
                      service=key, pool=decision.pool, message=event.message)

    def _write_status(self, obj: dict[str, Any], decision: Decision,
                      conditions: list[dict] | None = None) -> dict | None:
        """Set status.loadBalancer (and the conditions, when given) through the status
        subresource with a merge patch that carries the object's resourceVersion (a
        stale one is a 409) and the pool annotation when it changes (the API server
        keeps a Service's metadata from a status write, as upstream's UpdateStatus
        relies on); on a conflict re-read the object and queue the key. A patch, never
        a PUT of the cached object: the cache holds trimmed objects (metallb.kube.trim),
        and sending one back whole would erase what was trimmed. None when nothing
        was written."""
        if not self._may_write():
            return None
        ips = decision.ips
        ingress = [{"ip": ip} for ip in ips] if ips else None  # None deletes the list
        status: dict[str, Any] = {"loadBalancer": {"ingress": ingress}}
        if conditions is not None:
            status["conditions"] = merge_patch_list(conditions)
        metadata: dict[str, Any] = {"resourceVersion": (obj.get("metadata") or {}).get(
            "resourceVersion")}
        if _annotation_differs(obj, decision.pool):  # None deletes it
            metadata["annotations"] = {ALLOCATED_FROM_POOL_ANNOTATION: decision.pool}
        patch = {"metadata": metadata, "status": status}
        try:
            written = self._service_call(self._api.patch_namespaced_service_status, obj,
                                         patch)
        except ApiException as err:
            if not is_conflict(err):
                raise
            log_event(log, "info", "status_conflict", service=object_key(obj),
                      action="reread")
            self._refresh(obj)
            return None
        if written is None:  # deleted meanwhile: its DELETED event releases it
            return None
        self._services.update_local(written)
        return written

    def _annotate(self, obj: dict[str, Any], pool: str | None) -> None:
        if not self._may_write():
            return
        patch = {"metadata": {"annotations": {ALLOCATED_FROM_POOL_ANNOTATION: pool}}}
        patched = self._service_call(self._api.patch_namespaced_service, obj, patch)
        if patched is not None:
            self._services.update_local(patched)

    def _refresh(self, obj: dict[str, Any]) -> None:
        current = self._service_call(self._api.read_namespaced_service, obj)
        if current is None:
            return
        self._services.update_local(current)
        self._queue.add(ServiceKey(object_key(obj)))

    def _service_call(self, method: Callable[..., Any], obj: dict[str, Any],
                      *args: Any) -> dict[str, Any] | None:
        """`method(name, namespace, *args)` on `obj`'s Service: the object the API returned,
        or None when the Service is gone (404). Other API errors propagate."""
        meta = obj.get("metadata") or {}
        try:
            resp = method(meta.get("name"), meta.get("namespace"), *args,
                          _preload_content=False, _request_timeout=self._timeout)
        except ApiException as err:
            if is_not_found(err):
                return None
            raise
        return json.loads(resp.data)

    def _publish(self) -> None:
        assert self.core.allocator is not None
        if self._status is not None:
            self._status.pools(self.core.allocator)
        self._alloc_metrics.publish(
            {pool: (s.addresses_total, s.addresses_in_use)
             for pool, s in self.core.allocator.stats().items()}
        )


def _annotation_differs(obj: dict[str, Any], pool: str | None) -> bool:
    """The Service's pool annotation is not what `pool` says (absent for None)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return annotations.get(ALLOCATED_FROM_POOL_ANNOTATION) != pool and (
        pool is not None or ALLOCATED_FROM_POOL_ANNOTATION in annotations)
