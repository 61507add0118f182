"""When each Service first shows an address: the clock benches measure assignment with."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from metallb.kube.informer import Informer
from metallb.wait import poll_until


def _name_and_ingress(obj: dict[str, Any]) -> dict[str, Any]:
    """All the watch reads of a Service (the informer caches nothing else): an
    instrument should cost the machine it measures as little as it can."""
    meta = obj.get("metadata") or {}
    return {"metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion")
                         if k in meta},
            "status": {"loadBalancer": (obj.get("status") or {}).get("loadBalancer") or {}}}


class StatusWatch:
    """Records, per Service name in one namespace, the `clock()` time it was first seen
    with an address in `status.loadBalancer` and that first address.

    The watch is the project's own Informer, so it reads the API exactly as the daemons
    do. `seen` only grows, and only from the informer's thread; readers on other threads
    read it as a plain dict (single assignments, atomic under the GIL). start() and
    stop() are called by the owner's thread.
    """

    def __init__(self, core: client.CoreV1Api, namespace: str,
                 clock: Callable[[], float] = time.perf_counter):
        self.seen: dict[str, tuple[float, str]] = {}
        self._clock = clock
        self._informer = Informer("status-watch", core.list_namespaced_service, self._event,
                                  namespace=namespace, transform=_name_and_ingress)

    def start(self) -> StatusWatch:
        self._informer.start()
        poll_until(self._informer.synced.is_set, what="status watch synced")
        return self

    def _event(self, kind: str, obj: dict[str, Any]) -> None:
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        name = (obj.get("metadata") or {}).get("name")
        if ingress and name not in self.seen:
            self.seen[name] = (self._clock(), ingress[0].get("ip", ""))

    def stop(self) -> None:
        self._informer.stop()
