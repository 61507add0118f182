"""Wiring of the speaker: informers -> one sync loop running the pure planner -> the
BGP backend (`speaker.bgp.BGPBackend`, built by `speaker.backends`); metrics;
`nodeAssigned` events; clean withdraw on SIGTERM.

Every watched change only marks the state dirty; one loop recomputes the whole plan and
hands it to the driver, which sends only the difference. Recomputing the plan is cheap
next to BGP, and it makes the daemon's behaviour a function of what it watches.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import threading
from collections.abc import Iterable
from typing import Any

from kubernetes import client
from kubernetes.config.config_exception import ConfigException
from prometheus_client import CollectorRegistry

from metallb.config.model import Config, Peer
from metallb.config.summary import keepalive_ignored
from metallb.config_source import ConfigSource
from metallb.kube.client import load_api_client
from metallb.kube.events import BackgroundEventRecorder, EventRecorder
from metallb.kube.informer import Informer
from metallb.kube.lean_api import LeanCoreV1Api
from metallb.kube.trim import trim_endpoint_slice, trim_service
from metallb.logs import configure_logging, format_event, log_event
from metallb.metrics import BGPMetrics, K8sClientMetrics, SpeakerMetrics
from metallb.metrics_server import MetricsServer
from speaker.backends import make_backend
from speaker.bgp import BackendError, DriverEvent, PeerSpec, PeerSpecError
from speaker.cli import parse_settings
from speaker.config_guard import blocked_services
from speaker.node import NodeInfo
from speaker.planner import PROTOCOL, Plan, plan
from speaker.settings import SpeakerSettings

log = logging.getLogger("metallb.speaker")

COMPONENT = "metallb-speaker"


class SpeakerDaemon:
    """One node's speaker: what it announces is always a function of the last plan of
    what its informers hold (the backend is handed the whole plan, never a delta).

    Threads: the owner calls `start` and `stop` (stop withdraws every route, acked,
    before anything else goes away). Informer threads call `_on_change` and the
    backend's threads `_on_driver_event`: both only count, log and set the `_dirty`
    event, so they never block. Everything else (`sync`, the announced set, logged
    problems, published metrics, the config version) belongs to the one sync thread,
    so there is no lock; tests may call `sync` themselves only while that thread is
    not running. `ready` (metrics server thread) reads the informers' synced flags.
    """

    def __init__(self, settings: SpeakerSettings, api_client: client.ApiClient | None = None):
        self.settings = settings
        api = api_client or load_api_client(settings.kubeconfig)
        core = LeanCoreV1Api(api)
        discovery = client.DiscoveryV1Api(api)
        self.registry = CollectorRegistry()
        self.k8s_metrics = K8sClientMetrics(self.registry)
        self.bgp_metrics = BGPMetrics(self.registry)
        self.speaker_metrics = SpeakerMetrics(self.registry)
        self._dirty = threading.Event()
        self._stop = threading.Event()
        mark = self._on_change
        self.services = Informer("services", core.list_service_for_all_namespaces, mark,
                                 transform=trim_service)
        self.slices = Informer(
            "endpointslices", discovery.list_endpoint_slice_for_all_namespaces, mark,
            transform=trim_endpoint_slice)
        self.nodes = Informer("node", core.list_node, mark,
                              field_selector=f"metadata.name={settings.node_name}")
        self.config_maps = Informer(
            "config", core.list_namespaced_config_map, mark, namespace=settings.namespace,
            field_selector=f"metadata.name={settings.config_name}")
        self.informers = (self.services, self.slices, self.nodes, self.config_maps)
        self.config_source = ConfigSource(settings.namespace, settings.config_name,
                                          settings.config_key, self.k8s_metrics)
        self.driver = make_backend(settings, [], on_event=self._on_driver_event)
        # Routes first: events wait while ExaBGP still has commands to work through, and
        # go out at most at the rate of controller-runtime's default client (QPS 20,
        # burst 30), which upstream's speaker writes its events with.
        self.events = BackgroundEventRecorder(
            EventRecorder(api, COMPONENT, settings.node_name), rate=settings.event_qps,
            burst=settings.event_burst, yield_to=self.driver.busy)
        self.metrics_server = MetricsServer(settings.host, settings.port, self.registry,
                                            ready=self.ready)
        self._announced: frozenset[tuple[str, str]] = frozenset()
        self._peer_problems: set[str] = set()
        self._known_peers: set[str] = set()
        self._keepalive_noted: set[tuple[str, str]] = set()  # (peer, text) logged
        self._updates_published: dict[str, int] = {}
        self._config_version: tuple[str | None] | None = None  # ConfigMap last looked at
        self._thread: threading.Thread | None = None
        self.plans = 0  # plans computed, for tests and debugging

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> SpeakerDaemon:
        self.metrics_server.start()
        self.driver.start()
        for informer in self.informers:
            informer.start()
        self._thread = threading.Thread(target=self._loop, name="speaker-sync", daemon=True)
        self._thread.start()
        log_event(log, "info", "speaker_started", node=self.settings.node_name,
                  metrics=self.metrics_server.address, exabgp_netns=self.settings.exabgp_netns)
        return self

    def stop(self) -> None:
        """Withdraw every route (acked by ExaBGP) before anything else goes away."""
        self._stop.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.sync_stop_timeout)
        self.driver.stop(withdraw=True)
        self.events.stop()
        for informer in self.informers:
            informer.stop()
        self.metrics_server.stop()
        log_event(log, "info", "speaker_stopped", node=self.settings.node_name)

    def ready(self) -> bool:
        return all(i.synced.is_set() for i in self.informers)

    def _on_change(self, _kind: str, _obj: dict[str, Any]) -> None:
        self.k8s_metrics.updates.inc()
        self._dirty.set()

    def _on_driver_event(self, _event: DriverEvent) -> None:
        # The backend logs what it reports (a stuck session once, with its hint); logging
        # it here again would say everything twice.
        self._dirty.set()

    def _loop(self) -> None:
        pending = True
        while not self._stop.is_set():
            self._dirty.wait(self.settings.metrics_refresh)
            if self._stop.is_set():
                return
            # A change seen before every informer synced must not be lost: the last
            # informer to sync may bring no event at all (an empty list).
            pending = pending or self._dirty.is_set()
            self._dirty.clear()
            try:
                if pending and self.ready():
                    pending = False
                    self.sync()
                self._publish_sessions()
            except Exception:  # a bug must not stop announcing what is already out
                self.k8s_metrics.update_errors.inc()
                log.exception("%s", format_event("sync_failed",
                                                 {"node": self.settings.node_name}))

    # -- one sync ------------------------------------------------------------------------
    def current_config(self) -> Config | None:
        """The config to run on; the ConfigMap is only looked at again (and a problem
        with it only logged again) when it changed, as the controller does. A config the
        controller refuses (it would take an address from a service, rule A15) is
        refused here for the same reason: the last good one keeps announcing."""
        items = self.config_maps.items()
        configmap = items[0] if items else None
        version = (configmap or {}).get("metadata", {}).get("resourceVersion")
        if self._config_version != (version,):
            self._config_version = (version,)
            source = self.config_source
            candidate = source.candidate(configmap)
            if candidate is not None and (candidate != source.current or source.stale):
                blocked = [] if source.current in (None, candidate) else blocked_services(
                    source.current, candidate, self.services.items(),
                    self.settings.load_balancer_class)
                if blocked:
                    source.refused(blocked)
                else:
                    source.applied(candidate)
        return self.config_source.current

    def sync(self) -> Plan | None:
        config = self.current_config()
        node_obj = self.nodes.get(self.settings.node_name)
        if config is None or node_obj is None:
            if node_obj is None:
                log_event(log, "warn", "node_not_found", node=self.settings.node_name,
                          action="check --node-name")
            self._apply([], {}, frozenset())
            return None
        node = NodeInfo.from_object(node_obj)
        # Large plans: the first host routes leave while the rest is planned.
        result = plan(config, node, self.services.items(), self.slices.items(),
                      lb_class=self.settings.load_balancer_class,
                      ahead=self.driver.announce_ahead,
                      ahead_every=self.settings.announce_ahead_every)
        self.plans += 1
        specs, problems = peer_specs(result, node_addresses(node_obj))
        self._note_keepalive(result.peers)
        self._report_issues([*(str(issue) for issue in result.issues), *problems])
        routes = {addr: table for addr, table in result.routes.items() if addr in specs}
        self._apply(list(specs.values()), routes, result.announced)
        return result

    def _apply(self, specs: list[PeerSpec], routes: dict[str, Any],
               announced: frozenset[tuple[str, str]]) -> None:
        self.driver.set_peers(specs)
        self.driver.set_routes(routes, canonical=True)  # plan() writes canonical prefixes
        node = self.settings.node_name
        started = sorted({k for k, _ in announced} - {k for k, _ in self._announced})
        stopped = sorted({k for k, _ in self._announced} - {k for k, _ in announced})
        for key in started:
            service = self.services.get(key)
            if service is not None:
                self.events.record(service, "Normal", "nodeAssigned",
                                   f'announcing from node "{node}" with protocol "{PROTOCOL}"')
        limit = self.settings.services_logged_individually
        _log_services("service_announced", started, node, limit)
        _log_services("service_withdrawn", stopped, node, limit)
        self._announced = announced
        self.speaker_metrics.publish({(k, PROTOCOL, node, ip) for k, ip in announced})
        gone = self._known_peers - {s.peer_address for s in specs}
        for peer in gone:
            self.bgp_metrics.forget_peer(peer)
            self._updates_published.pop(peer, None)
        self._known_peers = {s.peer_address for s in specs}

    def _note_keepalive(self, peers: dict[str, Peer]) -> None:
        """Say once per peer (and keepalive value) that ExaBGP cannot honour its
        `keepalive-time`, with what it does instead (the same text as `config check`)."""
        noted = set()
        for addr, peer in peers.items():
            text = keepalive_ignored(peer)
            if text is None:
                continue
            noted.add((addr, text))
            if (addr, text) not in self._keepalive_noted:
                log_event(log, "warn", "keepalive_time_ignored", node=self.settings.node_name,
                          peer=addr, detail=text)
        self._keepalive_noted = noted

    def _report_issues(self, problems: Iterable[str]) -> None:
        """Log each distinct problem once (not on every sync), and when it is fixed."""
        current = set(problems)
        node = self.settings.node_name
        for text in sorted(current - self._peer_problems):
            log_event(log, "error", "peer_problem", node=node, problem=text)
        for text in sorted(self._peer_problems - current):
            log_event(log, "info", "peer_problem_resolved", node=node, problem=text)
        self._peer_problems = current

    def _publish_sessions(self) -> None:
        for peer, state in self.driver.sessions().items():
            m = self.bgp_metrics
            m.session_up.labels(peer).set(1 if state.up else 0)
            m.announced_prefixes.labels(peer).set(state.announced_prefixes)
            m.pending_prefixes.labels(peer).set(state.pending_prefixes)
            delta = state.updates_sent - self._updates_published.get(peer, 0)
            if delta > 0:
                m.updates.labels(peer).inc(delta)
            self._updates_published[peer] = state.updates_sent


def _log_services(event: str, keys: list[str], node: str, limit: int) -> None:
    """One line per service, or one summary line for more than `limit` (10,000 lines
    would cost the sync loop more than the announcements themselves)."""
    if len(keys) <= limit:
        for key in keys:
            log_event(log, "info", event, service=key, node=node)
    else:
        log_event(log, "info", event, services=len(keys), node=node,
                  first=",".join(keys[:5]))


def peer_specs(result: Plan, addresses: list[str]) -> tuple[dict[str, PeerSpec], list[str]]:
    """ExaBGP sessions for the planned peers; a peer that cannot be run (say, no source
    address of its family) is left out with a problem, the others are unaffected."""
    specs: dict[str, PeerSpec] = {}
    problems = []
    for addr, peer in result.peers.items():
        try:
            specs[addr] = PeerSpec.from_peer(peer, addresses)
        except PeerSpecError as err:
            problems.append(str(err))
    return specs, problems


def node_addresses(node: dict[str, Any]) -> list[str]:
    """InternalIP addresses first (the session's source), then ExternalIP."""
    found: list[tuple[int, str]] = []
    for entry in (node.get("status") or {}).get("addresses") or []:
        if not isinstance(entry, dict):
            continue
        rank = {"InternalIP": 0, "ExternalIP": 1}.get(str(entry.get("type")))
        try:
            address = str(ipaddress.ip_address(entry.get("address")))
        except ValueError:
            continue
        if rank is not None:
            found.append((rank, address))
    return [addr for _, addr in sorted(found, key=lambda item: item[0])]


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    configure_logging(settings.log_level)
    try:
        daemon = SpeakerDaemon(settings)
    except ConfigException as err:
        log_event(log, "error", "no_kubernetes_api", error=err)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        daemon.start()
    except (BackendError, OSError) as err:
        log_event(log, "error", "start_failed", node=settings.node_name, error=err)
        daemon.stop()
        return 1
    stop.wait()
    log_event(log, "info", "shutdown", node=settings.node_name, action="withdraw_all")
    daemon.stop()
    return 0


__all__ = ["SpeakerDaemon", "main", "node_addresses", "peer_specs"]
