"""The speaker's seam to BGP: the types every BGP backend shares and the `BGPBackend`
protocol the daemon drives, in the spirit of MetalLB's `internal/bgp`, which separates
sessions from the implementations that run them.

Nothing here knows ExaBGP. The planner builds `RouteAttrs` tables, the daemon turns
config peers into `PeerSpec`s and hands both to whatever backend `speaker.backends`
built; the backend reports back through `DriverEvent`s and `SessionState` snapshots.
A second implementation (BFD beside ExaBGP, another BGP daemon) plugs in here without
the planner or the daemon changing.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from metallb.config.model import Peer

FAMILY_OF_VERSION = {4: "ipv4 unicast", 6: "ipv6 unicast"}
KNOWN_FAMILIES = frozenset(FAMILY_OF_VERSION.values())
_UNSAFE_PASSWORD = re.compile(r"[\s\"'\\;{}]")
LARGE_PREFIX = "large:"  # a large community (RFC 8092) among RouteAttrs.communities
# Restart time a graceful-restart peer is told (RFC 4724: how long it keeps our routes
# after the session drops): 120 s, what upstream MetalLB's FRR sends (FRR's default).
GRACEFUL_RESTART_TIME = 120


class PeerSpecError(ValueError):
    """A peer cannot be turned into a session; says which peer, which field."""


class BackendError(RuntimeError):
    """The backend could not be started or driven; the message says what to look at."""


@dataclass(frozen=True)
class RouteAttrs:
    """Attributes of an announced prefix. `next_hop` "self" = our address on the session."""

    next_hop: str = "self"
    communities: tuple[str, ...] = ()  # "A:B", or "large:A:B:C" for a large community
    local_pref: int | None = None  # only meaningful on iBGP sessions


RouteTables = dict[str, dict[str, RouteAttrs]]
"""peer address -> prefix (canonical `ip_network` text) -> attributes."""


@dataclass(frozen=True)
class PeerSpec:
    """One BGP session as the speaker runs it (always active: it connects to the peer).

    Validated on construction, so a backend never sees a session it cannot configure;
    the password alphabet is the one every backend's config syntax can carry unquoted.
    """

    peer_address: str
    peer_asn: int
    local_asn: int
    local_address: str
    router_id: str
    peer_port: int = 179
    hold_time: int = 90
    password: str | None = field(default=None, repr=False)  # never logged
    families: tuple[str, ...] = ()  # empty = the peer address's own family
    ebgp_multihop: bool = False  # the peer is several hops away: send with the largest TTL
    # Send the graceful-restart capability (RFC 4724): the peer keeps our routes, marked
    # stale, while the session is down, until we send End-of-RIB after coming back.
    graceful_restart: bool = False

    def __post_init__(self) -> None:
        where = f"peer {self.peer_address}"
        try:
            peer = ipaddress.ip_address(self.peer_address)
            local = ipaddress.ip_address(self.local_address)
            rid = ipaddress.ip_address(self.router_id)
        except ValueError as exc:
            raise PeerSpecError(f"{where}: {exc}") from None
        if peer.version != local.version:
            raise PeerSpecError(f"{where}: local-address {self.local_address} is not of the "
                                "peer's address family; set source-address")
        if rid.version != 4:
            raise PeerSpecError(f"{where}: router-id {self.router_id} must be IPv4; set router-id")
        if self.hold_time != 0 and self.hold_time < 3:
            raise PeerSpecError(f"{where}: hold-time {self.hold_time} must be 0 or >= 3 seconds")
        for name, asn in (("peer-asn", self.peer_asn), ("my-asn", self.local_asn)):
            if not 1 <= asn <= 2**32 - 1:
                raise PeerSpecError(f"{where}: {name} {asn} is outside 1..4294967295")
        if not 1 <= self.peer_port <= 65535:
            raise PeerSpecError(f"{where}: peer-port {self.peer_port} is outside 1..65535")
        if self.password is not None and (not self.password
                                          or _UNSAFE_PASSWORD.search(self.password)):
            raise PeerSpecError(f"{where}: password must be non-empty without whitespace, "
                                "quotes, backslash, ';', '{' or '}'")
        unknown = set(self.families) - KNOWN_FAMILIES
        if unknown:
            raise PeerSpecError(f"{where}: unknown families {sorted(unknown)}; use "
                                f"{sorted(KNOWN_FAMILIES)}")

    @property
    def is_ibgp(self) -> bool:
        return self.peer_asn == self.local_asn

    @property
    def address_families(self) -> tuple[str, ...]:
        if self.families:
            return self.families
        return (FAMILY_OF_VERSION[ipaddress.ip_address(self.peer_address).version],)

    @classmethod
    def from_peer(cls, peer: Peer, node_addresses: Sequence[str],
                  families: tuple[str, ...] = ()) -> PeerSpec:
        """Build from a config Peer and this node's addresses (defaults for the session's
        local address, same family as the peer, and the router id, the first IPv4 one)."""
        where = f"peer {peer.peer_address}"
        try:
            version = ipaddress.ip_address(peer.peer_address).version
            nodes = [ipaddress.ip_address(a) for a in node_addresses]
        except ValueError as exc:
            raise PeerSpecError(f"{where}: {exc}") from None
        local = peer.source_address or next(
            (str(a) for a in nodes if a.version == version), None)
        if local is None:
            raise PeerSpecError(f"{where}: the node has no IPv{version} address for this "
                                "session; set source-address")
        router_id = peer.router_id or next((str(a) for a in nodes if a.version == 4), None)
        if router_id is None:
            raise PeerSpecError(f"{where}: the node has no IPv4 address to use as router-id; "
                                "set router-id")
        # dynamicASN "internal" accepts exactly our own ASN (FRR's `remote-as internal`);
        # the parser refuses "external", which ExaBGP cannot run.
        peer_asn = peer.my_asn if peer.dynamic_asn == "internal" else peer.peer_asn
        return cls(
            peer_address=peer.peer_address, peer_asn=peer_asn, local_asn=peer.my_asn,
            local_address=local, router_id=router_id, peer_port=peer.peer_port,
            hold_time=int(peer.hold_time), password=peer.password, families=families,
            ebgp_multihop=peer.ebgp_multihop, graceful_restart=peer.enable_graceful_restart,
        )


@functools.lru_cache(maxsize=1 << 17)
def normalise_prefix(prefix: str) -> str:
    """`198.51.100.7` -> `198.51.100.7/32`; host bits set are an error (ValueError)."""
    return str(ipaddress.ip_network(prefix, strict=True))


@dataclass(frozen=True)
class SessionState:
    """Snapshot of one peer, for metrics and status."""

    peer: str
    state: str  # "idle" (configured, never connected), "connected", "up", "down"
    up: bool
    reason: str | None  # of the last "down"
    since: float  # time.time() of the last state change
    updates_sent: int  # prefix announces + withdraws sent to this peer
    announced_prefixes: int  # prefixes acknowledged to the peer while its session is up
    pending_prefixes: int  # desired prefixes not (yet) sent or not yet acknowledged


@dataclass(frozen=True)
class DriverEvent:
    """What a backend tells the daemon, through the `on_event` callback it was built with.

    The callback runs on one of the backend's own threads: keep it quick, never block
    (the daemon only logs and marks its state dirty). Kinds:
    "session" (a state change: `peer`, `state`, `detail` = reason of a "down"),
    "session_not_established" (`peer` stayed down too long: `detail` is a hint),
    "command_error" (the backend refused a command: `detail` = its log tail),
    "exabgp_started" / "exabgp_exited" (the backend's process: `detail` = pid / rc).
    """

    kind: str
    peer: str | None = None
    state: str | None = None
    detail: str | None = None


OnEvent = Callable[[DriverEvent], None]


class BGPBackend(Protocol):
    """What the speaker daemon needs from a BGP implementation.

    The daemon's sync thread calls `set_peers`, `set_routes`, `change_routes`,
    `announce_ahead` and `sessions`; the events recorder's thread calls `busy`, the BFD
    thread `teardown`; `start` and `stop` come from the thread that owns the daemon. Every
    call must be safe from any thread.
    """

    def start(self) -> BGPBackend:
        """Start serving; raises `BackendError` (or OSError) when it cannot."""

    def stop(self, withdraw: bool = True) -> None:
        """Withdraw every route (when `withdraw`; never to a graceful-restart peer, which
        keeps them through the restart) and end every session; idempotent."""

    def set_peers(self, peers: Iterable[PeerSpec]) -> None:
        """Replace the set of sessions; unchanged sessions are kept as they are."""

    def set_routes(self, routes: Mapping[str, Mapping[str, RouteAttrs]],
                   canonical: bool = False) -> None:
        """Desired routes per peer address; only the difference is sent."""

    def change_routes(self, changes: Mapping[str, Mapping[str, RouteAttrs | None]]) -> None:
        """Change the last desired routes at these canonical prefixes only, per peer
        (None = no longer desired); other prefixes and peers stay. The backend keeps its
        own copy: `changes` is all it reads, so an incremental plan costs what changed."""

    def announce_ahead(self, routes: Mapping[str, Mapping[str, RouteAttrs]]) -> None:
        """Send these routes now to sessions that are up; `set_routes` still decides."""

    def sessions(self) -> dict[str, SessionState]:
        """A snapshot of every configured session."""

    def teardown(self, peer: str) -> bool:
        """Reset the session with `peer` at once (BFD saw it down); the backend lets it
        come back by itself. False when there is no such session to reset."""

    def busy(self) -> bool:
        """True while sent commands are not yet confirmed (lower-priority work waits)."""
