"""Immutable configuration model shared by the controller, the speaker and the CLI.

The parser (`metallb.config.parse`) is the only producer of these objects; everything
downstream (allocator, announcement planner, component renderer) only reads them, so
they are frozen and hold tuples instead of lists and dicts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from metallb.config.errors import ConfigIssue

DEFAULT_PEER_PORT = 179
DEFAULT_HOLD_TIME = 90.0

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
    """How the addresses of a pool are announced (`bgp-advertisements[]`)."""

    aggregation_length: int = 32
    aggregation_length_v6: int = 128
    localpref: int | None = None
    communities: tuple[str, ...] = ()  # normalised "A:B", aliases already resolved


@dataclass(frozen=True)
class Pool:
    name: str
    protocol: str  # "bgp" or "layer2"
    ranges: tuple[AddressRange, ...]
    auto_assign: bool = True
    avoid_buggy_ips: bool = False
    # Never empty: a pool without `bgp-advertisements` gets one default Advertisement().
    advertisements: tuple[Advertisement, ...] = (Advertisement(),)

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


@dataclass(frozen=True)
class Peer:
    peer_address: str
    peer_asn: int
    my_asn: int
    peer_port: int = DEFAULT_PEER_PORT
    hold_time: float = DEFAULT_HOLD_TIME  # seconds
    keepalive_time: float | None = None  # seconds; None = hold_time / 3
    router_id: str | None = None
    source_address: str | None = None
    password: str | None = field(default=None, repr=False)  # never logged
    node_selectors: tuple[NodeSelector, ...] = ()
    ebgp_multihop: bool = False  # the eBGP peer is several hops away (TTL > 1); v0.12

    @property
    def is_ibgp(self) -> bool:
        return self.peer_asn == self.my_asn

    def selects(self, labels: Mapping[str, str]) -> bool:
        return selectors_match(self.node_selectors, labels)


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
    peers: tuple[Peer, ...] = ()
    pools: tuple[Pool, ...] = ()
    bgp_communities: tuple[tuple[str, str], ...] = ()  # alias -> "A:B"
    peer_autodiscovery: PeerAutodiscovery | None = None
    # Valid but probably not what was meant (e.g. a CIDR with host bits, read as its
    # network as MetalLB does): `config check` prints them, the daemons log them. Not part
    # of equality: two configs that mean the same are the same config.
    warnings: tuple[ConfigIssue, ...] = field(default=(), compare=False)

    def pool(self, name: str) -> Pool | None:
        for p in self.pools:
            if p.name == name:
                return p
        return None

    def pool_of(self, ip: str | IPAddress) -> Pool | None:
        addr = as_address(ip)  # parsed once, not once per pool
        for p in self.pools:
            if p.range_of(addr) is not None:
                return p
        return None
