"""Our BFD process against FRR's bfdd, in network namespaces.

Sessions come up for IPv4 and IPv6, single-hop and multihop, with 300x3, 100x3 and 50x3;
a frozen node is seen down by FRR, a stopped bfdd by us, and the session comes back.
Times are recorded (printed with -s), never asserted: the deadlines only bound the wait.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time

import pytest

from lab.harness.bfd_lab import (
    P50,
    P100,
    P300,
    BfdLab,
    bfd_lab,
    frr_peer,
    node_specs,
    require_bfd_lab,
    wait_status,
)
from metallb.wait import poll_until
from speaker.bfd.client import counters_from_stats

VARIANTS = [  # (v6, multihop)
    (False, False), (True, False), (False, True), (True, True),
]


@pytest.fixture(autouse=True)
def _lab_available():
    require_bfd_lab()


def our_state(lab: BfdLab, peer: str, multihop: bool = False) -> str | None:
    return lab.clients[0].states.get((peer, multihop))


@pytest.mark.parametrize("profile", [P300, P100, P50], ids=lambda p: p.name)
def test_sessions_come_up_with_frr_for_both_families_single_and_multihop(profile):
    def peers(lab):
        node = lab.nodes[0]
        return [frr_peer(lab, node, profile, v6=v6, multihop=mh) for v6, mh in VARIANTS]

    with bfd_lab(1, peers) as lab:
        node = lab.nodes[0]
        client = lab.client(node)
        specs = [node_specs(lab, node, profile, v6=v6, multihop=mh) for v6, mh in VARIANTS]
        client.set_sessions(specs)
        for spec in specs:
            frr_peer_address = node.ipv6 if spec.family == 6 else node.ipv4
            wait_status(lab, frr_peer_address, "up", 10.0, multihop=spec.multihop)
            poll_until(lambda s=spec: client.states.get(s.key) == "up", 5.0,
                       what=f"our session with {spec.peer} up")
            # After the Poll sequence FRR knows the profile's timers, not the 1 s of Down.
            entry = poll_until(
                lambda a=frr_peer_address, s=spec: (
                    e if (e := lab.bfdd.entry(a, s.multihop))["remote-transmit-interval"]
                    == profile.tx else None),
                5.0, what="FRR to learn our timers")
            assert entry["remote-receive-interval"] == profile.rx
            assert entry["remote-detect-multiplier"] == profile.multiplier
        counters = counters_from_stats(client.stats())
        assert sorted(counters) == sorted({s.peer for s in specs})
        assert all(c.up and c.control_packet_input > 0 and c.control_packet_output > 0
                   and c.session_up_events == 1 for c in counters.values()), (counters, lab.events)


@pytest.mark.parametrize("profile", [P300, P50], ids=lambda p: p.name)
def test_a_frozen_node_is_seen_down_by_frr(profile):
    with bfd_lab(1, lambda lab: [frr_peer(lab, lab.nodes[0], profile)]) as lab:
        node = lab.nodes[0]
        client = lab.client(node)
        client.set_sessions([node_specs(lab, node, profile)])
        wait_status(lab, node.ipv4, "up", 10.0)
        poll_until(lambda: client.states.get((lab.topology.router_ipv4, False)) == "up", 5.0)
        os.kill(client.pid, signal.SIGSTOP)  # type: ignore[arg-type]
        try:
            took = wait_status(lab, node.ipv4, "down", profile.detect_ms / 1000 + 2.0)
            diagnostic = lab.bfdd.entry(node.ipv4)["diagnostic"]
        finally:
            os.kill(client.pid, signal.SIGCONT)  # type: ignore[arg-type]
        print(f"\n{profile.name}: FRR saw the frozen node down after {took * 1000:.0f} ms "
              f"(detect time {profile.detect_ms} ms)")
        assert diagnostic == "control detection time expired"
        # Thawed, it notices, and both ends come back up by themselves.
        wait_status(lab, node.ipv4, "up", 10.0)


def test_stopped_bfdd_is_reported_down_and_the_session_returns_with_it():
    with bfd_lab(1, lambda lab: [frr_peer(lab, lab.nodes[0], P100)]) as lab:
        node = lab.nodes[0]
        router = lab.topology.router_ipv4
        client = lab.client(node)
        client.set_sessions([node_specs(lab, node, P100)])
        wait_status(lab, node.ipv4, "up", 10.0)
        poll_until(lambda: client.states.get((router, False)) == "up", 5.0)
        start = time.monotonic()
        lab.bfdd.stop_daemon("bfdd")
        poll_until(lambda: client.states.get((router, False)) == "down", 5.0,
                   what="our session down after bfdd stopped")
        print(f"\nbfdd stopped: our engine reported down after "
              f"{(time.monotonic() - start) * 1000:.0f} ms")
        downs = [e for e in lab.events[node.netns] if e.state == "down" and e.data["old"]]
        # bfdd sends AdminDown when it stops cleanly (diag 3); a crash would be diag 1.
        assert downs[-1].data["diag"] in ("neighbor_signaled_session_down",
                                          "control_detection_time_expired")
        lab.bfdd.start()
        wait_status(lab, node.ipv4, "up", 10.0)
        poll_until(lambda: client.states.get((router, False)) == "up", 5.0,
                   what="our session up again after bfdd returned")


def test_shutdown_sends_admin_down_so_frr_sees_no_failure():
    with bfd_lab(1, lambda lab: [frr_peer(lab, lab.nodes[0], P100)]) as lab:
        node = lab.nodes[0]
        client = lab.client(node)
        client.set_sessions([node_specs(lab, node, P100)])
        wait_status(lab, node.ipv4, "up", 10.0)
        assert client.stop() == 0
        wait_status(lab, node.ipv4, "down", 2.0)
        assert lab.bfdd.entry(node.ipv4)["remote-diagnostic"] == "administratively down"


def test_removing_a_session_sends_admin_down_and_retiming_keeps_it_up():
    with bfd_lab(1, lambda lab: [frr_peer(lab, lab.nodes[0], P100),
                                 frr_peer(lab, lab.nodes[0], P100, v6=True)]) as lab:
        node = lab.nodes[0]
        client = lab.client(node)
        v4, v6 = node_specs(lab, node, P100), node_specs(lab, node, P100, v6=True)
        client.set_sessions([v4, v6])
        wait_status(lab, node.ipv4, "up", 10.0)
        wait_status(lab, node.ipv6, "up", 10.0)
        slower = node_specs(lab, node, P300)
        client.set_sessions([slower])  # v6 removed, v4 retimed by a Poll sequence
        wait_status(lab, node.ipv6, "down", 2.0)
        assert lab.bfdd.entry(node.ipv6)["remote-diagnostic"] == "administratively down"
        poll_until(lambda: lab.bfdd.entry(node.ipv4)["remote-transmit-interval"] == 300, 5.0,
                   what="FRR to learn the slower timers")
        assert lab.bfdd.status(node.ipv4) == "up"
        assert [e.state for e in lab.events[node.netns]
                if e.key == v4.key] == ["down", "up"]  # no flap while retiming


@pytest.mark.parametrize("ours_passive", [True, False], ids=["ours-passive", "frr-passive"])
def test_passive_mode_on_either_end(ours_passive):
    def peers(lab):
        peer = frr_peer(lab, lab.nodes[0], P100)
        return [dataclasses.replace(peer, passive=not ours_passive)]

    with bfd_lab(1, peers) as lab:
        node = lab.nodes[0]
        client = lab.client(node)
        client.set_sessions([dataclasses.replace(node_specs(lab, node, P100),
                                                 passive=ours_passive)])
        wait_status(lab, node.ipv4, "up", 10.0)
        poll_until(lambda: our_state(lab, lab.topology.router_ipv4) == "up", 5.0)
        assert lab.bfdd.entry(node.ipv4)["passive-mode"] is (not ours_passive)
