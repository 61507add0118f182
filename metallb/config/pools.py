"""`address-pools[]`, their `bgp-advertisements[]`, and `bgp-communities`."""

from __future__ import annotations

import re
from collections.abc import Mapping

from metallb.config import fields
from metallb.config.addresses import covering_prefix_length, find_overlaps, parse_address_entry
from metallb.config.issues import Issues, index_path, key_path, type_name
from metallb.config.model import AddressRange, Advertisement, Pool

POOL_KEYS = (
    "name",
    "protocol",
    "addresses",
    "auto-assign",
    "avoid-buggy-ips",
    "bgp-advertisements",
)
ADVERTISEMENT_KEYS = ("aggregation-length", "aggregation-length-v6", "localpref", "communities")
PROTOCOLS = ("bgp", "layer2")
_POOL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")


def parse_communities(value: object, path: str, issues: Issues) -> dict[str, str]:
    mapping = issues.mapping(value, path, 'a mapping of alias to "A:B"')
    result: dict[str, str] = {}
    for alias, raw in (mapping or {}).items():
        entry_path = key_path(path, alias)
        if not isinstance(alias, str) or not alias:
            issues.add(
                entry_path, f"alias must be a non-empty string, not {type_name(alias)}", alias
            )
            continue
        community = fields.parse_community(raw, entry_path, issues)
        if community is not None:
            result[alias] = community
    return result


def parse_pools(
    value: object, path: str, communities: Mapping[str, str], issues: Issues
) -> tuple[Pool, ...]:
    entries = issues.sequence(value, path)
    if entries is None:
        return ()
    pools: list[Pool] = []
    names: dict[str, str] = {}
    all_ranges: list[tuple[str, AddressRange]] = []
    for i, raw in enumerate(entries):
        pool_path = index_path(path, i)
        before = len(issues)
        pool = _parse_pool(raw, pool_path, communities, issues, all_ranges)
        name = raw.get("name") if isinstance(raw, Mapping) else None
        if isinstance(name, str) and name in names:  # checked even if the pool is invalid
            issues.add(
                f"{pool_path}.name", f"duplicate pool name, also used by {names[name]}", name
            )
        elif isinstance(name, str):
            names[name] = pool_path
        if pool is not None and len(issues) == before:
            pools.append(pool)
    for where, entry, other_where, other in find_overlaps(all_ranges):
        issues.add(
            where,
            f"overlaps {other_where} ({other.source}); an address may belong to only one entry",
            entry.source,
        )
    return tuple(pools)


def _parse_pool(
    raw: object,
    path: str,
    communities: Mapping[str, str],
    issues: Issues,
    all_ranges: list[tuple[str, AddressRange]],
) -> Pool | None:
    mapping = issues.struct(raw, path)
    if mapping is None:
        return None
    issues.unknown_keys(mapping, POOL_KEYS, path)
    name = _parse_pool_name(mapping, path, issues)
    protocol = mapping.get("protocol")
    if "protocol" not in mapping:
        issues.add(f"{path}.protocol", "required key is missing; use bgp")
    elif protocol not in PROTOCOLS:
        issues.add(f"{path}.protocol", f"must be one of {', '.join(PROTOCOLS)}", protocol)
    ranges = _parse_addresses(mapping, path, issues)
    all_ranges.extend((f"{path}.addresses[{i}]", r) for i, r in ranges)
    auto_assign = _optional_bool(mapping, "auto-assign", path, issues, True)
    avoid_buggy = _optional_bool(mapping, "avoid-buggy-ips", path, issues, False)
    advertisements: tuple[Advertisement, ...] = (Advertisement(),)
    if mapping.get("bgp-advertisements") not in (None, []):
        adv_path = f"{path}.bgp-advertisements"
        if protocol == "layer2":
            issues.add(adv_path, "only pools with protocol bgp take bgp-advertisements")
        else:
            parsed = _parse_advertisements(
                mapping["bgp-advertisements"],
                adv_path,
                [r for _i, r in ranges],
                communities,
                issues,
            )
            advertisements = parsed or advertisements
    if name is None or protocol not in PROTOCOLS or not ranges:
        return None
    return Pool(
        name=name,
        protocol=str(protocol),
        ranges=tuple(r for _i, r in ranges),
        auto_assign=bool(auto_assign),
        avoid_buggy_ips=bool(avoid_buggy),
        advertisements=advertisements,
    )


def _parse_pool_name(mapping: Mapping, path: str, issues: Issues) -> str | None:
    if "name" not in mapping:
        issues.add(f"{path}.name", "required key is missing")
        return None
    name = fields.parse_string(mapping["name"], f"{path}.name", issues)
    if name is not None and not _POOL_NAME.fullmatch(name):
        # MetalLB takes any name; it shows up in annotations, metric labels and Events.
        issues.warn(
            f"{path}.name",
            "is accepted as in MetalLB, but a name is safest as at most 63 letters, "
            "digits, '-', '_' or '.', starting and ending with a letter or digit",
            name,
        )
    return name


def _optional_bool(mapping: Mapping, key: str, path: str, issues: Issues, default: bool) -> bool:
    if key not in mapping:
        return default
    value = fields.parse_bool(mapping[key], f"{path}.{key}", issues)
    return default if value is None else value


def _parse_addresses(mapping: Mapping, path: str, issues: Issues) -> list[tuple[int, AddressRange]]:
    addr_path = f"{path}.addresses"
    if "addresses" not in mapping:
        issues.add(addr_path, "required key is missing; list CIDRs or ranges")
        return []
    items = issues.sequence(mapping["addresses"], addr_path)
    if items is None:
        return []
    if not items:
        issues.add(addr_path, "must not be empty; list CIDRs or ranges")
    ranges = []
    for i, item in enumerate(items):
        entry = parse_address_entry(item, index_path(addr_path, i), issues)
        if entry is not None:
            ranges.append((i, entry))
    return ranges


def _parse_advertisements(
    value: object,
    path: str,
    ranges: list[AddressRange],
    communities: Mapping[str, str],
    issues: Issues,
) -> tuple[Advertisement, ...]:
    items = issues.sequence(value, path) or []
    result = []
    seen: list[Mapping] = []
    for i, raw in enumerate(items):
        adv_path = index_path(path, i)
        mapping = issues.struct(raw, adv_path)
        if mapping is None:
            continue
        if mapping in seen:
            # As v0.12: two advertisements written alike (after nulls are dropped) are
            # refused, not merged.
            issues.add(
                adv_path,
                f"is identical to {index_path(path, seen.index(mapping))}; remove one of them",
            )
        seen.append(mapping)
        issues.unknown_keys(mapping, ADVERTISEMENT_KEYS, adv_path)
        before = len(issues)
        lengths = {}
        for key, family, bits in (("aggregation-length", 4, 32), ("aggregation-length-v6", 6, 128)):
            length = bits
            if key in mapping:
                length = fields.parse_int(mapping[key], f"{adv_path}.{key}", issues, 0, bits)
                if length is not None:
                    _check_aggregation(length, family, key, f"{adv_path}.{key}", ranges, issues)
            lengths[key] = length
        localpref = None
        if "localpref" in mapping:
            localpref = fields.parse_int(
                mapping["localpref"], f"{adv_path}.localpref", issues, 0, fields.MAX_UINT32
            )
        resolved = _parse_advertisement_communities(
            mapping.get("communities"), f"{adv_path}.communities", communities, issues
        )
        if len(issues) == before:
            result.append(
                Advertisement(
                    aggregation_length=int(lengths["aggregation-length"] or 0),
                    aggregation_length_v6=int(lengths["aggregation-length-v6"] or 0),
                    localpref=localpref,
                    communities=resolved,
                )
            )
    return tuple(result)


def _check_aggregation(
    length: int, family: int, key: str, path: str, ranges: list[AddressRange], issues: Issues
) -> None:
    """Aggregating to a shorter prefix than an entry's own would announce addresses that
    are not in the pool. A range counts as the CIDRs it splits into, as in MetalLB."""
    for entry in ranges:
        if entry.family == family and length < covering_prefix_length(entry):
            issues.add(
                path,
                f"{key} {length} is shorter than the /{covering_prefix_length(entry)}"
                f" of address entry {entry.source!r}; use at least "
                f"{covering_prefix_length(entry)}",
                length,
            )
            return


def _parse_advertisement_communities(
    value: object, path: str, communities: Mapping[str, str], issues: Issues
) -> tuple[str, ...]:
    if value is None:
        return ()
    resolved: list[str] = []
    written: list[object] = []
    for i, raw in enumerate(issues.sequence(value, path) or []):
        item_path = index_path(path, i)
        if raw in written:
            # As v0.12, which compares them as written: an alias and its literal value
            # are two entries (and one community), the same text twice is a mistake.
            issues.add(item_path, f"duplicate of {index_path(path, written.index(raw))}", raw)
            continue
        written.append(raw)
        if isinstance(raw, str) and raw in communities:
            community: str | None = communities[raw]
        elif isinstance(raw, str) and ":" not in raw:
            issues.add(
                item_path,
                'unknown community alias; define it under bgp-communities or write "A:B"',
                raw,
            )
            community = None
        else:
            community = fields.parse_community(raw, item_path, issues)
        if community is not None and community not in resolved:
            resolved.append(community)
    return tuple(resolved)
