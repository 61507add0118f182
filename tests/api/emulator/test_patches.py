"""JSON merge patch, strategic merge patch (merge keys of the built-in kinds) and JSON
patch, through the official client."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.api.emulator.objects import (
    SERVICE_MONITOR_CRD,
    configmap,
    deployment,
    request,
    service,
    service_monitor,
)

SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def _patch(kube_client, path: str, body, content_type: str) -> tuple[int, dict]:
    return request(kube_client, "PATCH", path, body, content_type)


SVC = "/api/v1/namespaces/default/services/s"
DEP = "/apis/apps/v1/namespaces/default/deployments/d"


@pytest.fixture
def objects(kube_client):
    core = client.CoreV1Api(kube_client)
    core.create_namespaced_service("default", service("s", ports=[
        {"name": "http", "port": 80, "targetPort": 8080},
        {"name": "https", "port": 443}]))
    client.AppsV1Api(kube_client).create_namespaced_deployment("default", deployment("d", [
        {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"},
                                                  {"name": "B", "value": "2"}],
         "ports": [{"containerPort": 80, "name": "http"}],
         "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}]},
        {"name": "sidecar", "image": "side:1"}]))
    core.create_namespaced_config_map("default", configmap("c", {"a": "1", "b": "2"}))
    return core


def test_merge_patch_replaces_lists_and_deletes_with_null(kube_client, objects):
    status, svc = _patch(kube_client, SVC, {"spec": {"ports": [{"name": "x", "port": 81}]},
                                            "metadata": {"labels": {"l": "v"}}}, MERGE)
    assert status == 200
    assert [p["port"] for p in svc["spec"]["ports"]] == [81]
    status, cm = _patch(kube_client, "/api/v1/namespaces/default/configmaps/c",
                        {"data": {"a": None, "c": "3"}}, MERGE)
    assert cm["data"] == {"b": "2", "c": "3"}


def test_strategic_merge_on_service_ports_by_port(kube_client, objects):
    _status, svc = _patch(kube_client, SVC, {"spec": {"ports": [
        {"port": 80, "targetPort": 9090}, {"port": 8443, "name": "alt"}]}}, SMP)
    ports = {p["port"]: p for p in svc["spec"]["ports"]}
    assert sorted(ports) == [80, 443, 8443]
    assert ports[80]["targetPort"] == 9090 and ports[80]["name"] == "http"
    assert ports[8443]["protocol"] == "TCP" and ports[8443]["nodePort"]


def test_strategic_merge_delete_directive(kube_client, objects):
    _status, svc = _patch(kube_client, SVC, {"spec": {"ports": [
        {"port": 443, "$patch": "delete"}]}}, SMP)
    assert [p["port"] for p in svc["spec"]["ports"]] == [80]


def test_strategic_merge_on_containers_env_ports_and_mounts(kube_client, objects):
    _status, dep = _patch(kube_client, DEP, {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "app:2",
         "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
         "ports": [{"containerPort": 9100, "name": "metrics"}],
         "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}}}, SMP)
    containers = {c["name"]: c for c in dep["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"app", "sidecar"}
    app = containers["app"]
    assert app["image"] == "app:2"
    assert {e["name"]: e["value"] for e in app["env"]} == {"A": "1", "B": "20", "C": "3"}
    assert [p["containerPort"] for p in app["ports"]] == [80, 9100]
    assert [m["mountPath"] for m in app["volumeMounts"]] == ["/etc/cfg", "/data"]
    assert dep["metadata"]["generation"] == 2


def test_strategic_merge_replaces_lists_without_merge_key(kube_client, objects):
    _status, dep = _patch(kube_client, DEP, {"spec": {"template": {"spec": {
        "tolerations": [{"key": "a", "operator": "Exists"}]}}}}, SMP)
    _status, dep = _patch(kube_client, DEP, {"spec": {"template": {"spec": {
        "tolerations": [{"key": "b", "operator": "Exists"}]}}}}, SMP)
    assert dep["spec"]["template"]["spec"]["tolerations"] == [{"key": "b",
                                                               "operator": "Exists"}]


def test_strategic_merge_unions_finalizers_and_merges_conditions(kube_client, objects):
    _patch(kube_client, SVC, {"metadata": {"finalizers": ["a/x"]}}, SMP)
    _status, svc = _patch(kube_client, SVC, {"metadata": {"finalizers": ["b/y"]}}, SMP)
    assert svc["metadata"]["finalizers"] == ["a/x", "b/y"]
    status_path = "/apis/apps/v1/namespaces/default/deployments/d/status"
    _patch(kube_client, status_path, {"status": {"conditions": [
        {"type": "Available", "status": "False"}, {"type": "Progressing", "status": "True"}]}},
        SMP)
    _status, dep = _patch(kube_client, status_path, {"status": {"conditions": [
        {"type": "Available", "status": "True"}]}}, SMP)
    assert {c["type"]: c["status"] for c in dep["status"]["conditions"]} == {
        "Available": "True", "Progressing": "True"}


def test_typed_client_patch_uses_strategic_merge(objects):
    svc = objects.patch_namespaced_service("s", "default", {"spec": {"ports": [
        {"port": 443, "targetPort": 8443}]}})
    assert [p.port for p in svc.spec.ports] == [80, 443]


def test_json_patch_operations(kube_client, objects):
    status, cm = _patch(kube_client, "/api/v1/namespaces/default/configmaps/c", [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "remove", "path": "/data/b"},
        {"op": "add", "path": "/metadata/labels", "value": {"app": "web"}},
        {"op": "copy", "from": "/data/a", "path": "/data/copy"},
        {"op": "move", "from": "/data/copy", "path": "/data/moved"},
    ], JSON_PATCH)
    assert status == 200
    assert cm["data"] == {"a": "10", "moved": "10"}
    status, svc = _patch(kube_client, SVC, [
        {"op": "add", "path": "/spec/ports/-", "value": {"name": "x", "port": 9000}},
        {"op": "remove", "path": "/spec/ports/0"}], JSON_PATCH)
    assert [p["port"] for p in svc["spec"]["ports"]] == [443, 9000]


def test_failed_json_patch_test_is_422_and_changes_nothing(kube_client, objects):
    status, body = _patch(kube_client, "/api/v1/namespaces/default/configmaps/c", [
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "test", "path": "/data/b", "value": "nope"}], JSON_PATCH)
    assert status == 422 and body["kind"] == "Status"
    assert objects.read_namespaced_config_map("c", "default").data == {"a": "1", "b": "2"}


def test_patch_missing_object_is_404(objects):
    with pytest.raises(ApiException) as err:
        objects.patch_namespaced_config_map("nope", "default", {"data": {"a": "1"}})
    assert err.value.status == 404


def test_strategic_merge_on_custom_object_is_415(kube_client):
    client.ApiextensionsV1Api(kube_client).create_custom_resource_definition(
        SERVICE_MONITOR_CRD)
    client.CustomObjectsApi(kube_client).create_namespaced_custom_object(
        "monitoring.coreos.com", "v1", "default", "servicemonitors", service_monitor("m"))
    path = "/apis/monitoring.coreos.com/v1/namespaces/default/servicemonitors/m"
    status, body = _patch(kube_client, path, {"spec": {"jobLabel": "x"}}, SMP)
    assert status == 415 and body["reason"] == "UnsupportedMediaType"
    status, body = _patch(kube_client, path, {"spec": {"jobLabel": "x"}}, MERGE)
    assert status == 200 and body["spec"]["jobLabel"] == "x"


def test_unknown_patch_content_type_is_415(kube_client, objects):
    status, _body = _patch(kube_client, SVC, json.dumps({"spec": {}}), "text/plain")
    assert status == 415
