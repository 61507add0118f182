"""Immutable configuration model shared by the controller, the speaker and the CLI.

Two parsers produce these objects: the legacy ConfigMap format (`metallb.config.parse`)
and the metallb.io custom resources (`metallb.config.crds`); nothing downstream knows
which one a Config came from. Everything downstream (allocator, announcement planner,
component renderer) only reads them, so they are frozen and hold tuples instead of lists and dicts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from metallb.config.errors import ConfigIssue

DEFAULT_PEER_PORT = 179
DEFAULT_HOLD_TIME = 90.0
# BFD timers when a profile leaves them out: upstream sets none and FRR's bfdd applies
# these (milliseconds; minimum TTL only matters for multihop sessions).
DEFAULT_BFD_RECEIVE_INTERVAL = 300
DEFAULT_BFD_TRANSMIT_INTERVAL = 300
DEFAULT_BFD_DETECT_MULTIPLIER = 3
DEFAULT_BFD_ECHO_INTERVAL = 50
DEFAULT_BFD_MINIMUM_TTL = 254

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def as_address(ip: str | IPAddress) -> IPAddress:
    """An address object; text is parsed (ValueError when it is no address)."""
    return ip if isinstance(ip, IPAddress) else ipaddress.ip_address(ip)


@dataclass(frozen=True)
class AddressRange:
    """One entry of a pool's `addresses`: a CIDR or an `A-B` range, as integers."""

    first: int
    last: int
    family: int  # 4 or 6
    source: str  # the entry as written, for messages (a CIDR with host bits: its network)
    prefix_length: int | None = None  # set when written as a CIDR

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def __contains__(self, address: int) -> bool:
        return self.first <= address <= self.last

    def contains_ip(self, ip: str | IPAddress) -> bool:
        addr = as_address(ip)
        return addr.version == self.family and int(addr) in self


@dataclass(frozen=True)
class Advertisement:
    """How the addresses of a pool are announced (`bgp-advertisements[]`, or one
    BGPAdvertisement object that selects the pool)."""

    aggregation_length: int = 32
    aggregation_length_v6: int = 128
    localpref: int | None = None
    # normalised "A:B" (or "large:A:B:C" from the CRDs), aliases already resolved
    communities: tuple[str, ...] = ()
    # Names of the BGPPeers to announce to; empty: every peer (always empty in legacy).
    peers: tuple[str, ...] = ()
    # Nodes that announce (OR'd); empty: every node (always empty in legacy).
    node_selectors: tuple[NodeSelector, ...] = ()

    def announces_to(self, peer: Peer) -> bool:
        """Whether this advertisement goes to `peer` (an unnamed peer takes them all)."""
        return not self.peers or peer.name in self.peers

    def announced_by(self, node_labels: Mapping[str, str]) -> bool:
        return selectors_match(self.node_selectors, node_labels)


@dataclass(frozen=True)
class ServiceAllocation:
    """An IPAddressPool's `serviceAllocation`: which Services the pool may serve, and
    its priority among the pools that may. A pool that has one is only given to the
    Services it serves, also when they ask for it by annotation."""

    priority: int | None = None  # lower first; None after every pool that has one
    namespaces: tuple[str, ...] = ()
    namespace_selectors: tuple[NodeSelector, ...] = ()  # OR'd with `namespaces`
    service_selectors: tuple[NodeSelector, ...] = ()  # OR'd among themselves

    def refusal(
        self,
        namespace: str,
        namespace_labels: Mapping[str, str],
        service_labels: Mapping[str, str],
    ) -> str | None:
        """Why a Service may not use the pool, or None when it may. Namespace limits (a
        listed name, or labels a selector matches) and service selectors must both pass
        where given; neither given: every Service."""
        limited_ns = bool(self.namespaces or self.namespace_selectors)
        in_namespace = namespace in self.namespaces or any(
            sel.matches(namespace_labels) for sel in self.namespace_selectors
        )
        if limited_ns and not in_namespace:
            return f"namespace {namespace} is not among its serviceAllocation namespaces"
        if self.service_selectors and not any(
            sel.matches(service_labels) for sel in self.service_selectors
        ):
            return "the Service's labels match none of its serviceAllocation.serviceSelectors"
        return None


@dataclass(frozen=True)
class Pool:
    name: str
    protocol: str  # "bgp" or "layer2"
    ranges: tuple[AddressRange, ...]
    auto_assign: bool = True
    avoid_buggy_ips: bool = False
    # Legacy: never empty (a pool without `bgp-advertisements` gets one default
    # Advertisement()). CRDs: one per BGPAdvertisement that selects the pool, in name
    # order; empty when none does: the pool is allocated from but never announced.
    advertisements: tuple[Advertisement, ...] = (Advertisement(),)
    allocation: ServiceAllocation | None = None  # CRDs only: `spec.serviceAllocation`

    def serves(
        self,
        namespace: str,
        namespace_labels: Mapping[str, str] | None = None,
        service_labels: Mapping[str, str] | None = None,
    ) -> bool:
        """May this pool give addresses to a Service of `namespace` (whose Namespace
        carries `namespace_labels`) with `service_labels`? The allocator asks before
        every automatic pick and before honouring an address-pool annotation, a
        requested IP or a kept assignment (upstream's Assign does the same): a pool
        limited by `serviceAllocation` never serves anyone else."""
        return self.refusal(namespace, namespace_labels, service_labels) is None

    def refusal(
        self,
        namespace: str,
        namespace_labels: Mapping[str, str] | None = None,
        service_labels: Mapping[str, str] | None = None,
    ) -> str | None:
        """Why the pool does not serve that Service (for the Event), or None."""
        if self.allocation is None:
            return None
        reason = self.allocation.refusal(namespace, namespace_labels or {},
                                         service_labels or {})
        return f'pool "{self.name}" does not serve it: {reason}' if reason else None

    def range_of(self, ip: str | IPAddress) -> AddressRange | None:
        addr = as_address(ip)  # parsed once, not once per range
        value, family = int(addr), addr.version
        for entry in self.ranges:
            if entry.family == family and value in entry:
                return entry
        return None

    def contains_ip(self, ip: str | IPAddress) -> bool:
        return self.range_of(ip) is not None


@dataclass(frozen=True)
class SelectorRequirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return self.key in labels and labels[self.key] in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        if self.operator == "DoesNotExist":
            return self.key not in labels
        raise ValueError(f"unknown selector operator {self.operator!r}")


@dataclass(frozen=True)
class NodeSelector:
    """One entry of `node-selectors`: all its labels and expressions must match."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[SelectorRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels) and all(
            req.matches(labels) for req in self.match_expressions
        )


def selectors_match(selectors: tuple[NodeSelector, ...], labels: Mapping[str, str]) -> bool:
    """A list of node selectors is OR'd; an empty list selects every node."""
    return not selectors or any(sel.matches(labels) for sel in selectors)


DYNAMIC_ASN_MODES = ("internal", "external")


@dataclass(frozen=True)
class Peer:
    peer_address: str
    peer_asn: int  # 0 when `dynamic_asn` is set
    my_asn: int
    peer_port: int = DEFAULT_PEER_PORT
    hold_time: float = DEFAULT_HOLD_TIME  # seconds
    keepalive_time: float | None = None  # seconds; None = hold_time / 3
    router_id: str | None = None
    source_address: str | None = None
    password: str | None = field(default=None, repr=False)  # never logged
    node_selectors: tuple[NodeSelector, ...] = ()
    ebgp_multihop: bool = False  # the eBGP peer is several hops away (TTL > 1); v0.12
    # The fields below come from BGPPeer objects only (legacy peers keep the defaults).
    name: str | None = None  # the BGPPeer's name, which BGPAdvertisement.peers refer to
    dynamic_asn: str | None = None  # "internal" (peer AS = my_asn); "external" is refused
    # Secret (type kubernetes.io/basic-auth, key `password`) in the MetalLB namespace the
    # password was read from; the daemons watch it so a change reaches the session.
    password_secret: str | None = None
    bfd_profile: str | None = None  # a Config.bfd_profiles name, checked to exist
    enable_graceful_restart: bool = False

    @property
    def is_ibgp(self) -> bool:
        if self.dynamic_asn is not None:
            return self.dynamic_asn == "internal"
        return self.peer_asn == self.my_asn

    def selects(self, labels: Mapping[str, str]) -> bool:
        return selectors_match(self.node_selectors, labels)


@dataclass(frozen=True)
class BfdProfile:
    """`bfd-profiles[]` entry. A field left out stays None, as upstream keeps it (its FRR
    template then writes nothing and bfdd's default applies); the `effective_*`
    properties give the value a session runs with. Intervals in milliseconds."""

    name: str
    receive_interval: int | None = None
    transmit_interval: int | None = None
    detect_multiplier: int | None = None
    echo_interval: int | None = None
    echo_mode: bool = False  # always False: the parser refuses echo mode (not implemented)
    passive_mode: bool = False
    minimum_ttl: int | None = None

    @property
    def effective_receive_interval(self) -> int:
        return _or(self.receive_interval, DEFAULT_BFD_RECEIVE_INTERVAL)

    @property
    def effective_transmit_interval(self) -> int:
        return _or(self.transmit_interval, DEFAULT_BFD_TRANSMIT_INTERVAL)

    @property
    def effective_detect_multiplier(self) -> int:
        return _or(self.detect_multiplier, DEFAULT_BFD_DETECT_MULTIPLIER)

    @property
    def effective_minimum_ttl(self) -> int:
        return _or(self.minimum_ttl, DEFAULT_BFD_MINIMUM_TTL)


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


# Fields a peer-autodiscovery mapping may name (keys of from-annotations / from-labels /
# defaults), in the spelling of the config file.
AUTODISCOVERY_FIELDS = (
    "my-asn",
    "peer-asn",
    "peer-address",
    "peer-port",
    "source-address",
    "hold-time",
    "router-id",
    "password",
    # The Packet / Equinix Metal CCM writes the BGP password base64-encoded
    # (metal.equinix.com/bgp-peers-{N}-bgp-pass); read as `password` once decoded.
    "password-base64",
)


@dataclass(frozen=True)
class AutodiscoveryMapping:
    """field name (e.g. "peer-asn") -> node annotation or label key holding its value."""

    fields: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, str]:
        return dict(self.fields)


@dataclass(frozen=True)
class PeerAutodiscovery:
    from_annotations: tuple[AutodiscoveryMapping, ...] = ()
    from_labels: tuple[AutodiscoveryMapping, ...] = ()
    defaults: tuple[tuple[str, str], ...] = ()  # field name -> value, as strings
    node_selectors: tuple[NodeSelector, ...] = ()


@dataclass(frozen=True)
class Config:
    """Pools are in the order the allocator tries them: as listed in a legacy config;
    from CRDs, pools with a serviceAllocation first (by priority, those without one
    last), then the others, ties in name order."""

    peers: tuple[Peer, ...] = ()
    pools: tuple[Pool, ...] = ()
    bgp_communities: tuple[tuple[str, str], ...] = ()  # alias -> "A:B"
    peer_autodiscovery: PeerAutodiscovery | None = None
    bfd_profiles: tuple[BfdProfile, ...] = ()  # bfd-profiles[] or BFDProfile objects
    # Valid but probably not what was meant (e.g. a CIDR with host bits, read as its
    # network as MetalLB does): `config check` prints them, the daemons log them. Not part
    # of equality: two configs that mean the same are the same config.
    warnings: tuple[ConfigIssue, ...] = field(default=(), compare=False)

    def pool(self, name: str) -> Pool | None:
        for p in self.pools:
            if p.name == name:
                return p
        return None

    def bfd_profile(self, name: str) -> BfdProfile | None:
        return next((p for p in self.bfd_profiles if p.name == name), None)

    def pool_of(self, ip: str | IPAddress) -> Pool | None:
        addr = as_address(ip)  # parsed once, not once per pool
        for p in self.pools:
            if p.range_of(addr) is not None:
                return p
        return None
