"""The labels of every Namespace, for the pools' serviceAllocation.namespaceSelectors.

A Service object does not carry its Namespace's labels, so the controller watches
Namespaces too. When a Namespace's labels change, a limited pool may start or stop
serving the Services in it: they are queued again (the core then keeps, clears or
allocates, by the same rules as for any other change).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from kubernetes import client

from controller.work_items import ServiceKey, WorkItem
from metallb.keys import object_key
from metallb.kube.informer import Informer
from metallb.kube.workqueue import WorkQueue


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    return dict(labels) if isinstance(labels, Mapping) else {}


class NamespaceLabels:
    """A Namespace informer, and the requeue of a Namespace's Services when its labels
    change.

    Always holds: `_seen` has the labels this watch last delivered for each Namespace
    it has seen, so a relist that changes nothing queues nothing. A Namespace seen for
    the first time queues nothing either: the worker waits for `informer.synced` before
    its first pass, and a new Namespace holds no Service yet.

    Threads: the informer thread calls `_on_namespace` (it only queues keys; `_seen` is
    touched there alone, the lock only makes that explicit); `labels()` from the worker
    reads the informer's thread-safe cache.
    """

    def __init__(self, core: client.CoreV1Api, services: Informer,
                 queue: WorkQueue[WorkItem]):
        self.informer = Informer("namespaces", core.list_namespace, self._on_namespace)
        self._service_keys: Callable[[], list[str]] = services.keys
        self._queue = queue
        self._lock = threading.Lock()
        self._seen: dict[str, dict[str, str]] = {}

    def labels(self, namespace: str) -> dict[str, str]:
        """The labels of `namespace` as cached ({} for one not (yet) seen)."""
        obj = self.informer.get(namespace)
        return _labels(obj) if obj is not None else {}

    def _on_namespace(self, kind: str, obj: dict[str, Any]) -> None:
        name = object_key(obj)
        labels = None if kind == "DELETED" else _labels(obj)
        with self._lock:
            before = self._seen.get(name)
            if labels is None:
                self._seen.pop(name, None)
            else:
                self._seen[name] = labels
        if before is None or labels is None or before == labels:
            return
        prefix = f"{name}/"
        for key in self._service_keys():
            if key.startswith(prefix):
                self._queue.add(ServiceKey(key))
