"""Properties of the custom-resource parser and the converter: any input gives a Config
or a ConfigError (never another exception: a daemon reads these from the API), and a
converted legacy config means the same pools, advertisements and peers."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metallb.config import ConfigError, parse_config
from metallb.config.crds import parse_crds
from metallb.config.crds.convert import convert_config
from metallb.config.crds.objects import CONFIG_KINDS

SPEC_KEYS = ["addresses", "autoAssign", "avoidBuggyIPs", "serviceAllocation", "priority",
             "namespaces", "namespaceSelectors", "serviceSelectors", "matchLabels",
             "matchExpressions", "key", "operator", "values", "myASN", "peerASN",
             "dynamicASN", "peerAddress", "peerPort", "holdTime", "keepaliveTime",
             "passwordSecret", "name", "password", "bfdProfile", "communities", "value",
             "ipAddressPools", "ipAddressPoolSelectors", "nodeSelectors", "peers",
             "aggregationLength", "localPref", "vrf", "receiveInterval"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2, 2**33),
                    st.sampled_from(["", "192.0.2.0/28", "2001:db8::/126", "192.0.2.1",
                                     "90s", "1:2", "large:1:2:3", "In", "a", "internal"]),
                    st.text(max_size=8))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(SPEC_KEYS), inner, max_size=4)), max_leaves=12)
objects = st.fixed_dictionaries({
    "apiVersion": st.sampled_from(["metallb.io/v1beta1", "metallb.io/v1beta2", "v1", 3]),
    "kind": st.sampled_from([*CONFIG_KINDS, "Secret", "Namespace", "Pod"]),
    "metadata": st.one_of(values, st.fixed_dictionaries(
        {"name": st.sampled_from(["a", "b", "A_", ""])})),
    "spec": values,
})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(objects, values), max_size=5))
def test_any_objects_give_a_config_or_a_config_error(items):
    try:
        parse_crds(items, namespace="metallb-system")
    except ConfigError as exc:
        assert exc.issues


def _legacy_pool(index: int, draw_data) -> dict:
    pool: dict = {"name": draw_data["name"], "protocol": draw_data["protocol"],
                  "addresses": [f"198.51.100.{index * 16}/28"]}
    if not draw_data["auto"]:
        pool["auto-assign"] = False
    if draw_data["buggy"]:
        pool["avoid-buggy-ips"] = True
    if draw_data["protocol"] == "bgp" and draw_data["advs"]:
        pool["bgp-advertisements"] = draw_data["advs"]
    return pool


advertisement = st.fixed_dictionaries({}, optional={
    "aggregation-length": st.integers(28, 32),
    "localpref": st.integers(1, 500),
    "communities": st.lists(st.sampled_from(["65000:1", "65000:2", "no-export"]),
                            unique=True, max_size=2),
})
pool_data = st.fixed_dictionaries({
    "name": st.text("abcXY_-.9", min_size=1, max_size=6).filter(
        lambda n: n[0].isalnum() and n[-1].isalnum()),
    "protocol": st.sampled_from(["bgp", "bgp", "layer2"]),
    "auto": st.booleans(), "buggy": st.booleans(),
    "advs": st.lists(advertisement, max_size=2, unique_by=lambda a: repr(sorted(a.items()))),
})
peer = st.fixed_dictionaries({
    "peer-address": st.sampled_from(["192.0.2.1", "192.0.2.2", "2001:db8::1"]),
    "peer-asn": st.integers(1, 70000), "my-asn": st.just(64500),
}, optional={"hold-time": st.sampled_from(["30s", "0s", "3m"]),
             "peer-port": st.integers(1, 16384), "password": st.just("pw"),
             "node-selectors": st.just([{"match-labels": {"rack": "r1"}}])})


@settings(max_examples=200, deadline=None)
@given(st.lists(pool_data, max_size=5, unique_by=lambda p: p["name"]),
       st.lists(peer, max_size=3, unique_by=lambda p: (p["peer-address"], p.get("peer-port"))))
def test_converted_config_means_the_same(pools, peers):
    document = {"bgp-communities": {"no-export": "65535:65281"},
                "address-pools": [_legacy_pool(i, p) for i, p in enumerate(pools)],
                "peers": peers}
    try:
        legacy = parse_config(document)
        conversion = convert_config(legacy, "metallb-system")
    except ConfigError:
        return  # invalid (an aggregation shorter than /28), or refused by name
    config = parse_crds(list(conversion.objects), namespace="metallb-system")
    renames = dict(conversion.pool_renames)
    automatic = [renames.get(p.name, p.name) for p in legacy.pools if p.auto_assign]
    assert [p.name for p in config.pools if p.auto_assign] == automatic
    for old in legacy.pools:
        new = config.pool(renames.get(old.name, old.name))
        assert (new.ranges, new.auto_assign, new.avoid_buggy_ips) == (
            old.ranges, old.auto_assign, old.avoid_buggy_ips)
        assert new.advertisements == (old.advertisements if old.protocol == "bgp" else ())
    assert len(config.peers) == len(legacy.peers)
    assert {replace(p, name=None) for p in config.peers} == set(legacy.peers)
