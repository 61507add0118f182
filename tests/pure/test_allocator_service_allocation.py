"""Rules K1 and K2: an IPAddressPool's serviceAllocation limits which Services the pool
serves and orders the pools that do, through the allocator and the reconcile decision
(and `metallb plan`, which runs the same core)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from metallb.allocator.allocator import Allocator
from metallb.allocator.decision import decide
from metallb.allocator.dry_run import plan_allocations
from metallb.allocator.service import intent_from_service
from metallb.cli import main
from metallb.config.crds import parse_crds
from metallb.config.model import NodeSelector, SelectorRequirement, ServiceAllocation
from tests.support.pools import config, pool

LIMITED_NS = ServiceAllocation(namespaces=("team-a",))
PROD_NS = ServiceAllocation(namespace_selectors=(NodeSelector(match_labels=(("env", "prod"),)),))
WEB_SVC = ServiceAllocation(service_selectors=(
    NodeSelector(match_expressions=(SelectorRequirement("app", "In", ("web", "api")),)),))
BOTH = ServiceAllocation(namespaces=("team-a",), service_selectors=WEB_SVC.service_selectors)


def limited(allocation: ServiceAllocation, name: str = "limited",
            address: str = "203.0.113.0/30"):
    return replace(pool(name, address), allocation=allocation)


GENERAL = pool("general", "198.51.100.0/30")


def svc(name="s", namespace="default", *, labels=None, ns_labels=None, annotations=None,
        status_ips=(), **spec):
    obj = {
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {},
                     "annotations": annotations or {}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], **spec},
    }
    if status_ips:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in status_ips]}}
    return intent_from_service(obj, ns_labels)


def outcome(decision):
    return (decision.pool, list(decision.ips), [(e.reason, e.message) for e in decision.events])


# -- rule K1: who a limited pool serves ---------------------------------------------------


@pytest.mark.parametrize(("allocation", "service", "served"), [
    (LIMITED_NS, svc(namespace="team-a"), True),
    (LIMITED_NS, svc(namespace="team-b"), False),
    (PROD_NS, svc(namespace="x", ns_labels={"env": "prod"}), True),
    (PROD_NS, svc(namespace="x", ns_labels={"env": "dev"}), False),
    (PROD_NS, svc(namespace="x"), False),  # a Namespace whose labels are unknown: none
    (WEB_SVC, svc(labels={"app": "api"}), True),
    (WEB_SVC, svc(labels={"app": "db"}), False),
    (WEB_SVC, svc(ns_labels={"app": "web"}), False),  # the Service's labels, not its ns's
    (BOTH, svc(namespace="team-a", labels={"app": "web"}), True),
    (BOTH, svc(namespace="team-a", labels={"app": "db"}), False),
    (BOTH, svc(namespace="team-b", labels={"app": "web"}), False),
    (ServiceAllocation(priority=3), svc(namespace="anyone"), True),  # no limit: everyone
], ids=["ns-listed", "ns-not-listed", "ns-selector-match", "ns-selector-miss",
        "ns-labels-unknown", "svc-selector-match", "svc-selector-miss",
        "svc-selector-ignores-ns-labels", "both-match", "both-svc-miss", "both-ns-miss",
        "priority-only"])
def test_a_limited_pool_is_picked_only_for_the_services_it_serves(allocation, service,
                                                                  served):
    alloc = Allocator(config(limited(allocation), GENERAL))
    decision = decide(alloc, service)
    assert decision.pool == ("limited" if served else "general")
    assert decision.events[-1].reason == "IPAllocated"


def test_a_service_no_pool_serves_fails_with_no_available_ips():
    alloc = Allocator(config(limited(LIMITED_NS)))
    decision = decide(alloc, svc(namespace="team-b"))
    assert outcome(decision) == (None, [], [
        ("AllocationFailed", 'Failed to allocate IP for "team-b/s": no available IPs')])
    assert decision.failed


@pytest.mark.parametrize(("request_kwargs", "fragment"), [
    ({"annotations": {"metallb.universe.tf/address-pool": "limited"}},
     'Failed to allocate IP for "team-b/s": pool "limited" does not serve it: '
     "namespace team-b is not among its serviceAllocation namespaces"),
    ({"annotations": {"metallb.io/loadBalancerIPs": "203.0.113.1"}},
     'Failed to allocate IP for "team-b/s": pool "limited" does not serve it: '
     "namespace team-b is not among its serviceAllocation namespaces"),
    ({"loadBalancerIP": "203.0.113.2"},
     'Failed to allocate IP for "team-b/s": pool "limited" does not serve it: '
     "namespace team-b is not among its serviceAllocation namespaces"),
], ids=["pool-annotation", "loadBalancerIPs-annotation", "spec.loadBalancerIP"])
def test_asking_for_a_limited_pool_outside_it_is_refused_with_the_reason(request_kwargs,
                                                                         fragment):
    alloc = Allocator(config(limited(LIMITED_NS), GENERAL))
    decision = decide(alloc, svc(namespace="team-b", **request_kwargs))
    assert outcome(decision) == (None, [], [("AllocationFailed", fragment)])
    assert alloc.assignment("team-b/s") is None


def test_asking_for_a_limited_pool_inside_it_is_honoured():
    alloc = Allocator(config(GENERAL, limited(LIMITED_NS)))
    by_annotation = decide(alloc, svc("a", "team-a", annotations={
        "metallb.universe.tf/address-pool": "limited"}))
    by_address = decide(alloc, svc("b", "team-a", loadBalancerIP="203.0.113.3"))
    assert (by_annotation.pool, by_annotation.ips) == ("limited", ("203.0.113.0",))
    assert (by_address.pool, by_address.ips) == ("limited", ("203.0.113.3",))


def test_an_address_held_outside_the_pools_limit_is_cleared_and_replaced():
    """Upstream's Assign refuses it, so the controller clears the status
    (ClearAssignment) and allocates again from a pool that serves the Service."""
    alloc = Allocator(config(limited(PROD_NS), GENERAL))
    decision = decide(alloc, svc(namespace="x", ns_labels={"env": "dev"},
                                 status_ips=("203.0.113.1",)))
    assert outcome(decision) == ("general", ["198.51.100.0"], [
        ("ClearAssignment", 'current IP 203.0.113.1 not allowed: pool "limited" does not '
         "serve it: namespace x is not among its serviceAllocation namespaces; clearing"),
        ("IPAllocated", "Assigned IP 198.51.100.0")])


def test_a_namespace_relabel_moves_the_service_on_its_next_decision():
    alloc = Allocator(config(limited(PROD_NS), GENERAL))
    first = decide(alloc, svc(namespace="x", ns_labels={"env": "prod"}))
    assert first.pool == "limited"
    kept = decide(alloc, svc(namespace="x", ns_labels={"env": "prod"},
                             status_ips=first.ips))
    assert (kept.pool, kept.events, kept.status_changed) == ("limited", (), False)
    moved = decide(alloc, svc(namespace="x", ns_labels={"env": "dev"}, status_ips=first.ips))
    assert [e.reason for e in moved.events] == ["ClearAssignment", "IPAllocated"]
    assert moved.pool == "general"
    assert alloc.stats()["limited"].addresses_in_use == 0


# -- rule K2: the order of the pools that serve a Service -----------------------------------


def crd_pool(name: str, address: str, allocation: dict | None = None) -> dict:
    spec: dict = {"addresses": [address]}
    if allocation is not None:
        spec["serviceAllocation"] = allocation
    return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": name, "namespace": "metallb-system"}, "spec": spec}


PRIORITY_POOLS = [
    crd_pool("a-plain", "198.51.100.0/32"),
    crd_pool("b-no-priority", "198.51.100.8/32", {"namespaces": ["team-a"]}),
    crd_pool("c-prio-20", "198.51.100.16/32", {"priority": 20, "namespaces": ["team-a"]}),
    crd_pool("d-prio-10", "198.51.100.24/32", {"priority": 10, "namespaces": ["team-a"]}),
    crd_pool("e-prio-10", "198.51.100.32/32", {"priority": 10, "namespaces": ["team-a"]}),
    crd_pool("f-prio-5-other", "198.51.100.40/32", {"priority": 5, "namespaces": ["team-b"]}),
]


def test_pools_are_tried_by_priority_then_without_priority_then_unlimited_ties_by_name():
    alloc = Allocator(parse_crds(PRIORITY_POOLS))
    pools = [decide(alloc, svc(f"s{i}", "team-a")).pool for i in range(6)]
    assert pools == ["d-prio-10", "e-prio-10", "c-prio-20", "b-no-priority", "a-plain", None]


def test_a_service_outside_every_limit_uses_only_the_unlimited_pools():
    alloc = Allocator(parse_crds(PRIORITY_POOLS))
    assert [decide(alloc, svc(f"s{i}", "team-c")).pool for i in range(2)] == ["a-plain", None]


# -- metallb plan: Namespace objects in the services input ----------------------------------


def test_plan_allocations_matches_namespace_selectors_against_the_given_labels():
    cfg = config(limited(PROD_NS), GENERAL)
    services = [{"metadata": {"name": n, "namespace": n},
                 "spec": {"type": "LoadBalancer"}} for n in ("shop", "lab")]
    result = plan_allocations(cfg, services, {"shop": {"env": "prod"}, "lab": {}})
    assert {k: v["pool"] for k, v in result["services"].items()} == {
        "shop/shop": "limited", "lab/lab": "general"}


def test_plan_command_reads_namespace_labels_from_the_services_file(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                                      "items": [
        crd_pool("general", "198.51.100.0/30"),
        crd_pool("prod", "203.0.113.0/30", {"namespaceSelectors": [
            {"matchLabels": {"env": "prod"}}]})]}))
    (tmp_path / "services.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {env: prod}}\n---\n"
        "kind: Service\nmetadata: {name: web, namespace: shop}\nspec: {type: LoadBalancer}\n"
        "---\n"
        "kind: Service\nmetadata: {name: web, namespace: lab}\nspec: {type: LoadBalancer}\n")
    code = main(["plan", "--config", str(tmp_path / "config.yaml"),
                 "--services", str(tmp_path / "services.yaml")])
    out, err = capsys.readouterr()
    assert code == 0, err
    planned = json.loads(out)["services"]
    assert (planned["shop/web"]["pool"], planned["shop/web"]["ips"]) == (
        "prod", ["203.0.113.0"])
    assert (planned["lab/web"]["pool"], planned["lab/web"]["ips"]) == (
        "general", ["198.51.100.0"])
