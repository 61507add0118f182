"""The allocation rules (docs/rules.md, section A), live: official client -> emulator ->
controller, and the final statuses equal what `metallb plan` computes for the same manifests."""

from __future__ import annotations

import json

import pytest
from kubernetes import watch

from metallb.allocator.dry_run import plan_allocations
from metallb.config.parse import parse_config_text
from metallb.wait import poll_until
from tests.api.controller.support import (
    ALLOCATED_FROM_POOL_ANNOTATION,
    event_reasons,
    metric_value,
    put_config,
    put_config_as,
    service,
    statuses,
    wait_statuses,
)

RULES_CONFIG = """
address-pools:
- name: first
  protocol: bgp
  addresses: [192.0.2.0/31]
- name: second
  protocol: bgp
  addresses: ["198.51.100.10 - 198.51.100.12", "2001:db8::/126"]
- name: manual
  protocol: bgp
  auto-assign: false
  addresses: [203.0.113.0/28]
"""

SHARED = {"metallb.universe.tf/allow-shared-ip": "k"}
DUAL = {"ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "RequireDualStack"}

# (manifest, expected ingress IPs) in creation order; the expectations follow the rules:
# auto-assign pools in config order, lowest address first, sharing, requested addresses
# from a non-auto-assign pool, the pool annotation, dual-stack from one pool, classes.
RULE_CASES = [
    (service("plain"), ["192.0.2.0"]),
    (service("share-a", port=80, annotations=SHARED), ["192.0.2.1"]),
    (service("share-b", port=443, annotations=SHARED), ["192.0.2.1"]),
    (service("share-clash", port=80, annotations=SHARED), ["198.51.100.10"]),
    (service("requested", loadBalancerIP="203.0.113.5"), ["203.0.113.5"]),
    (service("requested-annotation",
             annotations={"metallb.io/loadBalancerIPs": "203.0.113.7"}), ["203.0.113.7"]),
    (service("by-pool", annotations={"metallb.universe.tf/address-pool": "manual"}),
     ["203.0.113.0"]),
    (service("dual", **DUAL), ["198.51.100.11", "2001:db8::"]),
    (service("other-class", loadBalancerClass="example.com/other"), []),
    (service("cluster-ip", type_="ClusterIP"), []),
    (service("unknown-pool", annotations={"metallb.io/address-pool": "nope"}), []),
    (service("both-requests", loadBalancerIP="203.0.113.9",
             annotations={"metallb.io/loadBalancerIPs": "203.0.113.9"}), []),
    (service("last"), ["198.51.100.12"]),
]


def _create_all(core, manifests):
    for body in manifests:
        core.create_namespaced_service(body["metadata"]["namespace"], body)


def _stamped(manifests):
    """The manifests with creationTimestamps in list order, a second apart: `metallb
    plan` orders by creation time (then name), so this makes it replay the order in
    which a running controller saw them arrive."""
    stamped = []
    for second, body in enumerate(manifests):
        meta = {**body["metadata"], "creationTimestamp": f"2026-01-01T00:00:{second:02d}Z"}
        stamped.append({**body, "metadata": meta})
    return stamped


# rules A2, A4, A7, A8, A10, A11, A14 and D1; the same from either config source
@pytest.mark.parametrize("source", ["configmap", "crds"])
def test_rules_live_match_expectations_and_plan(core, api_client, start_controller, source):
    put_config_as(source, core, api_client, RULES_CONFIG)
    daemon = start_controller(config_source=source)
    # Config loaded first: services that arrived before it would all be taken in the
    # first pass's order (creation second, then name), not one by one as created.
    poll_until(lambda: daemon.reconciler.core.allocator is not None, timeout=15,
               what="the controller loaded its config")
    manifests = [m for m, _ in RULE_CASES]
    _create_all(core, manifests)
    expected = {f"demo/{m['metadata']['name']}": ips for m, ips in RULE_CASES}
    live = wait_statuses(core, expected)
    # Quiet: nothing else will change (the worker drained its queue).
    poll_until(daemon.queue.idle, timeout=10, what="controller queue idle")
    assert statuses(core) == live

    planned = plan_allocations(parse_config_text(RULES_CONFIG), _stamped(manifests))["services"]
    assert {k: v["ips"] for k, v in planned.items()} == {k: live[k] for k in planned}

    svc = core.read_namespaced_service("dual", "demo")
    assert svc.metadata.annotations[ALLOCATED_FROM_POOL_ANNOTATION] == "second"
    # Events go out from the controller's event thread, after the statuses.
    poll_until(lambda: all(event_reasons(core, "demo", name) for name in
                           ("plain", "unknown-pool", "both-requests")),
               what="the controller's events")
    assert event_reasons(core, "demo", "plain") == ["IPAllocated"]
    assert event_reasons(core, "demo", "unknown-pool") == ["AllocationFailed"]
    assert event_reasons(core, "demo", "both-requests") == ["LoadBalancerFailed"]
    assert event_reasons(core, "demo", "other-class") == []
    port = daemon.metrics_server.port
    assert metric_value(port, 'metallb_allocator_addresses_in_use_total{pool="first"}') == 2
    assert metric_value(port, 'metallb_allocator_addresses_in_use_total{pool="second"}') == 4
    assert metric_value(port, 'metallb_allocator_addresses_total{pool="manual"}') == 16


def test_address_and_pool_annotation_arrive_in_one_write(core, start_controller):
    """As upstream's one UpdateStatus: the status write carries the pool annotation, so a
    new Service costs the API one write, not two."""
    put_config(core, "address-pools:\n- {name: one, protocol: bgp, addresses: [192.0.2.0/30]}\n")
    start_controller()
    created = core.create_namespaced_service("demo", service("single"))
    stream = watch.Watch().stream(
        core.list_namespaced_service, "demo", field_selector="metadata.name=single",
        resource_version=created.metadata.resource_version, timeout_seconds=30)
    first = next(e["object"] for e in stream if e["type"] == "MODIFIED")
    assert [i.ip for i in first.status.load_balancer.ingress] == ["192.0.2.0"]
    assert first.metadata.annotations[ALLOCATED_FROM_POOL_ANNOTATION] == "one"


# rules A1 and D6
def test_our_lb_class_only(core, start_controller):
    put_config(core, RULES_CONFIG)
    daemon = start_controller(load_balancer_class="metallb.io/ours")
    _create_all(core, [service("mine", loadBalancerClass="metallb.io/ours"),
                       service("theirs", loadBalancerClass="example.com/other"),
                       service("unclassed")])
    # Another implementation already gave the unclassed service an address: with
    # --lb-class it belongs to the default implementation (upstream), so it is kept.
    core.patch_namespaced_service_status("unclassed", "demo", {"status": {"loadBalancer": {
        "ingress": [{"ip": "203.0.113.200"}]}}})
    wait_statuses(core, {"demo/mine": ["192.0.2.0"]})
    assert statuses(core)["demo/theirs"] == []
    changed = core.patch_namespaced_service("unclassed", "demo",
                                            {"metadata": {"labels": {"x": "y"}}})
    version = changed.metadata.resource_version  # the cache keeps no labels (trimmed)
    poll_until(lambda: daemon.services.get("demo/unclassed")["metadata"].get(
        "resourceVersion") == version, what="the change reached the controller's cache")
    poll_until(daemon.queue.idle, timeout=10, what="controller queue idle")
    assert statuses(core)["demo/unclassed"] == ["203.0.113.200"]


# rule A12, from either config source
@pytest.mark.parametrize("source", ["configmap", "crds"])
def test_pending_service_gets_address_freed_by_delete_and_type_change(core, api_client,
                                                                      start_controller, source):
    put_config_as(source, core, api_client,
                  "address-pools:\n- {name: one, protocol: bgp, addresses: [192.0.2.7/32]}\n")
    daemon = start_controller(config_source=source)
    # Waiting services are retried in the one order (creation time, then namespace/name):
    # created within a second or not, "waiting" comes before "waiting-too".
    _create_all(core, [service("holder"), service("waiting"), service("waiting-too")])
    wait_statuses(core, {"demo/holder": ["192.0.2.7"], "demo/waiting": [], "demo/waiting-too": []})
    poll_until(lambda: "AllocationFailed" in event_reasons(core, "demo", "waiting"),
               what="AllocationFailed event on demo/waiting")
    port = daemon.metrics_server.port
    assert metric_value(port, 'metallb_allocator_addresses_in_use_total{pool="one"}') == 1

    core.delete_namespaced_service("holder", "demo")
    wait_statuses(core, {"demo/waiting": ["192.0.2.7"], "demo/waiting-too": []})
    poll_until(lambda: "IPAllocated" in event_reasons(core, "demo", "waiting"),
               what="IPAllocated event on demo/waiting")

    core.patch_namespaced_service("waiting", "demo", {"spec": {"type": "ClusterIP"}})
    wait_statuses(core, {"demo/waiting": [], "demo/waiting-too": ["192.0.2.7"]})
    waiting = core.read_namespaced_service("waiting", "demo")
    assert ALLOCATED_FROM_POOL_ANNOTATION not in (waiting.metadata.annotations or {})


# rule A3
def test_invalid_status_is_cleared_and_reallocated(core, start_controller):
    put_config(core, "address-pools:\n- {name: one, protocol: bgp, addresses: [192.0.2.0/30]}\n")
    core.create_namespaced_service("demo", service("stray"))
    core.patch_namespaced_service_status(
        "stray", "demo", {"status": {"loadBalancer": {"ingress": [{"ip": "10.1.2.3"}]}}})
    start_controller()
    wait_statuses(core, {"demo/stray": ["192.0.2.0"]})
    poll_until(lambda: event_reasons(core, "demo", "stray") == ["ClearAssignment",
                                                                "IPAllocated"],
               what="ClearAssignment and IPAllocated events on demo/stray")


# rule A10
def test_status_written_only_on_change(core, start_controller, apiserver):
    put_config(core, "address-pools:\n- {name: one, protocol: bgp, addresses: [192.0.2.0/30]}\n")
    daemon = start_controller()
    core.create_namespaced_service("demo", service("calm"))
    wait_statuses(core, {"demo/calm": ["192.0.2.0"]})
    poll_until(daemon.queue.idle, timeout=10, what="controller queue idle")
    rv = core.read_namespaced_service("calm", "demo").metadata.resource_version
    updates = metric_value(daemon.metrics_server.port, "metallb_k8s_client_updates_total")
    # An unrelated change makes the controller look at the service again, and write nothing.
    core.patch_namespaced_service("calm", "demo", {"metadata": {"labels": {"touched": "yes"}}})
    touched = core.read_namespaced_service("calm", "demo").metadata.resource_version
    assert touched != rv
    poll_until(lambda: metric_value(daemon.metrics_server.port,
                                    "metallb_k8s_client_updates_total") > updates,
               what="the label change was processed")
    poll_until(daemon.queue.idle, timeout=10, what="controller queue idle")
    assert core.read_namespaced_service("calm", "demo").metadata.resource_version == touched
    def allocated_counts() -> list[int]:  # events go out from their own thread
        raw = json.loads(core.list_namespaced_event("demo", _preload_content=False).data)
        return [e["count"] for e in raw["items"] if e["reason"] == "IPAllocated"]

    assert poll_until(allocated_counts, what="the IPAllocated event") == [1]


# rule A13, from either config source
@pytest.mark.parametrize("source", ["configmap", "crds"])
def test_restart_over_existing_statuses_matches_plan(core, start_controller, api_client,
                                                     source):
    """Statuses written before the controller starts (an invalid one first): it loads
    the valid ones before handing anything out, exactly as `metallb plan` does."""
    text = "address-pools:\n- {name: one, protocol: bgp, addresses: [192.0.2.0/30]}\n"
    put_config_as(source, core, api_client, text)
    written = {"a-invalid": "10.9.9.9", "b-holder": "192.0.2.0", "c-holder": "192.0.2.2"}
    for name in ("a-invalid", "b-holder", "c-holder", "d-new", "e-new"):
        core.create_namespaced_service("demo", service(name))
        if name in written:
            core.patch_namespaced_service_status(name, "demo", {"status": {"loadBalancer": {
                "ingress": [{"ip": written[name]}]}}})
    manifests = json.loads(core.list_namespaced_service("demo", _preload_content=False).data)
    result = plan_allocations(parse_config_text(text), manifests["items"])
    planned = {k: v["ips"] for k, v in result["services"].items()}
    assert planned["demo/b-holder"] == ["192.0.2.0"] and planned["demo/c-holder"] == ["192.0.2.2"]

    daemon = start_controller(config_source=source)
    wait_statuses(core, planned)
    poll_until(daemon.queue.idle, timeout=10, what="controller queue idle")
    assert statuses(core, "demo") == planned


def test_daemon_and_plan_pick_the_same_services_in_the_same_order(core, start_controller):
    """Six services want four addresses. They exist before the config does (created in
    reverse name order), so the controller's first pass decides them all at once; then
    a holder goes away and the waiting service first in the one order (creation time,
    then namespace/name) gets its address. `metallb plan` over the same objects, read
    back from the API, agrees at each step."""
    text = "address-pools:\n- {name: small, protocol: bgp, addresses: [192.0.2.0/30]}\n"
    names = [f"svc-{n}" for n in "fedcba"]
    _create_all(core, [service(name) for name in names])
    daemon = start_controller()
    put_config(core, text)

    def read_back():
        return json.loads(core.list_namespaced_service(
            "demo", _preload_content=False).data)["items"]

    def planned():
        result = plan_allocations(parse_config_text(text), read_back())["services"]
        return {k: v["ips"] for k, v in result.items()}

    first = planned()
    assert sorted(ips for ips in first.values() if ips) == [
        ["192.0.2.0"], ["192.0.2.1"], ["192.0.2.2"], ["192.0.2.3"]]
    wait_statuses(core, first)
    poll_until(daemon.queue.idle, timeout=10, what="controller queue idle")
    assert statuses(core, "demo") == first

    holder = next(k for k, ips in first.items() if ips)
    core.delete_namespaced_service(holder.split("/")[1], "demo")
    poll_until(lambda: holder not in statuses(core, "demo"), what=f"{holder} deleted")
    after = planned()  # a restarted controller's view of what is left
    assert sum(bool(ips) for ips in after.values()) == 4
    wait_statuses(core, after)
    poll_until(daemon.queue.idle, timeout=10, what="controller queue idle")
    assert statuses(core, "demo") == after


# rule D9
def test_events_wait_while_services_wait_for_their_addresses(core, start_controller, apiserver):
    """An Event goes out only once no Service waits on the controller (or after at most
    5 s): in a burst, addresses first. One writer and slow status writes make "a"'s
    IPAllocated Event ready while "b"'s address is still being written."""
    put_config(core, "address-pools:\n- {name: one, protocol: bgp, addresses: [192.0.2.0/30]}\n")
    start_controller(write_threads=1)
    apiserver.faults.add_latency(1.0, verbs={"patch"}, resources={"services/status"})
    _create_all(core, [service("a"), service("b")])
    poll_until(lambda: "IPAllocated" in event_reasons(core, "demo", "a"), timeout=20,
               interval=0.02, what="IPAllocated event on demo/a")
    assert statuses(core)["demo/b"] == ["192.0.2.1"]
