"""Helpers for the controller's live tests: manifests, reading statuses and metrics.
Controller subprocesses: `lab.harness.daemons.ControllerProcess`."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from lab.harness.config_objects import converted, install_crds, put_objects
from lab.harness.http import fetch
from metallb.kube.errors import is_conflict, is_not_found
from metallb.wait import poll_until

NAMESPACE = "metallb-system"
CONFIG_NAME = "metallb"
ALLOCATED_FROM_POOL_ANNOTATION = "metallb.io/ip-allocated-from-pool"


def service(name: str, namespace: str = "demo", *, port: int = 80, annotations=None,
            type_: str = "LoadBalancer", **spec: Any) -> dict[str, Any]:
    body = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": {"type": type_, "ports": [{"port": port, "protocol": "TCP"}],
                 "selector": {"app": name}, **spec},
    }
    return body


def ensure_namespace(core: client.CoreV1Api, name: str) -> None:
    try:
        core.create_namespace({"metadata": {"name": name}})
    except ApiException as err:
        if not is_conflict(err):
            raise


def put_config(core: client.CoreV1Api, text: str, name: str = CONFIG_NAME) -> None:
    """Create or replace the controller's ConfigMap."""
    ensure_namespace(core, NAMESPACE)
    body = {"metadata": {"name": name, "namespace": NAMESPACE}, "data": {"config": text}}
    try:
        core.replace_namespaced_config_map(name, NAMESPACE, body)
    except ApiException as err:
        if not is_not_found(err):
            raise
        core.create_namespaced_config_map(NAMESPACE, body)


def put_config_as(source: str, core: client.CoreV1Api, api: client.ApiClient,
                  text: str) -> None:
    """The legacy config `text` as the ConfigMap ("configmap"), or as the metallb.io
    objects `metallb config convert` makes of it ("crds", CRDs installed first)."""
    if source == "configmap":
        put_config(core, text)
        return
    ensure_namespace(core, NAMESPACE)
    install_crds(api)
    put_objects(api, NAMESPACE, converted(text, NAMESPACE))


def ingress_ips(obj: Any) -> list[str]:
    lb = obj.status.load_balancer if obj.status else None
    return [i.ip for i in (lb.ingress or [])] if lb else []


def statuses(core: client.CoreV1Api, namespace: str | None = None) -> dict[str, list[str]]:
    """`ns/name` -> ingress IPs of every Service (all namespaces by default)."""
    items = (core.list_namespaced_service(namespace).items if namespace
             else core.list_service_for_all_namespaces().items)
    return {f"{s.metadata.namespace}/{s.metadata.name}": ingress_ips(s) for s in items}


def wait_statuses(core: client.CoreV1Api, expected: dict[str, list[str]],
                  timeout: float = 15.0) -> dict[str, list[str]]:
    """Until every key in `expected` has exactly those ingress IPs."""
    def matches():
        now = statuses(core)
        return now if all(now.get(k) == v for k, v in expected.items()) else None

    try:
        return poll_until(matches, timeout=timeout, what=f"statuses {expected}")
    except TimeoutError:
        now = statuses(core)
        diff = {k: (v, now.get(k)) for k, v in expected.items() if now.get(k) != v}
        raise AssertionError(f"statuses never matched; (expected, actual): {diff}") from None


def event_reasons(core: client.CoreV1Api, namespace: str, name: str) -> list[str]:
    return sorted({e.reason for e in core.list_namespaced_event(namespace).items
                   if e.involved_object.name == name})


def metric_value(port: int, sample: str) -> float | None:
    """The value of one sample line (`name{labels}` exactly as exported), or None."""
    _, text = fetch(f"http://127.0.0.1:{port}/metrics")
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return None


def assert_unique_and_kept(before: dict[str, list[str]], after: dict[str, list[str]]) -> None:
    """No address changed for a service that had one, and none is held twice
    (no test here uses sharing)."""
    changed = {k: (v, after.get(k)) for k, v in before.items() if v and after.get(k) != v}
    assert not changed, f"addresses changed hands: {changed}"
    held: dict[str, str] = {}
    for key, ips in after.items():
        for ip in ips:
            assert ip not in held, f"{ip} held by both {held[ip]} and {key}"
            held[ip] = key
