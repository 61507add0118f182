"""Pool address entries: CIDRs and `A-B` ranges as integer intervals, and overlap checks.

Everything is integer arithmetic on interval ends, never enumeration, so a /8 or an IPv6
/64 costs the same as a /32.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from metallb.config.issues import Issues, type_name
from metallb.config.model import AddressRange


def parse_address_entry(value: object, path: str, issues: Issues) -> AddressRange | None:
    if not isinstance(value, str):
        issues.add(
            path,
            f'must be a string like "192.0.2.0/24" or "192.0.2.1-192.0.2.9", '
            f"not {type_name(value)}",
            value,
        )
        return None
    text = value.strip()
    if "-" in text:
        return _parse_range(text, value, path, issues)
    if "/" not in text:
        host = "/128" if ":" in text else "/32"
        issues.add(
            path, f'is neither a CIDR nor a range; for a single address write "{text}{host}"', value
        )
        return None
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        issues.add(path, "is not a valid CIDR", value)
        return None
    source = value
    if int(network.network_address) != int(ipaddress.ip_interface(text).ip):
        # Every MetalLB release masks it (Go's net.ParseCIDR); so do we, loudly.
        issues.warn(path, f"has host bits set; read as {network}, the whole network", value)
        source = str(network)
    return AddressRange(
        first=int(network.network_address),
        last=int(network.broadcast_address),
        family=network.version,
        source=source,
        prefix_length=network.prefixlen,
    )


def _parse_range(text: str, original: str, path: str, issues: Issues) -> AddressRange | None:
    parts = [p.strip() for p in text.split("-")]
    if len(parts) != 2:
        issues.add(path, 'a range has exactly one "-": "A-B"', original)
        return None
    try:
        first, last = (ipaddress.ip_address(p) for p in parts)
    except ValueError:
        issues.add(path, 'is not a valid range "A-B" of two IP addresses', original)
        return None
    if first.version != last.version:
        issues.add(path, "range ends must be the same IP family", original)
        return None
    if int(first) > int(last):
        issues.add(path, f"range start {first} is after its end {last}; swap them", original)
        return None
    return AddressRange(first=int(first), last=int(last), family=first.version, source=original)


def covering_prefix_length(entry: AddressRange) -> int:
    """The shortest prefix length among the CIDRs the entry splits into (its own for a
    CIDR), as MetalLB computes it: aggregating to anything shorter would announce
    addresses outside the entry."""
    if entry.prefix_length is not None:
        return entry.prefix_length
    first = ipaddress.ip_address(entry.first) if entry.family == 4 else ipaddress.IPv6Address(
        entry.first
    )
    last = type(first)(entry.last)
    return min(net.prefixlen for net in ipaddress.summarize_address_range(first, last))


def find_overlaps(
    entries: Iterable[tuple[str, AddressRange]],
) -> list[tuple[str, AddressRange, str, AddressRange]]:
    """Pairs (later path, later entry, earlier path, earlier entry) that share an address.

    A sweep over entries sorted by start: each entry is reported once against the entry
    with the highest end seen so far, which is enough to name both places of every
    conflict without comparing all pairs.
    """
    ordered = sorted(
        ((e.family, e.first, order, path, e) for order, (path, e) in enumerate(entries)),
        key=lambda t: (t[0], t[1], t[2]),
    )
    found = []
    reach: tuple[int, int, str, AddressRange] | None = None  # family, last, path, entry
    for family, first, _order, path, entry in ordered:
        if reach is not None and reach[0] == family and first <= reach[1]:
            found.append((path, entry, reach[2], reach[3]))
        if reach is None or reach[0] != family or entry.last > reach[1]:
            reach = (family, entry.last, path, entry)
    return found
