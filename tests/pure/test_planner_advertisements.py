"""Rule N15: a BGPAdvertisement's `peers` pick the BGPPeers it goes to and its
`nodeSelectors` the nodes that announce it; a pool no advertisement selects is
allocated from but never announced (as upstream's speaker: poolMatchesNodeBGP and the
per-session peer filter of its bgp controller)."""

from __future__ import annotations

import ipaddress

import pytest

from metallb.config.crds.parse import parse_crds
from metallb.config.model import AddressRange, Advertisement, Config, NodeSelector, Peer, Pool
from speaker.bgp import RouteAttrs
from speaker.node import NodeInfo
from speaker.planner import plan
from tests.pure.test_crd_config import adv, peer, pool

P1 = Peer("192.0.2.1", 64512, 64600, name="peer1")
P2 = Peer("192.0.2.2", 64512, 64600, name="peer2")
UNNAMED = Peer("192.0.2.3", 64512, 64600)  # a legacy or autodiscovered peer
RACK_A = (NodeSelector(match_labels=(("rack", "a"),)),)
TO_P1 = Advertisement(peers=("peer1",), communities=("64512:1",))
TO_ALL = Advertisement(communities=("64512:2",))
FROM_RACK_A = Advertisement(node_selectors=RACK_A, communities=("64512:3",))
AGG_TO_P2 = Advertisement(aggregation_length=24, peers=("peer2",))
IP = "198.51.100.5"
HOST = f"{IP}/32"


def rng(cidr: str) -> AddressRange:
    net = ipaddress.ip_network(cidr)
    return AddressRange(int(net.network_address), int(net.broadcast_address), net.version,
                        cidr, net.prefixlen)


def config(*advertisements: Advertisement) -> Config:
    pool = Pool("pool", "bgp", (rng("198.51.100.0/24"),), advertisements=advertisements)
    return Config(peers=(P1, P2, UNNAMED), pools=(pool,))


def service(ip: str = IP) -> dict:
    return {"metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Cluster"},
            "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}


ENDPOINTS = {"metadata": {"name": "web-x", "namespace": "default",
                          "labels": {"kubernetes.io/service-name": "web"}},
             "endpoints": [{"addresses": ["10.0.0.1"], "nodeName": "node2",
                            "conditions": {"ready": True}}]}


def routes(cfg: Config, labels: dict[str, str] | None = None) -> dict[str, dict[str, RouteAttrs]]:
    node = NodeInfo("node1", labels=labels or {})
    return plan(cfg, node, [service()], [ENDPOINTS]).routes


def attrs(*communities: str) -> RouteAttrs:
    return RouteAttrs(communities=communities)


@pytest.mark.parametrize(
    "advertisements, labels, expected",
    [
        pytest.param((TO_P1,), {}, {"192.0.2.1": {HOST: attrs("64512:1")},
                                    "192.0.2.2": {}, "192.0.2.3": {}},
                     id="peers names the one peer it goes to"),
        pytest.param((TO_P1, TO_ALL), {},
                     {"192.0.2.1": {HOST: attrs("64512:1", "64512:2")},
                      "192.0.2.2": {HOST: attrs("64512:2")},
                      "192.0.2.3": {HOST: attrs("64512:2")}},
                     id="an advertisement without peers goes to every peer"),
        pytest.param((AGG_TO_P2, TO_P1), {},
                     {"192.0.2.1": {HOST: attrs("64512:1")},
                      "192.0.2.2": {"198.51.100.0/24": attrs()},
                      "192.0.2.3": {}},
                     id="each peer gets only the prefixes of its advertisements"),
        pytest.param((FROM_RACK_A,), {"rack": "a"},
                     {addr: {HOST: attrs("64512:3")}
                      for addr in ("192.0.2.1", "192.0.2.2", "192.0.2.3")},
                     id="a node its nodeSelectors match announces"),
        pytest.param((FROM_RACK_A,), {"rack": "b"},
                     {"192.0.2.1": {}, "192.0.2.2": {}, "192.0.2.3": {}},
                     id="a node its nodeSelectors do not match announces nothing"),
        pytest.param((FROM_RACK_A, TO_P1), {"rack": "b"},
                     {"192.0.2.1": {HOST: attrs("64512:1")},
                      "192.0.2.2": {}, "192.0.2.3": {}},
                     id="only the advertisements that select the node apply on it"),
        pytest.param((), {}, {"192.0.2.1": {}, "192.0.2.2": {}, "192.0.2.3": {}},
                     id="a pool no advertisement selects is not announced"),
    ],
)
def test_advertisement_peers_and_node_selectors(advertisements, labels, expected):
    assert routes(config(*advertisements), labels) == expected


@pytest.mark.parametrize(
    "advertisements, labels, announced",
    [
        ((TO_P1,), {}, True),  # announced to one peer: this node announces it
        ((FROM_RACK_A,), {"rack": "b"}, False),
        ((), {}, False),
    ],
)
def test_announced_only_where_an_advertisement_selects_the_node(advertisements, labels,
                                                                 announced):
    """`announced` feeds the nodeAssigned Event and metallb_speaker_announced: a node no
    advertisement selects does not claim the service (upstream: "notOwner")."""
    node = NodeInfo("node1", labels=labels)
    p = plan(config(*advertisements), node, [service()], [ENDPOINTS])
    assert p.announced == ({("default/web", IP)} if announced else frozenset())


def test_from_crds_unselected_pool_silent_and_peers_honoured():
    """The same rules through the CRD parser: `quiet` has no advertisement."""
    cfg = parse_crds([pool("quiet", "198.51.100.0/24"), pool("loud", "203.0.113.0/24"),
                      peer("peer1", myASN=64600, peerASN=64512, peerAddress="192.0.2.1"),
                      peer("peer2", myASN=64600, peerASN=64512, peerAddress="192.0.2.2"),
                      adv("a", ipAddressPools=["loud"], peers=["peer1"])])
    node = NodeInfo("node1")
    services = [service("198.51.100.9"), {**service("203.0.113.9"),
                                           "metadata": {"name": "web2"}}]
    slices = [ENDPOINTS, {**ENDPOINTS, "metadata": {
        "name": "web2-x", "namespace": "default",
        "labels": {"kubernetes.io/service-name": "web2"}}}]
    p = plan(cfg, node, services, slices)
    assert p.routes == {"192.0.2.1": {"203.0.113.9/32": RouteAttrs()}, "192.0.2.2": {}}
    assert p.announced == {("default/web2", "203.0.113.9")}
