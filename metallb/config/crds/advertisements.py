"""Community, BGPAdvertisement and L2Advertisement objects, by upstream's rules
(internal/config/config.go: communitiesFromCrs, bgpAdvertisementFromCR,
validateBGPAdvPerPool). BGPAdvertisements are attached to the pools they select; a pool
no advertisement selects keeps none and is never announced."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from metallb.config import fields
from metallb.config.addresses import covering_prefix_length
from metallb.config.crds.common import optional_int, selector_list, string_list
from metallb.config.crds.objects import Resource, spec_of
from metallb.config.issues import Issues, index_path
from metallb.config.model import Advertisement, NodeSelector, Pool

BGP_ADV_KEYS = ("aggregationLength", "aggregationLengthV6", "localPref", "communities",
                "ipAddressPools", "ipAddressPoolSelectors", "nodeSelectors", "peers")
L2_ADV_KEYS = ("ipAddressPools", "ipAddressPoolSelectors", "nodeSelectors", "interfaces")
_LARGE = re.compile(r"large:([0-9]+):([0-9]+):([0-9]+)")


def parse_community_value(value: object, path: str, issues: Issues) -> str | None:
    """"A:B" (16-bit halves) or "large:A:B:C" (32-bit parts), normalised."""
    if isinstance(value, str) and value.strip().startswith("large:"):
        match = _LARGE.fullmatch(value.strip())
        if match is None or any(int(p) > fields.MAX_UINT32 for p in match.groups()):
            issues.add(path, 'is not a large BGP community; write "large:A:B:C" with '
                       "A, B and C from 0 to 4294967295", value)
            return None
        return "large:" + ":".join(str(int(p)) for p in match.groups())
    return fields.parse_community(value, path, issues)


def parse_communities(resources: list[Resource], issues: Issues) -> dict[str, str]:
    """alias -> value, over every Community object; an alias is unique across them."""
    aliases: dict[str, str] = {}
    owners: dict[str, str] = {}
    for resource in resources:
        spec = spec_of(resource, issues, ("communities",))
        if spec is None or "communities" not in spec:
            continue
        path = resource.path("spec.communities")
        for i, raw in enumerate(issues.sequence(spec["communities"], path) or []):
            item_path = index_path(path, i)
            entry = issues.struct(raw, item_path)
            if entry is None:
                continue
            issues.unknown_keys(entry, ("name", "value"), item_path)
            name = fields.parse_string(entry.get("name"), f"{item_path}.name", issues)
            value = parse_community_value(entry.get("value"), f"{item_path}.value", issues)
            if name is None or value is None:
                continue
            if name in aliases:
                issues.add(f"{item_path}.name", f"duplicate community alias, also defined "
                           f"in {owners[name]}", name)
                continue
            aliases[name], owners[name] = value, item_path
    return aliases


def attach_advertisements(
    resources: list[Resource],
    pools: dict[str, Pool],
    pool_labels: Mapping[str, Mapping[str, str]],
    communities: Mapping[str, str],
    issues: Issues,
) -> dict[str, Pool]:
    """The pools with their advertisements added (in advertisement name order)."""
    attached: dict[str, list[tuple[Resource, Advertisement]]] = {name: [] for name in pools}
    for resource in sorted(resources, key=lambda r: r.name):
        parsed = _parse_bgp_advertisement(resource, communities, issues)
        if parsed is None:
            continue
        adv, names, selectors = parsed
        for name in _selected_pools(resource, names, selectors, pools, pool_labels, issues):
            if _fits_pool(resource, adv, pools[name], attached[name], issues):
                attached[name].append((resource, adv))
    return {
        name: replace(pool, advertisements=tuple(a for _r, a in attached[name]))
        for name, pool in pools.items()
    }


def check_l2_advertisements(resources: list[Resource], pools: Mapping[str, Pool],
                            issues: Issues) -> None:
    """Validated like upstream; never announced (only BGP is implemented): a warning."""
    for resource in resources:
        spec = spec_of(resource, issues, L2_ADV_KEYS)
        if spec is None:
            continue
        base = resource.path("spec")
        for key in ("ipAddressPools", "interfaces"):
            if key in spec:
                string_list(spec[key], f"{base}.{key}", issues)
        selector_list(spec, "ipAddressPoolSelectors", base, issues)
        selector_list(spec, "nodeSelectors", base, issues)
        issues.warn(resource.ref, "is valid but not announced: this MetalLB announces over "
                    "BGP only (layer 2 mode is not implemented)")


def _parse_bgp_advertisement(
    resource: Resource, communities: Mapping[str, str], issues: Issues
) -> tuple[Advertisement, tuple[str, ...], tuple[NodeSelector, ...]] | None:
    spec = spec_of(resource, issues, BGP_ADV_KEYS)
    if spec is None:
        return None
    before = len(issues)
    base = resource.path("spec")
    length = optional_int(spec, "aggregationLength", base, issues, 1, 32)
    length_v6 = optional_int(spec, "aggregationLengthV6", base, issues, 0, 128)
    localpref = optional_int(spec, "localPref", base, issues, 0, fields.MAX_UINT32)
    resolved: list[str] = []
    if "communities" in spec:
        path = f"{base}.communities"
        for i, text in enumerate(string_list(spec["communities"], path, issues)):
            value = communities.get(text)
            if value is None and ":" not in text:
                issues.add(index_path(path, i), "names no Community alias; define it in a "
                           'Community object or write "A:B" or "large:A:B:C"', text)
            elif value is None:
                value = parse_community_value(text, index_path(path, i), issues)
            if value is not None and value not in resolved:
                resolved.append(value)
    names = string_list(spec.get("ipAddressPools", []), f"{base}.ipAddressPools", issues)
    pool_selectors = selector_list(spec, "ipAddressPoolSelectors", base, issues)
    node_selectors = selector_list(spec, "nodeSelectors", base, issues)
    peers = string_list(spec.get("peers", []), f"{base}.peers", issues)
    if len(issues) != before:
        return None
    adv = Advertisement(
        aggregation_length=32 if length is None else length,
        aggregation_length_v6=128 if length_v6 is None else length_v6,
        localpref=localpref or None,  # 0 is Go's "not set"
        communities=tuple(resolved),
        peers=peers,
        node_selectors=node_selectors,
    )
    return adv, names, pool_selectors


def _selected_pools(
    resource: Resource,
    names: tuple[str, ...],
    selectors: tuple[NodeSelector, ...],
    pools: Mapping[str, Pool],
    pool_labels: Mapping[str, Mapping[str, str]],
    issues: Issues,
) -> list[str]:
    """By name and by label selector; neither given: every pool. A name that is no
    valid pool is a warning (upstream ignores it silently)."""
    if not names and not selectors:
        return sorted(pools)
    chosen = [n for n in names if n in pools]
    for i, name in enumerate(names):
        if name not in pools:
            issues.warn(index_path(resource.path("spec.ipAddressPools"), i),
                        "names no valid IPAddressPool; nothing is announced for it", name)
    for name in sorted(pools):
        if name not in chosen and any(s.matches(pool_labels.get(name, {})) for s in selectors):
            chosen.append(name)
    return chosen


def _fits_pool(resource: Resource, adv: Advertisement, pool: Pool,
               others: list[tuple[Resource, Advertisement]], issues: Issues) -> bool:
    """validateBGPAdvPerPool: no aggregation shorter than an address entry's prefix, no
    two different localPrefs for the same kind of update."""
    for entry in pool.ranges:
        length, key = ((adv.aggregation_length, "aggregationLength") if entry.family == 4
                       else (adv.aggregation_length_v6, "aggregationLengthV6"))
        if length < covering_prefix_length(entry):
            issues.add(resource.path(f"spec.{key}"),
                       f"{key} {length} is shorter than the /{covering_prefix_length(entry)} "
                       f"of {entry.source!r} in IPAddressPool/{pool.name}", length)
            return False
    for other_resource, other in others:
        if other.localpref != adv.localpref and not localprefs_may_differ(adv, other, pool):
            issues.add(resource.path("spec.localPref"),
                       f"conflicts with localPref {other.localpref} of "
                       f"{other_resource.ref} for IPAddressPool/{pool.name} (same prefixes, "
                       "peers and nodes)", adv.localpref)
            return False
    return True


def localprefs_may_differ(a: Advertisement, b: Advertisement, pool: Pool) -> bool:
    """advertisementsAreCompatible: may a and b give the pool's prefixes different
    localPrefs (they never produce the same update)? Upstream compares the sets of nodes
    selected at that moment; without nodes we compare selectors: different non-empty
    selector lists are taken as different nodes."""
    families = {entry.family for entry in pool.ranges}
    v4_differs = a.aggregation_length != b.aggregation_length
    v6_differs = a.aggregation_length_v6 != b.aggregation_length_v6
    if (v4_differs and 6 not in families) or (v6_differs and 4 not in families) or (
            v4_differs and v6_differs):
        return True
    if a.peers and b.peers and not set(a.peers) & set(b.peers):
        return True
    return bool(a.node_selectors and b.node_selectors and a.node_selectors != b.node_selectors)


def labels_of(resources: list[Resource]) -> dict[str, dict[str, Any]]:
    return {r.name: r.label_dict() for r in resources}
