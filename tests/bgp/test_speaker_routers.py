"""The speaker daemon, driven only by Kubernetes objects, against BIRD 2 and GoBGP: the
same cases as against FRR (test_speaker_frr.py, called here with this module's cluster),
plus an IPv6 /128 and the withdraw of a stopping speaker. `lab.nexthops` reads BIRD's
kernel table and GoBGP's RIB (GoBGP installs no kernel route)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.harness.speaker_cluster import SpeakerCluster, speaker_cluster
from metallb.wait import poll_until
from tests.bgp import test_speaker_frr as frr_cases

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(180)]


@pytest.fixture(scope="module", params=["bird", "gobgp"])
def cluster(request) -> Iterator[SpeakerCluster]:
    with speaker_cluster(3, kind=request.param) as c:
        poll_until(lambda: len(c.lab.router.established()) == 6, frr_cases.TIMEOUT * 2,
                   what="3 nodes x (IPv4 + IPv6) sessions Established")
        yield c


# rules N1 and N3
def test_cluster_policy_ecmp_then_withdrawn_without_endpoints_and_on_delete(cluster):
    frr_cases.test_cluster_policy_ecmp_over_every_node_then_withdrawn(cluster)


# rule N3
def test_local_policy_follows_the_endpoint(cluster):
    frr_cases.test_local_policy_follows_the_endpoint(cluster)


def test_ipv6_host_route_over_every_node(cluster):
    nodes = cluster.lab.nodes
    cluster.service("six", ["2001:db8:1::5"])
    cluster.endpoints("six", [nodes[0]])
    frr_cases.hops(cluster, "2001:db8:1::5/128", [n.ipv6 for n in nodes])
    assert cluster.lab.router.path_nexthops("2001:db8:1::5/128") == sorted(
        n.ipv6 for n in nodes)
    cluster.delete_service("six")
    frr_cases.hops(cluster, "2001:db8:1::5/128", [])


# rule D3
def test_stopping_speaker_withdraws_before_the_hold_time(cluster):
    nodes = cluster.lab.nodes
    cluster.service("stop", ["198.51.100.40"])
    cluster.endpoints("stop", list(nodes))
    frr_cases.hops(cluster, "198.51.100.40/32", cluster.node_v4)
    cluster.stop_speaker(nodes[2])  # what SIGTERM does: withdraw, then close
    poll_until(lambda: cluster.lab.nexthops("198.51.100.40/32") ==
               sorted(n.ipv4 for n in nodes[:2]), 2.0, what="node2 gone within 2 s")
