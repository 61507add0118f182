"""Build config model objects from short strings, for tests that must not depend on the
config parser (pure allocator / planner tests)."""

from __future__ import annotations

import ipaddress

from metallb.config.model import AddressRange, Config, Pool


def address_range(text: str) -> AddressRange:
    """`198.51.100.0/24` or `203.0.113.5-203.0.113.9` -> AddressRange."""
    if "-" in text:
        low, high = (ipaddress.ip_address(part.strip()) for part in text.split("-"))
        return AddressRange(int(low), int(high), low.version, text)
    net = ipaddress.ip_network(text)
    return AddressRange(
        int(net.network_address), int(net.broadcast_address), net.version, text, net.prefixlen
    )


def pool(name: str, *addresses: str, auto_assign: bool = True, avoid_buggy_ips: bool = False):
    return Pool(
        name=name,
        protocol="bgp",
        ranges=tuple(address_range(a) for a in addresses),
        auto_assign=auto_assign,
        avoid_buggy_ips=avoid_buggy_ips,
    )


def config(*pools: Pool) -> Config:
    return Config(pools=tuple(pools))
