"""Wiring of the controller: informers -> work queue -> one worker running the Reconciler,
gated by leader election; metrics server; signals.

Threads: two informers (Services in all namespaces, the config ConfigMap) only cache and
queue keys, so a standby replica stays warm; one worker owns the allocator and does every
write, and runs only while this replica leads. Losing the lease ends the process (the
Deployment restarts it) rather than risking two writers.
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

from controller.cli import Settings, parse_settings
from controller.reconciler import CONFIG_KEY, Reconciler
from metallb.config_source import ConfigSource
from metallb.kube.backoff import Backoff
from metallb.kube.client import load_api_client, object_key
from metallb.kube.events import BackgroundEventRecorder, EventRecorder
from metallb.kube.informer import Informer
from metallb.kube.leader import LeaderElector
from metallb.kube.workqueue import ShutDown, WorkQueue
from metallb.logs import configure_logging, one_line
from metallb.metrics import AllocatorMetrics, K8sClientMetrics
from metallb.metrics_server import MetricsServer

log = logging.getLogger("metallb.controller")

COMPONENT = "metallb-controller"
EXIT_LOST_LEASE = 1


class ControllerDaemon:
    def __init__(self, settings: Settings, api_client: client.ApiClient | None = None):
        self.settings = settings
        api = api_client or load_api_client(settings.kubeconfig)
        core = client.CoreV1Api(api)
        self.registry = CollectorRegistry()
        self.k8s_metrics = K8sClientMetrics(self.registry)
        self.queue = WorkQueue()
        self.services = Informer("services", core.list_service_for_all_namespaces,
                                 self._on_service)
        self.config_maps = Informer(
            "config", core.list_namespaced_config_map, self._on_config,
            namespace=settings.namespace,
            field_selector=f"metadata.name={settings.config_name}",
        )
        self.events = BackgroundEventRecorder(
            EventRecorder(api, COMPONENT, settings.identity or None))
        self.reconciler = Reconciler(
            core=core,
            services=self.services,
            config_maps=self.config_maps,
            config_source=ConfigSource(settings.namespace, settings.config_name,
                                       settings.config_key, self.k8s_metrics),
            events=self.events,
            queue=self.queue,
            k8s_metrics=self.k8s_metrics,
            allocator_metrics=AllocatorMetrics(self.registry),
            load_balancer_class=settings.load_balancer_class,
            may_write=lambda: self._leading.is_set(),
        )
        self.metrics_server = MetricsServer(settings.host, settings.port, self.registry,
                                            ready=self.ready)
        self.elector: LeaderElector | None = None
        if settings.leader_election:
            duration = settings.lease_duration
            self.elector = LeaderElector(
                api, settings.namespace, settings.lease_name, settings.identity,
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
        self.config_maps.start()
        self._worker.start()
        if self.elector is not None:
            self.elector.start()
        else:
            self._leading.set()
        log.info("event=started identity=%s metrics=%s leader_election=%s namespace=%s "
                 "config=%s", self.settings.identity, self.metrics_server.address,
                 self.elector is not None, self.settings.namespace, self.settings.config_name)
        return self

    def request_stop(self, code: int = 0) -> None:
        """Safe from any thread and from signal handlers; run()/wait() does the stopping."""
        if not self._stop_requested.is_set():
            self.exit_code = code
        self._stop_requested.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._stop_requested.wait(timeout)

    def stop(self) -> None:
        """Stop writing first, then hand the lease over at once, then the rest."""
        if self._stopped:
            return
        self._stopped = True
        self._stop_requested.set()
        self._leading.clear()
        self.queue.shut_down()
        self._worker.join(timeout=35)
        self.events.stop()
        if self.elector is not None:
            self.elector.stop(release=True)
        self.services.stop()
        self.config_maps.stop()
        self.metrics_server.stop()
        log.info("event=stopped identity=%s exit_code=%d", self.settings.identity,
                 self.exit_code)

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

    def ready(self) -> bool:
        """Synced, and either leading or standing by in the election."""
        if self._stop_requested.is_set():
            return False
        synced = self.services.synced.is_set() and self.config_maps.synced.is_set()
        return synced and (self.elector is None or self.is_leader or self._elector_alive())

    def _elector_alive(self) -> bool:
        thread = self.elector._thread if self.elector is not None else None
        return thread is not None and thread.is_alive()

    # -- callbacks ----------------------------------------------------------------------

    def _on_service(self, kind: str, obj: dict[str, Any]) -> None:
        self.queue.add(object_key(obj))

    def _on_config(self, kind: str, obj: dict[str, Any]) -> None:
        self.queue.add(CONFIG_KEY)

    def _started_leading(self) -> None:
        self._leading.set()

    def _stopped_leading(self) -> None:
        if self._stop_requested.is_set():
            return
        log.error("event=leadership_lost identity=%s action=exit", self.settings.identity)
        self._leading.clear()
        self.request_stop(EXIT_LOST_LEASE)

    # -- the worker ---------------------------------------------------------------------

    def _work(self) -> None:
        for gate in (self._leading, self.services.synced, self.config_maps.synced):
            while not gate.wait(0.2):
                if self._stop_requested.is_set():
                    return
        if not self._begin():
            return
        while self._leading.is_set():
            try:
                key = self.queue.get(timeout=0.5)
            except ShutDown:
                return
            if key is None:
                continue
            try:
                if not self._leading.is_set():
                    return  # never write after the lease was lost
                self.reconciler.process(key)
            finally:
                self.queue.done(key)

    def _begin(self) -> bool:
        """The start of leadership: fresh read of every Service, then the config; retried
        with backoff while the API fails."""
        backoff = Backoff(maximum=5.0)
        while not self._stop_requested.is_set():
            try:
                self.reconciler.begin()
                log.info("event=leading identity=%s services=%d", self.settings.identity,
                         len(self.services.keys()))
                return True
            except Exception as err:
                delay = backoff.next()
                log.warning("event=begin_failed error=%s retry_in=%.2fs", one_line(err),
                            delay)
                self._stop_requested.wait(delay)
        return False


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    configure_logging(settings.log_level)
    try:
        api = load_api_client(settings.kubeconfig)
    except (ConfigException, yaml.YAMLError, ValueError, OSError) as err:
        log.error('event=no_cluster kubeconfig=%s problem="%s" action="pass --kubeconfig '
                  'FILE or run in a cluster"', settings.kubeconfig or "-",
                  one_line(err).replace('"', "'"))
        return 2
    try:
        daemon = ControllerDaemon(settings, api)
    except OSError as err:
        log.error('event=cannot_listen host=%s port=%d problem="%s" action="choose another '
                  '--host/--port"', settings.host, settings.port, one_line(err))
        return 2
    return daemon.run()
