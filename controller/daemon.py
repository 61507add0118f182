"""Wiring of the controller: informers -> work queue -> one worker running the Reconciler,
gated by leader election; metrics server; signals.

Threads: the informers (Services in all namespaces; Namespaces for their labels; Nodes,
with status objects on, for the removed ones; the config
ConfigMap and / or the metallb.io objects, see metallb.kube.config_informers) only cache
and queue keys, so a standby replica stays warm; one worker owns the allocator and
decides, and runs only while this replica leads; a few writer threads (a WritePipeline)
carry out its Service writes, so those of different Services overlap. Losing the lease
ends the process (the Deployment restarts it) rather than risking two writers.

Shutdown (SIGTERM) hands over at once: stop writing, release the lease (a standby takes
over within its retry period, not after a lease duration), then drain the worker and
the Events still queued.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import yaml
from kubernetes import client
from kubernetes.config.config_exception import ConfigException
from prometheus_client import CollectorRegistry

from controller.cli import Settings, default_identity, parse_settings
from controller.namespaces import NamespaceLabels
from controller.node_status import trim_node
from controller.reconciler import Reconciler
from controller.status import ControllerStatus
from controller.work_items import CONFIG, ServiceKey, WorkItem
from controller.write_pipeline import WritePipeline
from metallb.config_source import ConfigSource
from metallb.keys import object_key
from metallb.kube.backoff import Backoff
from metallb.kube.client import load_api_client
from metallb.kube.config_informers import ConfigInformers, config_reading
from metallb.kube.events import BackgroundEventRecorder, EventRecorder
from metallb.kube.informer import Informer
from metallb.kube.leader import LeaderElector
from metallb.kube.lean_api import LeanCoreV1Api
from metallb.kube.trim import trim_service
from metallb.kube.workqueue import ShutDown, WorkQueue
from metallb.logs import configure_logging, log_event
from metallb.metrics import AllocatorMetrics, K8sClientMetrics
from metallb.metrics_server import MetricsServer

log = logging.getLogger("metallb.controller")

COMPONENT = "metallb-controller"
EXIT_LOST_LEASE = 1
_GATE_POLL = 0.2  # seconds between looks at the stop flag while waiting to lead / sync
_QUEUE_POLL = 0.5  # seconds the worker blocks on the queue before re-checking the lease


class ControllerDaemon:
    """The controller process: informers, worker, elector, metrics server.

    Always holds: the worker and its writers write only while `is_leader` (checked
    before every write); once stopping, nothing is written and readiness is False.

    Threads: start() / run() / stop() from the main thread (run() installs the signal
    handlers); request_stop() from any thread or a signal handler (it only sets flags).
    Informer callbacks (_on_service, _on_config) run on the informer threads and only
    queue a work item; elector callbacks run on the election thread and only set flags.
    The `_leading` and `_stop_requested` Events are the only shared state.
    """

    def __init__(self, settings: Settings, api_client: client.ApiClient | None = None):
        self.settings = settings
        api = api_client or load_api_client(settings.kubeconfig)
        core = LeanCoreV1Api(api)
        self.registry = CollectorRegistry()
        self.k8s_metrics = K8sClientMetrics(self.registry)
        self.queue: WorkQueue[WorkItem] = WorkQueue()
        # quiet_echo: the watch event of our own status write is not reconciled again
        # (the worker decided on exactly that object; doing it again is a no-op that
        # costs CPU the API server shares on small nodes)
        self.services = Informer("services", core.list_service_for_all_namespaces,
                                 self._on_service, transform=trim_service, quiet_echo=True)
        self.namespaces = NamespaceLabels(core, self.services, self.queue)
        self.writes = WritePipeline(settings.write_threads)
        # Events wait while Services wait (work queued or a write in flight, at most
        # max_yield per event): in a burst the addresses go out first, the Events after;
        # on 2 cores each Event sent costs the API server what a status write does.
        self.events = BackgroundEventRecorder(
            EventRecorder(api, COMPONENT, settings.identity or None,
                          request_timeout=settings.event_timeout),
            max_pending=settings.event_queue_size, rate=settings.event_rate,
            burst=settings.event_burst, yield_to=self._busy)
        self.status = ControllerStatus(
            api, settings.namespace, on_service_written=self.services.update_local,
            timeout=settings.event_timeout, rate=settings.status_rate,
        ) if settings.status else None
        # Nodes, only to delete the status objects of removed ones (controller.node_status).
        # Not readable (RBAC from before): synced empty, relisted each minute, and the
        # controller works on without this cleanup (its sweep checks each node's GET).
        self.nodes = Informer("nodes", core.list_node, self._on_node, transform=trim_node,
                              missing_retry=60.0) if self.status is not None else None
        self.config_inputs, config_source = self._config_reading(api)
        self.reconciler = Reconciler(
            core=core,
            services=self.services,
            config_inputs=self.config_inputs,
            config_source=config_source,
            events=self.events,
            queue=self.queue,
            k8s_metrics=self.k8s_metrics,
            allocator_metrics=AllocatorMetrics(self.registry),
            load_balancer_class=settings.load_balancer_class,
            may_write=lambda: self._leading.is_set(),
            write_timeout=settings.write_timeout,
            status=self.status,
            namespace_labels=self.namespaces.labels,
            writes=self.writes,
        )
        self.metrics_server = MetricsServer(settings.host, settings.port, self.registry,
                                            ready=self.ready)
        self.elector: LeaderElector | None = None
        if settings.leader_election:
            duration = settings.lease_duration
            self.elector = LeaderElector(
                api, settings.namespace, settings.lease_name,
                settings.identity or default_identity(),
                lease_duration=duration,
                renew_deadline=duration * 2 / 3,
                retry_period=max(0.2, duration / 7.5),  # client-go's 15 s / 2 s ratio
                on_started_leading=self._started_leading,
                on_stopped_leading=self._stopped_leading,
            )
        self._leading = threading.Event()
        self._stop_requested = threading.Event()
        self._stopped = False
        self.exit_code = 0
        self._worker = threading.Thread(target=self._work, name="controller-worker",
                                        daemon=True)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> ControllerDaemon:
        self.metrics_server.start()
        self.services.start()
        self.config_inputs.start()
        self.namespaces.informer.start()
        if self.nodes is not None:
            self.nodes.start()
        self._worker.start()
        if self.elector is not None:
            self.elector.start()
        else:
            self._leading.set()
        log_event(log, "info", "started", identity=self.settings.identity,
                  metrics=self.metrics_server.address, leader_election=self.elector is not None,
                  namespace=self.settings.namespace, config=self.settings.config_name)
        return self

    def request_stop(self, code: int = 0) -> None:
        """Safe from any thread and from signal handlers; run()/wait() does the stopping."""
        if not self._stop_requested.is_set():
            self.exit_code = code
        self._stop_requested.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._stop_requested.wait(timeout)

    def stop(self) -> None:
        """Stop writing, release the lease at once, then drain the worker and Events.

        The worker and the writer threads check the lease before every write, so
        clearing it stops the writes (one already on the wire finishes; it carries a
        resourceVersion, so it cannot overwrite what the next leader writes after
        reading afresh). Only then the
        slow parts: the worker's current item, the writes handed over (each ends at
        once, unwritten) and the queued Events."""
        if self._stopped:
            return
        self._stopped = True
        self._stop_requested.set()
        self._leading.clear()
        self.queue.shut_down()
        if self.elector is not None:
            self.elector.stop(release=True)
        self._worker.join(timeout=self.settings.write_timeout + 5)
        self.writes.stop(timeout=self.settings.write_timeout + 5)
        self.events.stop(timeout=self.settings.event_drain_timeout)
        if self.status is not None:  # the next leader writes every status afresh
            self.status.stop(timeout=0.0)
        self.services.stop()
        self.config_inputs.stop()
        self.namespaces.informer.stop()
        if self.nodes is not None:
            self.nodes.stop()
        self.metrics_server.stop()
        log_event(log, "info", "stopped", identity=self.settings.identity,
                  exit_code=self.exit_code)

    def run(self) -> int:
        """start(), stop on SIGTERM / SIGINT or a lost lease; returns the exit code."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: self.request_stop(0))
        self.start()
        try:
            while not self.wait(1.0):
                pass
        finally:
            self.stop()
        return self.exit_code

    # -- state --------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self._leading.is_set()

    def _busy(self) -> bool:
        """Services wait on the controller: work queued or a write in flight."""
        return self.queue.busy() or self.writes.busy()

    def ready(self) -> bool:
        """Synced, and either leading or standing by in the election."""
        if self._stop_requested.is_set():
            return False
        synced = (all(i.synced.is_set() for i in self._informers())
                  and self.config_inputs.synced())
        return synced and (self.elector is None or self.is_leader or self.elector.running)

    def _informers(self) -> tuple[Informer, ...]:
        nodes = () if self.nodes is None else (self.nodes,)
        return self.services, self.namespaces.informer, *nodes

    # -- config source ------------------------------------------------------------------

    def _config_reading(self, api: client.ApiClient) -> tuple[ConfigInformers, ConfigSource]:
        """The ConfigMap and / or the metallb.io objects (--config-source); never
        Secrets: the controller needs no BGP password. Invalid objects get Events."""
        return config_reading(api, self.settings, self._on_config, self.k8s_metrics,
                              passwords=False, events=self.events)

    # -- callbacks ----------------------------------------------------------------------

    def _on_service(self, kind: str, obj: dict[str, Any]) -> None:
        self.queue.add(ServiceKey(object_key(obj)))

    def _on_config(self, kind: str, obj: dict[str, Any]) -> None:
        self.queue.add(CONFIG)

    def _on_node(self, kind: str, obj: dict[str, Any]) -> None:
        """A deleted Node's status objects go (only the leader writes; a new leader
        sweeps what was deleted before it led)."""
        if kind == "DELETED" and self.status is not None and self._leading.is_set():
            self.status.node_deleted(obj["metadata"]["name"])

    def _started_leading(self) -> None:
        self._leading.set()

    def _stopped_leading(self) -> None:
        if self._stop_requested.is_set():
            return
        log_event(log, "error", "leadership_lost", identity=self.settings.identity,
                  action="exit")
        self._leading.clear()
        self.request_stop(EXIT_LOST_LEASE)

    # -- the worker ---------------------------------------------------------------------

    def _work(self) -> None:
        config_synced = [i.synced for i in self.config_inputs.informers]
        for gate in (self._leading, *(i.synced for i in self._informers()), *config_synced):
            while not gate.wait(_GATE_POLL):
                if self._stop_requested.is_set():
                    return
        if not self._begin():
            return
        while self._leading.is_set():
            try:
                item = self.queue.get(timeout=_QUEUE_POLL)
            except ShutDown:
                return
            if item is None:
                continue
            if not self._leading.is_set():
                self.queue.done(item)
                return  # never write after the lease was lost
            self.reconciler.process(item)  # queue.done(item) once its writes end

    def _begin(self) -> bool:
        """The start of leadership: fresh read of every Service, then the config; retried
        with backoff while the API fails."""
        backoff = Backoff(maximum=self.settings.begin_retry_max)
        while not self._stop_requested.is_set():
            try:
                self.reconciler.begin()
                if self.status is not None and self.nodes is not None:
                    self.status.sweep_nodes(self.nodes.keys)
                log_event(log, "info", "leading", identity=self.settings.identity,
                          services=len(self.services.keys()))
                return True
            except Exception as err:
                delay = backoff.next()
                log_event(log, "warn", "begin_failed", error=err, retry_in=f"{delay:.2f}s")
                self._stop_requested.wait(delay)
        return False


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    configure_logging(settings.log_level)
    try:
        api = load_api_client(settings.kubeconfig)
    except (ConfigException, yaml.YAMLError, ValueError, OSError) as err:
        log_event(log, "error", "no_cluster", kubeconfig=settings.kubeconfig, problem=err,
                  action="pass --kubeconfig FILE or run in a cluster")
        return 2
    try:
        daemon = ControllerDaemon(settings, api)
    except OSError as err:
        log_event(log, "error", "cannot_listen", host=settings.host, port=settings.port,
                  problem=err, action="choose another --host/--port")
        return 2
    return daemon.run()
