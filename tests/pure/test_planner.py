"""Table tests for the announcement rules of docs/rules.md, section N (rules N1 to N7)."""

from __future__ import annotations

import ipaddress

import pytest

from metallb.config.model import (
    AddressRange,
    Advertisement,
    Config,
    NodeSelector,
    Peer,
    Pool,
)
from speaker.bgp import RouteAttrs, normalise_prefix
from speaker.node import NodeInfo
from speaker.planner import EXCLUDE_LABEL, plan


def rng(cidr: str) -> AddressRange:
    net = ipaddress.ip_network(cidr)
    return AddressRange(
        int(net.network_address), int(net.broadcast_address), net.version, cidr, net.prefixlen
    )


PEER = Peer(peer_address="192.0.2.1", peer_asn=64512, my_asn=64600)
PEER6 = Peer(peer_address="2001:db8:ffff::1", peer_asn=64512, my_asn=64600)
IBGP = Peer(peer_address="192.0.2.2", peer_asn=64600, my_asn=64600)
POOL = Pool("pool1", "bgp", (rng("198.51.100.0/24"),))
POOL6 = Pool("v6", "bgp", (rng("2001:db8:1::/120"),))
AGG = Pool(
    "agg",
    "bgp",
    (rng("203.0.113.0/24"),),
    advertisements=(
        Advertisement(aggregation_length=24, localpref=200, communities=("64512:1",)),
        Advertisement(communities=("64512:2",)),
    ),
)
L2 = Pool("l2", "layer2", (rng("192.0.2.128/25"),))
CONFIG = Config(peers=(PEER, PEER6, IBGP), pools=(POOL, POOL6, AGG, L2))
NODE = NodeInfo("node1", labels={"kubernetes.io/hostname": "node1"})


def svc(name="web", ips=("198.51.100.5",), etp="Cluster", type_="LoadBalancer", **spec):
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": type_, "externalTrafficPolicy": etp, **spec},
        "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}},
    }


def eps(name="web", node="node2", ready=True, serving=None):
    conditions = {} if ready is None else {"ready": ready}
    if serving is not None:
        conditions["serving"] = serving
    return {
        "metadata": {"name": f"{name}-abc", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": name}},
        "endpoints": [{"addresses": ["10.0.0.1"], "nodeName": node, "conditions": conditions}],
    }


def routes_to(p, peer=PEER):
    return p.routes[peer.peer_address]


# rules N1, N3 and C14 (a pool without advertisements: a bare /32)
def test_cluster_policy_announces_with_an_endpoint_anywhere():
    p = plan(CONFIG, NODE, [svc()], [eps(node="node2")])
    assert routes_to(p) == {"198.51.100.5/32": RouteAttrs()}
    assert p.announced == {("default/web", "198.51.100.5")}


# rule N3
@pytest.mark.parametrize(
    "slices, expected",
    [
        ([], False),
        ([eps(ready=False)], False),
        ([eps(ready=None)], True),  # nil ready means ready
        ([eps(ready=False, serving=True)], True),  # terminating but serving
        ([eps(name="other")], False),  # another service's endpoints
    ],
)
def test_endpoint_readiness(slices, expected):
    p = plan(CONFIG, NODE, [svc()], slices)
    assert bool(routes_to(p)) is expected


# rule N3
def test_local_policy_needs_an_endpoint_on_this_node():
    local = svc(etp="Local")
    assert routes_to(plan(CONFIG, NODE, [local], [eps(node="node2")])) == {}
    assert routes_to(plan(CONFIG, NODE, [local], [eps(node="node1")])) != {}


# rule N2
@pytest.mark.parametrize(
    "node",
    [
        NodeInfo("node1", labels={EXCLUDE_LABEL: ""}),
        NodeInfo("node1", network_unavailable=True),
    ],
)
def test_excluded_or_unavailable_node_announces_nothing(node):
    p = plan(CONFIG, node, [svc()], [eps()])
    assert routes_to(p) == {} and not p.announced


# rule N2
def test_node_info_reads_network_unavailable_condition():
    node = NodeInfo.from_object({
        "metadata": {"name": "n", "labels": {"a": "b"}},
        "status": {"conditions": [{"type": "NetworkUnavailable", "status": "True"}]},
    })
    assert node.network_unavailable and node.labels == {"a": "b"}
    ok = NodeInfo.from_object({"metadata": {"name": "n"}, "status": {"conditions": [
        {"type": "NetworkUnavailable", "status": "False"}]}})
    assert not ok.network_unavailable


# rule N1
@pytest.mark.parametrize(
    "service",
    [
        svc(type_="ClusterIP"),
        svc(ips=()),
        svc(ips=("192.0.2.77",)),  # not in any pool
        svc(ips=("198.51.100.5", "203.0.113.5")),  # two pools
        svc(ips=("192.0.2.130",)),  # layer2 pool: not announced over BGP
        svc(loadBalancerClass="other.io/lb"),
        {"metadata": {"name": "broken"}, "spec": "garbage", "status": 7},
    ],
)
def test_services_not_announced(service):
    p = plan(CONFIG, NODE, [service], [eps(name=service["metadata"]["name"])])
    assert routes_to(p) == {} and not p.announced


# rule N5
def test_aggregation_communities_and_localpref_only_for_ibgp():
    service = svc(ips=("203.0.113.7",))
    p = plan(CONFIG, NODE, [service], [eps()])
    assert routes_to(p) == {
        "203.0.113.0/24": RouteAttrs(communities=("64512:1",)),
        "203.0.113.7/32": RouteAttrs(communities=("64512:2",)),
    }
    expected = RouteAttrs(communities=("64512:1",), local_pref=200)
    assert routes_to(p, IBGP)["203.0.113.0/24"] == expected


# rule N7
def test_ipv6_goes_to_ipv6_peers_only():
    p = plan(CONFIG, NODE, [svc(ips=("2001:db8:1::5",))], [eps()])
    assert routes_to(p, PEER6) == {"2001:db8:1::5/128": RouteAttrs()}
    assert routes_to(p) == {}


# rule N7
def test_prefixes_are_canonical_whatever_the_status_text():
    """The daemon hands plan() prefixes to the driver as canonical (no second parse):
    upper case, zero-padded or uncompressed IPv6 in a status must not leak through."""
    services = [svc(name="a", ips=("2001:DB8:1:0:0:0:0:5",)),
                svc(name="b", ips=("2001:db8:1::00a",)),
                svc(name="c", ips=("203.0.113.7",))]
    p = plan(CONFIG, NODE, services, [eps("a"), eps("b"), eps("c")])
    prefixes = [prefix for table in p.routes.values() for prefix in table]
    assert sorted(routes_to(p, PEER6)) == ["2001:db8:1::5/128", "2001:db8:1::a/128"]
    assert prefixes and all(prefix == normalise_prefix(prefix) for prefix in prefixes)
    assert ("default/a", "2001:db8:1::5") in p.announced


# rule N9 (announce-ahead: the plan still decides the whole set)
def test_host_routes_are_handed_ahead_in_chunks_with_their_final_attributes():
    """`ahead` gets the host routes every N announceable services; never an aggregated
    prefix (a later service may still add communities to it); what it got is exactly
    what the final plan holds for those prefixes."""
    services = [svc(name=f"s{i}", ips=(f"198.51.100.{i + 1}",)) for i in range(5)]
    services += [svc(name="agg", ips=("203.0.113.7",)),
                 svc(name="v6", ips=("2001:db8:1::5",)),
                 svc(name="shared", ips=("198.51.100.1",))]
    slices = [eps(s["metadata"]["name"]) for s in services]
    chunks: list[dict] = []
    p = plan(CONFIG, NODE, services, slices, ahead=lambda t: chunks.append(t), ahead_every=2)
    assert len(chunks) == 4  # 8 announceable services, every 2
    assert plan(CONFIG, NODE, services, slices) == p  # streaming changes nothing
    sent = [(peer, prefix, attrs) for chunk in chunks for peer, table in chunk.items()
            for prefix, attrs in table.items()]
    assert sent and all(p.routes[peer][prefix] == attrs for peer, prefix, attrs in sent)
    prefixes = {prefix for _peer, prefix, _attrs in sent}
    assert "203.0.113.0/24" not in prefixes and "203.0.113.7/32" in prefixes
    assert "2001:db8:1::5/128" in prefixes
    assert {prefix for prefix in routes_to(p) if prefix.endswith("/32")} <= prefixes


# rules N4 and C7
def test_peer_node_selectors():
    only_web = Peer("192.0.2.9", 64512, 64600,
                    node_selectors=(NodeSelector(match_labels=(("role", "web"),)),))
    config = Config(peers=(only_web,), pools=(POOL,))
    assert plan(config, NODE, [], []).peers == {}
    web = NodeInfo("node1", labels={"role": "web"})
    assert list(plan(config, web, [], []).peers) == ["192.0.2.9"]


# rule N10: a malformed Service status (the API emulator accepts any JSON there) never
# stops the plan; the other services are still announced.
@pytest.mark.parametrize("bad_ip", [["198.51.100.6"], {"ip": "198.51.100.6"}, 7, None])
def test_malformed_status_ip_skips_that_service_only(bad_ip):
    bad = svc("bad")
    bad["status"]["loadBalancer"]["ingress"] = [{"ip": bad_ip}]
    p = plan(CONFIG, NODE, [bad, svc()], [eps("bad"), eps()])
    assert routes_to(p) == {"198.51.100.5/32": RouteAttrs()}
    assert p.announced == {("default/web", "198.51.100.5")}
