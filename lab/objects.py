"""The Kubernetes objects the lab writes itself, as plain dicts (pure, no I/O).

Nodes carry what a real Packet (Equinix Metal) node carries: InternalIP addresses, the
hostname label, and the metal.equinix.com/* BGP annotations that the component's peer
autodiscovery turns into one session per node. EndpointSlices stand in for kube's
endpoint controller: one ready endpoint on every node.
"""

from __future__ import annotations

from typing import Any

ROUTER_ASN = 64512
NODE_ASN = 64513
ANNOTATION_PREFIX = "metal.equinix.com/"


def node_object(name: str, address: str, router_address: str,
                annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """A Node with the flat lab's BGP annotations, or `annotations` (lab/packet.py)."""
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                       "node-role.kubernetes.io/node": ""},
            "annotations": annotations if annotations is not None else {
                f"{ANNOTATION_PREFIX}node-asn": str(NODE_ASN),
                f"{ANNOTATION_PREFIX}peer-asn": str(ROUTER_ASN),
                f"{ANNOTATION_PREFIX}peer-ip": router_address,
                f"{ANNOTATION_PREFIX}src-ip": address,
            },
        },
    }


def node_status(name: str, address: str) -> dict[str, Any]:
    return {"status": {
        "addresses": [{"type": "InternalIP", "address": address},
                      {"type": "Hostname", "address": name}],
        "conditions": [{"type": "Ready", "status": "True"},
                       {"type": "NetworkUnavailable", "status": "False"}],
    }}


def service_object(name: str, namespace: str = "default", pool: str | None = None,
                   port: int = 80) -> dict[str, Any]:
    """A LoadBalancer Service like the seed's nginx example (`pool` -> the
    metallb.universe.tf/address-pool annotation)."""
    annotations = {"metallb.universe.tf/address-pool": pool} if pool else {}
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
        "spec": {"type": "LoadBalancer", "selector": {"app": name},
                 "ports": [{"name": "http", "port": port, "targetPort": port,
                            "protocol": "TCP"}]},
    }


def endpoint_slice(service: str, node_names: list[str], namespace: str = "default",
                   port: int = 80) -> dict[str, Any]:
    """One ready endpoint per node (pod addresses are made up: nothing routes to them,
    the lab's responders answer on the service address itself)."""
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": f"{service}-lab", "namespace": namespace,
                     "labels": {"kubernetes.io/service-name": service,
                                "endpointslice.kubernetes.io/managed-by": "metallb-lab"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": [f"10.244.{i}.10"], "nodeName": node,
             "conditions": {"ready": True, "serving": True, "terminating": False}}
            for i, node in enumerate(node_names)
        ],
    }
