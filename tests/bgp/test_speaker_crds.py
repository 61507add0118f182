"""The speaker's side of the metallb.io objects against real FRR: objects -> parse_crds
-> the planner -> ExaBGP in a node namespace -> FRR. BGPAdvertisement `peers` with two
routers (rule N15: advertisement A names peer1 only, B no peer, so every peer), large
communities (rule N16), and `dynamicASN: internal` (rule K3)."""

from __future__ import annotations

import pytest

from lab.frr import RouterConfig
from lab.harness.bgplab import NODE_ASN, ROUTER_ASN, bgp_lab, segment_router
from metallb.config.crds.parse import parse_crds
from metallb.config.model import Config
from metallb.wait import poll_until
from speaker.bgp import PeerSpec
from speaker.exabgp.driver import ExaBGPDriver
from speaker.node import NodeInfo
from speaker.planner import plan
from tests.pure.test_crd_config import adv, peer, pool

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(120)]

ROUTER2 = "192.0.2.2"
TIMEOUT = 20.0
VIP_A, VIP_B = "198.51.100.10", "203.0.113.10"


def crds(*objects: dict) -> Config:
    """Pools a (198.51.100.0/24) and b (203.0.113.0/24), and `objects`."""
    return parse_crds([pool("a", "198.51.100.0/24"), pool("b", "203.0.113.0/24"), *objects])


def bgp_peer(name: str, address: str, **spec: object) -> dict:
    return peer(name, myASN=NODE_ASN, peerASN=ROUTER_ASN, peerAddress=address,
                holdTime="3s", **spec)


def service(name: str, ip_: str) -> dict:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Cluster"},
            "status": {"loadBalancer": {"ingress": [{"ip": ip_}]}}}


def endpoints(name: str) -> dict:
    return {"metadata": {"name": f"{name}-x", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": name}},
            "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}]}


def run_plan(driver: ExaBGPDriver, config: Config, node_ipv4: str,
             services: list[tuple[str, str]]) -> None:
    """What the speaker daemon does with a plan: sessions from its peers, then routes."""
    result = plan(config, NodeInfo("node0"), [service(n, a) for n, a in services],
                  [endpoints(n) for n, _ in services])
    driver.set_peers([PeerSpec.from_peer(p, [node_ipv4]) for p in result.peers.values()])
    driver.set_routes(result.routes)


# rule N15
def test_advertisement_peers_choose_the_routers():
    config = crds(bgp_peer("peer1", "192.0.2.1"), bgp_peer("peer2", ROUTER2),
                  adv("a", ipAddressPools=["a"], peers=["peer1"]),
                  adv("b", ipAddressPools=["b"]))
    with bgp_lab(1) as lab, segment_router(lab, "a2", ROUTER2, RouterConfig(
            asn=ROUTER_ASN, router_id=ROUTER2, listen_v6=None)) as router2:
        router1 = lab.router
        (driver,) = lab.start_drivers()
        node = lab.nodes[0]
        run_plan(driver, config, node.ipv4, [("web-a", VIP_A), ("web-b", VIP_B)])
        poll_until(lambda: router1.kernel_nexthops(f"{VIP_A}/32") == [node.ipv4]
                   and router1.kernel_nexthops(f"{VIP_B}/32") == [node.ipv4], TIMEOUT,
                   what="router1 (peer1) has A's and B's routes")
        poll_until(lambda: router2.kernel_nexthops(f"{VIP_B}/32") == [node.ipv4], TIMEOUT,
                   what="router2 (peer2) has B's route")
        # Same attributes: had A's route been meant for router2, it would have gone out in
        # the same announce line as B's, so its absence now is final.
        assert router2.routes(f"{VIP_A}/32") == []
        assert router2.established() == {node.ipv4}


# rule N16
def test_large_communities_reach_frr():
    """`large:A:B:C` from a BGPAdvertisement arrives as a large community (RFC 8092),
    beside the standard one, on the router's path."""
    config = crds(bgp_peer("peer1", "192.0.2.1"),
                  adv("a", ipAddressPools=["a"],
                      communities=["64512:7", "large:64512:1:2", "large:4200000000:0:7"]))
    with bgp_lab(1) as lab:
        (driver,) = lab.start_drivers()
        run_plan(driver, config, lab.nodes[0].ipv4, [("web-a", VIP_A)])
        paths = poll_until(lambda: lab.router.routes(f"{VIP_A}/32"), TIMEOUT,
                           what="the route at the router")
        assert paths[0]["largeCommunity"]["string"] == "64512:1:2 4200000000:0:7"
        assert paths[0]["community"]["string"] == "64512:7"


# rule K3
def test_dynamic_asn_internal_peers_with_an_ibgp_router():
    """`dynamicASN: internal` opens an iBGP session (peer-as = myASN, all that FRR's
    `remote-as internal` accepts too); localPref is sent, as on any iBGP session."""
    config = crds(peer("peer1", myASN=ROUTER_ASN, peerASN=None, dynamicASN="internal",
                       peerAddress="192.0.2.1", holdTime="3s"),
                  adv("a", ipAddressPools=["a"], localPref=150))
    with bgp_lab(1, router=RouterConfig(asn=ROUTER_ASN, remote_as="internal")) as lab:
        (driver,) = lab.start_drivers()
        run_plan(driver, config, lab.nodes[0].ipv4, [("web-a", VIP_A)])
        paths = poll_until(lambda: lab.router.routes(f"{VIP_A}/32"), TIMEOUT,
                           what="the route over the iBGP session")
        assert paths[0]["locPrf"] == 150
        assert lab.router.established() == {lab.nodes[0].ipv4}
