"""The promises every fault scenario checks after every round, in one place.

Deliberately independent of the daemons' code (no allocator, no planner): the checker
recomputes from the raw API objects what the router should hold, so a bug shared by the
planner and its own tests cannot hide here.

Promises:
- every LoadBalancer service that has an address has it inside a pool (the one its
  pool annotation names, if any), and no address is held by two services unless both
  validly share it (same allow-shared-ip key, disjoint ports, same traffic policy);
- an address, once given to a service (by uid), never changes;
- the router's kernel table holds exactly one /32 per announceable service address,
  with exactly the next hops of the nodes that should announce it, and nothing else.

`InvariantChecker` judges one snapshot (the final state of a round); transients.py
replays the same rules (`expected_routes`, `duplicated_addresses`) over a whole run.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from metallb.keys import object_key

SHARE_KEYS = ("metallb.universe.tf/allow-shared-ip", "metallb.io/allow-shared-ip")
POOL_KEYS = ("metallb.universe.tf/address-pool", "metallb.io/address-pool")


@dataclass(frozen=True)
class Snapshot:
    """Raw API objects (plain dicts) and the router's table at one moment."""

    services: tuple[dict[str, Any], ...]
    slices: tuple[dict[str, Any], ...]
    routes: Mapping[str, tuple[str, ...]]  # "A.B.C.D/32" -> sorted next hops


@dataclass(frozen=True)
class Verdict:
    """What one check found; `converged` means nothing is missing or left over."""

    services: int
    assigned: int
    unassigned: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    outside_pool: tuple[str, ...] = ()
    missing_routes: tuple[str, ...] = ()
    stale_routes: tuple[str, ...] = ()
    wrong_nexthops: tuple[str, ...] = ()

    @property
    def broken_promises(self) -> tuple[str, ...]:
        """Violations that no amount of waiting can excuse."""
        return self.changed + self.duplicates + self.outside_pool

    @property
    def converged(self) -> bool:
        return not (self.unassigned or self.missing_routes or self.stale_routes
                    or self.wrong_nexthops or self.broken_promises)

    def describe(self) -> str:
        parts = []
        for name in ("unassigned", "changed", "duplicates", "outside_pool", "missing_routes",
                     "stale_routes", "wrong_nexthops"):
            values = getattr(self, name)
            if values:
                parts.append(f"{name}={list(values)[:8]}")
        return " ".join(parts) or "ok"


@dataclass
class InvariantChecker:
    """Remembers every address ever seen per service uid, across all checks.

    `pools`: pool name -> CIDRs/ranges any valid config of the run may contain.
    `nodes`: node name -> the IPv4 next hop the router sees for it.
    """

    pools: Mapping[str, tuple[str, ...]]
    nodes: Mapping[str, str]
    first_seen: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    def check(self, snap: Snapshot, announcing: Iterable[str] | None = None,
              expect_assigned: bool = True) -> Verdict:
        """Check one snapshot; `announcing` are the nodes whose speakers should be
        announcing now (default: all)."""
        live = set(self.nodes if announcing is None else announcing)
        lbs = load_balancers(snap.services)
        unassigned, changed, outside = [], [], []
        for svc in lbs:
            key, ips = object_key(svc), ingress_ips(svc)
            if not ips:
                unassigned.append(key)
                continue
            uid = str(_meta(svc).get("uid") or key)
            seen = self.first_seen.setdefault(uid, (key, ips))
            if seen[1] != ips:
                changed.append(f"{key}: {list(seen[1])} -> {list(ips)}")
            for ip in ips:
                if not self._in_pool(ip, _annotation(svc, POOL_KEYS)):
                    outside.append(f"{key}:{ip}")
        expected = expected_routes(lbs, snap.slices, live, self.nodes)
        duplicates = duplicated_addresses(lbs)
        missing = sorted(p for p in expected if p not in snap.routes)
        stale = sorted(f"{p} via {list(h)}" for p, h in snap.routes.items()
                       if p not in expected)
        wrong = sorted(f"{p}: {list(snap.routes[p])} != {sorted(expected[p])}"
                       for p in expected if p in snap.routes
                       and set(snap.routes[p]) != expected[p])
        return Verdict(
            services=len(lbs), assigned=len(lbs) - len(unassigned),
            unassigned=tuple(sorted(unassigned)) if expect_assigned else (),
            changed=tuple(changed), duplicates=tuple(duplicates),
            outside_pool=tuple(outside), missing_routes=tuple(missing),
            stale_routes=tuple(stale), wrong_nexthops=tuple(wrong))

    def _in_pool(self, ip: str, pool: str | None) -> bool:
        names = [pool] if pool else list(self.pools)
        address = ipaddress.ip_address(ip)
        return any(_range_contains(text, address) for name in names
                   for text in self.pools.get(name, ()))


def load_balancers(services: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in services if _spec(s).get("type") == "LoadBalancer"]


def expected_routes(lbs: Iterable[dict[str, Any]], slices: Iterable[dict[str, Any]],
                    live: set[str], nodes: Mapping[str, str]) -> dict[str, set[str]]:
    """Prefix ("A.B.C.D/32") -> the next hops the router should hold for it: for every IPv4
    address of a LoadBalancer service, the announcers (`announcers`) of that service."""
    slices = tuple(slices)
    expected: dict[str, set[str]] = {}
    for svc in lbs:
        ips = [ip for ip in ingress_ips(svc) if ipaddress.ip_address(ip).version == 4]
        hops = announcers(svc, slices, live, nodes) if ips else set()
        for ip in ips if hops else ():
            expected.setdefault(f"{ip}/32", set()).update(hops)
    return expected


def announcers(svc: dict[str, Any], slices: Iterable[dict[str, Any]], live: set[str],
               nodes: Mapping[str, str]) -> set[str]:
    """Next hops the router should use: every live node with `Cluster` (if any
    endpoint is ready anywhere), the live nodes with a ready endpoint with `Local`."""
    ready_nodes = set()
    meta = _meta(svc)
    for sl in slices:
        labels = _meta(sl).get("labels") or {}
        if (_meta(sl).get("namespace") != meta.get("namespace")
                or labels.get("kubernetes.io/service-name") != meta.get("name")):
            continue
        for ep in sl.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            if cond.get("ready") is not False or cond.get("serving"):
                ready_nodes.add(ep.get("nodeName"))
    if not ready_nodes:
        return set()
    local = _spec(svc).get("externalTrafficPolicy") == "Local"
    names = (ready_nodes & live) if local else live
    return {nodes[n] for n in names if n in nodes}


def duplicated_addresses(lbs: Iterable[dict[str, Any]]) -> list[str]:
    """One "ip: ns/a, ns/b" for every address held by two services that do not validly
    share it, sorted."""
    holders: dict[str, list[dict[str, Any]]] = {}
    for svc in lbs:
        for ip in ingress_ips(svc):
            holders.setdefault(ip, []).append(svc)
    return sorted(f"{ip}: {', '.join(sorted(object_key(s) for s in svcs))}"
                  for ip, svcs in holders.items()
                  if len(svcs) > 1 and not validly_shared(svcs))


def validly_shared(services: list[dict[str, Any]]) -> bool:
    keys = {_annotation(s, SHARE_KEYS) for s in services}
    if len(keys) != 1 or None in keys or "" in keys:
        return False
    if len({_spec(s).get("externalTrafficPolicy", "Cluster") for s in services}) != 1:
        return False
    ports: set[tuple[str, int]] = set()
    for svc in services:
        for port in _spec(svc).get("ports") or []:
            pair = (port.get("protocol", "TCP"), port.get("port"))
            if pair in ports:
                return False
            ports.add(pair)
    return True


def ingress_ips(svc: Mapping[str, Any]) -> tuple[str, ...]:
    lb = ((svc.get("status") or {}).get("loadBalancer") or {})
    return tuple(i["ip"] for i in lb.get("ingress") or [] if isinstance(i, dict) and i.get("ip"))


def _range_contains(text: str, address: ipaddress._BaseAddress) -> bool:
    if "-" in text:
        low, high = (ipaddress.ip_address(p.strip()) for p in text.split("-"))
        return low.version == address.version and low <= address <= high
    net = ipaddress.ip_network(text)
    return net.version == address.version and address in net


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _annotation(obj: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    annotations = _meta(obj).get("annotations") or {}
    return next((annotations[k] for k in keys if k in annotations), None)
