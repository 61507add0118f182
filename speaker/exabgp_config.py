"""Pure part of the ExaBGP driver: peer specs, route attributes, the ExaBGP configuration
text, its environment, and the API command lines. No I/O, so every rule here is unit-tested
without starting anything.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from metallb.config.model import Peer

FAMILY_OF_VERSION = {4: "ipv4 unicast", 6: "ipv6 unicast"}
KNOWN_FAMILIES = frozenset(FAMILY_OF_VERSION.values())
# ExaBGP reads one command per line; thousands of prefixes per line parse fine and keep the
# per-command overhead (the dominant cost, see bench/exabgp_raw.py) low.
DEFAULT_BATCH = 1000
_UNSAFE_PASSWORD = re.compile(r"[\s\"'\\;{}]")
_UNSAFE_PATH = re.compile(r"[\s\"'\\;{}]")


class PeerSpecError(ValueError):
    """A peer cannot be turned into ExaBGP configuration; says which peer, which field."""


@dataclass(frozen=True)
class RouteAttrs:
    """Attributes of an announced prefix. `next_hop` "self" = our address on the session."""

    next_hop: str = "self"
    communities: tuple[str, ...] = ()  # "A:B"
    local_pref: int | None = None  # only meaningful on iBGP sessions

    def render(self) -> str:
        parts = [f"next-hop {self.next_hop}"]
        if self.communities:
            parts.append(f"community [{' '.join(self.communities)}]")
        if self.local_pref is not None:
            parts.append(f"local-preference {self.local_pref}")
        return " ".join(parts)


@dataclass(frozen=True)
class PeerSpec:
    """One BGP session as ExaBGP runs it (always active: passive false)."""

    peer_address: str
    peer_asn: int
    local_asn: int
    local_address: str
    router_id: str
    peer_port: int = 179
    hold_time: int = 90
    password: str | None = field(default=None, repr=False)  # never logged
    families: tuple[str, ...] = ()  # empty = the peer address's own family

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
        return cls(
            peer_address=peer.peer_address, peer_asn=peer.peer_asn, local_asn=peer.my_asn,
            local_address=local, router_id=router_id, peer_port=peer.peer_port,
            hold_time=int(peer.hold_time), password=peer.password, families=families,
        )


def render_config(peers: Iterable[PeerSpec], relay_argv: Sequence[str],
                  group_updates: bool = False, process: str = "metallb") -> str:
    """ExaBGP configuration: one API process (the relay) and one neighbor per peer."""
    for arg in relay_argv:
        if _UNSAFE_PATH.search(arg):
            raise PeerSpecError(f"relay command argument {arg!r} contains whitespace or "
                                "quotes; use a state directory path without them")
    lines = [
        f"process {process} {{",
        f"    run {' '.join(relay_argv)};",
        "    encoder json;",
        "}",
    ]
    for p in peers:
        lines += [
            "",
            f"neighbor {p.peer_address} {{",
            f"    router-id {p.router_id};",
            f"    local-address {p.local_address};",
            f"    local-as {p.local_asn};",
            f"    peer-as {p.peer_asn};",
            f"    hold-time {p.hold_time};",
            "    passive false;",
            f"    group-updates {'true' if group_updates else 'false'};",
        ]
        if p.peer_port != 179:
            lines.append(f"    peer-port {p.peer_port};")
        if p.password:
            lines.append(f'    md5-password "{p.password}";')
        lines.append("    family {")
        lines += [f"        {family};" for family in p.address_families]
        lines += [
            "    }",
            f"    api {{ processes [ {process} ]; neighbor-changes; }}",
            "}",
        ]
    return "\n".join(lines) + "\n"


def exabgp_env(log_level: str = "INFO") -> dict[str, str]:
    """Environment settings ExaBGP 4.2 / 5.0 need to work as the speaker's child.

    Running as root it would otherwise drop to `nobody` and then cannot run the relay;
    no CLI pipes (they need /run/exabgp), no listening socket, acks on, logs to stderr
    (the driver writes them to a file in its state directory). The relay is not
    respawned: it only ends when the driver's socket is gone (the speaker died), and then
    it stops ExaBGP itself (see exabgp_relay.py) so no orphan keeps announcing routes.
    """
    user = "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
    # The launcher is `python -m speaker.exabgp_launcher`: make it importable from the
    # same place this speaker was imported from, whatever the child's working directory.
    path = [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
    return {
        "PYTHONPATH": os.pathsep.join(p for p in path if p),
        "exabgp.daemon.user": user,
        "exabgp.daemon.daemonize": "false",
        "exabgp.daemon.drop": "false",
        "exabgp.api.ack": "true",
        "exabgp.api.cli": "false",
        "exabgp.api.encoder": "json",
        "exabgp.api.respawn": "false",
        "exabgp.log.destination": "stderr",
        "exabgp.log.level": log_level,
        "exabgp.tcp.bind": "",
    }


def _split_family(prefixes: Iterable[str]) -> dict[int, list[str]]:
    """Prefixes by IP version (they are normalised already: a colon means IPv6)."""
    by_version: dict[int, list[str]] = defaultdict(list)
    for prefix in prefixes:
        by_version[6 if ":" in prefix else 4].append(prefix)
    return by_version


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def announce_commands(peer: str, routes: Mapping[str, RouteAttrs],
                      batch: int = DEFAULT_BATCH) -> list[str]:
    """`neighbor P announce attributes ... nlri A B ...`, one line per (attributes, family,
    batch) group, in a stable order."""
    groups: dict[RouteAttrs, list[str]] = defaultdict(list)
    for prefix, attrs in routes.items():
        groups[attrs].append(prefix)
    out = []
    for attrs in sorted(groups, key=repr):
        for _version, prefixes in sorted(_split_family(groups[attrs]).items()):
            for chunk in _chunks(sorted(prefixes), batch):
                out.append(f"neighbor {peer} announce attributes {attrs.render()} "
                           f"nlri {' '.join(chunk)}")
    return out


def withdraw_commands(peer: str, prefixes: Iterable[str], batch: int = DEFAULT_BATCH) -> list[str]:
    """`neighbor P withdraw attributes next-hop self nlri A B ...` (attributes other than the
    prefix do not matter to a withdraw)."""
    out = []
    for _version, group in sorted(_split_family(prefixes).items()):
        for chunk in _chunks(sorted(group), batch):
            out.append(f"neighbor {peer} withdraw attributes next-hop self nlri {' '.join(chunk)}")
    return out


@functools.lru_cache(maxsize=1 << 17)
def normalise_prefix(prefix: str) -> str:
    """`198.51.100.7` -> `198.51.100.7/32`; host bits set are an error (ValueError)."""
    return str(ipaddress.ip_network(prefix, strict=True))
