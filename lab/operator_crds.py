"""The Prometheus Operator's two CRDs the component uses (ServiceMonitor, PrometheusRule),
as the lab's stand-in for "the Prometheus Operator is installed", which the seed asks
for before `service_monitor = true`. Schemas are open (preserve unknown fields): the
lab serves the kinds; the manifests' shape is checked by the component tests."""

from __future__ import annotations

from typing import Any

KINDS = (("ServiceMonitor", "servicemonitors", "servicemonitor"),
         ("PrometheusRule", "prometheusrules", "prometheusrule"))


def operator_crds() -> list[dict[str, Any]]:
    return [{
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com", "scope": "Namespaced",
            "names": {"plural": plural, "singular": singular, "kind": kind,
                      "listKind": f"{kind}List"},
            "versions": [{"name": "v1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": {
                              "type": "object",
                              "x-kubernetes-preserve-unknown-fields": True}}}],
        },
    } for kind, plural, singular in KINDS]


def needs_operator(objects: list[dict[str, Any]]) -> bool:
    return any(o.get("kind") in {k for k, _p, _s in KINDS} for o in objects)
