"""The lab's own parts: namespaces topology, FRR harness, poll_until."""

from __future__ import annotations

import subprocess

import pytest

from lab.frr import FrrRouter, RouterConfig, pid_alive
from lab.harness.requires import require_bgp_lab
from lab.netns import Topology, add_netns, list_netns
from metallb.wait import WaitTimeout, poll_until

pytestmark = pytest.mark.timeout(60)


def test_poll_until_returns_the_truthy_value_and_times_out_with_the_last_value():
    calls = iter([0, 0, 7])
    assert poll_until(lambda: next(calls), timeout=5, interval=0.001) == 7
    with pytest.raises(WaitTimeout, match=r"the answer.*last seen: 0"):
        poll_until(lambda: 0, timeout=0.05, interval=0.01, what="the answer")


def test_router_config_renders_listen_ranges_password_and_ibgp():
    text = RouterConfig(remote_as="internal", password="pw").render()
    for line in ("bgp listen range 192.0.2.0/24 peer-group NODES4",
                 "bgp listen range 2001:db8:ffff::/64 peer-group NODES6",
                 "neighbor NODES4 remote-as internal", "neighbor NODES6 password pw",
                 "no bgp ebgp-requires-policy", "bgp bestpath as-path multipath-relax",
                 "maximum-paths 8", "maximum-paths ibgp 8"):
        assert line in text
    assert "password" not in RouterConfig().render()


@pytest.mark.privileged
def test_topology_up_down_idempotent_and_cleans_crashed_leftovers():
    require_bgp_lab()
    topo = Topology(2)
    try:
        topo.up()
        topo.up()
        assert list_netns(topo.prefix) == sorted(topo.namespaces())
        out = subprocess.run(["ip", "-n", topo.nodes[1].netns, "-br", "addr", "show", "eth0"],
                             capture_output=True, text=True, check=True).stdout
        assert "192.0.2.12/24" in out and "2001:db8:ffff::12/64" in out
        # a "crashed" earlier run left an extra namespace with our prefix behind
        add_netns(f"{topo.prefix}n7")
        Topology(2, prefix=topo.prefix).down()
        assert list_netns(topo.prefix) == []
        topo.down()
    finally:
        topo.down()
    assert list_netns(topo.prefix) == []


@pytest.mark.privileged
def test_frr_starts_answers_and_stops_by_pid():
    require_bgp_lab()
    with Topology(1) as topo:
        router = FrrRouter(topo.router)
        try:
            router.start()
            pids = router.pids()
            assert set(pids) == {"zebra", "bgpd"}
            assert router.bgp_summary() == {}
            assert router.routes("198.51.100.1/32") == []
            assert router.kernel_nexthops("198.51.100.1/32") == []
            assert "router bgp 64512" in router.vtysh("show running-config")
            router.restart()
            assert router.pids() and router.pids() != pids
        finally:
            router.cleanup()
        assert router.pids() == {}
        assert not any(pid_alive(pid) for pid in pids.values())
