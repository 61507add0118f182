"""The informer caches keep trimmed objects (metallb.kube.trim): every reader in the
daemons must get the same result from a trimmed object as from the full one the API
sent, for well-formed and malformed objects alike (an independent oracle: the readers
themselves on the untrimmed object)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metallb.allocator.core import observe
from metallb.config import parse_config
from metallb.keys import object_key
from metallb.kube.trim import trim_endpoint_slice, trim_service, trim_service_for_speaker
from speaker.config_guard import blocked_services
from speaker.node import NodeInfo
from speaker.planner import assigned_ips, plan

CONFIG = parse_config({
    "peers": [{"peer-address": "192.0.2.1", "peer-asn": 64500, "my-asn": 64501},
              {"peer-address": "2001:db8::1", "peer-asn": 64500, "my-asn": 64501}],
    "address-pools": [
        {"name": "v4", "protocol": "bgp", "addresses": ["198.51.100.0/24"],
         "bgp-advertisements": [{"aggregation-length": 32}, {"aggregation-length": 24,
                                                               "communities": ["64500:1"]}]},
        {"name": "v6", "protocol": "bgp", "addresses": ["2001:db8:1::/64"]}],
})
SMALLER = parse_config({"address-pools": [
    {"name": "v6", "protocol": "bgp", "addresses": ["2001:db8:1::/64"]}]})
NODE = NodeInfo(name="node1")
MANAGED = [{"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:ports": {}}}, "time": "2026-11-30T10:00:00Z"}]


def full_service(name: str = "web", namespace: str = "demo", **overrides: Any) -> dict:
    """A Service as the API serves it, with everything the daemons never read."""
    obj = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {
            "name": name, "namespace": namespace, "uid": f"uid-{name}",
            "resourceVersion": "42", "creationTimestamp": "2026-11-30T10:00:00Z",
            "generation": 1, "labels": {"app": name}, "managedFields": MANAGED,
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}" * 50,
                            "metallb.universe.tf/address-pool": "v4",
                            "metallb.io/ip-allocated-from-pool": "v4"},
        },
        "spec": {
            "type": "LoadBalancer", "selector": {"app": name},
            "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080,
                       "nodePort": 30080}],
            "clusterIP": "10.0.0.10", "clusterIPs": ["10.0.0.10"],
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "sessionAffinity": "None", "externalTrafficPolicy": "Cluster",
            "internalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": True,
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.7", "ipMode": "VIP",
                                                  "ports": [{"port": 80,
                                                             "protocol": "TCP"}]}]},
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }
    for path, value in overrides.items():
        *parents, last = path.split("__")
        target = obj
        for part in parents:
            target = target[part]
        if value is DELETE:
            target.pop(last, None)
        else:
            target[last] = value
    return obj


def full_slice(service: str = "web", namespace: str = "demo", node: str = "node1",
               ready: Any = True, serving: Any = None, suffix: str = "abc") -> dict:
    conditions = {"ready": ready, "terminating": False}
    if serving is not None:
        conditions["serving"] = serving
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": f"{service}-{suffix}", "namespace": namespace,
                     "uid": "u", "resourceVersion": "7", "generation": 3,
                     "labels": {"kubernetes.io/service-name": service,
                                "endpointslice.kubernetes.io/managed-by": "x"},
                     "managedFields": MANAGED, "ownerReferences": [{"kind": "Service"}]},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.1.0.5"], "nodeName": node, "zone": "a",
                       "conditions": conditions,
                       "targetRef": {"kind": "Pod", "name": "p", "namespace": namespace}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


DELETE = object()

# Values for the fields the readers look at: valid ones and every kind of garbage.
JUNK = st.one_of(st.none(), st.integers(-1, 70000), st.booleans(), st.just(""),
                 st.just([]), st.just({}), st.just(["x"]), st.just({"a": 1}))
GARBAGE = st.one_of(JUNK, st.just(DELETE))  # for a field: junk, or no field at all
FIELDS = {
    "metadata__annotations": st.one_of(st.dictionaries(st.sampled_from([
        "metallb.universe.tf/address-pool", "metallb.io/address-pool",
        "metallb.universe.tf/loadBalancerIPs", "metallb.io/allow-shared-ip",
        "metallb.io/ip-allocated-from-pool", "other.io/x"]),
        st.one_of(st.sampled_from(["v4", "v6", "198.51.100.9", "2001:db8:1::9", "k", ""]),
                  JUNK), max_size=4), GARBAGE),
    "metadata__creationTimestamp": st.one_of(st.just("2026-11-30T09:00:00Z"), GARBAGE),
    "metadata__namespace": st.one_of(st.just("other"), GARBAGE),
    "spec__type": st.one_of(st.sampled_from(["LoadBalancer", "ClusterIP"]), GARBAGE),
    "spec__loadBalancerClass": st.one_of(st.just("other.io/lb"), GARBAGE),
    "spec__loadBalancerIP": st.one_of(st.just("198.51.100.8"), GARBAGE),
    "spec__ports": st.one_of(st.lists(st.one_of(
        st.fixed_dictionaries({"port": st.one_of(st.integers(0, 70000), JUNK),
                               "protocol": st.one_of(st.sampled_from(["TCP", "UDP"]),
                                                     JUNK),
                               "name": st.just("n"), "nodePort": st.just(30001)}),
        JUNK), max_size=3), GARBAGE),
    "spec__externalTrafficPolicy": st.one_of(st.sampled_from(["Local", "Cluster", "x"]),
                                             GARBAGE),
    "spec__selector": st.one_of(st.just({"app": "other"}), GARBAGE),
    "spec__ipFamilies": st.one_of(st.sampled_from([["IPv4"], ["IPv6"], ["IPv4", "IPv6"],
                                                   ["IPv9"]]), GARBAGE),
    "spec__clusterIPs": st.one_of(st.sampled_from([["10.0.0.1"], ["fd00::1"], ["None"],
                                                   ["bad"]]), GARBAGE),
    "spec__clusterIP": st.one_of(st.sampled_from(["10.0.0.1", "fd00::1", "None"]),
                                 GARBAGE),
    "status__loadBalancer": st.one_of(st.fixed_dictionaries({"ingress": st.one_of(
        st.lists(st.one_of(
            st.fixed_dictionaries({"ip": st.one_of(st.sampled_from(
                ["198.51.100.7", "198.51.100.300", "2001:db8:1::7", "2001:db8:2::7"]),
                JUNK), "ipMode": st.just("VIP")}),
            st.just({"hostname": "lb.example"}), JUNK), max_size=3), JUNK)}),
        GARBAGE),
    "status": GARBAGE,
    "spec": GARBAGE,
    "metadata": GARBAGE,
}


@st.composite
def services(draw: st.DrawFn) -> dict:
    chosen = draw(st.lists(st.sampled_from(sorted(FIELDS)), unique=True, max_size=5))
    # A whole section replaced goes last: its fields are then moot.
    chosen.sort(key=lambda f: "__" not in f)
    obj = full_service(draw(st.sampled_from(["web", "db"])))
    for field in chosen:
        *parents, last = field.split("__")
        target = obj
        for part in parents:
            target = target.get(part) if isinstance(target, dict) else None
        if isinstance(target, dict):
            value = draw(FIELDS[field])
            if value is DELETE:
                target.pop(last, None)
            else:
                target[last] = copy.deepcopy(value)
    return obj


@st.composite
def slices(draw: st.DrawFn) -> dict:
    obj = full_slice(draw(st.sampled_from(["web", "db"])),
                     node=draw(st.sampled_from(["node1", "node2"])),
                     ready=draw(st.sampled_from([True, False, None])),
                     serving=draw(st.sampled_from([True, False, None])))
    broken = draw(st.sampled_from(["", "labels", "endpoints", "endpoint", "conditions"]))
    if broken == "labels":
        obj["metadata"]["labels"] = draw(JUNK)
    elif broken == "endpoints":
        obj["endpoints"] = draw(JUNK)
    elif broken == "endpoint":
        obj["endpoints"].append(draw(JUNK))
    elif broken == "conditions":
        obj["endpoints"][0]["conditions"] = draw(JUNK)
    return obj


def event_target(obj: dict) -> tuple:
    """What EventRecorder.record reads of the object it reports on."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return (obj.get("apiVersion", "v1"), obj.get("kind", "Service"), meta.get("namespace"),
            meta.get("name"), meta.get("uid"), meta.get("resourceVersion"))


# -- Services -----------------------------------------------------------------------

@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(services())
def test_the_controller_reads_the_same_service_from_a_trimmed_object(obj):
    trimmed = trim_service(copy.deepcopy(obj))
    assert observe(trimmed) == observe(obj)
    assert object_key(trimmed) == object_key(obj)
    assert event_target(trimmed) == event_target(obj)
    assert assigned_ips(trimmed) == assigned_ips(obj)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(services(), max_size=4), st.lists(slices(), max_size=4))
def test_the_speaker_plans_the_same_from_trimmed_objects(svcs, slcs):
    svcs = [dict(s, metadata=dict(s["metadata"], name=f"s{i}"))
            if isinstance(s.get("metadata"), dict) else s for i, s in enumerate(svcs)]
    trimmed_slcs = [trim_endpoint_slice(copy.deepcopy(s)) for s in slcs]
    for trim in (trim_service, trim_service_for_speaker):
        trimmed_svcs = [trim(copy.deepcopy(s)) for s in svcs]
        assert plan(CONFIG, NODE, trimmed_svcs, trimmed_slcs) == plan(CONFIG, NODE, svcs, slcs)
        assert (blocked_services(CONFIG, SMALLER, trimmed_svcs)
                == blocked_services(CONFIG, SMALLER, svcs))
        assert [event_target(t) for t in trimmed_svcs] == [event_target(s) for s in svcs]


@pytest.mark.parametrize("policy", ["Local", "Cluster"])
@pytest.mark.parametrize("node", ["node1", "node2"])
def test_the_speaker_plans_the_same_routes_for_each_traffic_policy(policy, node):
    svcs = [full_service(spec__externalTrafficPolicy=policy)]
    slcs = [full_slice(node=node)]
    full = plan(CONFIG, NODE, svcs, slcs)
    assert plan(CONFIG, NODE, [trim_service(s) for s in svcs],
                [trim_endpoint_slice(s) for s in slcs]) == full
    assert bool(full.announced) == (policy == "Cluster" or node == NODE.name)


def test_a_trimmed_service_keeps_only_what_the_daemons_read():
    trimmed = trim_service(full_service())
    assert trimmed == {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "demo", "uid": "uid-web",
                     "resourceVersion": "42", "creationTimestamp": "2026-11-30T10:00:00Z",
                     "labels": {"app": "web"},  # serviceAllocation.serviceSelectors
                     "annotations": {"metallb.universe.tf/address-pool": "v4",
                                     "metallb.io/ip-allocated-from-pool": "v4"}},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                 "ports": [{"protocol": "TCP", "port": 80}], "ipFamilies": ["IPv4"],
                 "externalTrafficPolicy": "Cluster"},
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}},
    }


def test_cluster_ips_are_kept_only_when_they_name_the_families():
    without_families = trim_service(full_service(spec__ipFamilies=DELETE))
    assert without_families["spec"]["clusterIPs"] == ["10.0.0.10"]
    assert without_families["spec"]["clusterIP"] == "10.0.0.10"


def test_a_malformed_annotation_map_is_kept_whole_for_the_error_that_quotes_it():
    annotations = {"other.io/x": 5, "metallb.io/address-pool": "v4"}
    trimmed = trim_service(full_service(metadata__annotations=annotations))
    assert trimmed["metadata"]["annotations"] == annotations
    assert observe(trimmed).intent.error is not None


def test_trimming_is_idempotent_and_leaves_the_input_alone():
    obj = full_service()
    before = json.dumps(obj, sort_keys=True)
    once = trim_service(obj)
    assert trim_service(once) == once
    assert json.dumps(obj, sort_keys=True) == before
    slc = full_slice()
    assert trim_endpoint_slice(trim_endpoint_slice(slc)) == trim_endpoint_slice(slc)


def test_repeated_short_strings_are_shared_between_objects():
    a = trim_service(json.loads(json.dumps(full_service("a"))))
    b = trim_service(json.loads(json.dumps(full_service("b"))))
    assert a["metadata"]["namespace"] is b["metadata"]["namespace"]
    assert a["spec"]["ports"][0]["protocol"] is b["spec"]["ports"][0]["protocol"]


def test_equal_parts_are_shared_between_objects_only_when_equal_in_type_and_order():
    a, b = (trim_service(json.loads(json.dumps(full_service(n)))) for n in "ab")
    assert a["spec"]["ports"] is b["spec"]["ports"]
    assert a["metadata"]["annotations"] is b["metadata"]["annotations"]
    first = trim_endpoint_slice(full_slice(ready=True))
    assert trim_endpoint_slice(full_slice(ready=True))["endpoints"] is first["endpoints"]
    one = trim_endpoint_slice(full_slice(ready=1))["endpoints"]
    assert type(one[0]["conditions"]["ready"]) is int
    order_first = trim_service(full_service(metadata__annotations={
        "metallb.io/address-pool": "v4", "metallb.io/allow-shared-ip": "k"}))
    order_second = trim_service(full_service(metadata__annotations={
        "metallb.io/allow-shared-ip": "k", "metallb.io/address-pool": "v4"}))
    assert next(iter(order_second["metadata"]["annotations"])) == "metallb.io/allow-shared-ip"
    assert order_first["metadata"]["annotations"] is not order_second["metadata"][
        "annotations"]


# -- EndpointSlices -----------------------------------------------------------------

def test_a_trimmed_endpoint_slice_keeps_its_service_and_each_endpoints_node_and_readiness():
    trimmed = trim_endpoint_slice(full_slice(serving=True))
    assert trimmed == {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-abc", "namespace": "demo", "resourceVersion": "7",
                     "labels": {"kubernetes.io/service-name": "web"}},
        "endpoints": [{"nodeName": "node1", "conditions": {"ready": True,
                                                            "serving": True}}],
    }


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(slices())
def test_a_trimmed_endpoint_slice_has_the_same_key(obj):
    assert object_key(trim_endpoint_slice(copy.deepcopy(obj))) == object_key(obj)


def test_a_trimmed_service_keeps_our_condition_only():
    ours = {"type": "metallb.io/AddressAssigned", "status": "True", "reason": "Assigned",
            "message": "m", "lastTransitionTime": "2026-11-30T10:00:00Z"}
    other = {"type": "example.com/Ready", "status": "True"}
    trimmed = trim_service(full_service(status__conditions=[other, ours]))
    assert trimmed["status"]["conditions"] == [ours]


def test_the_speakers_trimmed_service_drops_only_the_condition():
    ours = {"type": "metallb.io/AddressAssigned", "status": "True", "reason": "Assigned",
            "message": "m", "lastTransitionTime": "2026-11-30T10:00:00Z"}
    obj = full_service(status__conditions=[ours])
    for_speaker = trim_service_for_speaker(obj)
    assert "conditions" not in for_speaker["status"]
    assert for_speaker == {**trim_service(obj), "status": trim_service(full_service())["status"]}


def test_trimmed_dicts_are_plain_dicts_that_read_and_serialise_as_the_originals():
    obj = json.loads(json.dumps(full_service()))
    trimmed = trim_service(obj)
    assert type(trimmed) is dict and type(trimmed["metadata"]) is dict
    assert json.loads(json.dumps(trimmed)) == trimmed
    assert list(trimmed["metadata"]) == [k for k in obj["metadata"] if k in trimmed["metadata"]]
