"""Reading a namespace's kernel routing table: the one parser of `ip -j route show`.

The router namespace's kernel table is what the upstream network really forwards by;
tests, the lab, the fault checker and the benches all read it through `kernel_routes`.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess

from lab.errors import LabError


def kernel_routes(netns: str, *selector: str, version: int = 4) -> dict[str, tuple[str, ...]]:
    """`ip -j route show SELECTOR...` in `netns`: destination -> sorted gateways.

    A host route's destination always carries its length ("198.51.100.1/32"), whatever
    `ip` printed; a route without gateways maps to (). `selector`: e.g. "proto", "bgp",
    or one prefix.
    """
    proc = subprocess.run(["ip", f"-{version}", "-n", netns, "-j", "route", "show", *selector],
                          capture_output=True, text=True, check=False, timeout=30)
    if proc.returncode != 0:
        raise LabError(f"ip route show {' '.join(selector)} in {netns}: {proc.stderr.strip()}")
    return parse_routes(proc.stdout, version)


def parse_routes(text: str, version: int = 4) -> dict[str, tuple[str, ...]]:
    """`ip -j route show` output -> {destination with its length: sorted gateways}."""
    host = "/32" if version == 4 else "/128"
    routes: dict[str, tuple[str, ...]] = {}
    for route in json.loads(text or "[]"):
        hops = [route["gateway"]] if "gateway" in route else []
        hops += [h["gateway"] for h in route.get("nexthops", []) if "gateway" in h]
        dst = route["dst"]
        if "/" not in dst and dst != "default":
            dst += host
        routes[dst] = tuple(sorted(hops))
    return routes


def kernel_nexthops(netns: str, prefix: str) -> list[str]:
    """Sorted gateways of `prefix` in `netns`'s kernel table ([] when absent)."""
    version = ipaddress.ip_network(prefix).version
    routes = kernel_routes(netns, prefix, version=version)
    return sorted(hop for hops in routes.values() for hop in hops)
