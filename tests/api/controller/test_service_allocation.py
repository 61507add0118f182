"""Rule K1 live: an IPAddressPool limited by serviceAllocation, through the real
controller (official client -> emulator), with the Namespace labels its informer reads.

The IPAddressPool objects are created through the API (CRDs installed first) and the
controller reads them with its default `--config-source auto`.
"""

from __future__ import annotations

from kubernetes import client

from lab.harness.config_objects import install_crds, put_objects
from metallb.config.yaml_text import load_yaml_documents
from metallb.wait import poll_until
from tests.api.controller.support import (
    NAMESPACE,
    ensure_namespace,
    service,
    wait_statuses,
)

POOLS = f"""
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: general, namespace: {NAMESPACE}}}
spec: {{addresses: [198.51.100.0/30]}}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {{name: prod, namespace: {NAMESPACE}}}
spec:
  addresses: [203.0.113.0/30]
  serviceAllocation:
    namespaceSelectors: [{{matchLabels: {{env: prod}}}}]
"""


def label_namespace(core: client.CoreV1Api, name: str, labels: dict[str, str]) -> None:
    core.patch_namespace(name, {"metadata": {"labels": labels}})


def events_of(core: client.CoreV1Api, namespace: str, name: str) -> list[tuple[str, str]]:
    return [(e.reason, e.message) for e in core.list_namespaced_event(namespace).items
            if e.involved_object.name == name]


def test_limited_pool_serves_only_its_namespaces_and_follows_relabels(
        core, api_client, start_controller):
    ensure_namespace(core, "shop")
    label_namespace(core, "shop", {"env": "prod"})
    install_crds(api_client)
    put_objects(api_client, NAMESPACE, load_yaml_documents(POOLS, "POOLS"))
    daemon = start_controller()
    core.create_namespaced_service("shop", service("web", "shop"))
    core.create_namespaced_service("demo", service("web", "demo"))
    core.create_namespaced_service("demo", service("asks", "demo", annotations={
        "metallb.universe.tf/address-pool": "prod"}))
    wait_statuses(core, {"shop/web": ["203.0.113.0"], "demo/web": ["198.51.100.0"],
                         "demo/asks": []})
    refused = ("AllocationFailed", 'Failed to allocate IP for "demo/asks": pool "prod" '
               "does not serve it: namespace demo is not among its serviceAllocation "
               "namespaces")
    poll_until(lambda: refused in events_of(core, "demo", "asks"), timeout=15,
               what="the AllocationFailed event naming the refusal")

    # Relabelling the Namespaces (no Service changes) requeues the Services in them:
    # demo now qualifies, shop no longer does.
    label_namespace(core, "demo", {"env": "prod"})
    wait_statuses(core, {"demo/asks": ["203.0.113.1"], "demo/web": ["198.51.100.0"]})
    label_namespace(core, "shop", {"env": "dev"})
    wait_statuses(core, {"shop/web": ["198.51.100.1"]})
    poll_until(lambda: "ClearAssignment" in {r for r, _ in events_of(core, "shop", "web")},
               timeout=15, what="the ClearAssignment event of the relabelled namespace")
    poll_until(daemon.queue.idle, timeout=10, what="controller queue idle")
