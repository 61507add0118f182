"""Planner rules where two sources meet one BGP object: two advertisements giving one
prefix (rule N6), two peers with one address on a node (rule N4)."""

from __future__ import annotations

import ipaddress

from metallb.config.model import (
    AddressRange,
    Advertisement,
    AutodiscoveryMapping,
    Config,
    Peer,
    PeerAutodiscovery,
    Pool,
)
from speaker.planner import NodeInfo, RouteAttrs, plan

EBGP = Peer(peer_address="192.0.2.1", peer_asn=64512, my_asn=64600)
IBGP = Peer(peer_address="192.0.2.2", peer_asn=64600, my_asn=64600)


def _range(cidr: str) -> AddressRange:
    net = ipaddress.ip_network(cidr)
    return AddressRange(
        int(net.network_address), int(net.broadcast_address), net.version, cidr, net.prefixlen
    )


def _service(name: str, ip: str) -> dict:
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Cluster"},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
    }


def _endpoints(name: str) -> dict:
    return {
        "metadata": {"name": f"{name}-x", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": name}},
        "endpoints": [{"addresses": ["10.0.0.1"], "nodeName": "n1",
                       "conditions": {"ready": True}}],
    }


# rule N6
def test_one_prefix_from_two_advertisements_carries_both_communities_and_the_highest_pref():
    pool = Pool("agg", "bgp", (_range("203.0.113.0/24"),), advertisements=(
        Advertisement(aggregation_length=24, localpref=200, communities=("64512:2",)),
        Advertisement(aggregation_length=24, localpref=100, communities=("64512:1",)),
    ))
    config = Config(peers=(EBGP, IBGP), pools=(pool,))
    services = [_service("a", "203.0.113.7"), _service("b", "203.0.113.9")]
    p = plan(config, NodeInfo("n1"), services, [_endpoints("a"), _endpoints("b")])
    assert p.routes[IBGP.peer_address] == {
        "203.0.113.0/24": RouteAttrs(communities=("64512:1", "64512:2"), local_pref=200)}
    assert p.routes[EBGP.peer_address] == {
        "203.0.113.0/24": RouteAttrs(communities=("64512:1", "64512:2"))}


# rule N4
def test_two_different_peers_with_one_address_keep_the_first_and_name_the_node():
    discovered = PeerAutodiscovery(
        from_annotations=(AutodiscoveryMapping(fields=(("peer-address", "example.com/peer"),)),),
        defaults=(("my-asn", "64600"), ("peer-asn", "65999")),
    )
    config = Config(peers=(EBGP,), peer_autodiscovery=discovered)
    node = NodeInfo("worker-2", annotations={"example.com/peer": EBGP.peer_address})
    p = plan(config, node, [], [])
    assert p.peers == {EBGP.peer_address: EBGP}
    assert [(i.path, i.value) for i in p.issues] == [("node worker-2", EBGP.peer_address)]
