"""The pure status builders: the Service's AddressAssigned condition and its reason for
each allocator outcome, merging it among other writers' conditions, pool counts, and
the ConfigurationState result."""

from __future__ import annotations

import pytest

from metallb.allocator import reasons
from metallb.allocator.allocator import Allocator, PoolStats
from metallb.allocator.decision import decide
from metallb.allocator.service import intent_from_service
from metallb.config.parse import parse_config_text
from metallb.status.conditions import (
    ADDRESS_ASSIGNED,
    Condition,
    address_condition,
    matches,
    merge,
)
from metallb.status.config_state import ConfigState, result_of
from metallb.status.pools import INT64_MAX, pool_status

CONFIG = parse_config_text("""
address-pools:
- {name: one, protocol: bgp, addresses: [198.51.100.20/32]}
- {name: manual, protocol: bgp, auto-assign: false, addresses: [203.0.113.0/30]}
- {name: v6only, protocol: bgp, auto-assign: false, addresses: ['2001:db8::/126']}
""")


def svc(name: str, annotations=None, status_ips=(), **spec) -> dict:
    obj = {"metadata": {"name": name, "namespace": "demo", "annotations": annotations or {}},
           "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}],
                    **spec}}
    if status_ips:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in status_ips]}}
    return obj


def condition_after(*objs: dict) -> Condition | None:
    """The condition of the last Service, after deciding each in order."""
    allocator = Allocator(CONFIG)
    decision = None
    for obj in objs:
        decision = decide(allocator, intent_from_service(obj))
    assert decision is not None
    return address_condition(decision)


SHARE = "metallb.universe.tf/allow-shared-ip"
POOL = "metallb.universe.tf/address-pool"


@pytest.mark.parametrize("objs, status, reason", [
    ((svc("a"),), "True", reasons.ASSIGNED),
    ((svc("a"), svc("b")), "False", reasons.POOL_EXHAUSTED),
    ((svc("a", {POOL: "nope"}),), "False", reasons.NO_MATCHING_POOL),
    ((svc("a", {POOL: "v6only"}),), "False", reasons.NO_MATCHING_POOL),
    ((svc("a", loadBalancerIP="192.0.2.1"),), "False",
     reasons.REQUESTED_ADDRESS_UNAVAILABLE),
    ((svc("a", loadBalancerIP="203.0.113.1"), svc("b", loadBalancerIP="203.0.113.1")),
     "False", reasons.REQUESTED_ADDRESS_UNAVAILABLE),
    ((svc("a", {SHARE: "k1"}, loadBalancerIP="203.0.113.1"),
      svc("b", {SHARE: "k2"}, loadBalancerIP="203.0.113.1")),
     "False", reasons.SHARING_CONFLICT),
    ((svc("a", {POOL: "one"}, loadBalancerIP="203.0.113.1"),), "False",
     reasons.INVALID_REQUEST),
    ((svc("a", {"metallb.universe.tf/loadBalancerIPs": "not-an-ip"}),), "False",
     reasons.INVALID_REQUEST),
    ((svc("a", loadBalancerClass="other.example/lb"),), "False", reasons.NOT_OURS),
], ids=["assigned", "exhausted", "unknown-pool", "pool-without-the-family",
        "requested-in-no-pool", "requested-taken", "sharing-keys-differ",
        "requested-outside-annotated-pool", "malformed-annotation", "other-class"])
def test_each_outcome_has_its_reason(objs, status, reason):
    condition = condition_after(*objs)
    assert condition is not None
    assert (condition.type, condition.status, condition.reason) == (
        ADDRESS_ASSIGNED, status, reason)
    assert condition.message


def test_an_assigned_condition_names_the_addresses_and_pool():
    assert condition_after(svc("a")).message == "198.51.100.20 from pool 'one'"


def test_a_pending_condition_says_what_failed():
    message = condition_after(svc("a"), svc("b")).message
    assert message == "cannot allocate an address: no available IPs"


def test_a_service_that_is_not_a_load_balancer_carries_no_condition():
    assert condition_after(svc("a", type="ClusterIP")) is None


def test_merge_keeps_other_conditions_in_place_and_the_time_while_status_holds():
    other = {"type": "example.com/Ready", "status": "True", "reason": "Fine", "message": "",
             "lastTransitionTime": "2026-01-01T00:00:00Z"}
    pending = Condition(ADDRESS_ASSIGNED, "False", reasons.POOL_EXHAUSTED, "no room")
    first = merge([other], pending, "2026-01-02T00:00:00Z")
    assert first == [other, pending.as_dict("2026-01-02T00:00:00Z")]
    reworded = Condition(ADDRESS_ASSIGNED, "False", reasons.POOL_EXHAUSTED, "still none")
    second = merge(first, reworded, "2026-01-03T00:00:00Z")
    assert second[1]["lastTransitionTime"] == "2026-01-02T00:00:00Z"
    assert second[1]["message"] == "still none"
    assigned = Condition(ADDRESS_ASSIGNED, "True", reasons.ASSIGNED, "x")
    third = merge(second, assigned, "2026-01-04T00:00:00Z")
    assert third == [other, assigned.as_dict("2026-01-04T00:00:00Z")]
    assert merge(third, None, "2026-01-05T00:00:00Z") == [other]
    assert matches(third, assigned, ADDRESS_ASSIGNED)
    assert not matches(third, reworded, ADDRESS_ASSIGNED)
    assert matches([other], None, ADDRESS_ASSIGNED)


def test_merge_reads_any_shape_without_raising():
    wanted = Condition(ADDRESS_ASSIGNED, "True", reasons.ASSIGNED, "x")
    assert merge("junk", wanted, "t") == [wanted.as_dict("t")]
    assert merge([1, None], wanted, "t") == [1, None, wanted.as_dict("t")]


def test_pool_status_counts_each_family_and_caps_at_int64():
    status = pool_status({4: PoolStats(256, 3), 6: PoolStats(2**64, 1)})
    assert status == {"assignedIPv4": 3, "availableIPv4": 253, "assignedIPv6": 1,
                      "availableIPv6": INT64_MAX}
    assert pool_status({}) == {"assignedIPv4": 0, "availableIPv4": 0, "assignedIPv6": 0,
                               "availableIPv6": 0}


def test_allocator_family_stats_match_its_totals():
    allocator = Allocator(CONFIG)
    decide(allocator, intent_from_service(svc("a")))
    by_family = allocator.family_stats()
    assert by_family["one"][4] == PoolStats(1, 1)
    assert by_family["v6only"][6] == PoolStats(4, 0)
    for name, stats in allocator.stats().items():
        assert sum(s.addresses_total for s in by_family[name].values()) == stats.addresses_total


@pytest.mark.parametrize("state, result, summary, reason", [
    (ConfigState(loaded=True, problem=None), "Valid", "", "Reconciled"),
    (ConfigState(loaded=True, problem="bad pool"), "Invalid", "bad pool",
     "ConfigurationError"),
    (ConfigState(loaded=False, problem="bad pool"), "Invalid", "bad pool",
     "ConfigurationError"),
    (ConfigState(loaded=False, problem=None), "Unknown", "", "NotLoaded"),
])
def test_configuration_state_result(state, result, summary, reason):
    got_result, got_summary, condition = result_of(state)
    assert (got_result, got_summary, condition.type, condition.reason) == (
        result, summary, "configReconcilerValid", reason)


def test_service_peers_name_bgppeers_and_fall_back_to_the_address():
    from metallb.config.model import Peer
    from speaker.planner import Plan
    from speaker.status import service_peers, session_object_name

    named = Peer(peer_address="192.0.2.1", peer_asn=64500, my_asn=64501, name="router-a")
    legacy = Peer(peer_address="2001:db8::1", peer_asn=64500, my_asn=64501)
    result = Plan(
        peers={"192.0.2.1": named, "2001:db8::1": legacy},
        routes={"192.0.2.1": {"198.51.100.5/32": None},
                "2001:db8::1": {"198.51.100.5/32": None, "2001:db8:1::5/128": None}},
        announced=frozenset({("demo/web", "198.51.100.5"), ("demo/v6", "2001:db8:1::5"),
                             ("demo/nowhere", "198.51.100.9")}))
    assert service_peers(result) == {"demo/web": ("2001:db8::1", "router-a"),
                                     "demo/v6": ("2001:db8::1",)}
    assert session_object_name("node-a", "2001:db8::1") == "node-a-2001-db8--1"


def test_status_summary_reads_any_shape_and_renders_each_section():
    from metallb.status.summary import render, summarize

    pools = [{"metadata": {"name": "p"}, "status": {"assignedIPv4": 3, "availableIPv4": 5,
                                                    "assignedIPv6": 1, "availableIPv6": 1}},
             {"metadata": {"name": "bare"}}, {"junk": 1}]
    states = [{"metadata": {"name": "speaker-n1"},
               "status": {"result": "Invalid", "errorSummary": "bad peer"}}]
    sessions = [{"status": {"node": "n1", "peer": "192.0.2.1", "state": "up",
                            "since": "2026-01-01T00:00:00Z", "prefixesAcknowledged": 7}}]
    services = [
        {"metadata": {"name": "a", "namespace": "d"}, "spec": {"type": "LoadBalancer"}},
        {"metadata": {"name": "b", "namespace": "d"}, "spec": {"type": "LoadBalancer"},
         "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}]}}},
        {"metadata": {"name": "c", "namespace": "d"}, "spec": {"type": "ClusterIP"}},
        {"metadata": {"name": "e", "namespace": "d"},
         "spec": {"type": "LoadBalancer", "loadBalancerClass": "other"}},
        {"metadata": {"name": "f", "namespace": "d"}, "spec": {"type": "LoadBalancer"},
         "status": {"conditions": [{"type": ADDRESS_ASSIGNED, "status": "False",
                                    "reason": "NoMatchingPool", "message": "m"}]}},
        "junk",
    ]
    summary = summarize(pools, states, sessions, [s for s in services if isinstance(s, dict)])
    assert [(p["name"], p["size"], p["inUse"], p["reported"]) for p in summary["pools"]] == [
        ("", 0, 0, False), ("bare", 0, 0, False), ("p", 10, 4, True)]
    assert summary["pendingServices"] == [
        {"service": "d/a", "reason": "Unknown", "message": "no condition written yet"},
        {"service": "d/f", "reason": "NoMatchingPool", "message": "m"}]
    text = render(summary)
    for line in ("  p     10    4", "  speaker-n1  Invalid  bad peer",
                 "  n1    192.0.2.1  up     2026-01-01T00:00:00Z  7",
                 "  d/f      NoMatchingPool  m"):
        assert line in text.splitlines(), text
    assert render(summarize([], [], [], [])).count("(") == 4
