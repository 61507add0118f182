"""kubectl (a real generic client) against the emulator: get, create -f, apply -f twice
(client-side apply: last-applied annotation + strategic merge patch), delete."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml
from kubernetes import client

from lab.harness.requires import require_program

SERVICE = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
             "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
}
CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
             "data": {"a": "1", "b": "2"}}


@pytest.fixture
def kubectl(apiserver, tmp_path):
    require_program("kubectl", "kubernetes-client")
    config = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    env = dict(os.environ, KUBECACHEDIR=str(tmp_path / "cache"), HOME=str(tmp_path))

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(["kubectl", "--kubeconfig", str(config), *args], env=env,
                                capture_output=True, text=True, timeout=60)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    return run


def _write(tmp_path, name: str, doc: dict) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_create_get_delete(kubectl, tmp_path, kube_client):
    out = kubectl("create", "-f", _write(tmp_path, "svc.yaml", SERVICE)).stdout
    assert out.strip() == "service/web created"
    kubectl("create", "-f", _write(tmp_path, "cm.yaml", CONFIGMAP))
    table = kubectl("get", "svc").stdout.splitlines()
    assert table[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert table[1].split()[:4] == ["web", "LoadBalancer",
                                    client.CoreV1Api(kube_client).read_namespaced_service(
                                        "web", "default").spec.cluster_ip, "<pending>"]
    assert kubectl("get", "cm", "settings", "-o", "jsonpath={.data.b}").stdout == "2"
    got = yaml.safe_load(kubectl("get", "services", "web", "-o", "yaml").stdout)
    assert got["spec"]["ports"][0]["nodePort"] >= 30000
    again = kubectl("create", "-f", str(tmp_path / "svc.yaml"), check=False)
    assert again.returncode != 0 and "AlreadyExists" in again.stderr
    assert kubectl("delete", "svc", "web").stdout.strip() == 'service "web" deleted'
    assert kubectl("delete", "-f", str(tmp_path / "cm.yaml")).stdout.strip() == (
        'configmap "settings" deleted')
    assert "No resources found" in kubectl("get", "svc,cm").stderr
    missing = kubectl("get", "svc", "web", check=False)
    assert missing.returncode == 1 and 'services "web" not found' in missing.stderr


def test_apply_twice_updates_with_strategic_merge(kubectl, tmp_path, kube_client):
    path = _write(tmp_path, "svc.yaml", SERVICE)
    assert kubectl("apply", "-f", path).stdout.strip() == "service/web created"
    core = client.CoreV1Api(kube_client)
    first = core.read_namespaced_service("web", "default")
    assert "kubectl.kubernetes.io/last-applied-configuration" in first.metadata.annotations
    changed = yaml.safe_load(yaml.safe_dump(SERVICE))
    changed["spec"]["ports"][0]["targetPort"] = 9090
    changed["metadata"]["labels"] = {"tier": "front"}
    _write(tmp_path, "svc.yaml", changed)
    assert kubectl("apply", "-f", path).stdout.strip() == "service/web configured"
    second = core.read_namespaced_service("web", "default")
    assert second.spec.ports[0].target_port == 9090
    assert second.spec.ports[0].node_port == first.spec.ports[0].node_port
    assert second.spec.cluster_ip == first.spec.cluster_ip
    assert second.metadata.labels == {"tier": "front"}  # "app" was removed by the 3-way diff
    assert kubectl("apply", "-f", path).stdout.strip() == "service/web unchanged"

    cm_path = _write(tmp_path, "cm.yaml", CONFIGMAP)
    kubectl("apply", "-f", cm_path)
    _write(tmp_path, "cm.yaml", dict(CONFIGMAP, data={"b": "3"}))
    assert kubectl("apply", "-f", cm_path).stdout.strip() == "configmap/settings configured"
    assert core.read_namespaced_config_map("settings", "default").data == {"b": "3"}
    kubectl("delete", "-f", cm_path)


def test_server_side_apply_and_short_names(kubectl, tmp_path):
    path = _write(tmp_path, "cm.yaml", CONFIGMAP)
    assert kubectl("apply", "--server-side", "-f", path).stdout.strip() == (
        "configmap/settings serverside-applied")
    assert "settings" in kubectl("get", "cm").stdout
    kubectl("get", "ns", "kube-system")


def test_crd_then_custom_objects(kubectl, tmp_path):
    from tests.api.emulator.objects import SERVICE_MONITOR_CRD, service_monitor

    assert kubectl("apply", "-f", _write(tmp_path, "crd.yaml", SERVICE_MONITOR_CRD)
                   ).stdout.strip() == (
        "customresourcedefinition.apiextensions.k8s.io/servicemonitors.monitoring.coreos.com"
        " created")
    path = _write(tmp_path, "sm.yaml", service_monitor("metallb"))
    assert kubectl("apply", "-f", path).stdout.strip() == (
        "servicemonitor.monitoring.coreos.com/metallb created")
    _write(tmp_path, "sm.yaml", service_monitor("metallb", port="metrics"))
    assert kubectl("apply", "-f", path).stdout.strip() == (
        "servicemonitor.monitoring.coreos.com/metallb configured")
    assert kubectl("get", "smon", "metallb", "-o", "jsonpath={.spec.endpoints[0].port}"
                   ).stdout == "metrics"
    kubectl("delete", "-f", path)
