"""Property tests: random sequences of reconcile / release / config reload never give one
address to two incompatible services, never hand out an address outside its pool, and
planning again over the written result changes nothing."""

from __future__ import annotations

import ipaddress
from collections import defaultdict

from hypothesis import example, given, settings
from hypothesis import strategies as st

from metallb.allocator.allocator import Allocator
from metallb.allocator.decision import decide
from metallb.allocator.dry_run import plan_allocations
from metallb.allocator.intervals import is_buggy_ipv4
from metallb.allocator.service import intent_from_service
from tests.support.pools import config, pool

CONFIGS = [
    config(
        pool("a", "198.51.100.0/30", "2001:db8::/126"),
        pool("b", "203.0.113.0/31", auto_assign=False),
        pool("c", "192.0.2.254/31", "192.0.2.0/31", avoid_buggy_ips=True),
    ),
    config(
        pool("a", "198.51.100.0/29", "2001:db8::/125"),
        pool("b", "203.0.113.0/30"),
    ),
    config(
        pool("c", "192.0.2.0/30", avoid_buggy_ips=True),
        pool("z", "198.51.100.0/31", "2001:db8::/127"),
    ),
]
ADDRESSES = ["198.51.100.0", "198.51.100.1", "198.51.100.6", "203.0.113.1", "192.0.2.254",
             "192.0.2.255", "192.0.2.1", "2001:db8::", "2001:db8::2", "192.0.2.77", "garbage"]
NAMES = ["s0", "s1", "s2", "s3", "s4", "s5"]
PORTS = [("TCP", 80), ("TCP", 443), ("UDP", 53)]


@st.composite
def services(draw, name=None):
    annotations = {}
    key = draw(st.sampled_from([None, "k1", "k2"]))
    if key:
        annotations["metallb.universe.tf/allow-shared-ip"] = key
    pool_name = draw(st.sampled_from([None, None, "a", "b", "c", "z", "nope"]))
    if pool_name:
        annotations["metallb.io/address-pool"] = pool_name
    spec = {
        "type": draw(st.sampled_from(["LoadBalancer"] * 6 + ["ClusterIP"])),
        "ports": [
            {"protocol": proto, "port": port}
            for proto, port in draw(st.lists(st.sampled_from(PORTS), min_size=1, unique=True))
        ],
        "externalTrafficPolicy": draw(st.sampled_from(["Cluster", "Local"])),
        "selector": {"app": draw(st.sampled_from(["x", "y"]))},
        "ipFamilies": draw(st.sampled_from([["IPv4"], ["IPv4"], ["IPv6"], ["IPv6", "IPv4"]])),
    }
    if draw(st.integers(0, 4)) == 0:
        spec["loadBalancerIP"] = draw(st.sampled_from(ADDRESSES))
    obj = {
        "metadata": {"name": name or draw(st.sampled_from(NAMES)), "annotations": annotations},
        "spec": spec,
    }
    if draw(st.integers(0, 1)) == 0:
        status = draw(st.lists(st.sampled_from(ADDRESSES), min_size=1, max_size=2))
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in status]}}
    return obj


operations = st.lists(
    st.one_of(
        st.tuples(st.just("reconcile"), services()),
        st.tuples(st.just("release"), st.sampled_from(NAMES)),
        st.tuples(st.just("config"), st.integers(0, len(CONFIGS) - 1)),
    ),
    max_size=40,
)


def may_share(a, b) -> bool:
    """Rule A8 (docs/rules.md), written independently of the allocator's own check."""
    return (
        bool(a.sharing_key)
        and a.sharing_key == b.sharing_key
        and not set(a.ports) & set(b.ports)
        and a.traffic_policy == b.traffic_policy
        and (a.traffic_policy == "Cluster" or a.selector == b.selector)
    )


def check_invariants(alloc: Allocator) -> None:
    cfg = alloc.config
    held_by: dict[ipaddress._BaseAddress, list] = defaultdict(list)
    in_use: dict[str, set] = defaultdict(set)
    for held in alloc.assignments():
        pool_ = cfg.pool(held.pool)
        assert pool_ is not None, held
        assert sorted(ip.version for ip in held.ips) == list(held.intent.families)
        assert [ip.version for ip in held.ips] == sorted(ip.version for ip in held.ips)
        for ip in held.ips:
            assert pool_.contains_ip(str(ip)), (held, "outside its pool")
            if pool_.avoid_buggy_ips and ip.version == 4:
                assert not is_buggy_ipv4(int(ip)), held
            held_by[ip].append(held.intent)
            in_use[held.pool].add(ip)
    for ip, intents in held_by.items():
        assert alloc.holders(ip) == {i.key for i in intents}
        for i, first in enumerate(intents):
            for second in intents[i + 1:]:
                assert may_share(first, second), (ip, first, second)
    stats = alloc.stats()
    assert list(stats) == [p.name for p in cfg.pools]
    for name, s in stats.items():
        assert s.addresses_in_use == len(in_use[name])


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(CONFIGS) - 1), operations)
def test_random_operations_keep_invariants(first_config, ops):
    alloc = Allocator(CONFIGS[first_config])
    for op, arg in ops:
        if op == "reconcile":
            intent = intent_from_service(arg)
            decision = decide(alloc, intent)
            held = alloc.assignment(intent.key)
            # The decision and the allocator agree on what the service holds.
            assert list(decision.ips) == (list(held.ip_strings) if held else [])
            assert decision.pool == (held.pool if held else None)
        elif op == "release":
            alloc.release(f"default/{arg}")
            assert alloc.assignment(f"default/{arg}") is None
        else:
            before = {a.key: a.ips for a in alloc.assignments()}
            blocked = alloc.set_config(CONFIGS[arg])
            after = {a.key: a.ips for a in alloc.assignments()}
            assert after == before  # a reload never renumbers anybody
            if blocked:
                assert alloc.config is not CONFIGS[arg] or CONFIGS[arg] is CONFIGS[first_config]
                assert {b.key for b in blocked} <= set(before)
            else:
                assert alloc.config is CONFIGS[arg]
        check_invariants(alloc)


def written(result: dict, objs: list[dict]) -> list[dict]:
    """The services as the controller would leave them: plan's ips written to status."""
    out = []
    for obj in objs:
        ns = obj["metadata"].get("namespace") or "default"
        ips = result["services"][f"{ns}/{obj['metadata']['name']}"]["ips"]
        new = {**obj, "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}
        if not ips:
            new["status"] = {}
        out.append(new)
    return out


def unique_names(objs: list[dict]) -> list[dict]:
    seen, out = set(), []
    for obj in objs:
        if obj["metadata"]["name"] not in seen:
            seen.add(obj["metadata"]["name"])
            out.append(obj)
    return out


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(CONFIGS) - 1), st.lists(services(), max_size=8).map(unique_names))
def test_planning_again_over_the_written_result_changes_nothing(cfg_index, objs):
    cfg = CONFIGS[cfg_index]
    first = plan_allocations(cfg, objs)
    second = plan_allocations(cfg, written(first, objs))
    for key, entry in first["services"].items():
        assert second["services"][key]["ips"] == entry["ips"], key
        assert second["services"][key]["pool"] == entry["pool"], key
        if entry["ips"]:
            # Kept as is: no ClearAssignment, no new IPAllocated.
            assert second["services"][key]["events"] == [], key
    assert second["pools"] == first["pools"]


def lb(name, status_ip):
    return {"metadata": {"name": name}, "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": status_ip}]}}}


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(CONFIGS) - 1), st.lists(services(), max_size=8).map(unique_names))
@example(0, [lb("first", "garbage"), lb("second", "198.51.100.0")])
def test_a_valid_unclaimed_status_address_never_changes_hands(cfg_index, objs):
    """A service whose status address is valid on its own, and claimed by no other
    status, keeps it whatever the other services are and wherever it is in the file."""
    cfg = CONFIGS[cfg_index]
    result = plan_allocations(cfg, objs)
    claims: dict[str, int] = defaultdict(int)
    for obj in objs:
        for entry in (obj.get("status") or {}).get("loadBalancer", {}).get("ingress", []):
            claims[entry["ip"]] += 1
    for obj in objs:
        status = [e["ip"] for e in (obj.get("status") or {}).get("loadBalancer", {})
                  .get("ingress", [])]
        if not status or any(claims[ip] > 1 for ip in status):
            continue
        alone = plan_allocations(cfg, [obj])
        key = next(iter(alone["services"]))
        if alone["services"][key]["events"] or not alone["services"][key]["ips"]:
            continue  # not valid on its own
        assert result["services"][key]["ips"] == alone["services"][key]["ips"], key
