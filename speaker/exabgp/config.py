"""Pure part of the ExaBGP driver: the ExaBGP configuration text for a set of
`speaker.bgp.PeerSpec`s, its environment, and the API command lines. No I/O, so every
rule here is unit-tested without starting anything.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from speaker.bgp import (
    GRACEFUL_RESTART_TIME,
    LARGE_PREFIX,
    PeerSpec,
    PeerSpecError,
    RouteAttrs,
)
from speaker.exabgp import launcher
from speaker.settings import SpeakerSettings

DEFAULT_BATCH = SpeakerSettings.exabgp_batch  # prefixes per command line (see there why)
_UNSAFE_PATH = re.compile(r"[\s\"'\\;{}]")


def render_attrs(attrs: RouteAttrs) -> str:
    """The attributes as ExaBGP's `announce attributes ...` syntax writes them."""
    parts = [f"next-hop {attrs.next_hop}"]
    standard = [c for c in attrs.communities if not c.startswith(LARGE_PREFIX)]
    large = [c[len(LARGE_PREFIX):] for c in attrs.communities if c.startswith(LARGE_PREFIX)]
    if standard:
        parts.append(f"community [{' '.join(standard)}]")
    if large:  # RFC 8092: a separate attribute, "A:B:C" in ExaBGP's syntax
        parts.append(f"large-community [{' '.join(large)}]")
    if attrs.local_pref is not None:
        parts.append(f"local-preference {attrs.local_pref}")
    return " ".join(parts)


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
        if p.ebgp_multihop:  # without it ExaBGP sets no TTL: the kernel's default (64)
            lines.append("    outgoing-ttl 255;")
        if p.password:
            lines.append(f'    md5-password "{p.password}";')
        if p.graceful_restart:
            # The capability, and End-of-RIB only when the driver says the whole set is
            # out (ExaBGP's own comes at once, before any API route: the peer would drop
            # the routes it kept for us, then learn them again).
            lines += [f"    capability {{ graceful-restart {GRACEFUL_RESTART_TIME}; }}",
                      "    manual-eor true;"]
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
    it stops ExaBGP itself (see speaker/exabgp/relay.py) so no orphan keeps announcing routes.
    """
    user = "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
    # The launcher is `python -S -m speaker.exabgp.launcher`: make it and ExaBGP
    # importable from where this speaker found them, whatever the child's working
    # directory (-S: no site-packages).
    path = [*launcher.import_path(), os.environ.get("PYTHONPATH", "")]
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
                out.append(f"neighbor {peer} announce attributes {render_attrs(attrs)} "
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


def end_of_rib_commands(peer: str, families: Iterable[str]) -> list[str]:
    """`neighbor P announce eor <family>`: End-of-RIB (RFC 4724) for each family, which
    tells a graceful-restart peer to drop the stale routes we did not announce again."""
    return [f"neighbor {peer} announce eor {family}" for family in families]
