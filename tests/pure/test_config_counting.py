"""usable_address_count: arithmetic, checked against brute-force enumeration."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from metallb.config import parse_config_text
from metallb.config.counting import usable_address_count
from metallb.config.model import AddressRange, Pool


def pool_of(*ranges: AddressRange, avoid: bool) -> Pool:
    return Pool(name="p", protocol="bgp", ranges=ranges, avoid_buggy_ips=avoid)


def brute_force(pool: Pool) -> int:
    return sum(
        1
        for entry in pool.ranges
        for address in range(entry.first, entry.last + 1)
        if not (pool.avoid_buggy_ips and entry.family == 4 and address % 256 in (0, 255))
    )


# rule A14
def test_semantics_examples():
    def count(addresses: str, avoid: bool) -> int:
        text = (
            f"address-pools:\n- {{name: p, protocol: bgp, addresses: {addresses}, "
            f"avoid-buggy-ips: {str(avoid).lower()}}}\n"
        )
        return usable_address_count(parse_config_text(text).pools[0])

    assert count("[192.0.2.0/24]", False) == 256
    assert count("[192.0.2.0/24]", True) == 254
    assert count("[198.51.100.20/32]", True) == 1
    assert count("[192.0.2.0/32]", True) == 0
    assert count("[203.0.113.16/29, 203.0.113.24/29]", False) == 16
    assert count("['192.0.2.250-198.51.100.5']", True) == brute_force(
        parse_config_text(
            "address-pools:\n- {name: p, protocol: bgp, addresses: "
            "['192.0.2.250-198.51.100.5'], avoid-buggy-ips: true}\n"
        ).pools[0]
    )
    # IPv6 has no buggy addresses.
    assert count("['2001:db8::/120']", True) == 256


@given(
    first=st.integers(min_value=0, max_value=2**32 - 1),
    length=st.integers(min_value=0, max_value=3000),
    avoid=st.booleans(),
)
def test_matches_enumeration(first, length, avoid):
    last = min(first + length, 2**32 - 1)
    pool = pool_of(AddressRange(first, last, 4, "r"), avoid=avoid)
    assert usable_address_count(pool) == brute_force(pool)


def test_huge_ranges_are_arithmetic():
    slash8 = AddressRange(
        first=10 << 24, last=(11 << 24) - 1, family=4, source="a /8", prefix_length=8
    )
    slash64 = AddressRange(
        first=0x20010DB8 << 96,
        last=(0x20010DB8 << 96) + 2**64 - 1,
        family=6,
        source="2001:db8::/64",
        prefix_length=64,
    )
    # No speed target and no clock: these counts are the proof of no enumeration, since
    # enumerating 2**64 addresses would never end (pytest-timeout then fails the test).
    assert usable_address_count(pool_of(slash8, avoid=False)) == 2**24
    assert usable_address_count(pool_of(slash8, avoid=True)) == 2**24 - 2 * 2**16
    assert usable_address_count(pool_of(slash64, avoid=True)) == 2**64
