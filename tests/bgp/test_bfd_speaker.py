"""The speaker runs BFD with FRR's bfdd (real speaker daemons, ExaBGP and our BFD process
in node namespaces; FRR with bfdd and `neighbor ... bfd profile` in the router's).

A frozen node leaves the router's ECMP set well before the BGP hold time (9 s here);
a router whose bfdd stops gets its BGP sessions reset by the speaker, and the routes
come back with bfdd. Deadlines only bound the waits (the machine is shared): the
frozen-node deadline is shorter than the hold time, so only BFD can meet it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
import urllib.request
from collections.abc import Iterator

import pytest

from lab.frr import BfdTimers
from lab.harness.bfd_lab import (
    bfd_speaker_cluster,
    frr_bfd_status,
    node_processes,
    require_bfd_lab,
    signal_processes,
)
from lab.harness.speaker_cluster import SpeakerCluster
from lab.netns import Node
from lab.routers.upstream import bfd_report
from lab.state import LabNode, LabRouter, LabState
from metallb.wait import WaitTimeout, poll_until
from speaker.daemon import SpeakerDaemon

HOLD_TIME = 9  # seconds; BFD 100x3 detects in 0.3 s
DETECT_DEADLINE = 5.0  # < HOLD_TIME - 3 s keepalive: the hold timer cannot fire before it
TIMEOUT = 30.0
PROFILE = BfdTimers("fast", tx=100, rx=100, multiplier=3)
PREFIX = "198.51.100.60/32"


@pytest.fixture(autouse=True)
def _lab_available():
    require_bfd_lab()


@contextlib.contextmanager
def bfd_cluster(nodes: int, multihop: bool = False) -> Iterator[SpeakerCluster]:
    with bfd_speaker_cluster(nodes, PROFILE, HOLD_TIME, multihop, TIMEOUT) as cluster:
        yield cluster


def all_up(cluster: SpeakerCluster, multihop: bool = False) -> bool:
    wanted = {(a, multihop) for n in cluster.lab.nodes for a in (n.ipv4, n.ipv6)}
    status = frr_bfd_status(cluster)
    return all(status.get(key) == "up" for key in wanted)


def scrape(speaker: SpeakerDaemon) -> str:
    url = f"http://{speaker.metrics_server.address}/metrics"
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.read().decode()


def metric(speaker: SpeakerDaemon, name: str, peer: str) -> float | None:
    prefix = f'{name}{{peer="{peer}"}} '
    for line in scrape(speaker).splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix):])
    return None


def serve_from(cluster: SpeakerCluster, nodes: tuple[Node, ...]) -> None:
    cluster.service("bfd-web", [PREFIX.split("/")[0]])
    cluster.endpoints("bfd-web", list(nodes))
    want = sorted(n.ipv4 for n in nodes)
    poll_until(lambda: sorted(cluster.lab.nexthops(PREFIX)) == want, TIMEOUT,
               what=f"{PREFIX} via {want}")


@pytest.mark.parametrize("multihop", [False, True], ids=["single-hop", "multihop"])
def test_sessions_come_up_for_both_families_with_metrics_and_a_log_line(multihop, caplog):
    caplog.set_level(logging.INFO, logger="metallb.speaker")
    with bfd_cluster(1, multihop) as cluster:
        poll_until(lambda: all_up(cluster, multihop), TIMEOUT,
                   what=f"FRR's BFD sessions up (multihop={multihop})")
        speaker = cluster.speakers["node0"]
        for peer in ("192.0.2.1", "2001:db8:ffff::1"):
            poll_until(lambda p=peer: metric(speaker, "metallb_bfd_session_up", p) == 1.0,
                       TIMEOUT, what=f"metallb_bfd_session_up{{peer={peer}}} 1")
            assert metric(speaker, "metallb_bfd_control_packet_input", peer) > 0
            assert metric(speaker, "metallb_bfd_control_packet_output", peer) > 0
            assert metric(speaker, "metallb_bfd_session_up_events", peer) == 1.0
            assert metric(speaker, "metallb_bfd_session_down_events", peer) == 0.0
            assert any("event=bfd_session_state" in r.getMessage()
                       and f"peer={peer} " in r.getMessage() and "state=up" in r.getMessage()
                       for r in caplog.records), f"no log line of {peer} going up"
        # Multihop sessions are multihop on both ends (RFC 5883, port 4784).
        assert set(frr_bfd_status(cluster)) == {(a, multihop) for a in (
            cluster.lab.nodes[0].ipv4, cluster.lab.nodes[0].ipv6)}
        # `metallb lab status --json` reports them as the router does.
        node = cluster.lab.nodes[0]
        frr = cluster.lab.router
        state = LabState(state_dir="", prefix="", nodes=(
            LabNode("node0", node.netns, node.ipv4), LabNode("node0", node.netns, node.ipv6)),
            routers=(LabRouter("frr", frr.netns, "192.0.2.1", str(frr.state_dir)),))
        assert sorted((s["node"], s["peer"], s["multihop"], s["status"])
                      for s in bfd_report(state)) == sorted(
            ("node0", a, multihop, "up") for a in (node.ipv4, node.ipv6))


def test_a_frozen_node_leaves_the_ecmp_set_before_the_hold_time():
    with bfd_cluster(2) as cluster:
        node0, node1 = cluster.lab.nodes
        poll_until(lambda: all_up(cluster), TIMEOUT, what="FRR's BFD sessions up")
        serve_from(cluster, (node0, node1))
        frozen = node_processes(cluster, node1)
        assert len(frozen) == 2
        signal_processes(frozen, signal.SIGSTOP)
        try:
            start = time.monotonic()
            poll_until(lambda: cluster.lab.nexthops(PREFIX) == [node0.ipv4], DETECT_DEADLINE,
                       interval=0.01, max_interval=0.02,
                       what=f"FRR to drop the frozen node's next hop before the {HOLD_TIME}s "
                            "hold time")
            took = time.monotonic() - start
            # FRR deletes a dynamic neighbor's BFD session with the neighbor.
            status = frr_bfd_status(cluster).get((node1.ipv4, False), "deleted")
        finally:
            signal_processes(frozen, signal.SIGCONT)
        print(f"\nfrozen node out of the ECMP set after {took * 1000:.0f} ms "
              f"(BFD detect {PROFILE.detect_ms} ms, hold time {HOLD_TIME} s)")
        assert status in ("down", "deleted")
        # Thawed, the node comes back by itself: BFD, BGP, then its route.
        poll_until(lambda: sorted(cluster.lab.nexthops(PREFIX)) == cluster.node_v4, TIMEOUT,
                   what="the thawed node's next hop back")


def test_a_router_whose_bfdd_stops_gets_its_bgp_sessions_reset_and_routes_come_back(caplog):
    caplog.set_level(logging.INFO, logger="metallb.speaker")
    with bfd_cluster(1) as cluster:
        (node,) = cluster.lab.nodes
        speaker = cluster.speakers["node0"]
        poll_until(lambda: all_up(cluster), TIMEOUT, what="FRR's BFD sessions up")
        serve_from(cluster, (node,))
        router = cluster.lab.router
        router.stop_daemon("bfdd")
        poll_until(lambda: speaker.bfd.teardowns_sent >= 2, TIMEOUT,  # type: ignore[attr-defined]
                   what="the speaker to reset both BGP sessions")
        resets = [r.getMessage() for r in caplog.records
                  if "event=bfd_peer_down_bgp_reset" in r.getMessage()]
        assert any("peer=192.0.2.1 " in m and "teardown=sent" in m for m in resets), resets
        poll_until(lambda: metric(speaker, "metallb_bfd_session_down_events", "192.0.2.1")
                   == 1.0, TIMEOUT, what="the down event counted")
        assert metric(speaker, "metallb_bfd_session_up", "192.0.2.1") == 0.0
        router.start()  # bfdd again
        poll_until(lambda: cluster.lab.nexthops(PREFIX) == [node.ipv4], TIMEOUT,
                   what="the route back")
        poll_until(lambda: len(router.established()) == 2, TIMEOUT,
                   what="both BGP sessions Established again")
        try:
            poll_until(lambda: all_up(cluster), TIMEOUT, what="BFD up again with bfdd back")
        except WaitTimeout:
            # Seen in CI under load: FRR's bfdd went silent for a dynamic neighbor whose
            # BGP session was reset while bfdd restarted (it stops sending; bgpd lost the
            # registration). Registering the sessions again on the router must bring
            # ours up: the speaker's side still answers.
            router.reapply_bfd()
            poll_until(lambda: all_up(cluster), TIMEOUT,
                       what="BFD up again once the router registered its sessions again")
        poll_until(lambda: metric(speaker, "metallb_bfd_session_up", "192.0.2.1") == 1.0,
                   TIMEOUT, what="metallb_bfd_session_up back to 1")


def test_a_bfd_process_that_dies_is_started_again_and_its_sessions_return(caplog):
    caplog.set_level(logging.INFO, logger="metallb.speaker")
    with bfd_cluster(1) as cluster:
        speaker = cluster.speakers["node0"]
        client = speaker.bfd.client  # type: ignore[attr-defined]
        poll_until(lambda: all_up(cluster), TIMEOUT, what="FRR's BFD sessions up")
        old = client.pid
        os.kill(old, signal.SIGKILL)
        poll_until(lambda: client.pid not in (None, old) and client.running(), TIMEOUT,
                   what="a new BFD process")
        assert any("event=bfd_process_restart" in r.getMessage() for r in caplog.records)
        poll_until(lambda: all_up(cluster), TIMEOUT, what="FRR's BFD sessions up again")
        poll_until(lambda: len(cluster.lab.router.established()) == 2, TIMEOUT,
                   what="both BGP sessions Established again")
