"""A small cluster for speaker tests and bench/speaker.py: the API emulator, a router
namespace with FRR, node namespaces with their Node objects, and one real SpeakerDaemon
per node (ExaBGP inside the node's namespace). Services get their status written
directly, as the controller would, so these runs exercise the speaker alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import kubernetes
import yaml
from kubernetes.client.exceptions import ApiException

from lab.apiserver import ApiServer
from lab.frr import RouterConfig
from lab.harness.bgplab import NODE_ASN, ROUTER_ASN, BgpLab, bgp_lab
from lab.harness.kube import api_client_for
from lab.netns import Node
from speaker.daemon import SpeakerDaemon
from speaker.settings import SpeakerSettings

NAMESPACE = "metallb-system"

BASE_CONFIG: dict[str, Any] = {
    "peers": [
        {"peer-address": "192.0.2.1", "peer-asn": ROUTER_ASN, "my-asn": NODE_ASN,
         "hold-time": "3s"},
        {"peer-address": "2001:db8:ffff::1", "peer-asn": ROUTER_ASN, "my-asn": NODE_ASN,
         "hold-time": "3s"},
    ],
    "address-pools": [
        {"name": "default", "protocol": "bgp", "addresses": ["198.51.100.0/24"]},
        {"name": "agg", "protocol": "bgp", "addresses": ["203.0.113.0/24"],
         "bgp-advertisements": [
             {"aggregation-length": 24, "communities": ["64512:7"]},
             {"communities": ["64512:8"]},
         ]},
        {"name": "v6", "protocol": "bgp", "addresses": ["2001:db8:1::/120"]},
    ],
}


@dataclass
class SpeakerCluster:
    lab: BgpLab
    server: ApiServer
    api: kubernetes.client.ApiClient
    speakers: dict[str, SpeakerDaemon] = field(default_factory=dict)

    @property
    def core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.api)

    @property
    def discovery(self) -> kubernetes.client.DiscoveryV1Api:
        return kubernetes.client.DiscoveryV1Api(self.api)

    def node_name(self, node: Node) -> str:
        return f"node{self.lab.nodes.index(node)}"

    @property
    def node_v4(self) -> list[str]:
        return sorted(n.ipv4 for n in self.lab.nodes)

    # -- objects -----------------------------------------------------------------------
    def set_config(self, config: dict[str, Any] | str) -> None:
        text = config if isinstance(config, str) else yaml.safe_dump(config)
        body = {"metadata": {"name": "metallb", "namespace": NAMESPACE},
                "data": {"config": text}}
        try:
            self.core.replace_namespaced_config_map("metallb", NAMESPACE, body)
        except ApiException as err:
            if err.status != 404:
                raise
            self.core.create_namespaced_config_map(NAMESPACE, body)

    def patch_node(self, node: Node, patch: dict[str, Any], status: bool = False) -> None:
        name = self.node_name(node)
        if status:
            self.core.patch_node_status(name, patch)
        else:
            self.core.patch_node(name, patch)

    def service(self, name: str, ips: list[str], etp: str = "Cluster",
                annotations: dict[str, str] | None = None, headless: bool = False) -> None:
        """`headless`: no cluster IP (the emulator's IPv6 service range holds 65,536;
        the speaker reads the families from spec.ipFamilies either way)."""
        families = sorted({"IPv6" if ":" in ip else "IPv4" for ip in ips})
        body = {
            "metadata": {"name": name, "namespace": "default",
                         "annotations": annotations or {}},
            # No node ports: the emulator has only 2,768 of them, benchmarks need 10,000
            # services, and the speaker does not care.
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": etp,
                     "allocateLoadBalancerNodePorts": False,
                     "ports": [{"port": 80, "protocol": "TCP"}],
                     "selector": {"app": name}, "ipFamilies": families,
                     "ipFamilyPolicy": "PreferDualStack" if len(families) > 1
                     else "SingleStack", **({"clusterIP": "None"} if headless else {})},
        }
        self.core.create_namespaced_service("default", body)
        self.core.patch_namespaced_service_status(
            name, "default", {"status": {"loadBalancer": {"ingress": [{"ip": ip}
                                                                      for ip in ips]}}})

    def endpoints(self, service: str, nodes: list[Node], ready: bool = True) -> None:
        """Replace the service's EndpointSlice with one endpoint on each of `nodes`."""
        name = f"{service}-slice"
        with contextlib.suppress(ApiException):
            self.discovery.delete_namespaced_endpoint_slice(name, "default")
        body = {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "ports": [{"port": 80, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": [f"10.244.{i}.10"], "nodeName": self.node_name(n),
                 "conditions": {"ready": ready}}
                for i, n in enumerate(nodes)
            ],
        }
        self.discovery.create_namespaced_endpoint_slice("default", body)

    def delete_service(self, name: str) -> None:
        for delete in (
            lambda: self.core.delete_namespaced_service(name, "default"),
            lambda: self.discovery.delete_namespaced_endpoint_slice(f"{name}-slice", "default"),
        ):
            with contextlib.suppress(ApiException):
                delete()

    # -- speakers ----------------------------------------------------------------------
    def start_speaker(self, node: Node, **overrides: Any) -> SpeakerDaemon:
        name = self.node_name(node)
        settings = SpeakerSettings(
            node_name=name, namespace=NAMESPACE, host="127.0.0.1", port=0,
            exabgp_netns=node.netns, state_dir=str(self.lab.workdir / f"speaker-{name}"),
            **overrides,
        )
        daemon = SpeakerDaemon(settings, api_client=api_client_for(self.server))
        self.speakers[name] = daemon
        daemon.start()
        return daemon

    def stop_speaker(self, node: Node) -> None:
        daemon = self.speakers.pop(self.node_name(node), None)
        if daemon is not None:
            daemon.stop()


@contextlib.contextmanager
def speaker_cluster(nodes: int = 3, start_speakers: bool = True,
                    router: RouterConfig | None = None,
                    kind: str | None = None) -> Iterator[SpeakerCluster]:
    with bgp_lab(nodes, router, kind=kind) as lab, ApiServer(seed=7) as server:
        api = api_client_for(server)
        cluster = SpeakerCluster(lab, server, api)
        try:
            cluster.core.create_namespace({"metadata": {"name": NAMESPACE}})
            for node in lab.nodes:
                name = cluster.node_name(node)
                cluster.core.create_node({
                    "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                })
                cluster.core.patch_node_status(name, {"status": {"addresses": [
                    {"type": "InternalIP", "address": node.ipv4},
                    {"type": "InternalIP", "address": node.ipv6},
                    {"type": "Hostname", "address": name},
                ]}})
            cluster.set_config(BASE_CONFIG)
            if start_speakers:
                for node in lab.nodes:
                    cluster.start_speaker(node)
            yield cluster
        finally:
            for daemon in list(cluster.speakers.values()):
                with contextlib.suppress(Exception):
                    daemon.stop()
            api.close()
