"""Label selectors (every operator) and field selectors, namespaced and cluster-wide."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.api.emulator.objects import configmap, namespace, request


@pytest.fixture
def core(kube_client):
    api = client.CoreV1Api(kube_client)
    api.create_namespace(namespace("other"))
    for ns, name, labels in [
        ("default", "a", {"app": "web", "tier": "front"}),
        ("default", "b", {"app": "db", "tier": "back"}),
        ("default", "c", {"app": "cache"}),
        ("other", "d", {"app": "web"}),
    ]:
        api.create_namespaced_config_map(ns, configmap(name, labels=labels))
    return api


def _names(items) -> list[str]:
    return sorted(i.metadata.name for i in items)


@pytest.mark.parametrize(("selector", "expected"), [
    ("app=web", ["a"]),
    ("app==web", ["a"]),
    ("app!=web", ["b", "c"]),
    ("app in (web,db)", ["a", "b"]),
    ("app notin (web, db)", ["c"]),
    ("tier", ["a", "b"]),
    ("!tier", ["c"]),
    ("app in (web,db),tier=back", ["b"]),
    ("tier!=front", ["b", "c"]),
])
def test_label_selector_operators(core, selector, expected):
    assert _names(core.list_namespaced_config_map("default", label_selector=selector)
                  .items) == expected


def test_cluster_wide_list_with_selector(core):
    assert _names(core.list_config_map_for_all_namespaces(label_selector="app=web").items) == [
        "a", "d"]


def test_field_selectors_on_name_and_namespace(core):
    assert _names(core.list_config_map_for_all_namespaces(
        field_selector="metadata.name=d").items) == ["d"]
    assert _names(core.list_config_map_for_all_namespaces(
        field_selector="metadata.namespace!=default").items) == ["d"]


def test_event_and_secret_field_selectors(core):
    for name, target in [("e1", "svc-a"), ("e2", "svc-b")]:
        core.create_namespaced_event("default", {
            "apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
            "involvedObject": {"kind": "Service", "name": target, "namespace": "default"},
            "reason": "IPAllocated", "type": "Normal"})
    events = core.list_namespaced_event(
        "default", field_selector="involvedObject.name=svc-b,involvedObject.kind=Service")
    assert _names(events.items) == ["e2"]
    core.create_namespaced_secret("default", {"apiVersion": "v1", "kind": "Secret",
                                              "metadata": {"name": "tls"},
                                              "type": "kubernetes.io/tls"})
    core.create_namespaced_secret("default", {"apiVersion": "v1", "kind": "Secret",
                                              "metadata": {"name": "plain"}, "type": "Opaque"})
    assert _names(core.list_namespaced_secret(
        "default", field_selector="type=kubernetes.io/tls").items) == ["tls"]


def test_unknown_field_selector_is_400(core, kube_client):
    status, body = request(kube_client, "GET",
                           "/api/v1/configmaps?fieldSelector=data.x%3Dy")
    assert status == 400
    assert '"data.x" is not a known field selector' in body["message"]


def test_malformed_label_selector_is_400(core, kube_client):
    status, body = request(kube_client, "GET",
                           "/api/v1/configmaps?labelSelector=app%20in%20(web")
    assert status == 400 and body["reason"] == "BadRequest"
