"""Create / get / list / replace / delete through the official client, with the status
codes, server-filled fields and error bodies of the real API server."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from lab.apiserver import storage
from tests.api.emulator.objects import configmap, request, service


@pytest.fixture
def core(kube_client):
    return client.CoreV1Api(kube_client)


def _error(exc: ApiException) -> dict:
    return json.loads(exc.body)


def test_create_fills_server_fields_and_answers_201(core):
    response = core.create_namespaced_config_map(
        "default", configmap("c1", {"k": "v"}), _preload_content=False)
    assert response.status == 201
    created = json.loads(response.data)
    meta = created["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) > 0
    assert meta["namespace"] == "default"
    assert created["data"] == {"k": "v"}


def test_generate_name(core):
    body = configmap("")
    body["metadata"] = {"generateName": "gen-"}
    created = core.create_namespaced_config_map("default", body)
    assert created.metadata.name.startswith("gen-") and len(created.metadata.name) == 9


def test_create_twice_is_already_exists(core):
    core.create_namespaced_config_map("default", configmap("dup"))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", configmap("dup"))
    assert err.value.status == 409
    body = _error(err.value)
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "dup" already exists'


def test_get_missing_is_404_with_status(core):
    with pytest.raises(ApiException) as err:
        core.read_namespaced_service("nope", "default")
    assert err.value.status == 404
    body = _error(err.value)
    assert (body["kind"], body["reason"]) == ("Status", "NotFound")
    assert body["message"] == 'services "nope" not found'
    assert body["details"] == {"kind": "services", "name": "nope"}


def test_list_has_list_kind_and_resource_version(core, kube_client):
    core.create_namespaced_config_map("default", configmap("a"))
    core.create_namespaced_config_map("kube-system", configmap("b"))
    listed = core.list_namespaced_config_map("default")
    assert [i.metadata.name for i in listed.items] == ["a"]
    assert int(listed.metadata.resource_version) >= int(listed.items[0].metadata.
                                                        resource_version)
    raw = json.loads(core.list_config_map_for_all_namespaces(_preload_content=False).data)
    assert raw["kind"] == "ConfigMapList" and raw["apiVersion"] == "v1"
    assert sorted(i["metadata"]["name"] for i in raw["items"]) == ["a", "b"]


def test_list_pages_with_limit_and_continue(core):
    for i in range(5):
        core.create_namespaced_config_map("default", configmap(f"p{i}"))
    first = core.list_namespaced_config_map("default", limit=2)
    assert [i.metadata.name for i in first.items] == ["p0", "p1"]
    second = core.list_namespaced_config_map("default", limit=2,
                                             _continue=first.metadata.var_continue)
    third = core.list_namespaced_config_map("default", limit=2,
                                            _continue=second.metadata.var_continue)
    assert [i.metadata.name for i in second.items + third.items] == ["p2", "p3", "p4"]
    assert not third.metadata.var_continue


def test_every_page_comes_from_the_first_pages_snapshot(core, monkeypatch):
    for i in range(4):
        core.create_namespaced_config_map("default", configmap(f"s{i}", {"v": "old"}))
    first = core.list_namespaced_config_map("default", limit=2)
    # Changes after the first page: a later page still shows the list as it was.
    core.patch_namespaced_config_map("s3", "default", {"data": {"v": "new"}})
    core.delete_namespaced_config_map("s2", "default")
    core.create_namespaced_config_map("default", configmap("s9"))
    rest = core.list_namespaced_config_map("default", limit=10,
                                           _continue=first.metadata.var_continue)
    assert [(i.metadata.name, i.data["v"]) for i in rest.items] == [("s2", "old"),
                                                                   ("s3", "old")]
    assert rest.metadata.resource_version == first.metadata.resource_version
    assert not rest.metadata.var_continue
    # A snapshot that expired (etcd compacted it) is a 410 Gone.
    again = core.list_namespaced_config_map("default", limit=1)
    monkeypatch.setattr(storage._Snapshots, "EXPIRE_S", -1.0)
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map("default", limit=1,
                                        _continue=again.metadata.var_continue)
    assert err.value.status == 410
    assert json.loads(err.value.body)["reason"] == "Expired"


def test_replace_and_delete(core):
    created = core.create_namespaced_config_map("default", configmap("r", {"a": "1"}))
    created.data = {"a": "2"}
    replaced = core.replace_namespaced_config_map("r", "default", created)
    assert replaced.data == {"a": "2"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    assert replaced.metadata.uid == created.metadata.uid
    deleted = json.loads(core.delete_namespaced_config_map("r", "default",
                                                           _preload_content=False).data)
    assert deleted["metadata"]["name"] == "r"
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map("r", "default")
    assert err.value.status == 404


def test_delete_collection_by_label(core):
    core.create_namespaced_config_map("default", configmap("x1", labels={"t": "x"}))
    core.create_namespaced_config_map("default", configmap("x2", labels={"t": "x"}))
    core.create_namespaced_config_map("default", configmap("keep"))
    core.delete_collection_namespaced_config_map("default", label_selector="t=x")
    assert [c.metadata.name for c in core.list_namespaced_config_map("default").items] == [
        "keep"]


def test_missing_name_is_422_invalid(core):
    body = configmap("")
    body["metadata"] = {}
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", body)
    assert err.value.status == 422
    body = _error(err.value)
    assert body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert "name or generateName is required" in body["message"]


def test_bad_name_is_422_invalid(core):
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service("default", service("Bad_Name"))
    assert err.value.status == 422
    assert 'Service "Bad_Name" is invalid: metadata.name: Invalid value' in _error(
        err.value)["message"]


def test_wrong_kind_or_api_version_in_body_is_rejected(core, kube_client):
    """The real server answers 400 BadRequest here (the body does not decode into the
    expected type), not 422."""
    status, answer = request(kube_client, "POST", "/api/v1/namespaces/default/services",
                             configmap("c"))
    assert status == 400
    assert answer["reason"] == "BadRequest"
    assert "must be of type Service" in answer["message"]
    body = configmap("c")
    body["apiVersion"] = "v2"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", body)
    assert err.value.status == 400
    assert "does not match the expected API version (v1)" in _error(err.value)["message"]


def test_unknown_namespace_is_404(core):
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("missing", configmap("c"))
    assert err.value.status == 404
    assert _error(err.value)["message"] == 'namespaces "missing" not found'


def test_namespace_mismatch_is_400(core):
    body = configmap("c")
    body["metadata"]["namespace"] = "kube-system"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", body)
    assert err.value.status == 400


def test_dry_run_stores_nothing(core):
    core.create_namespaced_config_map("default", configmap("dry"), dry_run="All")
    assert core.list_namespaced_config_map("default").items == []


def test_initial_namespaces_exist(core):
    names = {n.metadata.name for n in core.list_namespace().items}
    assert {"default", "kube-system"} <= names
    assert core.read_namespace("default").status.phase == "Active"


def test_every_required_kind_round_trips(kube_client):
    """Create and read back one object of every built-in kind the issue lists."""
    bodies = [
        ("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": "extra"}}),
        ("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}),
        ("/api/v1/namespaces/default/secrets", {"apiVersion": "v1", "kind": "Secret",
                                                "metadata": {"name": "s"}, "type": "Opaque"}),
        ("/api/v1/namespaces/default/events", {"apiVersion": "v1", "kind": "Event",
                                               "metadata": {"name": "e"},
                                               "involvedObject": {"kind": "Service"}}),
        ("/api/v1/namespaces/default/serviceaccounts", {"apiVersion": "v1",
                                                        "kind": "ServiceAccount",
                                                        "metadata": {"name": "sa"}}),
        ("/api/v1/namespaces/default/endpoints", {"apiVersion": "v1", "kind": "Endpoints",
                                                  "metadata": {"name": "ep"}}),
        ("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
         {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
          "metadata": {"name": "es"}, "addressType": "IPv4", "endpoints": []}),
        ("/apis/coordination.k8s.io/v1/namespaces/default/leases",
         {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
          "spec": {"holderIdentity": "me"}}),
        ("/apis/events.k8s.io/v1/namespaces/default/events",
         {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e2"},
          "reason": "R"}),
        ("/apis/apps/v1/namespaces/default/daemonsets",
         {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
          "spec": {"selector": {"matchLabels": {"a": "b"}}}}),
        ("/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
          "metadata": {"name": "r"}, "rules": []}),
        ("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
          "metadata": {"name": "rb"}, "roleRef": {"kind": "Role", "name": "r",
                                                   "apiGroup": "rbac.authorization.k8s.io"}}),
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
          "metadata": {"name": "system:cr"}, "rules": []}),
        ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
         {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
          "metadata": {"name": "crb"}, "roleRef": {"kind": "ClusterRole", "name": "system:cr",
                                                    "apiGroup": "rbac.authorization.k8s.io"}}),
    ]
    for path, body in bodies:
        status, created = request(kube_client, "POST", path, body)
        assert status == 201, created
        assert created["kind"] == body["kind"]
        status, read = request(kube_client, "GET", f"{path}/{body['metadata']['name']}")
        assert status == 200
        assert read["metadata"]["uid"] == created["metadata"]["uid"]
