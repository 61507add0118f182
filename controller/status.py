"""The controller's status objects: IPAddressPool.status counts, the Service's
`metallb.io/AddressAssigned` condition, and its ConfigurationState `controller`; it
also deletes the status objects of removed nodes (controller.node_status).

The worker states what they should say (pure builders in `metallb.status`); a
StatusQueue writes it from a thread of its own, so the API's speed never touches
allocation. One exception saves a write per Service: when the worker writes a Service's
status anyway (a new address), the condition travels in that same write.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.node_status import RemovedNodes
from metallb.allocator.allocator import Allocator
from metallb.allocator.decision import Decision
from metallb.config_source import ConfigSource
from metallb.keys import object_key
from metallb.kube.clock import REAL_CLOCK, Clock
from metallb.kube.errors import is_not_found
from metallb.kube.lean_api import LeanCoreV1Api
from metallb.kube.status_objects import ConfigStateWriter, MetallbObjects
from metallb.kube.status_queue import StatusQueue
from metallb.logs import log_event
from metallb.status import config_state
from metallb.status.conditions import (
    ADDRESS_ASSIGNED,
    Condition,
    address_condition,
    matches,
    merge,
    merge_patch_list,
    timestamp,
)
from metallb.status.pools import pool_status

log = logging.getLogger("metallb.controller.status")

COMPONENT = "controller"
POOLS = "ipaddresspools"


# Queue keys: ("service", namespace/name), ("pool", name), ("node", name), these two.
_CONFIG_STATE = ("config-state", "")
_NODE_SWEEP = ("node-sweep", "")


class ControllerStatus:
    """States the controller's status objects should hold, written by a StatusQueue.

    Threads: service(), conditions_for(), written(), deleted(), pools(), config() and
    sweep_nodes() from the controller's worker only, never blocking; node_deleted()
    from the Node informer's thread (the queue is thread-safe); the queue's thread runs
    `_write`, which reads and writes the API (each call bounded by `timeout`) and
    hands a Service it wrote to `on_service_written` (the informer's update_local,
    whose quiet echo keeps the watch event of that write from being reconciled).
    stop() from the daemon's shutdown path, once.
    """

    def __init__(self, api_client: client.ApiClient, namespace: str, *,
                 on_service_written: Callable[[dict[str, Any]], None] = lambda obj: None,
                 timeout: float = 10.0, clock: Clock = REAL_CLOCK, **queue_settings: Any):
        self._core = LeanCoreV1Api(api_client)
        self._objects = MetallbObjects(api_client, namespace, timeout)
        self._timeout, self._clock = timeout, clock
        self._on_service_written = on_service_written
        self._config_state = ConfigStateWriter(self._objects, COMPONENT, None, clock)
        self._removed_nodes = RemovedNodes(self._objects, self._node_exists, log)
        self.queue = StatusQueue(self._write, name="controller-status", clock=clock,
                                 **queue_settings)

    def stop(self, timeout: float = 5.0) -> None:
        self.queue.stop(timeout)

    # -- Services -----------------------------------------------------------------------

    def conditions_for(self, obj: dict[str, Any], decision: Decision) -> list[dict] | None:
        """The status.conditions the worker's own status write should carry (None:
        leave them as they are)."""
        wanted = address_condition(decision)
        conditions = (obj.get("status") or {}).get("conditions")
        if decision.foreign or matches(conditions, wanted, ADDRESS_ASSIGNED):
            return None
        return merge(conditions, wanted, self._now())

    def written(self, obj: dict[str, Any], decision: Decision) -> None:
        """The worker's status write carried the condition: nothing left to queue."""
        self.queue.settled(("service", object_key(obj)), address_condition(decision))

    def service(self, obj: dict[str, Any], decision: Decision) -> None:
        """The Service's condition after `decision`, queued when the object (as the
        informer has it) says otherwise. Another implementation's Service is only
        touched to say NotOurs when it carries our condition from before."""
        wanted = address_condition(decision)
        conditions = (obj.get("status") or {}).get("conditions")
        if matches(conditions, wanted, ADDRESS_ASSIGNED) or (
                decision.foreign and matches(conditions, None, ADDRESS_ASSIGNED)):
            return
        self.queue.put(("service", object_key(obj)), wanted)

    def deleted(self, key: str) -> None:
        self.queue.forget(("service", key))

    # -- pools and config -----------------------------------------------------------------

    def pools(self, allocator: Allocator) -> None:
        """Every pool's counts (the queue writes the ones that changed, coalesced)."""
        for name, by_family in allocator.family_stats().items():
            self.queue.put(("pool", name), pool_status(by_family))

    def config(self, source: ConfigSource) -> None:
        self.queue.put(_CONFIG_STATE, config_state.ConfigState.of(source))

    # -- removed nodes --------------------------------------------------------------------

    def node_deleted(self, name: str) -> None:
        """The Node is gone: its speaker's status objects go too."""
        self.queue.put(("node", name), True)

    def sweep_nodes(self, known: Callable[[], Collection[str]]) -> None:
        """Delete the status objects of nodes not in `known()` (read on the queue's
        thread) nor in the API: those removed while no controller led."""
        self.queue.put(_NODE_SWEEP, known)

    # -- the queue's thread -------------------------------------------------------------

    def _write(self, key: tuple[str, str], desired: Any) -> None:
        kind, name = key
        if kind == "service":
            self._write_condition(name, desired)
        elif kind == "pool":
            if not self._objects.patch_status(POOLS, name, desired):
                # A pool from the ConfigMap: no IPAddressPool object to say it on.
                log_event(log, "debug", "pool_status_skipped", pool=name,
                          reason="no_object")
        elif kind in ("node", "node-sweep"):  # an action, not a state: may come again
            if kind == "node":
                self._removed_nodes.remove(name)
            else:
                self._removed_nodes.sweep(desired())
            self.queue.forget(key)
        else:
            self._config_state.write(desired)

    def _write_condition(self, key: str, wanted: Condition | None) -> None:
        """Read the Service, merge the condition into its conditions, patch them into the
        status with its resourceVersion (a conflict raises: the queue retries on a fresh
        read; a patch, like the reconciler's, so RBAC needs `patch` on services/status)."""
        namespace, name = key.split("/", 1)
        try:
            resp = self._core.read_namespaced_service(
                name, namespace, _preload_content=False, _request_timeout=self._timeout)
            obj = json.loads(resp.data)
            status = dict(obj.get("status") or {})
            if matches(status.get("conditions"), wanted, ADDRESS_ASSIGNED):
                return
            conditions = merge(status.get("conditions"), wanted, self._now())
            patch = {"metadata": {"resourceVersion": (obj.get("metadata") or {}).get(
                         "resourceVersion")},
                     "status": {"conditions": merge_patch_list(conditions)}}
            resp = self._core.patch_namespaced_service_status(
                name, namespace, patch, _preload_content=False,
                _request_timeout=self._timeout)
        except ApiException as err:
            if is_not_found(err):
                return  # deleted meanwhile
            raise
        self._on_service_written(json.loads(resp.data))

    def _node_exists(self, name: str) -> bool:
        try:
            self._core.read_node(name, _preload_content=False,
                                 _request_timeout=self._timeout)
        except ApiException as err:
            if is_not_found(err):
                return False
            raise
        return True

    def _now(self) -> str:
        return timestamp(self._clock.now())
