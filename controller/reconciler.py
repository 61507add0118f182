"""The queue worker's logic: turn the allocator's Decision for one key into API writes.

All deciding happens in `metallb.allocator.reconcile` (the code `metallb plan` runs);
this module only feeds it the cached Service and carries out the result: the status
write (status subresource, with the object's resourceVersion), the pool annotation,
the Events, and the metrics. One worker thread owns the allocator, so it needs no lock.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from metallb.allocator.allocator import Allocator
from metallb.allocator.reconcile import Decision, preload, reconcile
from metallb.allocator.service import intent_from_service
from metallb.config_source import ConfigSource
from metallb.kube.client import object_key
from metallb.kube.events import BackgroundEventRecorder, EventRecorder
from metallb.kube.informer import Informer
from metallb.kube.workqueue import WorkQueue
from metallb.logs import one_line
from metallb.metrics import AllocatorMetrics, K8sClientMetrics

log = logging.getLogger("metallb.controller")

CONFIG_KEY = "@config"  # queue key of the ConfigMap; service keys always contain "/"
POOL_ANNOTATION = "metallb.io/ip-allocated-from-pool"
WRITE_TIMEOUT = 30  # seconds; a hung API server must not hang the worker forever


class Reconciler:
    def __init__(
        self,
        *,
        core: client.CoreV1Api,
        services: Informer,
        config_maps: Informer,
        config_source: ConfigSource,
        events: EventRecorder | BackgroundEventRecorder,
        queue: WorkQueue,
        k8s_metrics: K8sClientMetrics,
        allocator_metrics: AllocatorMetrics,
        load_balancer_class: str | None = None,
        may_write: Callable[[], bool] = lambda: True,
    ):
        self._core = core
        self._services = services
        self._config_maps = config_maps
        self._source = config_source
        self._events = events
        self._queue = queue
        self._k8s_metrics = k8s_metrics
        self._alloc_metrics = allocator_metrics
        self._lb_class = load_balancer_class
        self._may_write = may_write  # False once the lease is lost: stop at once
        self.allocator: Allocator | None = None  # None until a config was loaded
        # Services that failed to allocate, in the order they failed (retried in it).
        self.pending: dict[str, None] = {}

    # -- entry points -------------------------------------------------------------------

    def begin(self) -> None:
        """Called when this replica starts to lead: read every Service fresh (the cache
        may lag behind the previous leader's last writes), then queue the config, whose
        first load rebuilds the allocator from the statuses before anything else runs."""
        resp = self._core.list_service_for_all_namespaces(
            _preload_content=False, _request_timeout=WRITE_TIMEOUT
        )
        for obj in json.loads(resp.data).get("items") or []:
            self._services.update_local(obj)
        self.allocator = None
        self.pending.clear()
        self._queue.add(CONFIG_KEY)

    def process(self, key: str) -> None:
        """sync(key); a failure is counted, logged, and the key retried with backoff."""
        try:
            self.sync(key)
            self._queue.forget(key)
        except Exception as err:
            self._k8s_metrics.update_errors.inc()
            delay = self._queue.retry(key)
            log.warning("event=sync_failed key=%s error=%s retry_in=%.2fs", key,
                        one_line(err), delay, exc_info=not is_api_error(err))

    def sync(self, key: str) -> None:
        """Bring one key to its desired state; API errors propagate (the worker retries
        the key with backoff)."""
        if key == CONFIG_KEY:
            self._sync_config()
        elif self.allocator is not None:  # without a config nothing is allocated
            self._sync_service(key)
            self._k8s_metrics.updates.inc()

    # -- config -------------------------------------------------------------------------

    def _sync_config(self) -> None:
        configmap = self._config_maps.get(f"{self._source.namespace}/{self._source.name}")
        config = self._source.candidate(configmap)
        if config is None:
            return
        if self.allocator is None:
            self.allocator = Allocator(config)
            loaded = preload(self.allocator, self._start_order(), self._lb_class)
            log.info("event=assignments_loaded count=%d", len(loaded))
            self._source.applied(config)
            self._first_pass()
        elif config == self.allocator.config:
            if self._source.stale:  # the good config is back: nothing to redo
                self._source.applied(config)
            return
        else:
            blocked = self.allocator.set_config(config)
            if blocked:
                self._source.refused(blocked)
                return
            self._source.applied(config)
            self._queue_services()
        self._publish()

    def _start_order(self) -> list:
        """Cached services, oldest first: if two statuses claim one address incompatibly,
        the older service keeps it."""
        objs = self._services.items()
        objs.sort(key=lambda o: (o.get("metadata") or {}).get("creationTimestamp") or "")
        return [intent_from_service(o) for o in objs]

    def _first_pass(self) -> None:
        """Right after the first config: every service in a fixed order, services that
        hold an assignment first, here and now rather than through the queue (which may
        already hold keys in watch-arrival order); the same order `metallb plan` uses."""
        intents = self._start_order()
        intents.sort(key=lambda i: not i.existing_ips)  # stable: holders first
        for intent in intents:
            if not self._may_write():
                return
            self.process(intent.key)

    def _queue_services(self) -> None:
        for intent in self._start_order():
            self._queue.add(intent.key)

    # -- services -----------------------------------------------------------------------

    def _sync_service(self, key: str) -> None:
        allocator = self.allocator
        assert allocator is not None
        obj = self._services.get(key)
        if obj is None:
            self.pending.pop(key, None)
            held = allocator.release(key)
            if held is not None:
                log.info("event=service_deleted service=%s pool=%s ips=%s released=yes",
                         key, held.pool, ",".join(held.ip_strings))
                self._retry_pending()
                self._publish()
            return
        intent = intent_from_service(obj)
        before = allocator.assignment(key)
        decision = reconcile(allocator, intent, self._lb_class)
        after = allocator.assignment(key)
        if decision.failed:
            self.pending.setdefault(key, None)
        else:
            self.pending.pop(key, None)
        # Another implementation's LoadBalancer (another class; or, under --lb-class, no
        # class at all): its status is none of our business, never cleared.
        foreign = (intent.type == "LoadBalancer"
                   and intent.load_balancer_class != self._lb_class)
        if not foreign and not self._apply(obj, decision):
            return  # conflict: the key is queued again with the fresh object
        freed = before is not None and (after is None or set(before.ips) - set(after.ips))
        if freed:
            self._retry_pending()
        if before != after:
            self._publish()

    def _apply(self, obj: dict[str, Any], decision: Decision) -> bool:
        """Write status, annotation and events; False when the object was stale."""
        key = decision.key
        if decision.status_changed:
            written = self._write_status(obj, decision.ips)
            if written is None:
                return False
            obj = written
            log.info("event=status_written service=%s pool=%s ips=%s", key,
                     decision.pool or "-", ",".join(decision.ips) or "-")
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if annotations.get(POOL_ANNOTATION) != decision.pool and (
            decision.pool is not None or POOL_ANNOTATION in annotations
        ):
            self._annotate(obj, decision.pool)
        for event in decision.events:
            self._events.record(obj, event.type, event.reason, event.message)
            level = logging.WARNING if event.type == "Warning" else logging.INFO
            log.log(level, 'event=%s service=%s pool=%s message="%s"', event.reason, key,
                    decision.pool or "-", event.message.replace('"', "'"))
        return True

    def _write_status(self, obj: dict[str, Any], ips: tuple[str, ...]) -> dict | None:
        """Replace status.loadBalancer through the status subresource, carrying the
        object's resourceVersion; on a conflict re-read the object and queue the key."""
        meta = obj.get("metadata") or {}
        body = dict(obj)
        status = dict(obj.get("status") or {})
        status["loadBalancer"] = {"ingress": [{"ip": ip} for ip in ips]} if ips else {}
        body["status"] = status
        try:
            resp = self._core.replace_namespaced_service_status(
                meta.get("name"), meta.get("namespace"), body,
                _preload_content=False, _request_timeout=WRITE_TIMEOUT,
            )
        except ApiException as err:
            if err.status == 409:
                log.info("event=status_conflict service=%s action=reread", object_key(obj))
                self._refresh(obj)
                return None
            if err.status == 404:  # deleted meanwhile: its DELETED event releases it
                return None
            raise
        written = json.loads(resp.data)
        self._services.update_local(written)
        return written

    def _annotate(self, obj: dict[str, Any], pool: str | None) -> None:
        meta = obj.get("metadata") or {}
        patch = {"metadata": {"annotations": {POOL_ANNOTATION: pool}}}
        try:
            resp = self._core.patch_namespaced_service(
                meta.get("name"), meta.get("namespace"), patch,
                _preload_content=False, _request_timeout=WRITE_TIMEOUT,
            )
        except ApiException as err:
            if err.status == 404:
                return
            raise
        self._services.update_local(json.loads(resp.data))

    def _refresh(self, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata") or {}
        try:
            resp = self._core.read_namespaced_service(
                meta.get("name"), meta.get("namespace"),
                _preload_content=False, _request_timeout=WRITE_TIMEOUT,
            )
        except ApiException as err:
            if err.status == 404:
                return
            raise
        self._services.update_local(json.loads(resp.data))
        self._queue.add(object_key(obj))

    def _retry_pending(self) -> None:
        """Addresses were freed: every service waiting for one tries again now."""
        for key in list(self.pending):
            self._queue.add(key)

    def _publish(self) -> None:
        assert self.allocator is not None
        self._alloc_metrics.publish(
            {pool: (s.addresses_total, s.addresses_in_use)
             for pool, s in self.allocator.stats().items()}
        )


def is_api_error(err: Exception) -> bool:
    """An API or connection error (expected, retried) rather than a bug (traceback)."""
    return isinstance(err, ApiException | HTTPError | OSError)
