"""The speaker's status objects: ConfigurationState `speaker-<node>`, one
ServiceBGPStatus per Service this node announces (as upstream: status.node,
serviceName, serviceNamespace, peers; labels metallb.io/node, metallb.io/service-name,
metallb.io/service-namespace), and one BGPSessionState per (node, peer).

The sync thread states what they should say after each plan; a StatusQueue writes
from a thread of its own, so a slow or failing API never delays an announcement. What
a node's earlier speaker left behind (it was killed, the node's Services moved, peers
were removed) is listed once at start, before anything else is written, and deleted
unless this speaker still wants it.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from metallb.config_source import ConfigSource
from metallb.kube.clock import REAL_CLOCK, Clock
from metallb.kube.status_objects import ConfigStateWriter, MetallbObjects
from metallb.kube.status_queue import StatusQueue
from metallb.status import config_state
from metallb.status.conditions import timestamp
from metallb.status.speaker_objects import (
    NODE_LABEL,
    PEER_LABEL,
    SERVICE_BGP,
    SERVICE_NAME_LABEL,
    SERVICE_NAMESPACE_LABEL,
    SESSIONS,
)
from speaker.bgp import SessionState
from speaker.planner import Plan

# -- pure: what the objects say ----------------------------------------------------------

def service_peers(result: Plan) -> dict[str, tuple[str, ...]]:
    """Service key -> the peers (BGPPeer name, or the address of a legacy or
    autodiscovered peer) its addresses are planned to go to from this node."""
    by_prefix: dict[str, set[str]] = {}
    for address, table in result.routes.items():
        peer = result.peers.get(address)
        label = (peer.name if peer is not None and peer.name else address)
        for prefix in table:
            by_prefix.setdefault(prefix, set()).add(label)
    found: dict[str, set[str]] = {}
    for key, ip in result.announced:
        prefix = ipaddress.ip_network(ip).with_prefixlen
        peers = by_prefix.get(prefix)
        if peers:
            found.setdefault(key, set()).update(peers)
    alike: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple for all equal lists
    out = {}
    for key, peers in found.items():
        labels = tuple(sorted(peers))
        out[key] = alike.setdefault(labels, labels)
    return out


def service_bgp_status(node: str, key: str, peers: tuple[str, ...]) -> dict[str, Any]:
    namespace, name = key.split("/", 1)
    return {"node": node, "serviceName": name, "serviceNamespace": namespace,
            "peers": list(peers)}


def session_status(node: str, state: SessionState) -> dict[str, Any]:
    """A BGPSessionState's status; the error is the backend's reason text (it never
    carries the session's password, which only the backend's config file holds)."""
    return {"node": node, "peer": state.peer, "state": state.state,
            "since": timestamp(datetime.fromtimestamp(state.since, UTC)),
            "prefixesSent": state.updates_sent,
            "prefixesAcknowledged": state.announced_prefixes,
            "lastError": state.reason or ""}


def session_object_name(node: str, peer: str) -> str:
    """`<node>-<peer>`, the peer's colons (IPv6) as dashes: a valid object name."""
    return f"{node}-{peer.replace(':', '-')}".lower()


# -- the adapter ---------------------------------------------------------------------------

# Queue keys: a Service's key itself (namespace/name: the informer's string, no tuple
# per Service), ("session", peer address), and these two.
_CLEANUP = ("cleanup", "")
_CONFIG = ("config-state", "")


class SpeakerStatus:
    """States this node's status objects should hold; a StatusQueue writes them.

    Always holds: `_wanted_services` / `_sessions` (by peer) are what the last sync wanted;
    `_names` maps a Service key to the ServiceBGPStatus object (generated name) that
    says it for this node; `_written_peers` are the peers whose BGPSessionState this
    node wrote and has not deleted (so a deletion the full queue dropped is asked for
    again: `_everything_wanted`).

    Threads: config(), plan() and sessions() from the speaker's sync thread, never
    blocking; the queue's thread runs `_write` (API calls bounded by `timeout`). The
    lock guards `_wanted_services`, `_sessions`, `_names` and `_written_peers`. stop() from the
    daemon's shutdown path, once.
    """

    def __init__(self, api_client: client.ApiClient, namespace: str, node: str, *,
                 timeout: float = 10.0, clock: Clock = REAL_CLOCK, **queue_settings: Any):
        self._objects = MetallbObjects(api_client, namespace, timeout)
        self._node = node
        self._lock = threading.Lock()
        self._wanted_services: dict[str, tuple[str, ...]] = {}
        self._names: dict[str, str] = {}
        self._config_state = ConfigStateWriter(self._objects, "speaker", node, clock)
        self._sessions: dict[str, dict[str, Any]] = {}  # wanted peer -> its last status
        self._written_peers: set[str] = set()
        self.queue = StatusQueue(self._write, name="speaker-status", clock=clock,
                                 refill=self._everything_wanted, **queue_settings)
        self.queue.put(_CLEANUP, True)  # first in the queue: FIFO among due entries

    def stop(self, timeout: float = 5.0) -> None:
        self.queue.stop(timeout)

    # -- the sync thread ------------------------------------------------------------------

    def synced(self, source: ConfigSource, result: Plan | None) -> None:
        """After a sync: the config's state and what this node announces."""
        self.queue.put(_CONFIG, config_state.ConfigState.of(source))
        self.plan(result)

    def services_changed(self, source: ConfigSource,
                         peers_of: Mapping[str, tuple[str, ...]]) -> None:
        """After an incremental step: the config's state, and the ServiceBGPStatus of
        just these services (no peers: it is not announced any more). Costs the change."""
        self.queue.put(_CONFIG, config_state.ConfigState.of(source))
        with self._lock:
            for key, peers in peers_of.items():
                if peers:
                    self._wanted_services[key] = peers
                else:
                    self._wanted_services.pop(key, None)
        for key, peers in peers_of.items():
            self.queue.put(key, peers or None)

    def withdrawn(self, timeout: float = 5.0) -> None:
        """The speaker stops and withdrew everything: delete its ServiceBGPStatus and
        BGPSessionState objects (for up to `timeout` seconds), then stop writing."""
        self.plan(None)
        self.sessions({})
        self.stop(timeout)

    def plan(self, result: Plan | None) -> None:
        """The ServiceBGPStatus objects after this plan (None: announcing nothing)."""
        wanted = service_peers(result) if result is not None else {}
        with self._lock:
            gone = set(self._wanted_services) - set(wanted)
            self._wanted_services = wanted
        for key in gone:
            self.queue.put(key, None)
        for key, peers in wanted.items():
            self.queue.put(key, peers)

    def sessions(self, states: Mapping[str, SessionState]) -> None:
        statuses = {peer: session_status(self._node, state) for peer, state in states.items()}
        with self._lock:
            gone = set(self._sessions) - set(states)
            self._sessions = statuses
        for peer in gone:
            self.queue.put(("session", peer), None)
        for peer, status in statuses.items():
            self.queue.put(("session", peer), status)

    def _everything_wanted(self) -> list[tuple[str | tuple[str, str], Any]]:
        """Every object's desired state, for the queue to put again after it dropped
        some (full): services and sessions wanted, and deletions of the ServiceBGPStatus
        and BGPSessionState objects this node has but no longer wants."""
        with self._lock:
            wanted = dict(self._wanted_services)
            unwanted = [key for key in self._names if key not in wanted]
            sessions = dict(self._sessions)
            gone_peers = [peer for peer in self._written_peers if peer not in sessions]
        return ([(key, None) for key in unwanted]
                + [(key, peers) for key, peers in wanted.items()]
                + [(("session", peer), None) for peer in gone_peers]
                + [(("session", peer), status) for peer, status in sessions.items()])

    # -- the queue's thread ---------------------------------------------------------------

    def _write(self, key: str | tuple[str, str], desired: Any) -> None:
        if isinstance(key, str):
            self._write_service(key, desired)
            return
        kind, name = key
        if kind == "cleanup":
            self._cleanup()
        elif kind == "config-state":
            self._config_state.write(desired)
        elif kind == "session":
            self._write_session(name, desired)

    def _cleanup(self) -> None:
        """Learn what this node's objects are; queue the deletion of those not wanted."""
        selector = f"{NODE_LABEL}={self._node}"
        for obj in self._objects.list(SERVICE_BGP[1], selector):
            labels = obj["metadata"].get("labels") or {}
            key = (f"{labels.get(SERVICE_NAMESPACE_LABEL)}/"
                   f"{labels.get(SERVICE_NAME_LABEL)}")
            name = obj["metadata"]["name"]
            with self._lock:
                duplicate = key in self._names
                if not duplicate:
                    self._names[key] = name
                wanted = key in self._wanted_services
            if duplicate:
                self._objects.delete(SERVICE_BGP[1], name)
            elif not wanted:
                self.queue.put(key, None)
            else:  # say it again: the object may hold an older peer list
                self.queue.forget(key)
                with self._lock:
                    peers = self._wanted_services.get(key)
                if peers is not None:
                    self.queue.put(key, peers)
        for obj in self._objects.list(SESSIONS[1], selector):
            peer = (obj.get("status") or {}).get("peer")
            with self._lock:
                wanted = peer in self._sessions
            if not wanted:
                self._objects.delete(SESSIONS[1], obj["metadata"]["name"])

    def _write_service(self, key: str, peers: tuple[str, ...] | None) -> None:
        with self._lock:
            name = self._names.get(key)
        if peers is None:
            if name is not None:
                self._objects.delete(SERVICE_BGP[1], name)
                with self._lock:
                    self._names.pop(key, None)
            self.queue.forget(key)
            return
        status = service_bgp_status(self._node, key, peers)
        if name is None or not self._objects.patch_status(SERVICE_BGP[1], name, status):
            namespace, service = key.split("/", 1)
            name = self._objects.create(*SERVICE_BGP, "bgp-", {
                NODE_LABEL: self._node, SERVICE_NAME_LABEL: service,
                SERVICE_NAMESPACE_LABEL: namespace}, generate=True)
            if name is None:
                return  # the kind is not installed
            with self._lock:
                self._names[key] = name
            if not self._objects.patch_status(SERVICE_BGP[1], name, status):
                raise RuntimeError(f"servicebgpstatuses/{name} vanished after its creation")

    def _write_session(self, peer: str, status: dict[str, Any] | None) -> None:
        name = session_object_name(self._node, peer)
        if status is None:
            self._objects.delete(SESSIONS[1], name)
            with self._lock:
                self._written_peers.discard(peer)
            self.queue.forget(("session", peer))
            return
        with self._lock:  # before the write: a write that fails half-way may have landed
            self._written_peers.add(peer)
        self._objects.put_status(*SESSIONS, name, {
            NODE_LABEL: self._node, PEER_LABEL: peer.replace(":", "-")}, status)
