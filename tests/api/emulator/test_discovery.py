"""Discovery documents that generic clients (kubectl, the dynamic client) depend on."""

from __future__ import annotations

from kubernetes import client, dynamic

from tests.api.emulator.objects import SERVICE_MONITOR_CRD, request


def test_version_and_core_group(kube_client):
    assert client.VersionApi(kube_client).get_code().major == "1"
    status, api = request(kube_client, "GET", "/api")
    assert status == 200 and api["kind"] == "APIVersions" and api["versions"] == ["v1"]


def test_core_resource_list_has_verbs_kind_and_short_names(kube_client):
    _status, doc = request(kube_client, "GET", "/api/v1")
    by_name = {r["name"]: r for r in doc["resources"]}
    assert by_name["services"]["kind"] == "Service"
    assert by_name["services"]["shortNames"] == ["svc"]
    assert by_name["configmaps"]["shortNames"] == ["cm"]
    assert by_name["services"]["namespaced"] is True
    assert by_name["nodes"]["namespaced"] is False
    assert {"get", "list", "watch", "create", "update", "patch", "delete"} <= set(
        by_name["services"]["verbs"])
    assert by_name["services/status"]["verbs"] == ["get", "patch", "update"]
    assert "configmaps/status" not in by_name


def test_groups_list_every_required_group(kube_client):
    _status, doc = request(kube_client, "GET", "/apis")
    names = {g["name"] for g in doc["groups"]}
    assert {"apps", "discovery.k8s.io", "coordination.k8s.io", "events.k8s.io",
            "rbac.authorization.k8s.io", "apiextensions.k8s.io"} <= names
    _status, leases = request(kube_client, "GET", "/apis/coordination.k8s.io/v1")
    assert [r["name"] for r in leases["resources"]] == ["leases"]


def test_custom_kind_is_discovered_once_its_crd_exists(kube_client):
    assert request(kube_client, "GET", "/apis/monitoring.coreos.com/v1")[0] == 404
    ext = client.ApiextensionsV1Api(kube_client)
    ext.create_custom_resource_definition(SERVICE_MONITOR_CRD)
    status, doc = request(kube_client, "GET", "/apis/monitoring.coreos.com/v1")
    assert status == 200
    assert {r["name"] for r in doc["resources"]} == {"servicemonitors",
                                                     "servicemonitors/status"}
    _status, groups = request(kube_client, "GET", "/apis")
    assert "monitoring.coreos.com" in {g["name"] for g in groups["groups"]}
    ext.delete_custom_resource_definition("servicemonitors.monitoring.coreos.com")
    assert request(kube_client, "GET", "/apis/monitoring.coreos.com/v1")[0] == 404


def test_dynamic_client_resolves_kinds_through_discovery(kube_client):
    dyn = dynamic.DynamicClient(kube_client)
    services = dyn.resources.get(api_version="v1", kind="Service")
    created = services.create(namespace="default", body={
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "dyn"},
        "spec": {"ports": [{"port": 80}]}})
    assert created.spec.clusterIP
    leases = dyn.resources.get(api_version="coordination.k8s.io/v1", kind="Lease")
    assert leases.get(namespace="default").items == []


def test_openapi_v3_index_is_well_formed(kube_client):
    status, root = request(kube_client, "GET", "/openapi/v3")
    assert status == 200 and "api/v1" in root["paths"]
