"""The BGP behaviour users depend on, against each upstream router: FRR, BIRD 2, GoBGP.

Real ExaBGP (driven by ExaBGPDriver, inside node namespaces) against the router in the
router namespace. Assertions read the router's own view through lab.routers (vtysh JSON,
`birdc show route all`, `gobgp global rib -j`) and, for routers that install routes
(FRR, BIRD), the router namespace's kernel table. Only what can differ between routers
is in this matrix; planner and speaker behaviour is router-independent and tested
against FRR (test_interop.py, test_speaker_frr.py).
"""

from __future__ import annotations

import logging
import os
import signal

import pytest

from lab.harness.bgplab import NODE_ASN, ROUTER_ASN, bgp_lab
from lab.routers.base import RouterSpec
from lab.routers.kinds import KINDS
from metallb.wait import poll_until
from speaker.bgp import RouteAttrs

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(120)]

VIP = "198.51.100.10/32"
VIP6 = "2001:db8::10/128"

kinds = pytest.mark.parametrize("kind", KINDS)


def wait(fn, what: str, timeout: float = 15.0):
    return poll_until(fn, timeout, what=what)


def announce(lab, routes, v6: bool = False, **peer):
    """Start a driver per node, peer with the router, announce `routes` from each."""
    router = lab.topology.router_ipv6 if v6 else lab.topology.router_ipv4
    drivers = lab.start_drivers()
    for drv, node in zip(drivers, lab.nodes, strict=True):
        drv.set_peers([lab.peer_v6(node, **peer) if v6 else lab.peer_v4(node, **peer)])
        drv.set_routes({router: routes})
    return drivers


@kinds
def test_ecmp_over_every_node_in_rib_and_kernel_then_one_withdrawn(kind):
    with bgp_lab(3, kind=kind) as lab:
        drivers = announce(lab, {VIP: RouteAttrs()})
        nodes = sorted(n.ipv4 for n in lab.nodes)
        assert wait(lambda: lab.router.path_nexthops(VIP) == nodes, "3 paths in the RIB")
        assert wait(lambda: lab.nexthops(VIP) == nodes, "3 ECMP next hops")
        assert {p.peer for p in lab.router.paths(VIP)} == set(nodes)
        assert {p.as_path for p in lab.router.paths(VIP)} == {(NODE_ASN,)}
        drivers[0].set_routes({})
        assert wait(lambda: lab.router.path_nexthops(VIP) == nodes[1:], "node 0 withdrawn")
        assert wait(lambda: lab.nexthops(VIP) == nodes[1:], "kernel follows")


@kinds
def test_ipv6_host_route_over_every_node(kind):
    with bgp_lab(2, kind=kind) as lab:
        announce(lab, {VIP6: RouteAttrs()}, v6=True)
        nodes = sorted(n.ipv6 for n in lab.nodes)
        assert wait(lambda: lab.router.path_nexthops(VIP6) == nodes, "2 IPv6 paths")
        assert wait(lambda: lab.nexthops(VIP6) == nodes, "2 IPv6 next hops")


@kinds
def test_md5_right_password_establishes_wrong_one_does_not(kind, caplog):
    caplog.set_level(logging.WARNING, logger="speaker.exabgp")
    spec = RouterSpec(asn=ROUTER_ASN, password="s3cret")
    with bgp_lab(2, kind=kind, spec=spec) as lab:
        router = lab.topology.router_ipv4
        good, bad = lab.start_drivers(establish_warn_after=1.5)
        good.set_peers([lab.peer_v4(lab.nodes[0], password="s3cret")])
        bad.set_peers([lab.peer_v4(lab.nodes[1], password="wrong")])
        for drv in (good, bad):
            drv.set_routes({router: {VIP: RouteAttrs()}})
        assert wait(lambda: lab.nexthops(VIP) == [lab.nodes[0].ipv4], "good route")
        wait(lambda: any(e.kind == "session_not_established"
                         for e in lab.events[lab.nodes[1].netns]), "stuck-session warning")
        assert lab.router.established() == {lab.nodes[0].ipv4}
        assert lab.router.path_nexthops(VIP) == [lab.nodes[0].ipv4]
        assert not bad.sessions()[router].up
        line = next(r.getMessage() for r in caplog.records
                    if "bgp_session_not_established" in r.getMessage())
        assert f"peer={router}" in line and "md5=yes" in line and "password" in line


@kinds
def test_communities_as_the_router_sees_them_on_ebgp(kind):
    with bgp_lab(2, kind=kind) as lab:
        announce(lab, {VIP: RouteAttrs(communities=("65000:1", "65000:2"))})
        assert wait(lambda: len(lab.router.paths(VIP)) == 2, "2 paths")
        assert {p.communities for p in lab.router.paths(VIP)} == {("65000:1", "65000:2")}


@kinds
def test_local_preference_and_communities_on_ibgp(kind):
    spec = RouterSpec(asn=ROUTER_ASN, remote_as="internal")
    with bgp_lab(2, kind=kind, spec=spec) as lab:
        attrs = RouteAttrs(communities=("65000:1",), local_pref=150)
        announce(lab, {VIP: attrs}, asn=ROUTER_ASN)
        nodes = sorted(n.ipv4 for n in lab.nodes)
        assert wait(lambda: lab.router.path_nexthops(VIP) == nodes, "2 iBGP paths")
        assert wait(lambda: lab.nexthops(VIP) == nodes, "2 iBGP next hops")
        assert {(p.local_pref, p.communities) for p in lab.router.paths(VIP)} == {
            (150, ("65000:1",))}


@kinds
def test_clean_stop_withdraws_before_the_hold_time(kind):
    with bgp_lab(2, kind=kind) as lab:
        drivers = announce(lab, {VIP: RouteAttrs()})
        nodes = sorted(n.ipv4 for n in lab.nodes)
        assert wait(lambda: lab.nexthops(VIP) == nodes, "ECMP")
        drivers[0].stop(withdraw=True)
        # well below the 3 s hold time: the withdraw (or the NOTIFICATION) did it
        assert wait(lambda: lab.nexthops(VIP) == [lab.nodes[1].ipv4],
                    "node 0 gone", timeout=2.0)


# rule N9
@kinds
def test_exabgp_killed_is_restarted_and_the_route_returns(kind):
    with bgp_lab(1, kind=kind) as lab:
        node = lab.nodes[0]
        router = lab.topology.router_ipv4
        (drv,) = lab.start_drivers(restart_backoff=(0.1, 1.0))
        drv.set_peers([lab.peer_v4(node)])
        drv.set_routes({router: {VIP: RouteAttrs()}})
        assert wait(lambda: lab.nexthops(VIP) == [node.ipv4], "route")
        old_pid = drv.pid
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)
        assert wait(lambda: drv.restarts == 1 and drv.pid not in (None, old_pid), "restart")
        assert wait(lambda: drv.sessions()[router].up, "session back up (driver's view)")
        assert wait(lambda: lab.router.established() == {node.ipv4}, "session back")
        assert wait(lambda: lab.nexthops(VIP) == [node.ipv4], "route back")
        assert any(e.kind == "exabgp_exited" for e in lab.events[node.netns])


@kinds
def test_router_restart_sessions_and_ecmp_return(kind):
    with bgp_lab(2, kind=kind) as lab:
        announce(lab, {VIP: RouteAttrs()})
        nodes = sorted(n.ipv4 for n in lab.nodes)
        assert wait(lambda: lab.nexthops(VIP) == nodes, "ECMP before restart")
        lab.router.restart()
        assert wait(lambda: lab.router.established() == set(nodes), "sessions back")
        assert wait(lambda: lab.nexthops(VIP) == nodes, "ECMP after restart")
        assert lab.router.path_nexthops(VIP) == nodes
