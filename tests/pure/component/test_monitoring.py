"""Alerts and dashboard: PromQL checked by a real Prometheus (`promtool`), alerts fire on
the series our daemons export under the names actually deployed, and every metric they
use exists."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml
from prometheus_client import CollectorRegistry

from lab.harness.requires import require_program
from metallb import metrics
from metallb.component.monitoring import alert_rules, dashboard_json, rule_groups
from tests.support.component import SEED_BLOCK, find, objects_of

NS = 'namespace="metallb-system"'
SPEAKER_JOB = 'job="speaker-monitoring"'
CONTROLLER_JOB = 'job="controller-monitoring"'
KUBE_STATE_METRICS = {"kube_deployment_status_replicas_available",
                      "kube_daemonset_status_number_unavailable"}


def _promtool(*args: str, cwd) -> subprocess.CompletedProcess:
    require_program("promtool", "prometheus")
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


def _exported_metric_names() -> set[str]:
    registry = CollectorRegistry()
    metrics.K8sClientMetrics(registry)
    metrics.AllocatorMetrics(registry)
    metrics.BGPMetrics(registry)
    metrics.SpeakerMetrics(registry)
    names = set()
    for family in registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names | {f"{family.name}_total" for family in registry.collect()}


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(dashboard_json())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def test_rendered_rule_is_the_rule_set(tmp_path):
    rule = find(objects_of(tmp_path, SEED_BLOCK), "PrometheusRule")
    assert rule["spec"]["groups"] == rule_groups()
    names = {r["alert"] for r in alert_rules()}
    assert {"MetalLBNoBGPSession", "MetalLBConfigStale", "MetalLBControllerPodsAvailability",
            "MetalLBSpeakerPodsAvailability"} <= names


def test_promtool_accepts_the_alert_rules(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule_groups()}))
    result = _promtool("check", "rules", "--lint=all", "--lint-fatal", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_rejects_broken_promql(tmp_path):
    """The check above can fail: a broken expression is refused."""
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "x", "rules": [
        {"alert": "Broken", "expr": "metallb_bgp_session_up{ == 0"}]}]}))
    assert _promtool("check", "rules", str(path), cwd=tmp_path).returncode != 0


def test_dashboard_queries_parse(tmp_path):
    exprs = _dashboard_exprs()
    assert exprs
    rules = [{"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = _promtool("check", "rules", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_metric_used_is_exported_or_from_kube_state_metrics():
    exported = _exported_metric_names()
    used = set()
    for expr in [r["expr"] for r in alert_rules()] + _dashboard_exprs():
        used.update(re.findall(r"\b((?:metallb|kube)_[a-z0-9_]+)\b", expr))
    assert used - exported - KUBE_STATE_METRICS == set()
    for name in ("metallb_bgp_session_up", "metallb_k8s_client_config_stale_bool",
                 "metallb_allocator_addresses_in_use_total", "metallb_allocator_addresses_total",
                 "metallb_bgp_announced_prefixes_total", "metallb_speaker_announced"):
        assert name in used, f"{name} is neither alerted on nor shown"


def test_alerts_select_the_deployed_names(tmp_path):
    objects = objects_of(tmp_path, SEED_BLOCK)
    service_names = {o["metadata"]["name"] for o in objects if o["kind"] == "Service"}
    jobs = set()
    for rule in alert_rules():
        jobs.update(re.findall(r'job=~?"([^"]+)"', rule["expr"]))
        for kind, label in (("Deployment", "deployment"), ("DaemonSet", "daemonset")):
            for name in re.findall(rf'{label}="([^"]+)"', rule["expr"]):
                find(objects, kind, name)
    assert {j for alt in jobs for j in alt.split("|")} == service_names


def _series(name: str, labels: str, values: str) -> dict:
    return {"series": f"{name}{{{labels}}}", "values": values}


def _alert_cases() -> list[dict]:
    speaker = f'{SPEAKER_JOB}, {NS}, pod="speaker-a"'
    controller = f'{CONTROLLER_JOB}, {NS}, pod="controller-x"'
    base = {"job": "speaker-monitoring", "namespace": "metallb-system", "pod": "speaker-a"}
    ctl = {"job": "controller-monitoring", "namespace": "metallb-system", "pod": "controller-x"}
    return [
        {
            "interval": "1m",
            "input_series": [
                _series("metallb_bgp_session_up", f'{speaker}, peer="192.0.2.1"', "0x10"),
                _series("metallb_bgp_session_up", f'{speaker}, peer="192.0.2.2"', "1x10"),
                _series("metallb_bgp_session_up",
                        f'job="other", {NS}, pod="x", peer="192.0.2.1"', "0x10"),
                _series("metallb_k8s_client_config_stale_bool", controller, "1x10"),
                _series("metallb_k8s_client_config_stale_bool", speaker, "0x10"),
                _series("kube_deployment_status_replicas_available",
                        f'{NS}, deployment="controller"', "0x10"),
                _series("kube_daemonset_status_number_unavailable",
                        f'{NS}, daemonset="speaker"', "2x10"),
                _series("metallb_allocator_addresses_total", f'{controller}, pool="full"', "8x10"),
                _series("metallb_allocator_addresses_in_use_total",
                        f'{controller}, pool="full"', "8x10"),
                _series("metallb_allocator_addresses_total", f'{controller}, pool="free"', "8x10"),
                _series("metallb_allocator_addresses_in_use_total",
                        f'{controller}, pool="free"', "3x10"),
                _series("metallb_allocator_addresses_total", f'{controller}, pool="empty"',
                        "0x10"),
                _series("metallb_allocator_addresses_in_use_total",
                        f'{controller}, pool="empty"', "0x10"),
            ],
            "alert_rule_test": [
                {"eval_time": "1m", "alertname": "MetalLBNoBGPSession", "exp_alerts": []},
                {"eval_time": "3m", "alertname": "MetalLBNoBGPSession", "exp_alerts": [
                    {"exp_labels": {**base, "peer": "192.0.2.1", "severity": "critical"}}]},
                {"eval_time": "2m", "alertname": "MetalLBConfigStale", "exp_alerts": [
                    {"exp_labels": {"job": "controller-monitoring", "pod": "controller-x",
                                    "severity": "warning"}}]},
                {"eval_time": "4m", "alertname": "MetalLBControllerPodsAvailability",
                 "exp_alerts": []},
                {"eval_time": "6m", "alertname": "MetalLBControllerPodsAvailability",
                 "exp_alerts": [{"exp_labels": {
                     "namespace": "metallb-system", "deployment": "controller",
                     "severity": "critical"}}]},
                {"eval_time": "6m", "alertname": "MetalLBSpeakerPodsAvailability",
                 "exp_alerts": [{"exp_labels": {
                     "namespace": "metallb-system", "daemonset": "speaker",
                     "severity": "warning"}}]},
                {"eval_time": "6m", "alertname": "MetalLBAddressPoolExhausted",
                 "exp_alerts": [{"exp_labels": {**ctl, "pool": "full",
                                                "severity": "warning"}}]},
            ],
        },
        {   # healthy cluster: nothing fires
            "interval": "1m",
            "input_series": [
                _series("metallb_bgp_session_up", f'{speaker}, peer="192.0.2.1"', "1x10"),
                _series("metallb_k8s_client_config_stale_bool", controller, "0x10"),
                _series("kube_deployment_status_replicas_available",
                        f'{NS}, deployment="controller"', "1x10"),
                _series("kube_daemonset_status_number_unavailable",
                        f'{NS}, daemonset="speaker"', "0x10"),
            ],
            "alert_rule_test": [
                {"eval_time": "8m", "alertname": r["alert"], "exp_alerts": []}
                for r in alert_rules()
            ],
        },
    ]


def test_alerts_fire_on_the_daemons_series(tmp_path):
    # Annotations are templates checked by `promtool check rules`; here only when and on
    # what each alert fires matters, so they are left out of the unit-test copy.
    rules = [{k: v for k, v in r.items() if k != "annotations"} for r in alert_rules()]
    (tmp_path / "rules.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "metallb", "rules": rules}]}))
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(
        {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": _alert_cases()}))
    result = _promtool("test", "rules", "tests.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("alert", ["MetalLBNoBGPSession", "MetalLBConfigStale"])
def test_alert_unit_tests_can_fail(tmp_path, alert):
    """Guard against a vacuous check: expecting no alert where one fires fails."""
    rules = [{k: v for k, v in r.items() if k != "annotations"} for r in alert_rules()]
    (tmp_path / "rules.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "metallb", "rules": rules}]}))
    case = _alert_cases()[0]
    case["alert_rule_test"] = [{"eval_time": "5m", "alertname": alert, "exp_alerts": []}]
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(
        {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [case]}))
    assert _promtool("test", "rules", "tests.yaml", cwd=tmp_path).returncode != 0
