"""Monitoring objects rendered with `service_monitor = true`: a headless metrics Service
per daemon, a ServiceMonitor, a PrometheusRule and the Grafana dashboard ConfigMap.

Prometheus Operator names a scrape job after the Service, so the alert expressions below
select `job="controller-monitoring"` / `job="speaker-monitoring"`; the pod-availability
alerts use kube-state-metrics series naming the Deployment `controller` and the DaemonSet
`speaker`. Tests check these names against the rendered objects.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from metallb.component.labels import (
    COMMON_LABELS,
    COMPONENT_LABEL,
    CONTROLLER,
    METRICS_PORT,
    METRICS_PORT_NAME,
    NAMESPACE,
    SPEAKER,
    metadata,
    pod_selector,
)

MONITORING = "monitoring"
# Lokomotive's prometheus-operator component picks up ServiceMonitors and rules by this.
PROMETHEUS_SELECTOR_LABELS = {"release": "prometheus-operator"}
GRAFANA_DASHBOARD_LABELS = {"grafana_dashboard": "1"}
DASHBOARD_FILE = "grafana-dashboard.json"


def metrics_service_name(daemon: str) -> str:
    return f"{daemon}-monitoring"


def _job(daemon: str) -> str:
    return f'job="{metrics_service_name(daemon)}", namespace="{NAMESPACE}"'


def alert_rules() -> list[dict[str, Any]]:
    """The alerting rules, one dict per rule in Prometheus rule-file form."""
    return [
        {
            "alert": "MetalLBNoBGPSession",
            "expr": f"metallb_bgp_session_up{{{_job(SPEAKER)}}} == 0",
            "for": "2m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "MetalLB speaker has a BGP session down",
                "description": "Speaker {{ $labels.pod }} has had no BGP session with peer "
                               "{{ $labels.peer }} for 2 minutes; its node does not "
                               "receive LoadBalancer traffic from that router.",
            },
        },
        {
            "alert": "MetalLBConfigStale",
            "expr": "max by (job, pod) (metallb_k8s_client_config_stale_bool{"
                    f'job=~"{metrics_service_name(CONTROLLER)}|'
                    f'{metrics_service_name(SPEAKER)}", namespace="{NAMESPACE}"}}) == 1',
            "for": "1m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "MetalLB runs on a stale configuration",
                "description": "{{ $labels.pod }} rejected the latest configuration and keeps "
                               "the last good one; run `metallb config check` on the "
                               "ConfigMap and read the pod's log.",
            },
        },
        {
            "alert": "MetalLBControllerPodsAvailability",
            "expr": "kube_deployment_status_replicas_available{"
                    f'namespace="{NAMESPACE}", deployment="{CONTROLLER}"}} < 1',
            "for": "5m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "MetalLB controller is not available",
                "description": "No controller pod has been available for 5 minutes; new "
                               "LoadBalancer services get no address.",
            },
        },
        {
            "alert": "MetalLBSpeakerPodsAvailability",
            "expr": "kube_daemonset_status_number_unavailable{"
                    f'namespace="{NAMESPACE}", daemonset="{SPEAKER}"}} > 0',
            "for": "5m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "MetalLB speaker pods are unavailable",
                "description": "{{ $value }} speaker pod(s) have been unavailable for 5 "
                               "minutes; their nodes announce no service addresses.",
            },
        },
        {
            "alert": "MetalLBAddressPoolExhausted",
            "expr": f"(metallb_allocator_addresses_total{{{_job(CONTROLLER)}}}"
                    f" - metallb_allocator_addresses_in_use_total{{{_job(CONTROLLER)}}})"
                    f" <= 0 and metallb_allocator_addresses_total{{{_job(CONTROLLER)}}} > 0",
            "for": "5m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "MetalLB address pool is full",
                "description": "Pool {{ $labels.pool }} has no free address; new services "
                               "asking for it stay pending.",
            },
        },
    ]


def rule_groups() -> list[dict[str, Any]]:
    return [{"name": "metallb", "rules": alert_rules()}]


def dashboard_json() -> str:
    """The Grafana dashboard shipped in the package (metallb/component/data)."""
    return resources.files("metallb.component").joinpath("data", DASHBOARD_FILE).read_text(
        encoding="utf-8")


def _metrics_service(daemon: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(metrics_service_name(daemon), daemon),
        "spec": {
            "clusterIP": "None",  # headless: Prometheus scrapes every pod, not one
            "selector": pod_selector(daemon),
            "ports": [{"name": METRICS_PORT_NAME, "port": METRICS_PORT,
                       "targetPort": METRICS_PORT_NAME, "protocol": "TCP"}],
        },
    }


def _service_monitor() -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata("metallb", MONITORING, extra_labels=PROMETHEUS_SELECTOR_LABELS),
        "spec": {
            "selector": {
                "matchLabels": dict(COMMON_LABELS),
                "matchExpressions": [{"key": COMPONENT_LABEL, "operator": "In",
                                      "values": [CONTROLLER, SPEAKER]}],
            },
            "namespaceSelector": {"matchNames": [NAMESPACE]},
            "endpoints": [{
                "port": METRICS_PORT_NAME,
                "path": "/metrics",
                "interval": "30s",
                # metallb_speaker_announced has its own `service` label (the announced
                # Service); without this Prometheus would rename it exported_service.
                "honorLabels": True,
            }],
        },
    }


def _prometheus_rule() -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata("metallb", MONITORING, extra_labels=PROMETHEUS_SELECTOR_LABELS),
        "spec": {"groups": rule_groups()},
    }


def _dashboard_configmap() -> dict[str, Any]:
    json.loads(dashboard_json())  # a broken file must fail rendering, not Grafana
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata("metallb-grafana-dashboard", MONITORING,
                             extra_labels=GRAFANA_DASHBOARD_LABELS),
        "data": {"metallb.json": dashboard_json()},
    }


def monitoring_objects() -> list[dict[str, Any]]:
    return [
        _metrics_service(CONTROLLER),
        _metrics_service(SPEAKER),
        _service_monitor(),
        _prometheus_rule(),
        _dashboard_configmap(),
    ]
