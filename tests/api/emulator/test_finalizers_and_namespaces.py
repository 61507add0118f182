"""Finalizers hold deletion (deletionTimestamp) until removed; deleting a namespace
removes everything in it."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.api.emulator.objects import (
    SERVICE_MONITOR_CRD,
    configmap,
    namespace,
    service,
    service_monitor,
)


@pytest.fixture
def core(kube_client):
    return client.CoreV1Api(kube_client)


def _gone(read) -> bool:
    try:
        read()
    except ApiException as exc:
        return exc.status == 404
    return False


def test_delete_with_finalizer_marks_then_removes(core):
    body = service("s")
    body["metadata"]["finalizers"] = ["metallb.io/test"]
    core.create_namespaced_service("default", body)
    core.delete_namespaced_service("s", "default")
    marked = core.read_namespaced_service("s", "default")
    assert marked.metadata.deletion_timestamp is not None
    assert marked.metadata.finalizers == ["metallb.io/test"]
    core.delete_namespaced_service("s", "default")  # again: still waiting, no error
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_service("s", "default", {"metadata": {
            "finalizers": ["metallb.io/test", "other/new"]}})
    assert err.value.status == 403
    core.patch_namespaced_service("s", "default", {"metadata": {"finalizers": None}})
    assert _gone(lambda: core.read_namespaced_service("s", "default"))


def test_delete_preconditions(core):
    created = core.create_namespaced_config_map("default", configmap("c"))
    core.patch_namespaced_config_map("c", "default", {"data": {"a": "1"}})
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map("c", "default", body={
            "preconditions": {"resourceVersion": created.metadata.resource_version}})
    assert err.value.status == 409
    core.delete_namespaced_config_map("c", "default", body={
        "preconditions": {"uid": created.metadata.uid}})
    assert _gone(lambda: core.read_namespaced_config_map("c", "default"))


def test_namespace_deletion_removes_its_objects(core, kube_client):
    core.create_namespace(namespace("team"))
    core.create_namespaced_config_map("team", configmap("c"))
    core.create_namespaced_service("team", service("s"))
    client.ApiextensionsV1Api(kube_client).create_custom_resource_definition(
        SERVICE_MONITOR_CRD)
    client.CustomObjectsApi(kube_client).create_namespaced_custom_object(
        "monitoring.coreos.com", "v1", "team", "servicemonitors", service_monitor("m"))
    core.create_namespaced_config_map("default", configmap("elsewhere"))
    core.delete_namespace("team")
    assert _gone(lambda: core.read_namespace("team"))
    assert core.list_service_for_all_namespaces().items == []
    assert [c.metadata.name for c in core.list_config_map_for_all_namespaces().items] == [
        "elsewhere"]
    assert client.CustomObjectsApi(kube_client).list_cluster_custom_object(
        "monitoring.coreos.com", "v1", "servicemonitors")["items"] == []


def test_namespace_waits_for_finalized_objects_and_refuses_new_ones(core):
    core.create_namespace(namespace("team"))
    body = configmap("held")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    core.create_namespaced_config_map("team", body)
    core.delete_namespace("team")
    terminating = core.read_namespace("team")
    assert terminating.status.phase == "Terminating"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("team", configmap("new"))
    assert err.value.status == 403 and "being terminated" in err.value.body
    # strategic merge unions finalizer lists: [] would change nothing, null clears them
    core.patch_namespaced_config_map("held", "team", {"metadata": {"finalizers": None}})
    assert _gone(lambda: core.read_namespace("team"))
