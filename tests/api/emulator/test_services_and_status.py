"""Service defaults the real server fills in, and the status subresource's isolation."""

from __future__ import annotations

import ipaddress
import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.api.emulator.objects import (
    SERVICE_MONITOR_CRD,
    deployment,
    request,
    service,
    service_monitor,
)


@pytest.fixture
def core(kube_client):
    return client.CoreV1Api(kube_client)


def test_load_balancer_defaults(core):
    svc = core.create_namespaced_service("default", service("lb", ports=[
        {"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]))
    spec = svc.spec
    assert ipaddress.ip_address(spec.cluster_ip) in ipaddress.ip_network("10.96.0.0/12")
    assert spec.cluster_ips == [spec.cluster_ip]
    assert spec.ip_families == ["IPv4"] and spec.ip_family_policy == "SingleStack"
    assert spec.external_traffic_policy == "Cluster"
    assert [p.protocol for p in spec.ports] == ["TCP", "UDP"]
    assert all(30000 <= p.node_port <= 32767 for p in spec.ports)
    assert len({p.node_port for p in spec.ports}) == 2
    assert [p.target_port for p in spec.ports] == [80, 53]
    assert svc.status.load_balancer.ingress is None


def test_cluster_ip_defaults(core):
    spec = core.create_namespaced_service("default", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "plain"},
        "spec": {"ports": [{"port": 80}]}}).spec
    assert spec.type == "ClusterIP"
    assert spec.external_traffic_policy is None and spec.ports[0].node_port is None


def test_dual_stack_gets_one_address_per_family(core):
    spec = core.create_namespaced_service("default", service(
        "dual", ip_family_policy="RequireDualStack")).spec
    assert spec.ip_families == ["IPv4", "IPv6"]
    assert [ipaddress.ip_address(ip).version for ip in spec.cluster_ips] == [4, 6]


def test_two_services_never_share_cluster_ip_or_node_port(core):
    a = core.create_namespaced_service("default", service("a")).spec
    b = core.create_namespaced_service("default", service("b")).spec
    assert a.cluster_ip != b.cluster_ip
    assert a.ports[0].node_port != b.ports[0].node_port
    body = service("c")
    body["spec"]["ports"][0]["nodePort"] = a.ports[0].node_port
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service("default", body)
    assert err.value.status == 422 and "provided port is already allocated" in err.value.body


def test_node_port_is_free_again_after_delete(core):
    first = core.create_namespaced_service("default", service("a")).spec.ports[0].node_port
    core.delete_namespaced_service("a", "default")
    body = service("b")
    body["spec"]["ports"][0]["nodePort"] = first
    assert core.create_namespaced_service("default", body).spec.ports[0].node_port == first


def test_replace_without_cluster_ip_keeps_it_and_change_is_invalid(core):
    created = core.create_namespaced_service("default", service("keep"))
    body = service("keep")
    body["metadata"]["resourceVersion"] = created.metadata.resource_version
    replaced = core.replace_namespaced_service("keep", "default", body)
    assert replaced.spec.cluster_ip == created.spec.cluster_ip
    assert replaced.spec.ports[0].node_port == created.spec.ports[0].node_port
    body = service("keep", cluster_ip="10.96.9.9")
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_service("keep", "default", body)
    assert err.value.status == 422 and "may not change once set" in err.value.body


def test_missing_ports_and_bad_type_are_invalid(core):
    body = service("bad")
    body["spec"]["ports"] = []
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service("default", body)
    assert err.value.status == 422 and "spec.ports: Required value" in err.value.body
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service("default", service("bad", svc_type="Weird"))
    assert err.value.status == 422
    assert 'Unsupported value: "Weird"' in json.loads(err.value.body)["message"]


@pytest.mark.parametrize("svc_type", ["LoadBalancer", "NodePort"])
def test_headless_load_balancer_or_node_port_is_invalid(core, svc_type):
    body = service("headless", svc_type=svc_type)
    body["spec"]["clusterIP"] = "None"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service("default", body)
    assert err.value.status == 422
    cause = json.loads(err.value.body)["details"]["causes"][0]
    assert cause["field"] == "spec.clusterIPs[0]"
    assert f"may not be set to 'None' for {svc_type} services" in cause["message"]
    plain = service("headless", svc_type="ClusterIP")
    plain["spec"]["clusterIP"] = "None"
    assert core.create_namespaced_service("default", plain).spec.cluster_ip == "None"


def test_status_writes_change_only_status(core):
    core.create_namespaced_service("default", service("s"))
    patched = core.patch_namespaced_service_status("s", "default", {
        "spec": {"type": "ClusterIP"},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}})
    assert patched.spec.type == "LoadBalancer"
    assert patched.status.load_balancer.ingress[0].ip == "192.0.2.1"
    assert patched.metadata.generation is None  # Services carry no generation


def test_service_status_writes_keep_the_metadata_they_carry(core):
    """kube-apiserver's Service status strategy resets only the spec: upstream MetalLB's
    one UpdateStatus carries its pool annotation."""
    created = core.create_namespaced_service("default", service("s"))
    patched = core.patch_namespaced_service_status("s", "default", {
        "metadata": {"annotations": {"metallb.io/ip-allocated-from-pool": "p"},
                     "labels": {"x": "y"}, "uid": "not-the-server-one"},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}})
    assert patched.metadata.annotations == {"metallb.io/ip-allocated-from-pool": "p"}
    assert patched.metadata.labels == {"x": "y"}
    assert patched.metadata.uid == created.metadata.uid
    assert patched.status.load_balancer.ingress[0].ip == "192.0.2.1"


def test_main_resource_writes_never_change_status(core):
    core.create_namespaced_service("default", service("s"))
    core.patch_namespaced_service_status("s", "default", {
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}})
    patched = core.patch_namespaced_service("s", "default", {
        "metadata": {"labels": {"x": "y"}},
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}}})
    assert patched.status.load_balancer.ingress[0].ip == "192.0.2.1"
    assert patched.metadata.labels == {"x": "y"}
    current = core.read_namespaced_service("s", "default")
    current.status.load_balancer.ingress = []
    current.spec.ports[0].port = 81
    replaced = core.replace_namespaced_service("s", "default", current)
    assert replaced.status.load_balancer.ingress[0].ip == "192.0.2.1"
    assert replaced.spec.ports[0].port == 81


def test_create_drops_status_of_kinds_with_status_subresource(core):
    body = service("s")
    body["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}
    assert core.create_namespaced_service("default", body).status.load_balancer.ingress is None


def test_node_status_subresource(core):
    core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
                      "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    node = core.patch_node_status("n1", {"status": {"conditions": [
        {"type": "NetworkUnavailable", "status": "False"}]}})
    assert {c.type for c in node.status.conditions} == {"Ready", "NetworkUnavailable"}
    node = core.patch_node("n1", {"metadata": {"labels": {"a": "b"}}, "status": {
        "conditions": []}})
    assert len(node.status.conditions) == 2


def test_deployment_status_and_generation(kube_client):
    apps = client.AppsV1Api(kube_client)
    apps.create_namespaced_deployment("default", deployment("d", [{"name": "c",
                                                                   "image": "i:1"}]))
    dep = apps.patch_namespaced_deployment_status("d", "default", {"status": {
        "observedGeneration": 1, "replicas": 1}})
    assert dep.status.replicas == 1 and dep.metadata.generation == 1
    dep = apps.patch_namespaced_deployment("d", "default", {"spec": {"replicas": 3}})
    assert dep.metadata.generation == 2 and dep.status.replicas == 1


def test_custom_object_status_subresource(kube_client):
    client.ApiextensionsV1Api(kube_client).create_custom_resource_definition(
        SERVICE_MONITOR_CRD)
    custom = client.CustomObjectsApi(kube_client)
    custom.create_namespaced_custom_object("monitoring.coreos.com", "v1", "default",
                                           "servicemonitors", service_monitor("m"))
    obj = custom.patch_namespaced_custom_object_status(
        "monitoring.coreos.com", "v1", "default", "servicemonitors", "m",
        {"status": {"ok": True}, "spec": {"endpoints": []}})
    assert obj["status"] == {"ok": True} and obj["spec"]["endpoints"] == [
        {"port": "monitoring"}]
    obj = custom.patch_namespaced_custom_object(
        "monitoring.coreos.com", "v1", "default", "servicemonitors", "m",
        {"status": {"ok": False}, "spec": {"jobLabel": "x"}})
    assert obj["status"] == {"ok": True} and obj["spec"]["jobLabel"] == "x"
    assert obj["metadata"]["generation"] == 2


def test_status_of_kind_without_subresource_is_404(kube_client):
    status, _body = request(kube_client, "GET",
                            "/api/v1/namespaces/default/configmaps/x/status")
    assert status == 404


def test_status_ingress_is_validated_and_ip_mode_defaults_to_vip(core):
    core.create_namespaced_service("default", service("s"))
    svc = core.patch_namespaced_service_status("s", "default", {"status": {"loadBalancer": {
        "ingress": [{"ip": "2001:db8::1"}]}}})
    assert svc.status.load_balancer.ingress[0].ip_mode == "VIP"
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_service_status("s", "default", {"status": {"loadBalancer": {
            "ingress": [{"ip": "not-an-ip"}]}}})
    assert err.value.status == 422
    assert json.loads(err.value.body)["details"]["causes"][0]["field"] == (
        "status.loadBalancer.ingress[0].ip")


def test_metadata_and_kind_rules(core, kube_client):
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service("default", service("s", labels={"app": "bad value!"}))
    assert err.value.status == 422
    assert 'metadata.labels: Invalid value: "bad value!"' in json.loads(err.value.body)[
        "message"]
    status, body = request(kube_client, "POST", "/api/v1/namespaces/default/configmaps", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"n": 1}})
    assert status == 422 and body["details"]["causes"][0]["field"] == "data"
    status, body = request(kube_client, "POST",
                           "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", {
                               "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                               "metadata": {"name": "e"}, "endpoints": [{}]})
    assert status == 422
    assert [c["field"] for c in body["details"]["causes"]] == ["addressType",
                                                               "endpoints[0].addresses"]
