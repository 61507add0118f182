"""How many addresses a pool can hand out, by arithmetic on range ends (no enumeration),
so the allocator metric for a /8 or an IPv6 /64 costs as little as for a /32."""

from __future__ import annotations

from metallb.config.model import AddressRange, Pool


def _count_congruent(first: int, last: int, residue: int, modulus: int = 256) -> int:
    """Number of x in [first, last] with x % modulus == residue."""
    return (last - residue) // modulus - (first - 1 - residue) // modulus


def usable_range_count(entry: AddressRange, avoid_buggy_ips: bool) -> int:
    """Addresses of one entry; with avoid-buggy-ips, IPv4 addresses ending in .0 or .255
    (in every /24, as MetalLB skips them) are not usable."""
    if not avoid_buggy_ips or entry.family != 4:
        return entry.size
    buggy = _count_congruent(entry.first, entry.last, 0) + _count_congruent(
        entry.first, entry.last, 255
    )
    return entry.size - buggy


def usable_address_count(pool: Pool) -> int:
    """Usable addresses of a pool: a /24 is 256, or 254 with avoid-buggy-ips. Entries
    never overlap (the parser guarantees it), so per-entry counts simply add up.
    O(number of entries)."""
    return sum(usable_range_count(entry, pool.avoid_buggy_ips) for entry in pool.ranges)
