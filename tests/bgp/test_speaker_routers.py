"""The speaker daemon, driven only by Kubernetes objects, against BIRD 2 and GoBGP (FRR:
test_speaker_frr.py). What users see at the router: ECMP over every eligible node,
withdraw when endpoints go or the Service is deleted, `Local` policy, IPv6 /128, and the
withdraw of a stopping speaker. Assertions read the router's own view and, for BIRD, its
kernel table (GoBGP installs none: `installed_nexthops` reads its RIB)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lab.harness.speaker_cluster import SpeakerCluster, speaker_cluster
from metallb.wait import poll_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(180)]

TIMEOUT = 20.0


@pytest.fixture(scope="module", params=["bird", "gobgp"])
def cluster(request) -> Iterator[SpeakerCluster]:
    with speaker_cluster(3, kind=request.param) as c:
        poll_until(lambda: len(c.lab.router.established()) == 6, TIMEOUT * 2,
                   what="3 nodes x (IPv4 + IPv6) sessions Established")
        yield c


def hops(cluster: SpeakerCluster, prefix: str, expected: list[str]) -> None:
    want = sorted(expected)
    poll_until(lambda: cluster.lab.installed_nexthops(prefix) == want, TIMEOUT,
               what=f"{prefix} next hops == {want} at {cluster.lab.router.kind}")
    assert cluster.lab.router.path_nexthops(prefix) == want


def test_cluster_policy_ecmp_then_withdrawn_without_endpoints_and_on_delete(cluster):
    nodes = cluster.lab.nodes
    cluster.service("web", ["198.51.100.10"])
    cluster.endpoints("web", [nodes[0]])
    hops(cluster, "198.51.100.10/32", cluster.node_v4)
    cluster.endpoints("web", [nodes[0]], ready=False)
    hops(cluster, "198.51.100.10/32", [])
    cluster.endpoints("web", [nodes[1]])
    hops(cluster, "198.51.100.10/32", cluster.node_v4)
    cluster.delete_service("web")
    hops(cluster, "198.51.100.10/32", [])


def test_local_policy_follows_the_endpoint_and_ipv6_host_route(cluster):
    nodes = cluster.lab.nodes
    cluster.service("local", ["198.51.100.20"], etp="Local")
    cluster.endpoints("local", [nodes[1]])
    hops(cluster, "198.51.100.20/32", [nodes[1].ipv4])
    cluster.endpoints("local", [nodes[2], nodes[0]])
    hops(cluster, "198.51.100.20/32", [nodes[0].ipv4, nodes[2].ipv4])
    cluster.delete_service("local")
    hops(cluster, "198.51.100.20/32", [])
    cluster.service("six", ["2001:db8:1::5"])
    cluster.endpoints("six", [nodes[0]])
    hops(cluster, "2001:db8:1::5/128", sorted(n.ipv6 for n in nodes))
    cluster.delete_service("six")
    hops(cluster, "2001:db8:1::5/128", [])


def test_stopping_speaker_withdraws_before_the_hold_time(cluster):
    nodes = cluster.lab.nodes
    cluster.service("stop", ["198.51.100.40"])
    cluster.endpoints("stop", list(nodes))
    hops(cluster, "198.51.100.40/32", cluster.node_v4)
    cluster.stop_speaker(nodes[2])  # what SIGTERM does: withdraw, then close
    poll_until(lambda: cluster.lab.installed_nexthops("198.51.100.40/32") ==
               sorted(n.ipv4 for n in nodes[:2]), 2.0, what="node2 gone within 2 s")
