"""`ebgp-multihop: true` against a real FRR two hops away: a far router namespace behind
the lab router (which forwards), the speaker's node routed to it over the lab router;
FRR's side says `neighbor ... ebgp-multihop`.

The far namespace drops BGP packets that arrive with a TTL below 254 (GTSM, RFC 5082, done
by its firewall: FRR does not apply `ttl-security` to dynamic neighbors), so a session
comes up only when ExaBGP sends with TTL 255, which is what the flag renders
(`outgoing-ttl 255`). Without the flag ExaBGP sets no TTL and the kernel's default (64)
applies: enough to reach a router a few hops away that does not check TTLs, not enough
for one that does."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

import pytest
import yaml

from lab.frr import FrrRouter, RouterConfig
from lab.harness.bgplab import NODE_ASN, extra_router
from lab.harness.speaker_cluster import SpeakerCluster, speaker_cluster
from lab.netns import ip, sysctl
from metallb.wait import poll_until

pytestmark = [pytest.mark.privileged, pytest.mark.timeout(120)]

FAR, FAR_ASN = "203.0.113.254", 64520
MIDDLE = "203.0.113.253"
TIMEOUT = 20.0
GTSM = """table inet gtsm {
    chain input {
        type filter hook input priority 0;
        tcp dport 179 ip ttl < 254 drop
    }
}
"""


def config(multihop: bool) -> str:
    return yaml.safe_dump({
        "peers": [{"peer-address": FAR, "peer-asn": FAR_ASN, "my-asn": NODE_ASN,
                   "hold-time": "3s", "ebgp-multihop": multihop}],
        "address-pools": [{"name": "default", "protocol": "bgp",
                           "addresses": ["198.51.100.0/24"]}],
    })


class MultihopRouterConfig(RouterConfig):
    """The lab's router config with `ebgp-multihop` for the nodes' peer group."""

    def render(self) -> str:
        return super().render().replace(
            " bgp listen range", " neighbor NODES4 ebgp-multihop 255\n bgp listen range", 1)


@contextlib.contextmanager
def far_router(cluster: SpeakerCluster) -> Iterator[FrrRouter]:
    """FRR at 203.0.113.254 in a namespace of its own, linked to the lab router only."""
    lab = cluster.lab
    middle = lab.topology.router

    def wire(netns: str) -> None:
        ip("-n", middle, "link", "add", "px3", "type", "veth", "peer", "name", "eth0",
           "netns", netns)
        ip("-n", middle, "addr", "add", f"{MIDDLE}/30", "dev", "px3")
        ip("-n", middle, "link", "set", "px3", "up")
        sysctl(middle, "net.ipv4.ip_forward", "1")
        ip("-n", netns, "addr", "add", f"{FAR}/30", "dev", "eth0")
        ip("-n", netns, "link", "set", "eth0", "up")
        ip("-n", netns, "route", "add", "192.0.2.0/24", "via", MIDDLE)
        for node in lab.nodes:
            ip("-n", node.netns, "route", "add", "203.0.113.252/30", "via",
               lab.topology.router_ipv4)
        subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=GTSM,
                       text=True, check=True, capture_output=True)

    config = MultihopRouterConfig(asn=FAR_ASN, router_id=FAR, listen_v6=None)
    with extra_router(lab, "x3", config, wire) as router:
        yield router


@pytest.fixture(scope="module")
def cluster() -> Iterator[SpeakerCluster]:
    with speaker_cluster(1, start_speakers=False) as c:
        c.set_config(config(multihop=True))
        c.service("far", ["198.51.100.10"])
        c.endpoints("far", [c.lab.nodes[0]])
        yield c


# rules C5 and N8: the session to a router two hops away comes up and the routes arrive
def test_ebgp_multihop_peer_two_hops_away_gets_the_routes(cluster, caplog):
    caplog.set_level("INFO")
    node = cluster.lab.nodes[0]
    with far_router(cluster) as far:
        cluster.start_speaker(node, establish_warn_after=2.0)
        poll_until(lambda: far.established() == {node.ipv4}, TIMEOUT,
                   what="session with the far router (TTL 255 sent)")
        poll_until(lambda: far.path_nexthops("198.51.100.10/32") == [node.ipv4], TIMEOUT,
                   what="the route at the far router")
        # Without the flag ExaBGP sends with the kernel's TTL (64): GTSM drops it.
        cluster.set_config(config(multihop=False))
        poll_until(lambda: any("event=bgp_session_not_established" in r.getMessage()
                               and f"peer={FAR}" in r.getMessage() for r in caplog.records),
                   TIMEOUT, what="the session stays down without ebgp-multihop")
        assert far.established() == set()
        cluster.set_config(config(multihop=True))
        poll_until(lambda: far.established() == {node.ipv4}, TIMEOUT,
                   what="back with the flag")
        cluster.stop_speaker(node)
