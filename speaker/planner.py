"""The speaker's pure announcement planner: which peers this node has and what each gets.

`plan(config, node, services, endpoint_slices)` is a function of the objects the speaker
watches and nothing else (no I/O, no clock), so the announcement rules (docs/rules.md,
section N: rules N1 to N7) can be tested as tables and the daemon only diffs successive plans.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from metallb.config.errors import ConfigIssue
from metallb.config.model import (
    Advertisement,
    Config,
    IPAddress,
    Peer,
    Pool,
    selectors_match,
)
from metallb.keys import DEFAULT_NAMESPACE, object_key
from speaker.autodiscovery import discover_peers
from speaker.bgp import RouteAttrs, RouteTables
from speaker.node import NodeInfo
from speaker.objects import is_mapping, mapping, text

EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
PROTOCOL = "bgp"


@dataclass(frozen=True)
class Plan:
    """What this node announces: its peers, the routes each gets, and which (service,
    address) pairs that covers (for events and the `metallb_speaker_announced` metric)."""

    peers: dict[str, Peer]  # peer address -> peer
    # peer address -> prefix (canonical `ip_network` text) -> attributes
    routes: dict[str, dict[str, RouteAttrs]]
    announced: frozenset[tuple[str, str]]  # (service key, ip) this node announces
    issues: tuple[ConfigIssue, ...] = ()  # bad node annotations, duplicate peers, ...


def node_peers(config: Config, node: NodeInfo) -> tuple[dict[str, Peer], list[ConfigIssue]]:
    """Static peers whose selectors match this node, plus peers autodiscovered from it."""
    peers: dict[str, Peer] = {}
    issues: list[ConfigIssue] = []
    candidates = [p for p in config.peers if p.selects(node.labels)]
    if config.peer_autodiscovery is not None:
        found, problems = discover_peers(config.peer_autodiscovery, node)
        candidates.extend(found)
        issues.extend(problems)
    for peer in candidates:
        known = peers.get(peer.peer_address)
        if known is not None and known != peer:
            issues.append(
                ConfigIssue(
                    f"node {node.name}",
                    "two different peers with the same address; keeping the first",
                    peer.peer_address,
                )
            )
            continue
        peers[peer.peer_address] = peer
    return peers, issues


def node_may_announce(node: NodeInfo) -> bool:
    return EXCLUDE_LABEL not in node.labels and not node.network_unavailable


def assigned_ips(service: Mapping[str, Any]) -> list[str]:
    """Addresses in status.loadBalancer.ingress; hostnames and garbage are ignored."""
    return [address.text for address in _assigned_addresses(service)]


def _assigned_addresses(service: Mapping[str, Any]) -> list[_Address]:
    ingress = mapping(mapping(service.get("status")).get("loadBalancer")).get("ingress")
    found: list[_Address] = []
    for entry in ingress if isinstance(ingress, list) else []:
        address = _address(text(mapping(entry).get("ip")))
        if address is not None:
            found.append(address)
    return found


class _Address(NamedTuple):
    """An assigned address with the two texts a plan makes of it."""

    ip: IPAddress
    text: str  # canonical (`str(ip)`): the announced pair's address
    host: str  # its host prefix (/32, /128): the route of a non-aggregating advertisement


_ADDRESSES: dict[str | None, _Address | None] = {}
_ADDRESSES_MAX = 1 << 17


def _address(raw: str | None) -> _Address | None:
    """Parsed once per distinct address: every plan sees the same 10,000 strings again.
    One cache for the address and its texts (three caches cost ~0.4 KiB per address at
    100,000), keyed by the text so a hit hashes a string, not an address; the API's
    text is the canonical one as a rule, and then is kept instead of a copy. A plain
    dict, emptied when full: an `lru_cache` entry costs ~70 bytes more (its list
    element), and once more addresses than it holds come round each plan, an LRU keeps
    none of them either. Only strings or None come here (`objects.text`): a list would
    not hash.
    Any thread may call it: a lookup or an insert is one step under the GIL, and two
    threads inserting the same address insert equal values."""
    try:
        return _ADDRESSES[raw]
    except KeyError:
        pass  # first seen (an exception only then: a hit costs one lookup)
    found: _Address | None = None
    try:
        ip = ipaddress.ip_address(raw)
    except (ValueError, TypeError):
        pass
    else:
        canonical = str(ip)
        canonical = raw if raw == canonical else canonical
        found = _Address(ip, canonical, f"{canonical}/{ip.max_prefixlen}")
    if len(_ADDRESSES) >= _ADDRESSES_MAX:
        _ADDRESSES.clear()
    _ADDRESSES[raw] = found
    return found


@functools.lru_cache(maxsize=1 << 10)
def _version(address: str) -> int:
    """A peer address's IP version, parsed once: the incremental planner plans one
    service at a time, and parsing every peer again for each would double its cost."""
    return ipaddress.ip_address(address).version


@functools.lru_cache(maxsize=1 << 12)
def _aggregate_prefix(ip: IPAddress, length: int) -> str:
    return str(ipaddress.ip_network((ip, length), strict=False))


EndpointIndex = dict[tuple[str, str], list[Mapping[str, Any]]]


def index_endpoints(slices: Iterable[Mapping[str, Any]]) -> EndpointIndex:
    """Endpoints by (namespace, service name), built once per plan: looking them up per
    service keeps a plan linear in services + endpoints, not their product."""
    index: EndpointIndex = {}
    for slc in slices:
        smeta = mapping(slc.get("metadata"))
        service = mapping(smeta.get("labels")).get(SERVICE_NAME_LABEL)
        endpoints = slc.get("endpoints")
        if not isinstance(service, str) or not isinstance(endpoints, list):
            continue
        key = (str(smeta.get("namespace") or "default"), service)
        found = index.setdefault(key, [])
        for endpoint in endpoints:  # a loop: a generator per slice costs more here
            if is_mapping(endpoint):
                found.append(endpoint)
    return index


def has_eligible_endpoint(
    service: Mapping[str, Any], endpoints: EndpointIndex, node_name: str
) -> bool:
    """Cluster policy: a ready (or serving) endpoint anywhere; Local: one on this node."""
    spec = mapping(service.get("spec"))
    local = spec.get("externalTrafficPolicy") == "Local"
    meta = mapping(service.get("metadata"))
    key = (str(meta.get("namespace") or "default"), str(meta.get("name", "")))
    for endpoint in endpoints.get(key, ()):
        if local and endpoint.get("nodeName") != node_name:
            continue
        conditions = mapping(endpoint.get("conditions"))
        ready = conditions.get("ready")
        # A nil `ready` means ready (discovery.k8s.io/v1); `serving` covers terminating pods.
        if ready is None or ready is True or conditions.get("serving") is True:
            return True
    return False


def plan(
    config: Config,
    node: NodeInfo,
    services: Iterable[Mapping[str, Any]],
    endpoint_slices: Iterable[Mapping[str, Any]],
    lb_class: str | None = None,
    ahead: Callable[[RouteTables], None] | None = None,
    ahead_every: int = 1000,
) -> Plan:
    """The whole plan. With `ahead`, every `ahead_every` announceable services it is also
    handed the host routes (/32, /128) found since its last call, so a caller can start
    sending a large plan before it is complete. Only host routes: their attributes are
    final once seen (an address lies in one pool, so every service on it yields the same
    ones), while an aggregated prefix may still gain communities from later services."""
    peers, issues = node_peers(config, node)
    routes: dict[str, dict[str, RouteAttrs]] = {addr: {} for addr in peers}
    announced: set[tuple[str, str]] = set()
    peer_versions = {addr: _version(addr) for addr in peers}
    early: RouteTables = {addr: {} for addr in peers}
    since_ahead = 0
    if node_may_announce(node):
        endpoints = index_endpoints(endpoint_slices)
        adverts = _AdvertisementFilter(node, peers)
        for service in services:
            addresses, pool = _announceable(config, service, endpoints, node.name, lb_class)
            if pool is None or not adverts.from_node(pool):
                continue  # no advertisement of its pool selects this node (rule N15)
            key = object_key(service, DEFAULT_NAMESPACE)
            announced.update((key, address.text) for address in addresses)
            for addr, peer in peers.items():
                table = routes[addr]
                for address in addresses:
                    if address.ip.version != peer_versions[addr]:
                        continue  # IPv4 goes to IPv4 peers, IPv6 to IPv6 peers
                    for prefix, attrs in _prefixes(adverts.to_peer(pool, addr), address,
                                                   peer.is_ibgp):
                        table[prefix] = _merge(table.get(prefix), attrs)
                    host = address.host
                    if ahead is not None and host in table:
                        early[addr][host] = table[host]
            since_ahead += 1
            if ahead is not None and since_ahead >= ahead_every:
                ahead(early)
                early, since_ahead = {addr: {} for addr in peers}, 0
    return Plan(peers=peers, routes=routes, announced=frozenset(announced), issues=tuple(issues))


def _announceable(
    config: Config,
    service: Mapping[str, Any],
    endpoints: EndpointIndex,
    node_name: str,
    lb_class: str | None,
) -> tuple[list[_Address], Pool | None]:
    spec = mapping(service.get("spec"))
    if spec.get("type") != "LoadBalancer" or spec.get("loadBalancerClass") != lb_class:
        return [], None
    addresses = _assigned_addresses(service)
    if not addresses:
        return [], None
    pool = config.pool_of(addresses[0].ip)
    if pool is None or any(config.pool_of(a.ip) is not pool for a in addresses[1:]):
        return [], None  # outside every pool, or spread over two pools
    if pool.protocol != PROTOCOL:
        return [], None
    if not has_eligible_endpoint(service, endpoints, node_name):
        return [], None
    return addresses, pool


class _AdvertisementFilter:
    """Which advertisements of a pool apply on this node, and to which of its peers
    (rule N15: an advertisement's `nodeSelectors` pick the nodes that announce, its
    `peers` the BGPPeers it goes to). Worked out once per pool and plan, not per service;
    one per `plan()` call, used by its thread only."""

    def __init__(self, node: NodeInfo, peers: Mapping[str, Peer]):
        self._labels = node.labels
        self._peers = peers
        self._here: dict[str, tuple[Advertisement, ...]] = {}
        self._per_peer: dict[tuple[str, str], tuple[Advertisement, ...]] = {}

    def from_node(self, pool: Pool) -> tuple[Advertisement, ...]:
        """The pool's advertisements this node makes (none: it announces nothing of it)."""
        found = self._here.get(pool.name)
        if found is None:
            found = tuple(a for a in pool.advertisements if a.announced_by(self._labels))
            self._here[pool.name] = found
        return found

    def to_peer(self, pool: Pool, peer_address: str) -> tuple[Advertisement, ...]:
        key = (pool.name, peer_address)
        found = self._per_peer.get(key)
        if found is None:
            peer = self._peers[peer_address]
            found = tuple(a for a in self.from_node(pool) if a.announces_to(peer))
            self._per_peer[key] = found
        return found


def _prefixes(advertisements: Iterable[Advertisement], address: _Address,
              ibgp: bool) -> list[tuple[str, RouteAttrs]]:
    """One prefix per advertisement: the address masked to its aggregation length."""
    out = []
    ip = address.ip
    for adv in advertisements:
        length = adv.aggregation_length if ip.version == 4 else adv.aggregation_length_v6
        prefix = address.host if length == ip.max_prefixlen else _aggregate_prefix(
            ip, length)
        out.append((prefix, _route_attrs(adv.communities, adv.localpref if ibgp else None)))
    return out


@functools.lru_cache(maxsize=1 << 10)
def _route_attrs(communities: tuple[Any, ...], local_pref: int | None) -> RouteAttrs:
    return RouteAttrs(communities=tuple(sorted(set(communities))), local_pref=local_pref)


def _merge(old: RouteAttrs | None, new: RouteAttrs) -> RouteAttrs:
    """Two advertisements (or aggregated services) yielding one prefix: BGP carries one
    path per prefix and session, so the communities are united and the highest local
    preference wins."""
    if old is None:
        return new
    prefs = [p for p in (old.local_pref, new.local_pref) if p is not None]
    return RouteAttrs(
        communities=tuple(sorted(set(old.communities) | set(new.communities))),
        local_pref=max(prefs) if prefs else None,
    )


__all__ = [
    "NodeInfo",
    "Plan",
    "RouteAttrs",
    "RouteTables",
    "assigned_ips",
    "has_eligible_endpoint",
    "index_endpoints",
    "node_may_announce",
    "node_peers",
    "plan",
    "selectors_match",
]
