"""Reading a Service's JSON form into a ServiceIntent: defaults, annotations, and garbage
that must become an error on the intent instead of an exception."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metallb.allocator.service import intent_from_service


def svc(name="web", namespace=None, annotations=None, status_ips=(), **spec):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if annotations is not None:
        meta["annotations"] = annotations
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": meta,
           "spec": {"type": "LoadBalancer", **spec}}
    if status_ips:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in status_ips]}}
    return obj


def ip(text):
    return ipaddress.ip_address(text)


def test_defaults():
    intent = intent_from_service(svc())
    assert intent.key == "default/web"
    assert intent.type == "LoadBalancer"
    assert intent.load_balancer_class is None
    assert intent.requested_ips == ()
    assert intent.pool is None and intent.sharing_key is None
    assert intent.traffic_policy == "Cluster"
    assert intent.families == (4,)
    assert intent.existing_ips == ()
    assert intent.error is None


def test_type_defaults_to_cluster_ip():
    obj = svc()
    del obj["spec"]["type"]
    assert intent_from_service(obj).type == "ClusterIP"


# rule A11
@pytest.mark.parametrize("prefix", ["metallb.universe.tf/", "metallb.io/"])
def test_annotations_under_both_prefixes(prefix):
    intent = intent_from_service(svc(annotations={
        prefix + "address-pool": "pool2",
        prefix + "allow-shared-ip": "k1",
        prefix + "loadBalancerIPs": "2001:db8::5, 198.51.100.5",
    }))
    assert intent.pool == "pool2"
    assert intent.sharing_key == "k1"
    assert intent.requested_ips == (ip("198.51.100.5"), ip("2001:db8::5"))  # IPv4 first


def test_ports_protocol_defaults_to_tcp_and_sorted():
    intent = intent_from_service(svc(ports=[{"port": 53, "protocol": "UDP"}, {"port": 80}]))
    assert intent.ports == (("TCP", 80), ("UDP", 53))


def test_selector_policy_namespace_and_status():
    intent = intent_from_service(svc(
        namespace="shop", selector={"app": "web"}, externalTrafficPolicy="Local",
        status_ips=("198.51.100.7",),
    ))
    assert intent.key == "shop/web"
    assert intent.selector == (("app", "web"),)
    assert intent.traffic_policy == "Local"
    assert intent.existing_ips == ("198.51.100.7",)


# rule A7
@pytest.mark.parametrize(
    ("spec", "families"),
    [
        ({"ipFamilies": ["IPv6"]}, (6,)),
        ({"ipFamilies": ["IPv6", "IPv4"]}, (4, 6)),
        ({"clusterIPs": ["10.0.0.1", "fd00::1"]}, (4, 6)),
        ({"clusterIP": "fd00::1"}, (6,)),
        ({"clusterIP": "None"}, (4,)),
        ({}, (4,)),
    ],
)
def test_families(spec, families):
    assert intent_from_service(svc(**spec)).families == families


def test_load_balancer_ip_from_spec():
    assert intent_from_service(svc(loadBalancerIP="198.51.100.9")).requested_ips == (
        ip("198.51.100.9"),
    )


# rules A2 and D8
@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"loadBalancerIP": "198.51.100.9",
          "annotations": {"metallb.universe.tf/loadBalancerIPs": "198.51.100.9"}},
         "both set"),
        ({"annotations": {"metallb.universe.tf/loadBalancerIPs": "198.51.100.9,198.51.100.10"}},
         "one address per family"),
        ({"annotations": {"metallb.io/loadBalancerIPs": "not-an-ip"}}, "not an IP address"),
        ({"loadBalancerIP": "300.1.1.1"}, "not an IP address"),
        ({"loadBalancerIP": 7}, "spec.loadBalancerIP must be a string"),
        ({"annotations": {"metallb.universe.tf/address-pool": "a",
                          "metallb.io/address-pool": "b"}}, "disagree"),
        ({"annotations": "x"}, "metadata.annotations"),
        ({"ports": [{"port": "80"}]}, "spec.ports[0].port"),
        ({"ports": [{"port": 70000}]}, "spec.ports[0].port"),
        ({"ports": [{"port": True}]}, "spec.ports[0].port"),
        ({"ports": {"port": 80}}, "spec.ports must be a list"),
        ({"externalTrafficPolicy": "Everywhere"}, "externalTrafficPolicy"),
        ({"ipFamilies": ["IPv5"]}, "spec.ipFamilies"),
        ({"clusterIPs": ["garbage"]}, "spec.clusterIPs"),
        ({"selector": ["app"]}, "spec.selector"),
    ],
)
def test_malformed_fields_become_errors(kwargs, fragment):
    intent = intent_from_service(svc(**kwargs))
    assert intent.error is not None
    assert fragment in intent.error
    assert intent.type == "LoadBalancer"  # still recognised as ours, to report the error


def test_garbage_status_is_kept_as_text_for_clearing():
    obj = svc()
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "bogus"}, {"hostname": "lb.example"}]}}
    intent = intent_from_service(obj)
    assert intent.error is None
    assert intent.existing_ips == ("bogus",)


@pytest.mark.parametrize("obj", [None, 5, "x", [], {"spec": "x"}, {"metadata": 3}, {}])
def test_non_objects_never_raise(obj):
    assert intent_from_service(obj).key.endswith("/?") or intent_from_service(obj).error


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["type", "ports", "loadBalancerIP", "ipFamilies", "clusterIPs",
                         "clusterIP", "selector", "externalTrafficPolicy",
                         "loadBalancerClass"]),
        json_values,
    ),
    json_values,
    json_values,
)
def test_arbitrary_json_never_raises(spec, annotations, status):
    obj = {"metadata": {"name": "x", "annotations": annotations}, "spec": spec,
           "status": status}
    intent = intent_from_service(obj)
    assert intent.key == "default/x"
