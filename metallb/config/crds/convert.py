"""A legacy Config -> the metallb.io objects that mean the same; no I/O.

Better than upstream's `configmaptocrs`: names are made valid object names (and the
renames returned, so the command can print them and warn about Services whose
address-pool annotation names an old one), the allocation order of the pools is kept
(with priorities where name order would change it), and nothing is dropped silently: a
field the custom resources cannot express is an error naming the legacy field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from metallb.config.crds.advertisements import localprefs_may_differ
from metallb.config.crds.peers import BFD_KEYS
from metallb.config.errors import ConfigError
from metallb.config.fields import format_duration
from metallb.config.issues import Issues
from metallb.config.model import (
    DEFAULT_HOLD_TIME,
    DEFAULT_PEER_PORT,
    BfdProfile,
    Config,
    NodeSelector,
    Peer,
    Pool,
)

API = "metallb.io/v1beta1"
PEER_API = "metallb.io/v1beta2"
MAX_CRD_PEER_PORT = 16384  # the BGPPeer schema's maximum
_INVALID = re.compile(r"[^a-z0-9.-]+")


@dataclass(frozen=True)
class Conversion:
    objects: tuple[dict[str, Any], ...]
    pool_renames: tuple[tuple[str, str], ...] = ()  # (legacy name, object name)
    notes: tuple[str, ...] = field(default=())  # what the reader should know


def convert_config(config: Config, namespace: str, source: str | None = None) -> Conversion:
    """The objects for `config` in `namespace`, or ConfigError naming every legacy
    field that cannot be converted."""
    issues = Issues()
    if config.peer_autodiscovery is not None:
        issues.add("peer-autodiscovery", "cannot be converted: the metallb.io API has no "
                   "peer autodiscovery; write one BGPPeer per router with nodeSelectors")
    names = _Names()
    pool_names = {p.name: names.take("IPAddressPool", p.name) for p in config.pools}
    notes: list[str] = []
    objects: list[dict[str, Any]] = []
    if config.bgp_communities:
        objects.append(_object("Community", names.take("Community", "communities"), namespace,
                               {"communities": [{"name": alias, "value": value}
                                                for alias, value in config.bgp_communities]}))
    bfd_names = {p.name: names.take("BFDProfile", p.name) for p in config.bfd_profiles}
    objects.extend(_object("BFDProfile", bfd_names[p.name], namespace, _bfd_spec(p))
                   for p in config.bfd_profiles)
    for i, peer in enumerate(config.peers):
        name = names.take("BGPPeer", _peer_name(peer))
        spec = _peer_spec(peer, f"peers[{i}]", issues)
        if peer.bfd_profile is not None:
            spec["bfdProfile"] = bfd_names.get(peer.bfd_profile, peer.bfd_profile)
        objects.append(_object("BGPPeer", name, namespace, spec, PEER_API))
    priorities = _priorities(config.pools, pool_names)
    if priorities:
        notes.append("pools get serviceAllocation priorities to keep the order the legacy "
                     "config lists them in (custom resources are tried in name order)")
    advertisements: list[dict[str, Any]] = []
    pools: list[dict[str, Any]] = []
    for i, pool in enumerate(config.pools):
        new = pool_names[pool.name]
        pools.append(_object("IPAddressPool", new, namespace,
                             _pool_spec(pool, priorities.get(pool.name))))
        advertisements.extend(_advertisements(pool, new, f"address-pools[{i}]", namespace,
                                              names, issues))
    # Pools last: applied one by one (kubectl apply), every prefix of this list is a
    # config the daemons refuse (no pool for the addresses services hold) or one that
    # announces what the whole does, so a live migration never withdraws a route.
    objects.extend(advertisements)
    objects.extend(pools)
    if issues.items:
        raise ConfigError(issues.items, source)
    renames = tuple((old, new) for old, new in pool_names.items() if old != new)
    return Conversion(tuple(objects), renames, tuple(notes))


class _Names:
    """Valid, unique object names per kind (DNS subdomain: lower-case letters, digits,
    '-' and '.', starting and ending with a letter or digit)."""

    def __init__(self) -> None:
        self._used: dict[str, set[str]] = {}

    def take(self, kind: str, wanted: str) -> str:
        base = _INVALID.sub("-", wanted.lower()).strip("-.")[:240] or kind.lower()
        used = self._used.setdefault(kind, set())
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        return name


def _object(kind: str, name: str, namespace: str, spec: dict[str, Any],
            api: str = API) -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind,
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def _peer_name(peer: Peer) -> str:
    port = "" if peer.peer_port == DEFAULT_PEER_PORT else f"-{peer.peer_port}"
    return f"peer-{peer.peer_address.replace(':', '-')}{port}"


def _peer_spec(peer: Peer, path: str, issues: Issues) -> dict[str, Any]:
    spec: dict[str, Any] = {"myASN": peer.my_asn, "peerASN": peer.peer_asn,
                            "peerAddress": peer.peer_address}
    if peer.peer_port != DEFAULT_PEER_PORT:
        if peer.peer_port > MAX_CRD_PEER_PORT:
            issues.add(f"{path}.peer-port", f"cannot be converted: BGPPeer.spec.peerPort is "
                       f"at most {MAX_CRD_PEER_PORT}", peer.peer_port)
        spec["peerPort"] = peer.peer_port
    if peer.source_address:
        spec["sourceAddress"] = peer.source_address
    if peer.hold_time != DEFAULT_HOLD_TIME:
        spec["holdTime"] = format_duration(peer.hold_time)
    if peer.keepalive_time is not None:
        spec["keepaliveTime"] = format_duration(peer.keepalive_time)
    if peer.router_id:
        spec["routerID"] = peer.router_id
    if peer.node_selectors:
        spec["nodeSelectors"] = selectors_spec(peer.node_selectors)
    if peer.password is not None:
        spec["password"] = peer.password
    if peer.ebgp_multihop:
        spec["ebgpMultiHop"] = True
    return spec


def _bfd_spec(profile: BfdProfile) -> dict[str, Any]:
    """The fields the profile sets (one left out keeps FRR's default either way)."""
    spec: dict[str, Any] = {key: getattr(profile, attr)
                            for key, (attr, _low, _high) in BFD_KEYS.items()
                            if getattr(profile, attr) is not None}
    if profile.passive_mode:
        spec["passiveMode"] = True
    return spec


def selectors_spec(selectors: tuple[NodeSelector, ...]) -> list[dict[str, Any]]:
    """Label selectors in Kubernetes' spelling (metav1.LabelSelector)."""
    out = []
    for selector in selectors:
        entry: dict[str, Any] = {}
        if selector.match_labels:
            entry["matchLabels"] = dict(selector.match_labels)
        if selector.match_expressions:
            entry["matchExpressions"] = [
                {"key": r.key, "operator": r.operator, **({"values": list(r.values)}
                                                          if r.values else {})}
                for r in selector.match_expressions]
        out.append(entry)
    return out


def _priorities(pools: tuple[Pool, ...], names: dict[str, str]) -> dict[str, int]:
    """Priorities 1..n in the listed order, only when name order would try the
    automatic pools in another order."""
    automatic = [p.name for p in pools if p.auto_assign]
    if [names[n] for n in automatic] == sorted(names[n] for n in automatic):
        return {}
    return {name: i for i, name in enumerate(automatic, start=1)}


def _pool_spec(pool: Pool, priority: int | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"addresses": [entry.source.strip() for entry in pool.ranges]}
    if not pool.auto_assign:
        spec["autoAssign"] = False
    if pool.avoid_buggy_ips:
        spec["avoidBuggyIPs"] = True
    if priority is not None:
        spec["serviceAllocation"] = {"priority": priority}
    return spec


def _advertisements(pool: Pool, name: str, path: str, namespace: str, names: _Names,
                    issues: Issues) -> list[dict[str, Any]]:
    if pool.protocol == "layer2":
        return [_object("L2Advertisement", names.take("L2Advertisement", name), namespace,
                        {"ipAddressPools": [name]})]
    out = []
    for i, adv in enumerate(pool.advertisements):
        where = f"{path}.bgp-advertisements[{i}]"
        clash = next((j for j, other in enumerate(pool.advertisements[:i])
                      if other.localpref != adv.localpref
                      and not localprefs_may_differ(adv, other, pool)), None)
        if clash is not None:
            issues.add(f"{where}.localpref", "cannot be converted: BGPAdvertisements may not "
                       f"give the same prefixes another localPref than bgp-advertisements"
                       f"[{clash}] (upstream's rule)", adv.localpref)
        spec: dict[str, Any] = {"ipAddressPools": [name]}
        if adv.aggregation_length != 32:
            if adv.aggregation_length < 1:
                issues.add(f"{where}.aggregation-length", "cannot be converted: "
                           "BGPAdvertisement.spec.aggregationLength is at least 1",
                           adv.aggregation_length)
            spec["aggregationLength"] = adv.aggregation_length
        if adv.aggregation_length_v6 != 128:
            spec["aggregationLengthV6"] = adv.aggregation_length_v6
        if adv.localpref is not None:
            if adv.localpref == 0:
                issues.add(f"{where}.localpref", "cannot be converted: localPref 0 means "
                           "'not set' in BGPAdvertisement", 0)
            spec["localPref"] = adv.localpref
        if adv.communities:
            spec["communities"] = list(adv.communities)
        wanted = name if len(pool.advertisements) == 1 else f"{name}-{i + 1}"
        out.append(_object("BGPAdvertisement", names.take("BGPAdvertisement", wanted),
                           namespace, spec))
    return out
