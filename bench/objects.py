"""The IPv6 Service and EndpointSlice bodies the API benchmarks create by the thousand.

No node ports (`allocateLoadBalancerNodePorts: false`): the emulator has 2,768 of them
and the speaker does not read them. Written with `_preload_content=False` and drained, so
each connection goes back to the pool without building a response model."""

from __future__ import annotations

from kubernetes import client


def lb_service(name: str, etp: str = "Cluster",
               annotations: dict[str, str] | None = None) -> dict:
    return {
        "metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
        "spec": {"type": "LoadBalancer", "allocateLoadBalancerNodePorts": False,
                 "externalTrafficPolicy": etp,
                 "ports": [{"port": 80, "protocol": "TCP"}], "selector": {"app": name},
                 "ipFamilies": ["IPv6"], "ipFamilyPolicy": "SingleStack"}}


def endpoint_slice(service: str, endpoints: list[tuple[str, str]]) -> dict:
    """One ready endpoint per (address, node name)."""
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": f"{service}-slice", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv6", "ports": [{"port": 80, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ip], "nodeName": node, "conditions": {"ready": True}}
                      for ip, node in endpoints]}


def create_service(core: client.CoreV1Api, body: dict) -> None:
    core.create_namespaced_service("default", body, _preload_content=False).drain_conn()


def create_slice(discovery: client.DiscoveryV1Api, body: dict) -> None:
    discovery.create_namespaced_endpoint_slice("default", body,
                                               _preload_content=False).drain_conn()
