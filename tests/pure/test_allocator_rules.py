"""One test (or table) per allocation rule of docs/rules.md, section A (rules A1 to A15),
run through the allocator and the reconcile decision."""

from __future__ import annotations

import ipaddress

import pytest

from metallb.allocator.allocator import AllocationError, Allocator, PoolStats
from metallb.allocator.decision import decide
from metallb.allocator.service import intent_from_service
from tests.support.pools import config, pool


def svc(name, *, annotations=None, status_ips=(), ports=((80, "TCP"),), **spec):
    obj = {
        "metadata": {"name": name, "namespace": "default", "annotations": annotations or {}},
        "spec": {"type": "LoadBalancer",
                 "ports": [{"port": p, "protocol": proto} for p, proto in ports], **spec},
    }
    if status_ips:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in status_ips]}}
    return intent_from_service(obj)


def shared(name, key="k", ports=((80, "TCP"),), **kw):
    return svc(name, annotations={"metallb.universe.tf/allow-shared-ip": key}, ports=ports, **kw)


def ips_of(decision):
    return list(decision.ips)


def reasons(decision):
    return [(e.type, e.reason) for e in decision.events]


# -- rule A6: inside a pool -------------------------------------------------------------------


def test_lowest_address_first_and_slash24_dot0_usable():
    alloc = Allocator(config(pool("p", "198.51.100.0/24")))
    assert ips_of(decide(alloc, svc("a"))) == ["198.51.100.0"]
    assert ips_of(decide(alloc, svc("b"))) == ["198.51.100.1"]


def test_entries_in_config_order_not_numeric_order():
    alloc = Allocator(config(pool("p", "203.0.113.24/31", "198.51.100.0/31")))
    got = [ips_of(decide(alloc, svc(n)))[0] for n in "abcd"]
    assert got == ["203.0.113.24", "203.0.113.25", "198.51.100.0", "198.51.100.1"]


def test_avoid_buggy_ips_skips_dot0_and_dot255():
    alloc = Allocator(config(pool("p", "198.51.100.254-198.51.101.1", avoid_buggy_ips=True)))
    got = [ips_of(decide(alloc, svc(n))) for n in "abc"]
    assert got == [["198.51.100.254"], ["198.51.101.1"], []]
    assert alloc.stats()["p"] == PoolStats(addresses_total=2, addresses_in_use=2)


def test_released_address_is_reused_lowest_first():
    alloc = Allocator(config(pool("p", "198.51.100.0/29")))
    for n in "abc":
        decide(alloc, svc(n))
    alloc.release("default/a")
    assert ips_of(decide(alloc, svc("d"))) == ["198.51.100.0"]


# -- rules A4, A5, A10 and D1: which pool, refused requests, failures -------------------------


def test_auto_assign_pools_in_config_order_and_skip_non_auto():
    cfg = config(
        pool("manual", "192.0.2.0/30", auto_assign=False),
        pool("first", "198.51.100.0/31"),
        pool("second", "203.0.113.0/31"),
    )
    alloc = Allocator(cfg)
    got = [(decide(alloc, svc(n)).pool) for n in "abc"]
    assert got == ["first", "first", "second"]


def test_pool_annotation_uses_that_pool_even_if_not_auto_assign():
    alloc = Allocator(config(pool("a", "198.51.100.0/30"),
                             pool("b", "203.0.113.0/30", auto_assign=False)))
    d = decide(alloc, svc("x", annotations={"metallb.universe.tf/address-pool": "b"}))
    assert (d.pool, ips_of(d)) == ("b", ["203.0.113.0"])


def test_unknown_pool():
    alloc = Allocator(config(pool("a", "198.51.100.0/30")))
    d = decide(alloc, svc("x", annotations={"metallb.io/address-pool": "nope"}))
    assert ips_of(d) == [] and d.pool is None
    assert reasons(d) == [("Warning", "AllocationFailed")]
    assert 'unknown pool "nope"' in d.events[0].message


def test_no_available_ips():
    alloc = Allocator(config(pool("a", "198.51.100.7/32")))
    decide(alloc, svc("x"))
    d = decide(alloc, svc("y"))
    assert reasons(d) == [("Warning", "AllocationFailed")]
    assert d.events[0].message == 'Failed to allocate IP for "default/y": no available IPs'


def test_requested_ip_from_any_pool_including_manual():
    alloc = Allocator(config(pool("a", "198.51.100.0/30"),
                             pool("m", "203.0.113.0/30", auto_assign=False)))
    d = decide(alloc, svc("x", loadBalancerIP="203.0.113.2"))
    assert (d.pool, ips_of(d)) == ("m", ["203.0.113.2"])
    assert reasons(d) == [("Normal", "IPAllocated")]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"loadBalancerIP": "192.0.2.9"}, "not allowed in config"),
        ({"loadBalancerIP": "198.51.100.0"}, "avoid-buggy-ips"),
        ({"loadBalancerIP": "198.51.100.1",
          "annotations": {"metallb.universe.tf/address-pool": "other"}}, "annotated pool"),
        ({"loadBalancerIP": "2001:db8::1"}, "IP families"),
        ({"annotations": {"metallb.universe.tf/loadBalancerIPs": "198.51.100.1,2001:db8::1"},
          "ipFamilies": ["IPv4", "IPv6"]}, "different pools"),
    ],
)
def test_requested_ip_refused(kwargs, fragment):
    alloc = Allocator(config(pool("p", "198.51.100.0/24", avoid_buggy_ips=True),
                             pool("other", "203.0.113.0/24"), pool("v6", "2001:db8::/64")))
    d = decide(alloc, svc("x", **kwargs))
    assert ips_of(d) == []
    assert reasons(d) == [("Warning", "AllocationFailed")]
    assert fragment in d.events[0].message


def test_requested_ip_already_held_exclusively():
    alloc = Allocator(config(pool("p", "198.51.100.0/24")))
    decide(alloc, svc("a", loadBalancerIP="198.51.100.5"))
    d = decide(alloc, svc("b", loadBalancerIP="198.51.100.5"))
    assert ips_of(d) == []
    assert "already in use by default/a" in d.events[0].message


# -- rule A2: bad requests --------------------------------------------------------------------


def test_bad_request_is_load_balancer_failed_and_releases():
    alloc = Allocator(config(pool("p", "198.51.100.0/24")))
    decide(alloc, svc("a"))
    d = decide(alloc, svc("a", loadBalancerIP="nonsense"))
    assert reasons(d) == [("Warning", "LoadBalancerFailed")]
    assert ips_of(d) == []
    assert alloc.assignment("default/a") is None


# -- rule A1: not ours ------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [{"type": "ClusterIP"}, {"type": "NodePort"},
                                  {"loadBalancerClass": "other.io/lb"}])
def test_not_ours_is_released_and_cleared(spec):
    alloc = Allocator(config(pool("p", "198.51.100.0/24")))
    decide(alloc, svc("a"))
    d = decide(alloc, svc("a", status_ips=("198.51.100.0",), **spec))
    assert not d.ours and ips_of(d) == [] and d.pool is None and d.events == ()
    assert d.status_changed
    assert alloc.stats()["p"].addresses_in_use == 0


# -- rule A3: existing assignments ------------------------------------------------------------


def test_existing_assignment_kept_without_event_even_if_not_lowest():
    alloc = Allocator(config(pool("p", "198.51.100.0/24")))
    d = decide(alloc, svc("a", status_ips=("198.51.100.77",)))
    assert ips_of(d) == ["198.51.100.77"] and d.events == () and not d.status_changed


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"status_ips": ("192.0.2.1",)}, "not allowed in config"),
        ({"status_ips": ("198.51.100.0",)}, "avoid-buggy-ips"),
        ({"status_ips": ("198.51.100.9",), "loadBalancerIP": "198.51.100.10"}, "requested"),
        ({"status_ips": ("198.51.100.9",),
          "annotations": {"metallb.universe.tf/address-pool": "q"}}, "annotated pool"),
        ({"status_ips": ("198.51.100.9",), "ipFamilies": ["IPv4", "IPv6"]}, "IP families"),
        ({"status_ips": ("garbage",)}, "garbage"),
    ],
)
def test_invalid_existing_assignment_cleared_then_reallocated(kwargs, fragment):
    alloc = Allocator(config(pool("p", "198.51.100.0/24", "2001:db8::/120", avoid_buggy_ips=True),
                             pool("q", "203.0.113.0/24")))
    d = decide(alloc, svc("a", **kwargs))
    assert reasons(d)[0] == ("Normal", "ClearAssignment")
    assert fragment in d.events[0].message
    assert reasons(d)[1:] == [("Normal", "IPAllocated")]
    assert d.status_changed


def test_existing_assignment_with_incompatible_sharing_is_cleared():
    alloc = Allocator(config(pool("p", "198.51.100.0/24")))
    decide(alloc, shared("a", status_ips=("198.51.100.5",)))
    d = decide(alloc, shared("b", ports=((80, "TCP"),), status_ips=("198.51.100.5",)))
    assert reasons(d) == [("Normal", "ClearAssignment"), ("Normal", "IPAllocated")]
    assert ips_of(d) == ["198.51.100.0"]


def test_allocation_reuses_what_the_allocator_already_holds():
    # e.g. the status write failed: the next pass must not renumber the service.
    alloc = Allocator(config(pool("p", "198.51.100.0/24")))
    decide(alloc, svc("a"))
    decide(alloc, svc("b"))
    alloc.release("default/a")
    d = decide(alloc, svc("b"))
    assert ips_of(d) == ["198.51.100.1"]


# -- rule A7: dual-stack ----------------------------------------------------------------------


def test_dual_stack_one_of_each_family_from_same_pool_ipv4_first():
    alloc = Allocator(config(pool("v4only", "192.0.2.0/30"),
                             pool("dual", "2001:db8::/126", "198.51.100.0/30")))
    d = decide(alloc, svc("a", ipFamilies=["IPv6", "IPv4"]))
    assert (d.pool, ips_of(d)) == ("dual", ["198.51.100.0", "2001:db8::"])
    d6 = decide(alloc, svc("b", ipFamilies=["IPv6"]))
    assert (d6.pool, ips_of(d6)) == ("dual", ["2001:db8::1"])


def test_dual_stack_fails_when_no_pool_has_both():
    alloc = Allocator(config(pool("v4", "192.0.2.0/30"), pool("v6", "2001:db8::/126")))
    d = decide(alloc, svc("a", clusterIPs=["10.0.0.1", "fd00::1"]))
    assert ips_of(d) == [] and "no available IPs" in d.events[0].message


# -- rules A8 and A9: sharing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        (shared("a"), shared("b", ports=((443, "TCP"),)), True),
        (shared("a"), shared("b", ports=((80, "UDP"),)), True),
        (shared("a"), shared("b"), False),  # same port
        (shared("a"), shared("b", key="other", ports=((443, "TCP"),)), False),
        (shared("a"), svc("b", ports=((443, "TCP"),)), False),  # no key
        (shared("a"), shared("b", ports=((443, "TCP"),), externalTrafficPolicy="Local"), False),
        (shared("a", externalTrafficPolicy="Local", selector={"app": "x"}),
         shared("b", ports=((443, "TCP"),), externalTrafficPolicy="Local",
                selector={"app": "x"}), True),
        (shared("a", externalTrafficPolicy="Local", selector={"app": "x"}),
         shared("b", ports=((443, "TCP"),), externalTrafficPolicy="Local",
                selector={"app": "y"}), False),
        (shared("a", selector={"app": "x"}),
         shared("b", ports=((443, "TCP"),), selector={"app": "y"}), True),  # Cluster
    ],
)
def test_sharing_compatibility(first, second, same):
    alloc = Allocator(config(pool("p", "198.51.100.0/24")))
    a = decide(alloc, first)
    b = decide(alloc, second)
    assert (ips_of(a) == ips_of(b)) is same
    expected_in_use = 1 if same else 2
    assert alloc.stats()["p"].addresses_in_use == expected_in_use


def test_shared_key_placed_on_lowest_compatible_shared_address_before_free_one():
    alloc = Allocator(config(pool("p", "198.51.100.0/24")))
    decide(alloc, svc("plain"))  # .0, exclusive
    decide(alloc, shared("a"))  # .1 under key k
    decide(alloc, shared("b"))  # port clash with a -> .2 under k
    decide(alloc, svc("plain2"))  # .3
    c = decide(alloc, shared("c", ports=((443, "TCP"),)))
    d = decide(alloc, shared("d", ports=((443, "TCP"),)))
    assert ips_of(c) == ["198.51.100.1"]  # lowest shared under k, compatible with a
    assert ips_of(d) == ["198.51.100.2"]  # .1 now clashes on 443, .2 does not
    assert alloc.stats()["p"] == PoolStats(256, 4)


def test_shared_address_stays_until_last_holder_leaves():
    alloc = Allocator(config(pool("p", "198.51.100.0/31")))
    decide(alloc, shared("a"))
    decide(alloc, shared("b", ports=((443, "TCP"),)))
    alloc.release("default/a")
    assert ips_of(decide(alloc, svc("x"))) == ["198.51.100.1"]
    alloc.release("default/b")
    assert ips_of(decide(alloc, svc("y"))) == ["198.51.100.0"]


def test_requested_shared_address():
    alloc = Allocator(config(pool("p", "198.51.100.0/24")))
    a = decide(alloc, shared("a", loadBalancerIP="198.51.100.9"))
    b = decide(alloc, shared("b", ports=((443, "TCP"),), loadBalancerIP="198.51.100.9"))
    assert ips_of(a) == ips_of(b) == ["198.51.100.9"]
    assert alloc.holders(ipaddress.ip_address("198.51.100.9")) == {"default/a", "default/b"}


# -- rules A15 and D2: config changes never take an address away ------------------------------


def test_set_config_refuses_to_take_addresses_and_names_services():
    alloc = Allocator(config(pool("p", "198.51.100.0/24")))
    decide(alloc, svc("a"))
    decide(alloc, svc("b", loadBalancerIP="198.51.100.200"))
    blocked = alloc.set_config(config(pool("p", "198.51.100.0/25")))
    assert [(b.key, b.ips) for b in blocked] == [("default/b", ("198.51.100.200",))]
    assert "not allowed in config" in blocked[0].reason
    assert alloc.stats()["p"].addresses_total == 256  # not applied


def test_set_config_refuses_avoid_buggy_ips_on_a_held_dot0():
    alloc = Allocator(config(pool("p", "198.51.100.0/24")))
    decide(alloc, svc("a"))
    blocked = alloc.set_config(config(pool("p", "198.51.100.0/24", avoid_buggy_ips=True)))
    assert [b.key for b in blocked] == ["default/a"]


def test_set_config_applies_rename_and_growth():
    alloc = Allocator(config(pool("p", "198.51.100.0/30")))
    decide(alloc, svc("a"))
    assert alloc.set_config(config(pool("renamed", "198.51.100.0/24"))) == []
    assert alloc.assignment("default/a").pool == "renamed"
    assert alloc.stats() == {"renamed": PoolStats(256, 1)}
    assert ips_of(decide(alloc, svc("b"))) == ["198.51.100.1"]


def test_set_config_refuses_rename_away_from_annotated_pool():
    alloc = Allocator(config(pool("p", "198.51.100.0/30")))
    decide(alloc, svc("a", annotations={"metallb.universe.tf/address-pool": "p"}))
    blocked = alloc.set_config(config(pool("q", "198.51.100.0/30")))
    assert [b.key for b in blocked] == ["default/a"]


def test_allocation_error_leaves_nothing_held():
    alloc = Allocator(config(pool("p", "198.51.100.0/32")))
    decide(alloc, svc("a"))
    with pytest.raises(AllocationError):
        alloc.allocate(svc("b"))
    assert alloc.assignment("default/b") is None
