"""Server-side apply (application/apply-patch+yaml): create or merge, field managers in
metadata.managedFields, conflicts between managers, force, and fields given up."""

from __future__ import annotations

import pytest
import yaml
from kubernetes import client, dynamic

from tests.api.emulator.objects import request

APPLY = "application/apply-patch+yaml"
CM_PATH = "/api/v1/namespaces/default/configmaps/cfg"


def _apply(kube_client, path: str, body: dict, manager: str, force: bool = False,
           ) -> tuple[int, dict]:
    query = f"?fieldManager={manager}" + ("&force=true" if force else "")
    return request(kube_client, "PATCH", path + query, yaml.safe_dump(body), APPLY)


def _cm(data: dict, labels: dict | None = None) -> dict:
    meta = {"name": "cfg"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def test_apply_creates_then_merges(kube_client):
    status, created = _apply(kube_client, CM_PATH, _cm({"a": "1"}), "tool")
    assert status == 201
    [entry] = created["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("tool", "Apply")
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}}}
    status, updated = _apply(kube_client, CM_PATH, _cm({"a": "2", "b": "3"}), "tool")
    assert status == 200 and updated["data"] == {"a": "2", "b": "3"}


def test_fields_no_longer_applied_are_removed(kube_client):
    _apply(kube_client, CM_PATH, _cm({"a": "1", "b": "2"}, {"x": "y"}), "tool")
    _status, obj = _apply(kube_client, CM_PATH, _cm({"a": "1"}), "tool")
    assert obj["data"] == {"a": "1"}
    assert "x" not in (obj["metadata"].get("labels") or {})


def test_two_managers_share_an_object_and_conflict_on_one_field(kube_client):
    _apply(kube_client, CM_PATH, _cm({"a": "1"}), "first")
    status, obj = _apply(kube_client, CM_PATH, _cm({"b": "2"}), "second")
    assert status == 200 and obj["data"] == {"a": "1", "b": "2"}
    status, body = _apply(kube_client, CM_PATH, _cm({"a": "changed"}), "second")
    assert status == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        'Apply failed with 1 conflict: conflict with "first" using v1: .data.a')
    status, obj = _apply(kube_client, CM_PATH, _cm({"a": "changed", "b": "2"}), "second",
                         force=True)
    assert status == 200 and obj["data"]["a"] == "changed"
    owners = {e["manager"]: e["fieldsV1"] for e in obj["metadata"]["managedFields"]}
    assert "first" not in owners
    assert owners["second"] == {"f:data": {"f:a": {}, "f:b": {}}}


def test_same_value_from_two_managers_is_no_conflict_and_kept_while_shared(kube_client):
    _apply(kube_client, CM_PATH, _cm({"a": "1"}), "first")
    status, _obj = _apply(kube_client, CM_PATH, _cm({"a": "1"}), "second")
    assert status == 200
    _status, obj = _apply(kube_client, CM_PATH, _cm({}), "first")
    assert obj["data"] == {"a": "1"}  # still owned by "second"


def test_update_takes_ownership_then_apply_conflicts(kube_client):
    _apply(kube_client, CM_PATH, _cm({"a": "1"}), "tool")
    client.CoreV1Api(kube_client).patch_namespaced_config_map(
        "cfg", "default", {"data": {"a": "edited"}}, field_manager="kubectl-edit")
    status, body = _apply(kube_client, CM_PATH, _cm({"a": "1"}), "tool")
    assert status == 409 and 'conflict with "kubectl-edit"' in body["message"]


def test_apply_merges_service_ports_by_key_and_keeps_status(kube_client):
    path = "/api/v1/namespaces/default/services/web"
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}]}}
    status, svc = _apply(kube_client, path, body, "deployer")
    assert status == 201 and svc["spec"]["clusterIP"] and svc["spec"]["ports"][0]["nodePort"]
    client.CoreV1Api(kube_client).patch_namespaced_service_status("web", "default", {
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}})
    body["spec"]["ports"][0]["targetPort"] = 8080
    _status, svc = _apply(kube_client, path, body, "deployer")
    assert svc["spec"]["ports"][0]["targetPort"] == 8080
    assert svc["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.10", "ipMode": "VIP"}]


def test_apply_needs_field_manager(kube_client):
    status, body = request(kube_client, "PATCH", CM_PATH, yaml.safe_dump(_cm({})), APPLY)
    assert status == 400 and "require fieldManager" in body["message"]


def test_dynamic_client_server_side_apply(kube_client):
    dyn = dynamic.DynamicClient(kube_client)
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    obj = cms.server_side_apply(body=_cm({"k": "v"}), namespace="default",
                                field_manager="dyn")
    assert obj.data.k == "v"


@pytest.mark.parametrize("path", ["/api/v1/namespaces/default/configmaps/other"])
def test_apply_name_must_match_url(kube_client, path):
    status, _body = _apply(kube_client, path, _cm({}), "tool")
    assert status == 400
