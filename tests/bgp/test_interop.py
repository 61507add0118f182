"""Real ExaBGP (driven by ExaBGPDriver, inside node namespaces) against real FRR.

Assertions read FRR's JSON and the router namespace's kernel table; every wait polls the
real condition with a deadline.
"""

from __future__ import annotations

import os
import signal

import pytest

from lab.frr import RouterConfig
from lab.harness.bgplab import NODE_ASN, ROUTER_ASN, bgp_lab
from metallb.wait import poll_until
from speaker.bgp import RouteAttrs

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(120)]

VIP = "198.51.100.10/32"
VIP6 = "2001:db8::10/128"


def wait(fn, what: str, timeout: float = 15.0):
    return poll_until(fn, timeout, what=what)


# rule N7 (next hop: each node's own address)
def test_ecmp_over_three_nodes_and_withdraw_from_one():
    with bgp_lab(3) as lab:
        router = lab.topology.router_ipv4
        drivers = lab.start_drivers()
        for drv, node in zip(drivers, lab.nodes, strict=True):
            drv.set_peers([lab.peer_v4(node)])
            drv.set_routes({router: {VIP: RouteAttrs()}})
        all_nodes = sorted(n.ipv4 for n in lab.nodes)
        assert wait(lambda: lab.nexthops(VIP) == all_nodes, "3 ECMP next hops")
        assert lab.router.path_nexthops(VIP) == all_nodes
        state = drivers[0].sessions()[router]
        assert (state.up, state.announced_prefixes, state.pending_prefixes) == (True, 1, 0)
        assert state.updates_sent == 1

        drivers[0].set_routes({})
        remaining = all_nodes[1:]
        assert wait(lambda: lab.nexthops(VIP) == remaining, "node 0 withdrawn")
        assert lab.router.path_nexthops(VIP) == remaining
        state = drivers[0].sessions()[router]
        assert (state.announced_prefixes, state.updates_sent) == (0, 2)


# rule N9
def test_incremental_changes_reach_the_router_exactly():
    with bgp_lab(1) as lab:
        router = lab.topology.router_ipv4
        (drv,) = lab.start_drivers()
        drv.set_peers([lab.peer_v4(lab.nodes[0])])
        first = {f"198.51.100.{i}/32": RouteAttrs() for i in range(100)}
        drv.set_routes({router: first})
        assert wait(lambda: lab.router.prefixes_received() == 100, "100 prefixes")
        second = {f"198.51.100.{i}/32": RouteAttrs() for i in range(50, 150)}
        second["198.51.100.60/32"] = RouteAttrs(communities=("65000:7",))
        drv.set_routes({router: second})
        assert wait(lambda: lab.router.prefixes_received() == 100 and
                    lab.router.routes("198.51.100.149/32") and
                    not lab.router.routes("198.51.100.0/32"), "moved window")
        paths = lab.router.routes("198.51.100.60/32")
        assert paths[0]["community"]["string"] == "65000:7"
        # 100 announced, then 50 withdrawn + 50 new + 1 changed attributes
        assert drv.sessions()[router].updates_sent == 100 + 50 + 50 + 1
        assert drv.command_errors() == 0


# rule N9
def test_routes_announced_ahead_are_not_sent_twice_and_the_plan_still_decides():
    with bgp_lab(1) as lab:
        router = lab.topology.router_ipv4
        (drv,) = lab.start_drivers()
        drv.announce_ahead({router: {"198.51.100.1/32": RouteAttrs()}})  # no session yet
        drv.set_peers([lab.peer_v4(lab.nodes[0])])
        wait(lambda: drv.sessions()[router].up, "session up")
        assert lab.router.prefixes_received() == 0
        drv.set_routes({router: {f"198.51.100.{i}/32": RouteAttrs() for i in range(10)}})
        assert wait(lambda: lab.router.prefixes_received() == 10, "10 prefixes")
        ahead = {f"198.51.100.{i}/32": RouteAttrs() for i in range(5, 20)}
        drv.announce_ahead({router: ahead})
        assert wait(lambda: lab.router.prefixes_received() == 20, "10 more sent ahead")
        final = {f"198.51.100.{i}/32": RouteAttrs() for i in range(5, 20)}
        drv.set_routes({router: final}, canonical=True)
        assert wait(lambda: lab.router.prefixes_received() == 15 and
                    not lab.router.routes("198.51.100.0/32"), "0-4 withdrawn by the plan")
        # 10 announced, 10 new ones ahead (5-9 were held already), 5 withdrawn: none twice
        assert drv.sessions()[router].updates_sent == 10 + 10 + 5
        assert drv.command_errors() == 0


# rule N5
def test_communities_and_localpref_on_ibgp():
    with bgp_lab(2, RouterConfig(asn=ROUTER_ASN, remote_as="internal")) as lab:
        router = lab.topology.router_ipv4
        attrs = RouteAttrs(communities=("65000:1", "65000:2"), local_pref=150)
        for drv, node in zip(lab.start_drivers(), lab.nodes, strict=True):
            drv.set_peers([lab.peer_v4(node, asn=ROUTER_ASN)])
            drv.set_routes({router: {VIP: attrs}})
        assert wait(lambda: len(lab.nexthops(VIP)) == 2, "2 iBGP ECMP next hops")
        paths = lab.router.routes(VIP)
        assert [p["locPrf"] for p in paths] == [150, 150]
        assert {p["community"]["string"] for p in paths} == {"65000:1 65000:2"}
        assert {p["peer"]["type"] for p in paths} == {"internal"}


# rule N5
def test_aggregated_prefix_is_installed():
    with bgp_lab(2) as lab:
        router = lab.topology.router_ipv4
        for drv, node in zip(lab.start_drivers(), lab.nodes, strict=True):
            drv.set_peers([lab.peer_v4(node)])
            drv.set_routes({router: {"203.0.113.0/24": RouteAttrs(communities=("64513:100",))}})
        nodes = sorted(n.ipv4 for n in lab.nodes)
        assert wait(lambda: lab.nexthops("203.0.113.0/24") == nodes, "/24 over 2 nodes")
        assert lab.router.routes("203.0.113.0/24")[0]["community"]["string"] == "64513:100"


# rule N7
def test_ipv6_host_route_over_ipv6_unicast():
    with bgp_lab(3) as lab:
        router6 = lab.topology.router_ipv6
        for drv, node in zip(lab.start_drivers(), lab.nodes, strict=True):
            drv.set_peers([lab.peer_v6(node)])
            drv.set_routes({router6: {VIP6: RouteAttrs()}})
        nodes = sorted(n.ipv6 for n in lab.nodes)
        assert wait(lambda: lab.nexthops(VIP6) == nodes, "3 IPv6 ECMP next hops")
        assert lab.router.path_nexthops(VIP6) == nodes


# rules N9 and N13
def test_peer_added_later_gets_routes_set_before_and_old_session_survives():
    with bgp_lab(1) as lab:
        node = lab.nodes[0]
        v4, v6 = lab.topology.router_ipv4, lab.topology.router_ipv6
        (drv,) = lab.start_drivers()
        drv.set_peers([lab.peer_v4(node)])
        drv.set_routes({v4: {VIP: RouteAttrs()}, v6: {VIP6: RouteAttrs()}})
        assert wait(lambda: lab.nexthops(VIP) == [node.ipv4], "v4 route")
        assert v6 not in drv.sessions() and lab.nexthops(VIP6) == []
        up_since = drv.sessions()[v4].since
        drv.set_peers([lab.peer_v4(node), lab.peer_v6(node)])  # reload with a new peer
        assert wait(lambda: lab.nexthops(VIP6) == [node.ipv6], "v6 route to the new peer")
        assert drv.sessions()[v6].pending_prefixes == 0
        assert drv.sessions()[v4].since == up_since  # no flap of the unchanged session
        assert lab.nexthops(VIP) == [node.ipv4]


# rule N9
def test_frr_restart_sessions_and_routes_return():
    with bgp_lab(2) as lab:
        router = lab.topology.router_ipv4
        for drv, node in zip(lab.start_drivers(), lab.nodes, strict=True):
            drv.set_peers([lab.peer_v4(node)])
            drv.set_routes({router: {VIP: RouteAttrs()}})
        nodes = sorted(n.ipv4 for n in lab.nodes)
        assert wait(lambda: lab.nexthops(VIP) == nodes, "ECMP before restart")
        lab.router.restart()
        assert wait(lambda: lab.router.established() == set(nodes), "sessions back")
        assert wait(lambda: lab.nexthops(VIP) == nodes, "ECMP after restart")


# rule D3
def test_clean_stop_removes_next_hop_before_stop_returns():
    with bgp_lab(2) as lab:
        router = lab.topology.router_ipv4
        drivers = lab.start_drivers()
        for drv, node in zip(drivers, lab.nodes, strict=True):
            drv.set_peers([lab.peer_v4(node)])
            drv.set_routes({router: {VIP: RouteAttrs(), VIP.replace(".10/", ".11/"): RouteAttrs()}})
        nodes = sorted(n.ipv4 for n in lab.nodes)
        assert wait(lambda: lab.nexthops(VIP) == nodes, "ECMP")
        drivers[0].stop(withdraw=True)
        # no polling: the router has already dropped the node when stop() returns
        assert lab.router.path_nexthops(VIP) == [lab.nodes[1].ipv4]
        assert lab.nexthops(VIP) == [lab.nodes[1].ipv4]
        assert drivers[0].pid is None
        assert not drivers[0].sessions()[router].up


def test_node_asn_is_what_the_router_sees():
    with bgp_lab(1) as lab:
        (drv,) = lab.start_drivers()
        drv.set_peers([lab.peer_v4(lab.nodes[0])])
        drv.set_routes({lab.topology.router_ipv4: {VIP: RouteAttrs()}})
        assert wait(lambda: lab.router.routes(VIP), "route")
        peer = lab.router.bgp_summary()[lab.nodes[0].ipv4]
        assert peer["remoteAs"] == NODE_ASN
        assert lab.router.routes(VIP)[0]["aspath"]["string"] == str(NODE_ASN)


# rule N13
def test_peers_and_routes_set_before_start_then_peer_removed():
    with bgp_lab(1) as lab:
        node = lab.nodes[0]
        router = lab.topology.router_ipv4
        drv = lab.driver(node)
        drv.set_peers([lab.peer_v4(node)])
        drv.set_routes({router: {VIP: RouteAttrs()}})
        assert drv.sessions()[router].pending_prefixes == 1
        drv.start()
        assert wait(lambda: lab.nexthops(VIP) == [node.ipv4], "route after start")
        drv.set_peers([])  # reload without the peer: ExaBGP closes the session
        assert wait(lambda: lab.nexthops(VIP) == [], "route gone with the peer")
        assert wait(lambda: lab.router.established() == set(), "session closed")
        assert drv.sessions() == {}


SPEAKER_SCRIPT = """
import sys
from speaker.exabgp.driver import ExaBGPDriver
from speaker.bgp import PeerSpec, RouteAttrs
from metallb.wait import poll_until
state_dir, netns, node, router = sys.argv[1:5]
drv = ExaBGPDriver(state_dir, [node], netns=netns).start()
drv.set_peers([PeerSpec(router, 64512, 64513, node, node, hold_time=3)])
drv.set_routes({router: {"198.51.100.10/32": RouteAttrs()}})
poll_until(lambda: drv.sessions()[router].up, 15)
print(drv.pid, flush=True)
sys.stdin.read()
"""


# rule D7
def test_speaker_killed_takes_its_exabgp_and_routes_down():
    """An orphaned ExaBGP must not keep announcing for a node nobody manages."""
    import subprocess
    import sys

    from lab.frr import pid_alive

    with bgp_lab(1) as lab:
        node = lab.nodes[0]
        router = lab.topology.router_ipv4
        speaker = subprocess.Popen(
            [sys.executable, "-c", SPEAKER_SCRIPT, str(lab.workdir / "orphan"), node.netns,
             node.ipv4, router], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        exabgp_pid = None
        try:
            exabgp_pid = int(speaker.stdout.readline())
            assert wait(lambda: lab.nexthops(VIP) == [node.ipv4], "route")
            speaker.kill()
            speaker.wait(10)
            assert wait(lambda: lab.nexthops(VIP) == [], "route gone after the speaker died",
                        timeout=2.0)  # well below the 3 s hold time
            assert wait(lambda: not pid_alive(exabgp_pid), "orphaned ExaBGP exited", 5.0)
        finally:
            if speaker.poll() is None:
                speaker.kill()
                speaker.wait(10)
            if exabgp_pid and pid_alive(exabgp_pid):
                os.kill(exabgp_pid, signal.SIGKILL)


# rule N13
def test_removed_then_readded_peer_gets_exactly_the_desired_routes():
    """ExaBGP caches a neighbor's API routes by name across reloads; the driver must not
    let a re-added peer resurrect a route that is no longer desired."""
    with bgp_lab(1) as lab:
        node = lab.nodes[0]
        router = lab.topology.router_ipv4
        other = "198.51.100.11/32"
        (drv,) = lab.start_drivers()
        drv.set_peers([lab.peer_v4(node)])
        drv.set_routes({router: {VIP: RouteAttrs(), other: RouteAttrs()}})
        assert wait(lambda: lab.router.prefixes_received() == 2, "2 routes")
        drv.set_peers([])
        assert wait(lambda: lab.router.established() == set(), "peer removed")
        drv.set_routes({router: {VIP: RouteAttrs()}})
        drv.set_peers([lab.peer_v4(node)])
        assert wait(lambda: lab.router.routes(VIP), "desired route back")
        drv.flush()
        assert wait(lambda: drv.sessions()[router].pending_prefixes == 0, "in sync")
        assert wait(lambda: lab.router.prefixes_received() == 1, "FRR's count catches up")
        assert lab.router.routes(other) == []


# rule N13
def test_changed_hold_time_resets_the_session_and_routes_return():
    with bgp_lab(1) as lab:
        node = lab.nodes[0]
        router = lab.topology.router_ipv4
        (drv,) = lab.start_drivers()
        drv.set_peers([lab.peer_v4(node)])
        drv.set_routes({router: {VIP: RouteAttrs()}})
        assert wait(lambda: lab.nexthops(VIP) == [node.ipv4], "route")
        changed = lab.peer_v4(node)
        drv.set_peers([type(changed)(**{**changed.__dict__, "hold_time": 6})])
        assert wait(lambda: lab.router.bgp_summary().get(node.ipv4, {}).get("state")
                    == "Established" and drv.sessions()[router].up
                    and lab.nexthops(VIP) == [node.ipv4], "session and route after reset",
                    timeout=45.0)  # a reconnect: ExaBGP's and FRR's connect retries
        assert drv.command_errors() == 0


# rule N12: announced_prefixes counts what ExaBGP acknowledged to an Established peer,
# not what was handed to it; the rest is pending
def test_announced_prefixes_count_only_acknowledged_routes():
    with bgp_lab(1) as lab:
        router = lab.topology.router_ipv4
        [drv] = lab.start_drivers()
        drv.set_peers([lab.peer_v4(lab.nodes[0])])
        drv.set_routes({router: {VIP: RouteAttrs()}})
        wait(lambda: lab.nexthops(VIP) == [lab.nodes[0].ipv4], "first route")
        wait(lambda: drv.sessions()[router].announced_prefixes == 1, "one acknowledged")
        os.kill(drv.pid, signal.SIGSTOP)  # frozen well within the 3 s hold time
        try:
            drv.set_routes({router: {VIP: RouteAttrs(), "198.51.100.11/32": RouteAttrs()}})
            state = drv.sessions()[router]
            frozen = (state.announced_prefixes, state.pending_prefixes)
        finally:
            os.kill(drv.pid, signal.SIGCONT)
        assert frozen == (1, 1)
        wait(lambda: lab.router.bgp_summary()[lab.nodes[0].ipv4]["pfxRcd"] == 2, "FRR has 2")
        wait(lambda: (drv.sessions()[router].announced_prefixes,
                      drv.sessions()[router].pending_prefixes) == (2, 0), "both acknowledged")
