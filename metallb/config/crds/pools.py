"""IPAddressPool objects -> Pool (without advertisements, which BGPAdvertisements add)."""

from __future__ import annotations

from metallb.config.addresses import find_overlaps, parse_address_entry
from metallb.config.crds.common import optional_bool, optional_int, selector_list, string_list
from metallb.config.crds.objects import Resource, spec_of
from metallb.config.issues import Issues, index_path
from metallb.config.model import AddressRange, Pool, ServiceAllocation

POOL_KEYS = ("addresses", "autoAssign", "avoidBuggyIPs", "serviceAllocation")
ALLOCATION_KEYS = ("priority", "namespaces", "namespaceSelectors", "serviceSelectors")
MAX_PRIORITY = 2**31 - 1  # Go int in the CRD schema (format int32 in practice)


def parse_pools(resources: list[Resource], issues: Issues) -> dict[str, Pool]:
    """name -> Pool for every valid IPAddressPool; overlaps across all pools reported."""
    pools: dict[str, Pool] = {}
    all_ranges: list[tuple[str, AddressRange]] = []
    for resource in resources:
        pool = _parse_pool(resource, issues, all_ranges)
        if pool is not None:
            pools[pool.name] = pool
    for where, entry, other_where, other in find_overlaps(all_ranges):
        issues.add(
            where,
            f"overlaps {other_where} ({other.source}); an address may belong to only one pool",
            entry.source,
        )
    return pools


def _parse_pool(resource: Resource, issues: Issues,
                all_ranges: list[tuple[str, AddressRange]]) -> Pool | None:
    spec = spec_of(resource, issues, POOL_KEYS)
    if spec is None:
        return None
    before = len(issues)
    path = resource.path("spec.addresses")
    ranges: list[AddressRange] = []
    if "addresses" not in spec:
        issues.add(path, "required field is missing; list CIDRs or ranges")
    else:
        items = issues.sequence(spec["addresses"], path) or []
        if not items and isinstance(spec["addresses"], list):
            issues.add(path, "must not be empty; list CIDRs or ranges")
        for i, item in enumerate(items):
            entry = parse_address_entry(item, index_path(path, i), issues)
            if entry is not None:
                ranges.append(entry)
                all_ranges.append((index_path(path, i), entry))
    auto_assign = optional_bool(spec, "autoAssign", resource.path("spec"), issues, True)
    avoid_buggy = optional_bool(spec, "avoidBuggyIPs", resource.path("spec"), issues, False)
    allocation = None
    if "serviceAllocation" in spec:
        allocation = _parse_allocation(spec["serviceAllocation"], resource, issues)
    if len(issues) != before:
        return None
    return Pool(
        name=resource.name,
        protocol="bgp",
        ranges=tuple(ranges),
        auto_assign=auto_assign,
        avoid_buggy_ips=avoid_buggy,
        advertisements=(),
        allocation=allocation,
    )


def _parse_allocation(raw: object, resource: Resource, issues: Issues) -> ServiceAllocation | None:
    path = resource.path("spec.serviceAllocation")
    spec = issues.struct(raw, path)
    if spec is None:
        return None
    issues.unknown_keys(spec, ALLOCATION_KEYS, path)
    # Priority 0 is Go's zero value: upstream reads it as "no priority".
    priority = optional_int(spec, "priority", path, issues, 0, MAX_PRIORITY)
    namespaces = ()
    if "namespaces" in spec:
        namespaces = string_list(spec["namespaces"], f"{path}.namespaces", issues)
    return ServiceAllocation(
        priority=priority or None,
        namespaces=namespaces,
        namespace_selectors=selector_list(spec, "namespaceSelectors", path, issues),
        service_selectors=selector_list(spec, "serviceSelectors", path, issues),
    )


def allocation_order(pool: Pool) -> tuple[bool, bool, int, str]:
    """Upstream's order (pools a Service is pinned to first, by priority, those without
    one after; then pools without serviceAllocation), with name order for ties where
    upstream is random."""
    allocation = pool.allocation
    priority = allocation.priority if allocation else None
    return (allocation is None, priority is None, priority or 0, pool.name)
