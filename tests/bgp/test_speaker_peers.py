"""Which peers a node gets: node selectors, Packet-style autodiscovery from node
annotations (two routers from one comma-separated peer-ip), and the MD5 password from
the numbered bgp-peers-N-* annotations, against two real FRR routers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import pytest

from lab.frr import FrrRouter, RouterConfig
from lab.harness.bgplab import NODE_ASN, ROUTER_ASN, segment_router
from lab.harness.speaker_cluster import SpeakerCluster, speaker_cluster
from metallb.wait import poll_until

TIMEOUT = 20.0
EQX = "metal.equinix.com/"
ROUTER2 = "192.0.2.2"

CONFIG = f"""
peers:
- peer-address: 192.0.2.1
  peer-asn: {ROUTER_ASN}
  my-asn: {NODE_ASN}
  hold-time: 3s
  node-selectors:
  - match-labels: {{role: edge}}
peer-autodiscovery:
  from-annotations:
  - my-asn: {EQX}node-asn
    peer-asn: {EQX}peer-asn
    peer-address: {EQX}peer-ip
    source-address: {EQX}src-ip
  - my-asn: {EQX}bgp-peers-{{N}}-node-asn
    peer-asn: {EQX}bgp-peers-{{N}}-peer-asn
    peer-address: {EQX}bgp-peers-{{N}}-peer-ip
    source-address: {EQX}bgp-peers-{{N}}-src-ip
    password: {EQX}bgp-peers-{{N}}-bgp-pass
  defaults:
    hold-time: 3s
address-pools:
- name: default
  protocol: bgp
  addresses: [198.51.100.0/24]
"""


@contextlib.contextmanager
def second_router(cluster: SpeakerCluster, password: str | None) -> Iterator[FrrRouter]:
    """Another FRR on the same segment, at 192.0.2.2, in a namespace of its own."""
    config = RouterConfig(asn=ROUTER_ASN, router_id=ROUTER2, listen_v6=None,
                          password=password)
    with segment_router(cluster.lab, "x2", ROUTER2, config) as router:
        yield router


@pytest.fixture(scope="module")
def cluster() -> Iterator[SpeakerCluster]:
    with speaker_cluster(2, start_speakers=False) as c:
        c.set_config(CONFIG)
        for node in c.lab.nodes:
            c.start_speaker(node)
        c.service("web", ["198.51.100.10"])
        c.endpoints("web", [c.lab.nodes[0]])
        yield c


def annotate(cluster, node, values: dict[str, str | None]) -> None:
    cluster.patch_node(node, {"metadata": {"annotations": {EQX + k: v
                                                           for k, v in values.items()}}})


# rules N4, C7 and C18
def test_selectors_and_comma_separated_peer_ip(cluster):
    node0, node1 = cluster.lab.nodes
    router1 = cluster.lab.router
    with second_router(cluster, password=None) as router2:
        assert router1.established() == set()  # no node matches any peer yet
        annotate(cluster, node0, {"node-asn": str(NODE_ASN), "peer-asn": str(ROUTER_ASN),
                                  "peer-ip": f"192.0.2.1,{ROUTER2}", "src-ip": node0.ipv4})
        poll_until(lambda: router1.established() == {node0.ipv4}
                   and router2.established() == {node0.ipv4}, TIMEOUT,
                   what="node0 peers with both routers from one comma-separated peer-ip")
        poll_until(lambda: router2.kernel_nexthops("198.51.100.10/32") == [node0.ipv4],
                   TIMEOUT, what="route at the second router")
        assert router2.established() == {node0.ipv4}  # node1 has no annotations

        cluster.patch_node(node1, {"metadata": {"labels": {"role": "edge"}}})
        poll_until(lambda: router1.established() == {node0.ipv4, node1.ipv4}, TIMEOUT,
                   what="node1 peers with router1 through the static peer's node selector")
        poll_until(lambda: sorted(router1.kernel_nexthops("198.51.100.10/32"))
                   == sorted([node0.ipv4, node1.ipv4]), TIMEOUT, what="ECMP over both")
        cluster.patch_node(node1, {"metadata": {"labels": {"role": None}}})
        poll_until(lambda: router1.established() == {node0.ipv4}, TIMEOUT,
                   what="node1's session closed when its label goes")


# rule D5
def test_md5_password_from_numbered_annotations(cluster, caplog):
    _, node1 = cluster.lab.nodes
    caplog.set_level(logging.INFO)
    with second_router(cluster, password="right-one") as router2:
        values = {"bgp-peers-0-node-asn": str(NODE_ASN),
                  "bgp-peers-0-peer-asn": str(ROUTER_ASN),
                  "bgp-peers-0-peer-ip": ROUTER2, "bgp-peers-0-src-ip": node1.ipv4,
                  "bgp-peers-0-bgp-pass": "wrong-one"}
        annotate(cluster, node1, values)
        poll_until(lambda: "event=bgp_session_not_established" in caplog.text, TIMEOUT,
                   what="a clear log line for the session that does not come up")
        assert node1.ipv4 not in router2.established()
        assert "wrong-one" not in caplog.text and "right-one" not in caplog.text
        annotate(cluster, node1, {**values, "bgp-peers-0-bgp-pass": "right-one"})
        poll_until(lambda: node1.ipv4 in router2.established(), TIMEOUT,
                   what="session Established with the right MD5 password")
        annotate(cluster, node1, dict.fromkeys(values))


# rules N10 and C17
def test_invalid_annotation_is_logged_and_other_sessions_stay(cluster, caplog):
    node0, node1 = cluster.lab.nodes
    caplog.set_level(logging.INFO)
    annotate(cluster, node0, {"node-asn": str(NODE_ASN), "peer-asn": str(ROUTER_ASN),
                              "peer-ip": "192.0.2.1", "src-ip": node0.ipv4})
    poll_until(lambda: node0.ipv4 in cluster.lab.router.established(), TIMEOUT,
               what="node0 session")
    annotate(cluster, node1, {"node-asn": "sixty-five", "peer-asn": str(ROUTER_ASN),
                              "peer-ip": "192.0.2.1", "src-ip": node1.ipv4})
    poll_until(lambda: "node node1" in caplog.text and EQX + "node-asn" in caplog.text,
               TIMEOUT, what="log line naming the node and the annotation")
    assert node0.ipv4 in cluster.lab.router.established()
    assert cluster.lab.router.kernel_nexthops("198.51.100.10/32") == [node0.ipv4]
