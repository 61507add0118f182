"""IPAddressPool.status, as upstream (api/v1beta1 IPAddressPoolStatus): assignedIPv4,
assignedIPv6, availableIPv4, availableIPv6, from the allocator's counts."""

from __future__ import annotations

from collections.abc import Mapping

from metallb.allocator.allocator import PoolStats

INT64_MAX = 2**63 - 1  # the fields are int64: an IPv6 /64 pool has more than that


def pool_status(by_family: Mapping[int, PoolStats]) -> dict[str, int]:
    """The status of one pool; a family the pool lacks counts 0."""
    def counts(family: int) -> tuple[int, int]:
        stats = by_family.get(family)
        if stats is None:
            return 0, 0
        used = stats.addresses_in_use
        return min(used, INT64_MAX), min(stats.addresses_total - used, INT64_MAX)

    assigned4, available4 = counts(4)
    assigned6, available6 = counts(6)
    return {"assignedIPv4": assigned4, "assignedIPv6": assigned6,
            "availableIPv4": available4, "availableIPv6": available6}
