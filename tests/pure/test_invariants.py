"""The invariant checker itself: each promise it guards is seen broken when it is."""

from __future__ import annotations

from lab.harness.invariants import InvariantChecker, Snapshot

NODES = {"n0": "192.0.2.11", "n1": "192.0.2.12"}
BOTH = ("192.0.2.11", "192.0.2.12")


def svc(name, ips=(), uid=None, local=False, share=None, pool=None, port=80):
    annotations = {}
    if share:
        annotations["metallb.universe.tf/allow-shared-ip"] = share
    if pool:
        annotations["metallb.universe.tf/address-pool"] = pool
    return {"metadata": {"name": name, "namespace": "d", "uid": uid or name,
                         "annotations": annotations},
            "spec": {"type": "LoadBalancer", "ports": [{"port": port, "protocol": "TCP"}],
                     "externalTrafficPolicy": "Local" if local else "Cluster"},
            "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}


def eps(name, nodes, ready=True):
    return {"metadata": {"name": f"{name}-eps", "namespace": "d",
                         "labels": {"kubernetes.io/service-name": name}},
            "endpoints": [{"nodeName": n, "conditions": {"ready": ready}} for n in nodes]}


def checker():
    return InvariantChecker({"a": ("198.51.100.0/24",), "b": ("203.0.113.0-203.0.113.9",)},
                            NODES)


def test_a_converged_system_passes():
    snap = Snapshot((svc("x", ["198.51.100.1"]), svc("y", ["203.0.113.2"], local=True)),
                    (eps("x", ["n0", "n1"]), eps("y", ["n1"])),
                    {"198.51.100.1/32": BOTH, "203.0.113.2/32": ("192.0.2.12",)})
    verdict = checker().check(snap)
    assert verdict.converged, verdict.describe()
    assert (verdict.services, verdict.assigned) == (2, 2)


def test_changed_address_is_remembered_by_uid():
    c = checker()
    c.check(Snapshot((svc("x", ["198.51.100.1"]),), (), {}))
    verdict = c.check(Snapshot((svc("x", ["198.51.100.2"]),), (), {}))
    assert verdict.changed and not verdict.converged
    # A new service (new uid) with the old name may get any address.
    assert not c.check(Snapshot((svc("x", ["198.51.100.7"], uid="other"),), (), {})).changed


def test_duplicates_unless_validly_shared():
    c = checker()
    dup = c.check(Snapshot((svc("x", ["198.51.100.1"]), svc("y", ["198.51.100.1"])), (), {}))
    assert dup.duplicates
    shared = c.check(Snapshot((svc("p", ["198.51.100.3"], share="k"),
                               svc("q", ["198.51.100.3"], share="k", port=443)), (), {}))
    assert not shared.duplicates
    same_port = c.check(Snapshot((svc("r", ["198.51.100.4"], share="k"),
                                  svc("s", ["198.51.100.4"], share="k")), (), {}))
    assert same_port.duplicates


def test_outside_pool_and_wrong_pool():
    verdict = checker().check(Snapshot((svc("x", ["192.0.2.50"]),
                                        svc("y", ["198.51.100.9"], pool="b")), (), {}))
    assert len(verdict.outside_pool) == 2


def test_routes_missing_stale_and_wrong_nexthops():
    services = (svc("x", ["198.51.100.1"]), svc("y", ["198.51.100.2"]))
    slices = (eps("x", ["n0"]), eps("y", ["n0"]))
    verdict = checker().check(Snapshot(services, slices, {
        "198.51.100.2/32": ("192.0.2.11",),        # Cluster: both nodes expected
        "198.51.100.99/32": BOTH}))                # nobody holds it
    assert verdict.missing_routes == ("198.51.100.1/32",)
    assert verdict.wrong_nexthops and verdict.stale_routes
    # With n1's speaker down, only n0 should be announcing.
    down = checker().check(Snapshot(services[1:], slices[1:],
                                    {"198.51.100.2/32": ("192.0.2.11",)}), announcing=["n0"])
    assert down.converged


def test_no_ready_endpoint_means_no_route():
    snap = Snapshot((svc("x", ["198.51.100.1"]),), (eps("x", ["n0"], ready=False),),
                    {"198.51.100.1/32": BOTH})
    assert checker().check(snap).stale_routes


def test_unassigned_is_not_converged():
    verdict = checker().check(Snapshot((svc("x"),), (), {}))
    assert verdict.unassigned == ("d/x",) and not verdict.converged
