"""The whole system for fault scenarios: the API emulator (in this process, enforcing
the component's rendered RBAC), a router namespace running FRR, node namespaces, and the
real daemons as child processes (`python -m controller`, `python -m speaker`) that use
only their ServiceAccount tokens, so they can be killed with SIGKILL like in production.

The config is the legacy ConfigMap (the daemons' default `--config-source auto` then
reads it), or with `config_source="crds"` the metallb.io objects `metallb config
convert` makes of it (the daemons run with `--config-source crds`, the ConfigMap is gone).

Everything is stopped by PID and every namespace removed on exit, also on failure.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes
import yaml
from kubernetes.client.exceptions import ApiException

from lab.apiserver import ApiServer
from lab.harness.bgplab import NODE_ASN, ROUTER_ASN, BgpLab, bgp_lab
from lab.harness.config_objects import converted, put_objects
from lab.harness.daemons import ControllerProcess, SpeakerProcess
from lab.harness.invariants import InvariantChecker, Snapshot
from lab.harness.kube import api_client_for
from lab.netns import Node, ip
from lab.routes import kernel_routes
from metallb.cli import main as metallb_main
from metallb.component.labels import CONTROLLER, NAMESPACE, SPEAKER
from metallb.wait import poll_until

APP_NAMESPACE = "demo"
MAIN_POOL = ("198.51.100.0/24",)
EXTRA_POOL = ("203.0.113.0/25",)
POOLS = {"main": MAIN_POOL, "extra": EXTRA_POOL}
CONFIGMAP, CRDS = "configmap", "crds"
# Only the RBAC, namespace and CRDs matter here; the ConfigMap is replaced by
# `config_text` (or deleted, the config being metallb.io objects).
COMPONENT_BLOCK = ('component "metallb" {\n  address_pools = {\n'
                   '    main = ["198.51.100.0/24"]\n  }\n}\n')


def config_text(extra_pool: bool = False, peer_password: str | None = None,
                drop_main: bool = False) -> str:
    """The legacy config: one static peer (the router, 3 s hold time) and the pools."""
    peer: dict[str, Any] = {"peer-address": "192.0.2.1", "peer-asn": ROUTER_ASN,
                            "my-asn": NODE_ASN, "hold-time": "3s"}
    peers = [peer]
    if peer_password:
        # A second, unreachable peer carrying a password: its session never comes up,
        # which is exactly when daemons are tempted to log the peer's details.
        peers.append({"peer-address": "192.0.2.250", "peer-asn": ROUTER_ASN,
                      "my-asn": NODE_ASN, "hold-time": "3s", "password": peer_password})
    pools = [] if drop_main else [{"name": "main", "protocol": "bgp",
                                   "addresses": list(MAIN_POOL)}]
    if extra_pool:
        pools.append({"name": "extra", "protocol": "bgp", "addresses": list(EXTRA_POOL),
                      "auto-assign": False})
    return yaml.safe_dump({"peers": peers, "address-pools": pools}, sort_keys=False)


# What the daemons refuse to parse, and so ignore, keeping the config they have.
INVALID_CONFIG = "address-pools:\n- name: [unclosed\n"
# The objects' counterpart: the CRD schema admits the pool, the daemons' parser does not.
INVALID_POOL = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                "metadata": {"name": "broken"}, "spec": {"addresses": ["not-an-address"]}}


@dataclass
class Stack:
    lab: BgpLab
    server: ApiServer
    admin: kubernetes.client.ApiClient
    workdir: Path
    controller_kubeconfig: Path
    speaker_kubeconfig: Path
    checker: InvariantChecker
    controllers: list[ControllerProcess] = field(default_factory=list)
    speakers: dict[str, SpeakerProcess] = field(default_factory=dict)
    retired: list[Any] = field(default_factory=list)  # stopped processes, for log checks
    config_source: str = CONFIGMAP
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _generation: int = 0

    @property
    def core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.admin)

    @property
    def discovery(self) -> kubernetes.client.DiscoveryV1Api:
        return kubernetes.client.DiscoveryV1Api(self.admin)

    @property
    def node_names(self) -> list[str]:
        return [f"node{i}" for i in range(len(self.lab.nodes))]

    def node(self, name: str) -> Node:
        return self.lab.nodes[self.node_names.index(name)]

    # -- objects --------------------------------------------------------------------
    def set_config(self, text: str) -> None:
        """The legacy config `text`, as the ConfigMap or as its metallb.io objects."""
        if self.config_source == CRDS:
            put_objects(self.admin, NAMESPACE, converted(text, NAMESPACE))
            return
        body = {"metadata": {"name": "metallb", "namespace": NAMESPACE},
                "data": {"config": text}}
        self.core.replace_namespaced_config_map("metallb", NAMESPACE, body)

    def set_invalid_config(self) -> None:
        """A config the daemons cannot parse: unparseable YAML in the ConfigMap, or the
        base objects plus a pool with an address that is none."""
        if self.config_source == CRDS:
            put_objects(self.admin, NAMESPACE,
                        [*converted(config_text(), NAMESPACE), INVALID_POOL])
            return
        self.set_config(INVALID_CONFIG)

    @property
    def source_args(self) -> tuple[str, ...]:
        """The daemons' arguments for the config source (the ConfigMap: their default)."""
        return ("--config-source", CRDS) if self.config_source == CRDS else ()

    def create_service(self, name: str, *, local: bool = False,
                       annotations: dict[str, str] | None = None, port: int = 80) -> None:
        """A LoadBalancer service and its EndpointSlice (Local: endpoint on node0 only)."""
        self.core.create_namespaced_service(APP_NAMESPACE, {
            "metadata": {"name": name, "annotations": annotations or {}},
            "spec": {"type": "LoadBalancer", "selector": {"app": name},
                     "externalTrafficPolicy": "Local" if local else "Cluster",
                     "ports": [{"port": port, "protocol": "TCP"}]}})
        nodes = self.node_names[:1] if local else self.node_names
        self.discovery.create_namespaced_endpoint_slice(APP_NAMESPACE, {
            "metadata": {"name": f"{name}-eps",
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [f"10.244.{i}.10"], "nodeName": n,
                           "conditions": {"ready": True}} for i, n in enumerate(nodes)]})

    def delete_service(self, name: str) -> None:
        with contextlib.suppress(ApiException):
            self.core.delete_namespaced_service(name, APP_NAMESPACE)
        with contextlib.suppress(ApiException):
            self.discovery.delete_namespaced_endpoint_slice(f"{name}-eps", APP_NAMESPACE)

    def service_names(self) -> list[str]:
        return sorted(s.metadata.name for s in
                      self.core.list_namespaced_service(APP_NAMESPACE).items)

    # -- daemons --------------------------------------------------------------------
    def start_controller(self, *extra: str, lease_duration: float = 2.0) -> ControllerProcess:
        with self._lock:
            self._generation += 1
            identity = f"c{self._generation}"
        proc = ControllerProcess(self.controller_kubeconfig, self.workdir, identity,
                                 "--namespace", NAMESPACE, *self.source_args, *extra,
                                 lease_duration=lease_duration)
        self.controllers.append(proc)
        return proc

    def retire_controller(self, proc: ControllerProcess) -> None:
        self.controllers.remove(proc)
        proc.stop()
        self.retired.append(proc)

    def start_speaker(self, node_name: str) -> SpeakerProcess:
        with self._lock:
            self._generation += 1
            generation = self._generation
        proc = SpeakerProcess(self.speaker_kubeconfig, self.workdir, node_name,
                              self.node(node_name), generation, *self.source_args)
        self.speakers[node_name] = proc
        return proc

    def retire_speaker(self, node_name: str) -> None:
        proc = self.speakers.pop(node_name)
        proc.stop()
        self.retired.append(proc)

    def all_logs(self) -> dict[str, str]:
        procs = [*self.retired, *self.controllers, *self.speakers.values()]
        return {str(p.log_path.name): p.log_text() for p in procs}

    # -- observation ----------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        api = self.admin
        services = api.sanitize_for_serialization(
            self.core.list_namespaced_service(APP_NAMESPACE).items)
        slices = api.sanitize_for_serialization(
            self.discovery.list_namespaced_endpoint_slice(APP_NAMESPACE).items)
        routes = kernel_routes(self.lab.router.netns, "proto", "bgp")
        return Snapshot(tuple(services), tuple(slices), routes)

    def wait_converged(self, timeout: float = 60.0, announcing: list[str] | None = None):
        """Poll until the invariants hold; raise AssertionError naming what never did.
        Broken promises (changed / duplicate / out-of-pool) fail at once."""
        last = None

        def check():
            nonlocal last
            last = self.checker.check(self.snapshot(), announcing)
            assert not last.broken_promises, last.describe()
            return last if last.converged else None

        try:
            return poll_until(check, timeout=timeout, what="invariants", max_interval=0.1)
        except TimeoutError:
            raise AssertionError(f"not converged after {timeout:.0f}s: "
                                 f"{last.describe() if last else '?'}") from None


def _apply_component_rbac(server: ApiServer, workdir: Path) -> None:
    """`metallb component apply` as the admin: namespace, ServiceAccounts, RBAC."""
    admin_kubeconfig = server.write_kubeconfig(workdir / "admin-kubeconfig")
    config = workdir / "metallb.lokocfg"
    config.write_text(COMPONENT_BLOCK)
    with contextlib.redirect_stdout(None):
        code = metallb_main(["component", "apply", "--config", str(config),
                             "--kubeconfig", str(admin_kubeconfig)])
    assert code == 0, "component apply failed"


@contextlib.contextmanager
def system_stack(nodes: int = 2, controllers: int = 1, leader_election: bool = False,
                 config: str | None = None, seed: int = 1,
                 config_source: str = CONFIGMAP) -> Iterator[Stack]:
    """Bring the whole system up and converged, the config from `config_source`
    (CONFIGMAP or CRDS); tear it down on exit."""
    with bgp_lab(nodes) as lab, ApiServer(seed=seed, token=f"admin-{os.getpid()}",
                                          enforce_rbac=True) as server:
        workdir = lab.workdir
        _apply_component_rbac(server, workdir)
        admin = api_client_for(server)
        controller_kc = server.write_kubeconfig(
            workdir / "controller-kubeconfig", server.service_account_token(NAMESPACE,
                                                                            CONTROLLER))
        speaker_kc = server.write_kubeconfig(
            workdir / "speaker-kubeconfig", server.service_account_token(NAMESPACE, SPEAKER))
        stack = Stack(lab, server, admin, workdir, controller_kc, speaker_kc,
                      InvariantChecker(POOLS, {f"node{i}": n.ipv4
                                               for i, n in enumerate(lab.nodes)}),
                      config_source=config_source)
        try:
            core = stack.core
            if config_source == CRDS:  # the config can only come from the objects
                core.delete_namespaced_config_map("metallb", NAMESPACE)
            core.create_namespace({"metadata": {"name": APP_NAMESPACE}})
            for name, node in zip(stack.node_names, lab.nodes, strict=True):
                core.create_node({"metadata": {"name": name,
                                               "labels": {"kubernetes.io/hostname": name}}})
                core.patch_node_status(name, {"status": {"addresses": [
                    {"type": "InternalIP", "address": node.ipv4},
                    {"type": "Hostname", "address": name}]}})
            stack.set_config(config or config_text())
            extra = () if leader_election else ("--disable-leader-election",)
            for _ in range(controllers):
                stack.start_controller(*extra)
            for name in stack.node_names:
                stack.start_speaker(name)
            for proc in [*stack.controllers, *stack.speakers.values()]:
                poll_until(proc.ready, timeout=60, what=f"{proc.log_path.name} ready")
            wanted = {n.ipv4 for n in lab.nodes}
            poll_until(lambda: wanted <= lab.router.established(), timeout=60,
                       what="BGP sessions from every node")
            yield stack
        finally:
            for proc in [*stack.controllers, *stack.speakers.values()]:
                with contextlib.suppress(Exception):
                    proc.stop()
            admin.close()


def link(node: Node, up: bool) -> None:
    """Flap a node's only link (the veth into the router's bridge)."""
    ip("-n", node.netns, "link", "set", node.interface, "up" if up else "down")
