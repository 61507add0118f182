"""Wiring of the speaker: informers -> one sync loop running the pure planner -> the
BGP backend (`speaker.bgp.BGPBackend`, built by `speaker.backends`); metrics;
`nodeAssigned` events; clean withdraw on SIGTERM.

Every watched change only marks the state dirty (and notes which service or slice
changed); one loop brings the plan up to date and hands it to the driver, which sends
only the difference. A config or node change plans everything again; a service or
EndpointSlice change replans only its services (`speaker.incremental`, held equal to
the full plan by property tests), so one new service does not wait behind 10,000.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from kubernetes import client
from kubernetes.config.config_exception import ConfigException
from prometheus_client import CollectorRegistry

from metallb.config.model import Config, Peer
from metallb.config.summary import keepalive_ignored
from metallb.config_source import ConfigSource
from metallb.keys import object_key
from metallb.kube.client import load_api_client
from metallb.kube.config_informers import ConfigInformers, config_reading
from metallb.kube.events import BackgroundEventRecorder, EventRecorder
from metallb.kube.informer import Informer
from metallb.kube.lean_api import LeanCoreV1Api
from metallb.kube.trim import trim_endpoint_slice, trim_service_for_speaker
from metallb.logs import StepTimes, configure_logging, format_event, log_event
from metallb.metrics import BGPMetrics, K8sClientMetrics, SpeakerMetrics
from metallb.metrics_server import MetricsServer
from speaker.announced import AnnouncedServices
from speaker.backends import make_backend
from speaker.bfd_wiring import BfdWiring, bfd_sessions
from speaker.bgp import BackendError, DriverEvent, PeerSpec, PeerSpecError
from speaker.cli import parse_settings
from speaker.config_guard import blocked_services
from speaker.incremental import ChangedKeys, IncrementalPlanner, PlanDelta
from speaker.node import NodeInfo
from speaker.planner import PROTOCOL, node_peers
from speaker.settings import SpeakerSettings
from speaker.status import SpeakerStatus, service_peers

log = logging.getLogger("metallb.speaker")

COMPONENT = "metallb-speaker"


class SpeakerDaemon:
    """One node's speaker: what it announces is always a function of the last plan of
    what its informers hold (the backend is handed the whole plan after a full one, and
    an incremental step's delta otherwise, which it applies to the tables it keeps).

    Threads: the owner calls `start` and `stop` (stop withdraws every route, acked,
    before anything else goes away). Informer threads call `_on_change` (services and
    slices through `_on_service` / `_on_slice`, which first note the key in
    `_changed`, under its own lock) and the backend's threads `_on_driver_event`: they
    only count, log, note and set the `_dirty` event, so they never block. Everything
    else (`sync`, the planner, the announced set, logged problems, published metrics,
    the config version) belongs to the one sync thread, so there is no lock; tests may
    call `sync` themselves only while that thread is not running. `ready` (metrics
    server thread) reads the informers' synced flags.
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
        self._changed = ChangedKeys()
        self._planner = IncrementalPlanner(settings.load_balancer_class)
        self.services = Informer("services", core.list_service_for_all_namespaces,
                                 self._on_service,
                                 transform=trim_service_for_speaker)
        self.slices = Informer(
            "endpointslices", discovery.list_endpoint_slice_for_all_namespaces,
            self._on_slice, transform=trim_endpoint_slice)
        self.nodes = Informer("node", core.list_node, mark,
                              field_selector=f"metadata.name={settings.node_name}")
        self.config_inputs, self.config_source = self._config_reading(api)
        self.informers = (self.services, self.slices, self.nodes,
                          *self.config_inputs.informers)
        self.driver = make_backend(settings, [], on_event=self._on_driver_event)
        self.bfd = BfdWiring(settings, self.registry, teardown=self.driver.teardown)
        # Routes first: events wait while ExaBGP still has commands to work through, and
        # go out at most at the rate of controller-runtime's default client (QPS 20,
        # burst 30), which upstream's speaker writes its events with.
        self.events = BackgroundEventRecorder(
            EventRecorder(api, COMPONENT, settings.node_name), rate=settings.event_qps,
            burst=settings.event_burst, yield_to=self.driver.busy)
        self.metrics_server = MetricsServer(settings.host, settings.port, self.registry,
                                            ready=self.ready)
        self.status = SpeakerStatus(api, settings.namespace, settings.node_name
                                    ) if settings.status else None
        self._announced = AnnouncedServices()
        self._routed_peers: set[str] = set()  # the peers the backend last got whole tables for
        self._peer_problems: set[str] = set()
        self._known_peers: set[str] = set()
        self._keepalive_noted: set[tuple[str, str]] = set()  # (peer, text) logged
        self._updates_published: dict[str, int] = {}
        self._config_version: tuple[str, ...] | None = None  # config inputs last looked at
        self._blocking: frozenset[str] = frozenset()  # services a refused config would rob
        self._thread: threading.Thread | None = None
        self.plans = 0  # plans computed, for tests and debugging

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> SpeakerDaemon:
        self.metrics_server.start()
        # The lists first: a cold start waits for them, and ExaBGP starts meanwhile (their
        # handlers only note changes; the sync thread starts below).
        for informer in self.informers:
            informer.start()
        self.driver.start()
        self.bfd.start()
        self._thread = threading.Thread(target=self._loop, name="speaker-sync", daemon=True)
        self._thread.start()
        log_event(log, "info", "speaker_started", node=self.settings.node_name,
                  metrics=self.metrics_server.address, exabgp_netns=self.settings.exabgp_netns)
        return self

    def stop(self) -> None:
        """Withdraw every route (acked by ExaBGP) before anything else goes away; the
        closing log line says how long each step took."""
        steps = StepTimes()
        self._stop.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.sync_stop_timeout)
        steps.mark("sync")
        self.bfd.stop()  # AdminDown first (RFC 5882: an administrative down, no failure)
        steps.mark("bfd")
        self.driver.stop(withdraw=True)
        steps.mark("withdraw")
        self.events.stop()
        steps.mark("events")
        if self.status is not None:  # nothing announced any more: say so, briefly
            self.status.withdrawn()
        steps.mark("status")
        for informer in self.informers:
            informer.stop()
        self.metrics_server.stop()
        steps.mark("informers")
        log_event(log, "info", "speaker_stopped", node=self.settings.node_name,
                  **steps.fields())

    def ready(self) -> bool:
        return all(i.synced.is_set() for i in self.informers)

    def _on_change(self, _kind: str, _obj: dict[str, Any]) -> None:
        self.k8s_metrics.updates.inc()
        self._dirty.set()

    def _on_service(self, kind: str, obj: dict[str, Any]) -> None:
        key = object_key(obj)
        self._changed.service(key)
        if key in self._blocking:  # it blocked the new config: look at that config again
            self._config_version = None
        self._on_change(kind, obj)

    def _on_slice(self, kind: str, obj: dict[str, Any]) -> None:
        self._changed.slice(object_key(obj))
        self._on_change(kind, obj)

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

    # -- config source -------------------------------------------------------------------
    def _config_reading(self, api: client.ApiClient) -> tuple[ConfigInformers, ConfigSource]:
        """The ConfigMap and / or the metallb.io objects (--config-source), and the
        basic-auth Secrets BGPPeer passwords come from: a changed Secret re-plans, and
        the backend re-keys the session without a restart. No Events: N speakers would
        say what the controller says, N times."""
        return config_reading(api, self.settings, self._on_change, self.k8s_metrics,
                              passwords=True)

    def current_config(self) -> Config | None:
        """The config to run on; the inputs are only looked at again (and a problem
        with them only logged again) when they changed, as the controller does. A config
        the controller refuses (it would take an address from a service, rule A15) is
        refused here for the same reason, whichever source it came from: the last good
        one keeps announcing, and the refused one is looked at again when a service
        that blocked it changes or goes (as the controller does)."""
        observed = self.config_inputs.observed()
        version = observed.version()
        if self._config_version != version:
            self._config_version = version
            source = self.config_source
            candidate = source.candidate(observed)
            if candidate is not None and (candidate != source.current or source.stale):
                blocked = [] if source.current in (None, candidate) else blocked_services(
                    source.current, candidate, self.services.items(),
                    self.settings.load_balancer_class)
                self._blocking = frozenset(b.key for b in blocked)
                if blocked:
                    source.refused(blocked)
                else:
                    source.applied(candidate)
        return self.config_source.current

    def sync(self) -> None:
        config = self.current_config()
        node_obj = self.nodes.get(self.settings.node_name)
        if config is None or node_obj is None:
            if node_obj is None:
                log_event(log, "warn", "node_not_found", node=self.settings.node_name,
                          action="check --node-name")
            self._planner.forget()
            self._apply([], routes={}, announced=frozenset())
            self.bfd.set_sessions([])
            if self.status is not None:
                self.status.synced(self.config_source, None)
            return
        try:
            self._plan_and_apply(config, node_obj)
        except Exception:
            # The planner may be half-updated, or its plan never reached the backend
            # (whose differences follow the plans it was given): plan fully next time.
            self._planner.forget()
            raise

    def _plan_and_apply(self, config: Config, node_obj: dict[str, Any]) -> None:
        node = NodeInfo.from_object(node_obj)
        # Keys first, objects after: a change seen in between is planned again next time.
        service_keys, slice_keys = self._changed.take()
        delta = None
        if self._planner.needs_full(config, node):
            # Large plans: the sessions open first, so the first host routes leave while
            # the rest is planned.
            self._open_sessions(config, node, node_obj)
            self._planner.full(
                config, node, self.services.items(), self.slices.items(),
                ahead=self.driver.announce_ahead,
                ahead_every=self.settings.announce_ahead_every)
        else:
            delta = self._planner.step(service_keys, self.services.get,
                                       slice_keys, self.slices.get)
        self.plans += 1
        if self._cut_short("routes"):
            return
        base = self._planner.base  # peers and issues: a step never changes them
        assert base is not None
        specs, problems = peer_specs(base.peers, node_addresses(node_obj))
        sessions, bfd_problems = bfd_sessions(config, base.peers, specs)
        self._note_keepalive(base.peers)
        self._report_issues([*(str(issue) for issue in base.issues), *problems,
                             *bfd_problems])
        result = None
        if delta is not None and set(specs) == self._routed_peers:
            self._apply(list(specs.values()), delta=delta)
        else:  # a full plan, or the sessions changed under a step (node addresses)
            result = self._planner.current
            assert result is not None
            routes = {addr: table for addr, table in result.routes.items() if addr in specs}
            self._apply(list(specs.values()), routes=routes, announced=result.announced)
        if self._cut_short("status"):
            return
        if self.status is not None and result is not None:
            self.status.synced(self.config_source, result)
        elif self.status is not None and delta is not None:
            # only the services whose announcements changed
            keys = {key for key, _ in delta.added | delta.removed}
            shares = {key: self._planner.share(key) for key in keys}
            self.status.services_changed(self.config_source, {
                key: service_peers(share).get(key, ()) if share is not None else ()
                for key, share in shares.items()})
        # after a full plan, once its routes are out (seconds at 100k: a stop cuts it short)
        if not self._planner.index(stopping=self._stop.is_set) and self._cut_short("index"):
            return
        self.bfd.set_sessions(sessions)

    def _cut_short(self, before: str) -> bool:
        """The speaker is stopping: the rest of this pass (handing the plan to the
        backend, its metrics, status objects, or indexing it) would be undone by the
        withdraw that comes next, so leave it (at 100k services, status and index take
        seconds each). The planner then plans fully, should anything plan again."""
        if not self._stop.is_set():
            return False
        self._planner.forget()
        log_event(log, "info", "sync_cut_short", node=self.settings.node_name,
                  before=before, reason="stopping")
        return True

    def _open_sessions(self, config: Config, node: NodeInfo, node_obj: dict[str, Any]) -> None:
        """Before a full plan: hand the backend the peers that plan will have (they
        depend on the config and the node only), so a new session comes up while the
        services are planned instead of after (at a cold start with 100,000 services,
        seconds). Problems are reported after the plan, as always."""
        peers, _issues = node_peers(config, node)
        specs, _problems = peer_specs(peers, node_addresses(node_obj))
        self.driver.set_peers(list(specs.values()))

    def _apply(self, specs: list[PeerSpec], routes: dict[str, Any] | None = None,
               announced: frozenset[tuple[str, str]] = frozenset(),
               delta: PlanDelta | None = None) -> None:
        """Hand the plan to the backend, whole (`routes`, `announced`) or as an
        incremental step's `delta` (the backend and `_announced` apply it to what they
        hold), and follow what it announces with events, logs and metrics. After a
        step, all of it costs what changed, not what is announced."""
        self.driver.set_peers(specs)
        if delta is None:
            # plan() writes canonical prefixes
            self.driver.set_routes(routes or {}, canonical=True)
            self._routed_peers = {spec.peer_address for spec in specs}
            change = self._announced.replace(announced)
        else:
            self.driver.change_routes({addr: table for addr, table in delta.routes.items()
                                       if addr in self._routed_peers})
            change = self._announced.change(delta.added, delta.removed)
        node = self.settings.node_name
        for key in change.started:
            service = self.services.get(key)
            if service is not None:
                self.events.record(service, "Normal", "nodeAssigned",
                                   f'announcing from node "{node}" with protocol "{PROTOCOL}"')
        limit = self.settings.services_logged_individually
        _log_services("service_announced", change.started, node, limit)
        _log_services("service_withdrawn", change.stopped, node, limit)
        if self._stop.is_set():  # the withdraw that comes next moves these metrics back
            return
        if change.added or change.removed:
            self.speaker_metrics.change_pairs(PROTOCOL, node, change.added, change.removed)
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
        if self.status is not None:
            self.status.sessions(self.driver.sessions())
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


def peer_specs(peers: Mapping[str, Peer], addresses: list[str]
               ) -> tuple[dict[str, PeerSpec], list[str]]:
    """ExaBGP sessions for the planned peers; a peer that cannot be run (say, no source
    address of its family) is left out with a problem, the others are unaffected."""
    specs: dict[str, PeerSpec] = {}
    problems = []
    for addr, peer in peers.items():
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
