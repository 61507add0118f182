"""Status objects of nodes that are gone: the ServiceBGPStatus, BGPSessionState and
ConfigurationState `speaker-<node>` objects a removed node's speaker left behind.

Upstream makes the speaker Pod their owner (an ownerReference) and Kubernetes' garbage
collector deletes them with the Pod. A speaker here need not run in a Pod and the lab's
API emulator has no garbage collector, so the controller deletes them: when a Node is
deleted, and at the start of its leadership for every node no longer there (deleted
while no controller led). A speaker that comes back for a node cleans up on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from metallb.kube.status_objects import MetallbObjects
from metallb.logs import log_event
from metallb.status import config_state
from metallb.status.speaker_objects import NODE_LABEL, SERVICE_BGP, SESSIONS

# (plural, the label naming the node) of every per-node status object.
PER_NODE = ((SERVICE_BGP[1], NODE_LABEL), (SESSIONS[1], NODE_LABEL),
            (config_state.PLURAL, config_state.NODE_LABEL))


def trim_node(obj: dict[str, Any]) -> dict[str, Any]:
    """What the controller keeps of a Node: that it exists."""
    meta = obj.get("metadata") or {}
    return {"metadata": {k: meta[k] for k in ("name", "uid", "resourceVersion") if k in meta}}


def nodes_named(objects: Iterable[dict[str, Any]], label: str) -> set[str]:
    """The node names `objects` carry in `label`."""
    found = set()
    for obj in objects:
        node = ((obj.get("metadata") or {}).get("labels") or {}).get(label)
        if node:
            found.add(node)
    return found


class RemovedNodes:
    """Deletes the status objects of removed nodes. One thread (the controller's
    StatusQueue's) calls its methods; `exists` reads the API (a fresh answer: a node
    the informer has not seen yet must not lose its objects)."""

    def __init__(self, objects: MetallbObjects, exists: Callable[[str], bool], log: Any):
        self._objects, self._exists, self._log = objects, exists, log

    def remove(self, node: str) -> None:
        """Delete every status object of `node` (it is gone)."""
        deleted = 0
        for plural, label in PER_NODE:
            for obj in self._objects.list(plural, f"{label}={node}"):
                self._objects.delete(plural, obj["metadata"]["name"])
                deleted += 1
        if deleted:
            log_event(self._log, "info", "node_status_removed", node=node, objects=deleted)

    def sweep(self, known: Collection[str]) -> None:
        """Remove the objects of every node they name that is neither in `known` (the
        informer's Nodes) nor in the API."""
        named: set[str] = set()
        for plural, label in PER_NODE:
            named |= nodes_named(self._objects.list(plural), label)
        for node in sorted(named - set(known)):
            if not self._exists(node):
                self.remove(node)
