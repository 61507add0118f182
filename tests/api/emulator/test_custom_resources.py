"""CustomResourceDefinitions and their objects through CustomObjectsApi."""

from __future__ import annotations

import copy
import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.api.emulator.objects import SERVICE_MONITOR_CRD, service_monitor

GVP = ("monitoring.coreos.com", "v1")


@pytest.fixture
def custom(kube_client):
    ext = client.ApiextensionsV1Api(kube_client)
    crd = ext.create_custom_resource_definition(SERVICE_MONITOR_CRD)
    assert {c.type: c.status for c in crd.status.conditions}["Established"] == "True"
    return client.CustomObjectsApi(kube_client)


def test_custom_object_crud(custom):
    created = custom.create_namespaced_custom_object(*GVP, "default", "servicemonitors",
                                                     service_monitor("m"))
    assert created["metadata"]["generation"] == 1 and created["metadata"]["uid"]
    got = custom.get_namespaced_custom_object(*GVP, "default", "servicemonitors", "m")
    got["spec"]["endpoints"][0]["interval"] = "10s"
    replaced = custom.replace_namespaced_custom_object(*GVP, "default", "servicemonitors", "m",
                                                       got)
    assert replaced["metadata"]["generation"] == 2
    listed = custom.list_namespaced_custom_object(*GVP, "default", "servicemonitors")
    assert listed["kind"] == "ServiceMonitorList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["m"]
    custom.delete_namespaced_custom_object(*GVP, "default", "servicemonitors", "m")
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(*GVP, "default", "servicemonitors", "m")
    assert err.value.status == 404
    assert json.loads(err.value.body)["message"] == (
        'servicemonitors.monitoring.coreos.com "m" not found')


def test_unknown_custom_kind_is_404(kube_client):
    with pytest.raises(ApiException) as err:
        client.CustomObjectsApi(kube_client).list_namespaced_custom_object(
            *GVP, "default", "servicemonitors")
    assert err.value.status == 404


def test_deleting_the_crd_deletes_its_objects(kube_client, custom):
    custom.create_namespaced_custom_object(*GVP, "default", "servicemonitors",
                                           service_monitor("m"))
    client.ApiextensionsV1Api(kube_client).delete_custom_resource_definition(
        "servicemonitors.monitoring.coreos.com")
    client.ApiextensionsV1Api(kube_client).create_custom_resource_definition(
        SERVICE_MONITOR_CRD)
    assert custom.list_namespaced_custom_object(*GVP, "default", "servicemonitors")[
        "items"] == []


def test_crd_name_must_match_plural_and_group(kube_client):
    bad = copy.deepcopy(SERVICE_MONITOR_CRD)
    bad["metadata"]["name"] = "wrong"
    with pytest.raises(ApiException) as err:
        client.ApiextensionsV1Api(kube_client).create_custom_resource_definition(bad)
    assert err.value.status == 422


def test_cluster_scoped_custom_kind(kube_client):
    crd = copy.deepcopy(SERVICE_MONITOR_CRD)
    crd["metadata"]["name"] = "bgppeers.metallb.io"
    crd["spec"].update(group="metallb.io", scope="Cluster",
                       names={"plural": "bgppeers", "kind": "BGPPeer"})
    client.ApiextensionsV1Api(kube_client).create_custom_resource_definition(crd)
    custom = client.CustomObjectsApi(kube_client)
    custom.create_cluster_custom_object("metallb.io", "v1", "bgppeers", {
        "apiVersion": "metallb.io/v1", "kind": "BGPPeer", "metadata": {"name": "p"},
        "spec": {"peerASN": 64512}})
    assert custom.get_cluster_custom_object("metallb.io", "v1", "bgppeers", "p")[
        "spec"] == {"peerASN": 64512}


def test_watch_custom_objects(apiserver, custom):
    from kubernetes import watch

    rv = custom.list_namespaced_custom_object(*GVP, "default", "servicemonitors")[
        "metadata"]["resourceVersion"]
    custom.create_namespaced_custom_object(*GVP, "default", "servicemonitors",
                                           service_monitor("m"))
    custom.delete_namespaced_custom_object(*GVP, "default", "servicemonitors", "m")
    seen = []
    w = watch.Watch()
    for event in w.stream(custom.list_namespaced_custom_object, *GVP, "default",
                          "servicemonitors", resource_version=rv, timeout_seconds=5):
        seen.append((event["type"], event["object"]["metadata"]["name"]))
        if len(seen) == 2:
            w.stop()
    assert seen == [("ADDED", "m"), ("DELETED", "m")]


STRICT_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "bgppeers.metallb.io"},
    "spec": {"group": "metallb.io", "scope": "Namespaced",
             "names": {"plural": "bgppeers", "kind": "BGPPeer"},
             "versions": [{"name": "v1beta1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {
                               "type": "object", "required": ["metadata", "spec"],
                               "properties": {
                               "spec": {"type": "object", "required": ["peerASN"],
                                        "properties": {
                                            "peerASN": {"type": "integer", "minimum": 1},
                                            "peerAddress": {"type": "string"},
                                            "extra": {"type": "object",
                                                      "x-kubernetes-preserve-unknown-fields":
                                                          True}}},
                               "status": {"type": "object", "properties": {
                                   "up": {"type": "boolean"}}}}}}}]},
}


def _peer(spec):
    return {"apiVersion": "metallb.io/v1beta1", "kind": "BGPPeer",
            "metadata": {"name": "p"}, "spec": spec}


def test_schema_prunes_unknown_fields_and_validates(kube_client):
    client.ApiextensionsV1Api(kube_client).create_custom_resource_definition(STRICT_CRD)
    custom = client.CustomObjectsApi(kube_client)
    peers = ("metallb.io", "v1beta1", "default", "bgppeers")
    created = custom.create_namespaced_custom_object(*peers, _peer(
        {"peerASN": 64512, "unknown": 1, "extra": {"kept": True}}))
    assert created["spec"] == {"peerASN": 64512, "extra": {"kept": True}}
    for bad, field in [({"peerAddress": "192.0.2.1"}, "spec.peerASN"),
                       ({"peerASN": "many"}, "spec.peerASN"),
                       ({"peerASN": 0}, "spec.peerASN")]:
        body = _peer(bad)
        body["metadata"]["name"] = "q"
        with pytest.raises(ApiException) as err:
            custom.create_namespaced_custom_object(*peers, body)
        assert err.value.status == 422
        answer = json.loads(err.value.body)
        assert answer["message"].startswith('BGPPeer.metallb.io "q" is invalid: ')
        assert [c["field"] for c in answer["details"]["causes"]] == [field]
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object_status(*peers[:3], "bgppeers", "p", {
            "status": {"up": "yes"}})
    assert err.value.status == 422
    assert custom.patch_namespaced_custom_object_status(*peers[:3], "bgppeers", "p", {
        "status": {"up": True, "noise": 1}})["status"] == {"up": True}
