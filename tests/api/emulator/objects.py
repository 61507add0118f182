"""Small builders for the manifests the API tests send (plain dicts, as on the wire)."""

from __future__ import annotations

from typing import Any


def service(name: str, svc_type: str = "LoadBalancer", ports: list[dict] | None = None,
            labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"type": svc_type, "ports": ports or [{"port": 80}], **spec},
    }


def configmap(name: str, data: dict[str, str] | None = None,
              labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels or {}}, "data": data or {}}


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def deployment(name: str, containers: list[dict]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": containers}},
        },
    }


SERVICE_MONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {"plural": "servicemonitors", "singular": "servicemonitor",
                  "kind": "ServiceMonitor", "listKind": "ServiceMonitorList",
                  "shortNames": ["smon"]},
        "versions": [{"name": "v1", "served": True, "storage": True,
                      "subresources": {"status": {}},
                      "schema": {"openAPIV3Schema": {
                          "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
    },
}


def service_monitor(name: str, port: str = "monitoring") -> dict[str, Any]:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": name}, "spec": {"endpoints": [{"port": port}]}}


def request(kube_client: Any, method: str, path: str, body: Any = None,
            content_type: str = "application/json", accept: str = "application/json",
            headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """A raw call through the official client's REST layer: (status, decoded body).

    For what the typed API does not expose (wrong bodies on purpose, discovery, control
    endpoints); never raises on an HTTP error status."""
    import json

    config = kube_client.configuration
    sent = {"Content-Type": content_type, "Accept": accept, **(headers or {})}
    if config.api_key.get("authorization"):
        sent["Authorization"] = "Bearer " + config.api_key["authorization"]
    response = kube_client.call_api(method, config.host + path, header_params=sent,
                                    body=body)
    response.read()
    text = response.data.decode() if response.data else ""
    try:
        return response.status, json.loads(text) if text else None
    except ValueError:
        return response.status, text
