"""The Packet (Equinix Metal) topology: how Packet ran BGP for customer nodes, in
network namespaces.

On Packet each server has its own address and a gateway; the provider's two BGP routers
answer at 169.254.255.1 and 169.254.255.2, reached through that gateway (so the sessions
are eBGP multihop: a TTL-1 packet dies at the gateway), provider ASN 65530, customer ASN
65000, one MD5 password per project. The Packet cloud provider (CCM) writes it all on
each Node as annotations, the password base64-encoded: `metal.equinix.com/bgp-peers-{N}-
node-asn|peer-asn|peer-ip|src-ip|bgp-pass`, and before CCM v3.3 the same without
`bgp-peers-{N}-`, with `peer-ip` a comma list of both routers.

In the lab: namespace PREFIXr is the gateway (192.0.2.1 on the bridge of the segment),
PREFIXr1 and PREFIXr2 are the provider's routers (169.254.255.1 / .2 on their loopback,
192.0.2.2 / .3 on the segment), nodes 192.0.2.11... Nodes reach the routers only through
the gateway (static routes, as Packet's docs tell customers to add); the routers reach
the nodes on the segment, so each installs ECMP with one next hop per node. The gateway
sends no ICMP redirects (a node must not learn a shortcut to the routers). 169.254.255.x
exists only inside these namespaces.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from lab.netns import LINK_V4, Topology, add_netns, ip, sysctl
from lab.objects import ANNOTATION_PREFIX, node_object

PROVIDER_ASN = 65530
NODE_ASN = 65000
PROJECT_PASSWORD = "lab-project-bgp-pass"  # the lab's stand-in for the project's secret
ROUTER_PEER_IPS = ("169.254.255.1", "169.254.255.2")
ROUTER_LINK_HOSTS = (2, 3)  # the routers' addresses on the segment: 192.0.2.2, .3
MULTIHOP_TTL = 2  # node -> gateway -> router


@dataclass(frozen=True)
class PacketRouter:
    """One provider router: its namespace, peer address and address on the segment."""

    netns: str
    peer_ip: str
    link_ip: str


class PacketTopology(Topology):
    """Gateway + two provider routers + `nodes` node namespaces (see the module doc).
    `router` / `router_ipv4` are the gateway's; the BGP routers are `routers`."""

    def __init__(self, nodes: int = 3, prefix: str | None = None):
        super().__init__(nodes, prefix)
        self.routers = tuple(
            PacketRouter(f"{self.prefix}r{i + 1}", peer,
                         str(LINK_V4.network_address + ROUTER_LINK_HOSTS[i]))
            for i, peer in enumerate(ROUTER_PEER_IPS))

    def namespaces(self) -> list[str]:
        return [*super().namespaces(), *(r.netns for r in self.routers)]

    def _build(self) -> None:
        super()._build()
        gw = self.router
        sysctl(gw, "net.ipv4.ip_forward", "1")
        for key in ("all", "default", "br0"):
            sysctl(gw, f"net.ipv4.conf.{key}.send_redirects", "0")
        for i, router in enumerate(self.routers):
            add_netns(router.netns)
            port = f"q{i}"
            ip("-n", gw, "link", "add", port, "type", "veth", "peer", "name", "eth0",
               "netns", router.netns)
            ip("-n", gw, "link", "set", port, "master", "br0", "up")
            ip("-n", router.netns, "addr", "add", f"{router.link_ip}/{LINK_V4.prefixlen}",
               "dev", "eth0")
            ip("-n", router.netns, "link", "set", "eth0", "up")
            ip("-n", router.netns, "addr", "add", f"{router.peer_ip}/32", "dev", "lo")
            sysctl(router.netns, "net.ipv4.fib_multipath_hash_policy", "1")
            ip("-n", gw, "route", "add", f"{router.peer_ip}/32", "via", router.link_ip)
            for node in self.nodes:
                ip("-n", node.netns, "route", "add", f"{router.peer_ip}/32", "via",
                   self.router_ipv4)


def bgp_annotations(node_address: str, numbered: bool = True,
                    password: str = PROJECT_PASSWORD) -> dict[str, str]:
    """What the Packet CCM writes on a node: the numbered form (one set per router), or
    the older single keys with both routers in `peer-ip`. The password is base64, as
    the CCM writes it."""
    secret = base64.b64encode(password.encode()).decode()
    values = {"node-asn": str(NODE_ASN), "peer-asn": str(PROVIDER_ASN),
              "src-ip": node_address, "bgp-pass": secret}
    if not numbered:
        return {f"{ANNOTATION_PREFIX}{k}": v for k, v in
                {**values, "peer-ip": ",".join(ROUTER_PEER_IPS)}.items()}
    out = {}
    for n, peer in enumerate(ROUTER_PEER_IPS):
        for key, value in {**values, "peer-ip": peer}.items():
            out[f"{ANNOTATION_PREFIX}bgp-peers-{n}-{key}"] = value
    return out


def packet_node_object(name: str, address: str, numbered: bool = True) -> dict[str, Any]:
    """A Node as the Packet CCM leaves it (labels as lab.objects.node_object's)."""
    return node_object(name, address, "", annotations=bgp_annotations(address, numbered))


def password_annotation(annotations: dict[str, str], peer_ip: str) -> str | None:
    """The annotation that holds the password for the session to `peer_ip`."""
    for key, value in annotations.items():
        if not key.startswith(ANNOTATION_PREFIX) or not key.endswith("peer-ip"):
            continue
        if peer_ip in [v.strip() for v in value.split(",")]:
            candidate = key.removesuffix("peer-ip") + "bgp-pass"
            if candidate in annotations:
                return candidate
    return None


def session_problem(node: str, annotations: dict[str, str], peer_ip: str,
                    state: str) -> str:
    """One line that says which node's session to which router is down, and which
    annotation to check (never the password itself)."""
    where = password_annotation(annotations, peer_ip)
    check = (f"check that annotation {where} on node {node} holds the project's BGP "
             "password (base64) as the router has it" if where else
             f"node {node} has no password annotation for {peer_ip}")
    return (f"BGP session from node {node} to router {peer_ip} is {state}, not "
            f"Established: {check}")
