"""The per-service Decision and `plan_allocations()`'s output structure and ordering."""

from __future__ import annotations

from metallb.allocator.allocator import Allocator
from metallb.allocator.core import APPLIED, REFUSED, UNCHANGED, ControllerCore, observe
from metallb.allocator.decision import Decision, Event, decide
from metallb.allocator.dry_run import plan_allocations
from metallb.allocator.service import intent_from_service
from tests.support.pools import config, pool


def svc(name, status_ips=(), annotations=None, namespace=None, **spec):
    meta = {"name": name, "annotations": annotations or {}}
    if namespace:
        meta["namespace"] = namespace
    obj = {"metadata": meta, "spec": {"type": "LoadBalancer", **spec}}
    if status_ips:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in status_ips]}}
    return obj


EXAMPLE = config(pool("pool1", "198.51.100.20/32"),
                 pool("pool2", "203.0.113.16/29", "203.0.113.24/29"))


def test_decision_for_new_service():
    alloc = Allocator(EXAMPLE)
    d = decide(alloc, intent_from_service(svc("web")))
    assert d == Decision(
        key="default/web", ours=True, ips=("198.51.100.20",), pool="pool1",
        events=(Event("Normal", "IPAllocated", "Assigned IP 198.51.100.20"),),
        status_changed=True, reason="Assigned", message="198.51.100.20 from pool 'pool1'",
    )


# rules A3 and A10
def test_decision_for_kept_service_needs_no_write():
    alloc = Allocator(EXAMPLE)
    d = decide(alloc, intent_from_service(svc("web", status_ips=("198.51.100.20",))))
    assert (d.ips, d.events, d.status_changed) == (("198.51.100.20",), (), False)


# rule A1
def test_decision_with_other_load_balancer_class():
    alloc = Allocator(EXAMPLE)
    intent = intent_from_service(svc("web", loadBalancerClass="example.com/other"))
    assert not decide(alloc, intent).ours
    mine = intent_from_service(svc("web", loadBalancerClass="metallb.io/metallb"))
    assert decide(alloc, mine, load_balancer_class="metallb.io/metallb").ours
    unclassed = intent_from_service(svc("web"))
    assert decide(alloc, unclassed).ours
    assert not decide(alloc, unclassed, load_balancer_class="metallb.io/metallb").ours


def test_plan_example_structure():
    result = plan_allocations(EXAMPLE, [
        svc("web"),
        svc("nginx", annotations={"metallb.universe.tf/address-pool": "pool2"}),
        svc("internal", type="ClusterIP"),
    ])
    assert result == {
        "services": {
            "default/web": {"ips": ["198.51.100.20"], "pool": "pool1", "events": [
                {"type": "Normal", "reason": "IPAllocated",
                 "message": "Assigned IP 198.51.100.20"}]},
            "default/nginx": {"ips": ["203.0.113.16"], "pool": "pool2", "events": [
                {"type": "Normal", "reason": "IPAllocated",
                 "message": "Assigned IP 203.0.113.16"}]},
            "default/internal": {"ips": [], "pool": None, "events": []},
        },
        "pools": {
            "pool1": {"addresses_total": 1, "addresses_in_use": 1},
            "pool2": {"addresses_total": 16, "addresses_in_use": 1},
        },
    }


# rule A13
def test_plan_places_existing_assignments_before_new_ones():
    # "new" comes first in the file but must not take the address "old" already holds.
    result = plan_allocations(EXAMPLE, [svc("new"), svc("old", status_ips=("198.51.100.20",))])
    assert result["services"]["default/old"]["ips"] == ["198.51.100.20"]
    assert result["services"]["default/new"]["ips"] == ["203.0.113.16"]
    assert list(result["services"]) == ["default/new", "default/old"]  # file order


# rule A12
def test_plan_retries_pending_services_when_an_address_is_freed():
    cfg = config(pool("only", "198.51.100.20/32"))
    result = plan_allocations(cfg, [
        svc("holder", status_ips=("198.51.100.20",), type="NodePort"),  # no longer LB
        svc("waiting"),
    ])
    # "holder" is not ours, so it never holds the address: "waiting" gets it at once.
    assert result["services"]["default/waiting"]["ips"] == ["198.51.100.20"]

    # The same service listed twice is an update: the second copy (no longer a
    # LoadBalancer) frees the address, and the pending service is retried at once.
    result = plan_allocations(cfg, [
        svc("waiting"),
        svc("holder", status_ips=("198.51.100.20",)),
        svc("holder", type="ClusterIP"),
    ])
    waiting = result["services"]["default/waiting"]
    assert waiting["ips"] == ["198.51.100.20"]
    assert [e["reason"] for e in waiting["events"]] == ["AllocationFailed", "IPAllocated"]
    assert result["services"]["default/holder"] == {"ips": [], "pool": None, "events": []}
    assert list(result["services"]) == ["default/waiting", "default/holder"]


# rule A3
def test_plan_clears_invalid_existing_assignment():
    cfg = config(pool("only", "198.51.100.20/32"))
    result = plan_allocations(cfg, [svc("stale", status_ips=("198.51.100.20",), annotations={
        "metallb.universe.tf/address-pool": "gone"})])
    stale = result["services"]["default/stale"]
    assert [e["reason"] for e in stale["events"]] == ["ClearAssignment", "AllocationFailed"]
    assert 'unknown pool "gone"' in stale["events"][1]["message"]
    assert result["pools"]["only"]["addresses_in_use"] == 0


def test_plan_namespaces_and_dual_stack_order():
    cfg = config(pool("dual", "2001:db8::/64", "198.51.100.0/24"))
    result = plan_allocations(cfg, [svc("a", namespace="shop", ipFamilies=["IPv6", "IPv4"])])
    assert result["services"]["shop/a"]["ips"] == ["198.51.100.0", "2001:db8::"]
    assert result["pools"]["dual"] == {"addresses_total": 2**64 + 256, "addresses_in_use": 2}


def test_plan_on_empty_config_and_garbage_services():
    result = plan_allocations(config(), [svc("a"), {"metadata": {"name": "b"}, "spec": 5}])
    assert result["pools"] == {}
    assert result["services"]["default/a"]["events"][0]["reason"] == "AllocationFailed"
    assert result["services"]["default/b"]["events"][0]["reason"] == "LoadBalancerFailed"


# rule A13
def test_plan_never_moves_an_address_a_later_status_holds():
    # "broken" comes first and must be re-allocated; it may not take .20, which "later"
    # still holds in its status (preload loads every valid status first).
    cfg = config(pool("p", "198.51.100.20/31"))
    result = plan_allocations(cfg, [
        svc("broken", status_ips=("garbage",)),
        svc("later", status_ips=("198.51.100.20",)),
    ])
    assert result["services"]["default/later"] == {
        "ips": ["198.51.100.20"], "pool": "p", "events": []}
    assert result["services"]["default/broken"]["ips"] == ["198.51.100.21"]


def test_plan_failed_service_gets_one_event_when_nothing_is_freed():
    cfg = config(pool("only", "198.51.100.20/32"))
    result = plan_allocations(cfg, [svc("holder", status_ips=("198.51.100.20",)), svc("late")])
    assert [e["reason"] for e in result["services"]["default/late"]["events"]] == [
        "AllocationFailed"]


def test_release_counter_only_moves_when_an_address_becomes_free():
    alloc = Allocator(config(pool("p", "198.51.100.0/24")))
    intent = intent_from_service(svc("a", status_ips=("198.51.100.9",)))
    decide(alloc, intent)
    decide(alloc, intent)  # re-assigning its own address frees nothing
    assert alloc.releases == 0
    shared = {"metallb.universe.tf/allow-shared-ip": "k"}
    one = intent_from_service(svc("s1", annotations=shared, ports=[{"port": 1}]))
    two = intent_from_service(svc("s2", annotations=shared, ports=[{"port": 2}]))
    decide(alloc, one)
    decide(alloc, two)
    alloc.release("default/s1")
    assert alloc.releases == 0  # s2 still holds the shared address
    alloc.release("default/s2")
    assert alloc.releases == 1
    alloc.release("default/a")
    assert alloc.releases == 2


# -- the one order: creation time, then namespace/name (metallb/allocator/core.py) -----


def stamped(obj, created):
    obj["metadata"]["creationTimestamp"] = created
    return obj


# rule A13
def test_plan_without_timestamps_does_not_depend_on_the_file_order():
    cfg = config(pool("p", "198.51.100.20/31"))
    names = ["c", "a", "b"]
    results = [plan_allocations(cfg, [svc(n) for n in order])["services"]
               for order in (names, names[::-1], sorted(names))]
    assert results[0] == results[1] == results[2]
    assert {k: v["ips"] for k, v in results[0].items()} == {
        "default/a": ["198.51.100.20"], "default/b": ["198.51.100.21"], "default/c": []}


# rule A13
def test_plan_orders_by_creation_time_before_name_and_untimed_last():
    cfg = config(pool("p", "198.51.100.20/31"))
    result = plan_allocations(cfg, [
        svc("a-untimed"),
        stamped(svc("z-new"), "2026-01-01T00:00:02Z"),
        stamped(svc("y-old", namespace="zz"), "2026-01-01T00:00:01Z"),
    ])["services"]
    assert result["zz/y-old"]["ips"] == ["198.51.100.20"]
    assert result["default/z-new"]["ips"] == ["198.51.100.21"]
    assert result["default/a-untimed"]["ips"] == []


# rules A12 and A13
def test_waiting_services_are_retried_in_the_one_order_not_the_order_they_failed():
    core = ControllerCore()
    cfg = config(pool("only", "198.51.100.20/32"))
    holder = observe(svc("holder", status_ips=("198.51.100.20",)))
    later = observe(stamped(svc("a-later"), "2026-01-01T00:00:09Z"))
    older = observe(stamped(svc("z-older"), "2026-01-01T00:00:01Z"))
    for service in core.start(cfg, [holder]):
        core.decide(service)
    assert core.decide(later).decision.failed and core.decide(older).decision.failed
    assert core.pending == ["default/z-older", "default/a-later"]
    step = core.delete("default/holder")
    assert step.retry == ("default/z-older", "default/a-later")
    assert step.released is not None and step.stats_changed


# rule A12
def test_nothing_is_retried_when_no_address_becomes_free():
    core = ControllerCore()
    shared = {"metallb.universe.tf/allow-shared-ip": "k"}
    one = observe(svc("s1", annotations=shared, ports=[{"port": 1}]))
    two = observe(svc("s2", annotations=shared, ports=[{"port": 2}]))
    waiting = observe(svc("w"))
    for service in core.start(config(pool("only", "198.51.100.20/32")), [one, two, waiting]):
        core.decide(service)
    assert core.pending == ["default/w"]
    assert core.delete("default/s1").retry == ()  # s2 still holds the shared address
    assert core.delete("default/s2").retry == ("default/w",)


def test_a_new_config_is_applied_unchanged_or_refused():
    core = ControllerCore()
    small = config(pool("p", "198.51.100.20/32"))
    for service in core.start(small, [observe(svc("a"))]):
        core.decide(service)
    assert core.change_config(small).outcome == UNCHANGED
    assert core.change_config(config(pool("p", "198.51.100.20/31"))).outcome == APPLIED
    refused = core.change_config(config(pool("q", "203.0.113.0/24")))
    assert refused.outcome == REFUSED and refused.blocked[0].key == "default/a"
