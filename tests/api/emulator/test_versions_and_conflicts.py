"""One global, increasing resourceVersion and optimistic concurrency (409 on stale)."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.api.emulator.objects import configmap, service


@pytest.fixture
def core(kube_client):
    return client.CoreV1Api(kube_client)


def test_resource_version_is_global_and_increasing(core):
    versions = []
    for i in range(3):
        versions.append(int(core.create_namespaced_config_map(
            "default", configmap(f"c{i}")).metadata.resource_version))
        versions.append(int(core.create_namespaced_service(
            "default", service(f"s{i}")).metadata.resource_version))
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    items = core.list_namespaced_config_map("default").items
    assert items and all(isinstance(v.metadata.resource_version, str) for v in items)


def test_stale_update_is_conflict_like_the_real_server(core):
    created = core.create_namespaced_service("default", service("x"))
    fresh = core.read_namespaced_service("x", "default")
    fresh.metadata.labels = {"first": "writer"}
    core.replace_namespaced_service("x", "default", fresh)
    created.metadata.labels = {"second": "writer"}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_service("x", "default", created)
    assert err.value.status == 409
    body = json.loads(err.value.body)
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on services "x": the object has been modified; '
        "please apply your changes to the latest version and try again")
    assert body["details"] == {"kind": "services", "name": "x"}


def test_stale_status_write_and_stale_patch_conflict(core):
    created = core.create_namespaced_service("default", service("x"))
    core.patch_namespaced_service("x", "default", {"metadata": {"labels": {"a": "b"}}})
    created.status = {"loadBalancer": {"ingress": [{"ip": "192.0.2.9"}]}}
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_service_status("x", "default", created)
    assert err.value.status == 409
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_service("x", "default", {"metadata": {
            "resourceVersion": created.metadata.resource_version, "labels": {"c": "d"}}})
    assert err.value.status == 409


def test_unconditional_update_without_resource_version_is_allowed(core):
    core.create_namespaced_config_map("default", configmap("u", {"a": "1"}))
    assert core.replace_namespaced_config_map("u", "default", configmap(
        "u", {"a": "2"})).data == {"a": "2"}


def test_no_op_write_keeps_resource_version(core):
    created = core.create_namespaced_config_map("default", configmap("n", {"a": "1"}))
    same = core.patch_namespaced_config_map("n", "default", {"data": {"a": "1"}})
    assert same.metadata.resource_version == created.metadata.resource_version


def test_managed_fields_record_the_manager(core):
    core.create_namespaced_config_map("default", configmap("m", {"a": "1"}),
                                      field_manager="creator")
    obj = core.patch_namespaced_config_map("m", "default", {"data": {"b": "2"}},
                                           field_manager="patcher")
    managers = {e.manager: e for e in obj.metadata.managed_fields}
    assert managers["creator"].operation == "Update"
    assert "f:b" in managers["patcher"].fields_v1["f:data"]
    assert "f:b" not in managers["creator"].fields_v1["f:data"]
