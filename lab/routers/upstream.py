"""The lab's upstream routers: which to start for a topology, how to find them again
from the state file, and what `lab status` says about them.

The flat topology has one router (FRR, BIRD or GoBGP) accepting every node of the link;
the Packet topology has the provider's two routers, each accepting every node over eBGP
multihop with the project's MD5 password. Both routers of a lab are of the same kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab import packet
from lab.frr import BfdTimers
from lab.netns import Topology
from lab.objects import NODE_ASN, ROUTER_ASN
from lab.routers.base import RouterSpec, UpstreamRouter
from lab.routers.kinds import make_router
from lab.state import LabRouter, LabState
from metallb.config.model import Config

KERNEL_PROTOCOLS = {"frr": "bgp", "bird": "bird"}  # `ip route show proto X`; GoBGP: none


def config_of(objects: list[dict[str, Any]]) -> Config | None:
    """The MetalLB config the component's objects describe (the `metallb` ConfigMap or
    the metallb.io objects); None when they hold none or it does not parse."""
    from metallb.config import ConfigError, parse_config_text
    from metallb.config.crds.parse import parse_crds

    try:
        for obj in objects:
            if obj.get("kind") == "ConfigMap" and "config" in (obj.get("data") or {}):
                return parse_config_text(obj["data"]["config"])
        crds = [o for o in objects if str(o.get("apiVersion", "")).startswith("metallb.io/")]
        return parse_crds(crds, read_passwords=False) if crds else None
    except ConfigError:
        return None


def router_bfd(config: Config | None) -> BfdTimers | None:
    """The router's BFD: when a peer of the lab's config has a BFD profile, bfdd runs
    with that profile's timers (the first such peer's) on every node session."""
    for peer in (config.peers if config else ()):
        profile = config.bfd_profile(peer.bfd_profile) if peer.bfd_profile else None
        if config is not None and profile is not None:
            return BfdTimers(name=profile.name, tx=profile.effective_transmit_interval,
                             rx=profile.effective_receive_interval,
                             multiplier=profile.effective_detect_multiplier)
    return None


def lab_routers(kind: str, topology: Topology, state_dir: Path,
                bfd: BfdTimers | None = None) -> list[tuple[LabRouter, RouterSpec]]:
    """The routers a lab of `topology` runs, with their configuration (unstarted)."""
    nodes = tuple(n.ipv4 for n in topology.nodes)
    if isinstance(topology, packet.PacketTopology):
        return [(LabRouter(kind, r.netns, r.peer_ip, str(state_dir / f"{kind}-{r.netns}")),
                 RouterSpec(asn=packet.PROVIDER_ASN, router_id=r.peer_ip, listen_v6=None,
                            node_asn=packet.NODE_ASN, password=packet.PROJECT_PASSWORD,
                            ebgp_multihop=packet.MULTIHOP_TTL, neighbors=nodes, bfd=bfd))
                for r in topology.routers]
    # the flat lab keeps FRR's directory name, which users' scripts may know
    directory = state_dir / ("frr" if kind == "frr" else kind)
    return [(LabRouter(kind, topology.router, topology.router_ipv4, str(directory)),
             RouterSpec(asn=ROUTER_ASN, router_id=topology.router_ipv4, listen_v6=None,
                        node_asn=NODE_ASN, neighbors=nodes, bfd=bfd))]


def open_router(router: LabRouter) -> UpstreamRouter:
    """A handle on a running lab router (queries, stop); its config is not needed."""
    return make_router(router.kind, router.namespace, RouterSpec(), router.state_dir)


def routers_of(state: LabState) -> tuple[LabRouter, ...]:
    """The lab's routers; a state file written before routers were recorded had FRR."""
    if state.routers:
        return state.routers
    if not state.router_namespace or not state.frr_dir:
        return ()
    return (LabRouter("frr", state.router_namespace, state.router_address, state.frr_dir),)


def router_report(state: LabState) -> tuple[dict[str, Any], list[dict[str, Any]],
                                            list[dict[str, Any]]]:
    """For `lab status`: the `router` section, the sessions (node x router) and the
    router processes. A router that does not answer shows its sessions as `no session`."""
    routers = routers_of(state)
    sessions: list[dict[str, Any]] = []
    processes: list[dict[str, Any]] = []
    described = []
    for router in routers:
        handle = open_router(router)
        try:
            pids = handle.pids()
            states = handle.sessions() if pids else {}
        except (RuntimeError, OSError):
            pids, states = {}, {}
        suffix = f"-{router.namespace}" if len(routers) > 1 else ""
        processes += [{"name": f"{router.kind}-{d}{suffix}", "pid": pid, "running": True,
                       "log": None, "metrics": None} for d, pid in pids.items()]
        sessions += [{"node": n.name, "peer": router.address, "address": n.address,
                      "state": states.get(n.address, "no session")} for n in state.nodes]
        described.append({**router.to_json(), "installs_kernel": handle.installs_kernel,
                          "query": handle.query_commands()})
    first = described[0] if described else {}
    section = {"kind": first.get("kind", "frr"), "namespace": state.router_namespace,
               "address": state.router_address, "query": first.get("query", {}),
               "installs_kernel": first.get("installs_kernel", True),
               "topology": state.topology, "routers": described}
    if first.get("kind", "frr") == "frr":
        section["vtysh_socket_dir"] = state.frr_dir
    return section, sessions, processes


def bfd_report(state: LabState) -> list[dict[str, Any]]:
    """For `lab status`: every BFD session of the lab's routers, as the router sees it,
    with the node it belongs to ([] when no router runs BFD)."""
    nodes = {n.address: n.name for n in state.nodes}
    out: list[dict[str, Any]] = []
    for router in routers_of(state):
        try:
            sessions = open_router(router).bfd_sessions()
        except (RuntimeError, OSError):
            continue
        out += [{"node": nodes.get(s.peer), "router": router.address, **s.to_json()}
                for s in sessions]
    return out
