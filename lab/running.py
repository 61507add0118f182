"""A handle on a lab that is up: its API, its router, and the things the demo, the
end-to-end tests and bench/e2e.py do to it (services, endpoints, responders)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.frr import FrrRouter
from lab.netns import ip
from lab.objects import endpoint_slice, service_object
from lab.processes import LabProcess, spawn
from lab.routers.upstream import KERNEL_PROTOCOLS, open_router, routers_of
from lab.routes import kernel_routes
from lab.state import LabState, load, save


class RunningLab:
    """Opened from the state directory; `close()` releases the API connection."""

    def __init__(self, state: LabState):
        from kubernetes import client

        from metallb.kube.client import load_api_client

        self.state = state
        self.api = load_api_client(state.kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.discovery = client.DiscoveryV1Api(self.api)
        self.router = FrrRouter(state.router_namespace, state_dir=state.frr_dir)
        # every BGP router of the lab (two in the Packet topology), any kind
        self.routers = [open_router(r) for r in routers_of(state)]

    @classmethod
    def open(cls, state_dir: str) -> RunningLab:
        state = load(Path(state_dir).absolute())
        if state is None or not state.complete:
            raise LabError(f"no lab is up in {state_dir}: run `metallb lab up` first")
        return cls(state)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> RunningLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def node_names(self) -> list[str]:
        return [n.name for n in self.state.nodes]

    @property
    def node_addresses(self) -> list[str]:
        return sorted(n.address for n in self.state.nodes)

    # -- services -------------------------------------------------------------------
    def create_service(self, name: str, pool: str | None = None,
                       namespace: str = "default") -> None:
        """A LoadBalancer Service plus its EndpointSlice (ready on every node)."""
        self.core.create_namespaced_service(namespace, service_object(name, namespace, pool))
        self.discovery.create_namespaced_endpoint_slice(
            namespace, endpoint_slice(name, self.node_names, namespace))

    def delete_service(self, name: str, namespace: str = "default") -> None:
        from kubernetes.client.exceptions import ApiException

        with contextlib.suppress(ApiException):
            self.core.delete_namespaced_service(name, namespace)
        with contextlib.suppress(ApiException):
            self.discovery.delete_namespaced_endpoint_slice(f"{name}-lab", namespace)

    def service_addresses(self, name: str, namespace: str = "default") -> list[str]:
        svc = self.core.read_namespaced_service(name, namespace)
        ingress = (svc.status.load_balancer.ingress if svc.status and
                   svc.status.load_balancer else None) or []
        return [i.ip for i in ingress if i.ip]

    def events_of(self, name: str, namespace: str = "default") -> list[str]:
        events = self.core.list_namespaced_event(
            namespace, field_selector=f"involvedObject.name={name}").items
        return [f"{e.type} {e.reason}: {e.message}" for e in events]

    # -- the router -------------------------------------------------------------------
    def kernel_nexthops(self, address: str) -> list[str]:
        return self.router.kernel_nexthops(f"{address}/32")

    # -- responders (the demo's stand-in for kube-proxy and pods) ----------------------
    def start_responders(self, address: str, port: int = 80) -> list[LabProcess]:
        """Put `address` on every node namespace's lo and serve the node's name there.
        The processes are recorded in the state file, so `down` stops them."""
        started = []
        state = load(self.state.state_dir) or self.state
        for node in self.state.nodes:
            ip("-n", node.namespace, "addr", "replace", f"{address}/32", "dev", "lo")
            name = f"responder-{node.name}"
            if state.process(name) is not None:
                continue
            process = spawn(name, [
                "ip", "netns", "exec", node.namespace, sys.executable, "-m",
                "lab.responder", "serve", "--name", node.name, "--port", str(port)],
                Path(self.state.state_dir) / f"{name}.log")
            state = state.with_process(process)
            save(state)
            started.append(process)
        self.state = replace(self.state, processes=state.processes)
        return started

    def responders_listening(self) -> bool:
        return all(
            "event=responder_listening" in Path(p.log).read_text(errors="replace")
            for p in self.state.processes if p.name.startswith("responder-")
        )

    def probe(self, address: str, count: int = 30, port: int = 80,
              netns: str | None = None) -> dict[str, int]:
        """`count` HTTP requests from the router namespace (or `netns`: another router's),
        each on a new connection (new source port): which node answered how often."""
        netns = netns or self.state.router_namespace
        proc = subprocess.run(
            ["ip", "netns", "exec", netns, sys.executable, "-m",
             "lab.responder", "probe", "--url", f"http://{address}:{port}/",
             "--count", str(count)],
            capture_output=True, text=True, check=False, timeout=120)
        if proc.returncode != 0:
            raise LabError(f"requests from {netns} failed: "
                           f"{proc.stderr.strip()}")
        answers: dict[str, int] = json.loads(proc.stdout)
        return answers

    def kernel_routes(self) -> dict[str, list[str]]:
        """Every BGP route in the router's kernel table: destination -> sorted gateways
        (one `ip -j route show proto bgp`, cheap enough to poll with hundreds of routes)."""
        kind = self.routers[0].kind if self.routers else "frr"
        if kind not in KERNEL_PROTOCOLS:  # GoBGP: its RIB is all there is
            return {dst.removesuffix("/32"): hops for dst, hops in
                    self.routers[0].rib().items()}
        return {dst.removesuffix("/32"): list(hops) for dst, hops in
                kernel_routes(self.state.router_namespace, "proto",
                              KERNEL_PROTOCOLS[kind]).items()}

    def vtysh_route(self, address: str) -> dict[str, Any]:
        """FRR's RIB entry for the service address (`show ip route A/32 json`)."""
        data = self.router.vtysh_json(f"show ip route {address}/32 json")
        entries = data.get(f"{address}/32") or [{}]
        return dict(entries[0])
