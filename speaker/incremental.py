"""The plan kept up to date one service at a time, with `planner.plan` as the reference.

With 10,000 services announced, one new service must not wait for all of them to be
planned again. Two ideas make a change cost only the services it touches:

- A service's share of the plan (its routes and announced addresses) depends only on
  the config, the node and that service with its own EndpointSlices, never on another
  service. So each share is `plan(config, node, [service], its slices)`: the same rules
  as the whole plan, run on one service.
- Services meet only where their routes land on one prefix (a shared IP, or addresses
  aggregated into one prefix): BGP carries one path per prefix, so the plan unites
  their attributes (`planner._merge`). Each prefix keeps a tally of its contributors;
  when one changes, only that prefix is recomputed from the tally. Services sharing an
  address with a changed one therefore need no replanning of their own: their shares
  did not change, and the tally still holds them.

A config, node or peer change alters every share: that is a full plan again.
The property tests hold this module to `plan` after every step of any sequence of changes.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from metallb.config.model import Config
from metallb.keys import DEFAULT_NAMESPACE, object_key
from speaker.bgp import RouteAttrs, RouteTables
from speaker.node import NodeInfo
from speaker.objects import mapping
from speaker.planner import SERVICE_NAME_LABEL, Plan, plan

Lookup = Callable[[str], Mapping[str, Any] | None]
"""An object by its `namespace/name` key; None when it is gone (an informer's `get`)."""

EndpointOwner = str
"""The key (`namespace/name`, interned) of the service a slice names: one string for the
service's key and its slices' owner, however many hold it."""


def _owner(namespace: Any, name: Any) -> EndpointOwner:
    return sys.intern(f"{namespace or DEFAULT_NAMESPACE}/{name}")


def slice_owner(endpoint_slice: Mapping[str, Any]) -> EndpointOwner | None:
    """The service a slice belongs to, read as `planner.index_endpoints` reads it."""
    meta = mapping(endpoint_slice.get("metadata"))
    service = mapping(meta.get("labels")).get(SERVICE_NAME_LABEL)
    if not isinstance(service, str):
        return None
    return _owner(meta.get("namespace"), service)


def service_owner(service: Mapping[str, Any]) -> EndpointOwner:
    """The owner key under which `planner.has_eligible_endpoint` looks up endpoints."""
    meta = mapping(service.get("metadata"))
    return _owner(meta.get("namespace"), meta.get("name", ""))


Contributor = tuple[str, RouteAttrs]
"""(service key, the attributes its share gives a prefix): a prefix's tally while one
service alone puts it into a peer's table (nearly every host route), 56 bytes where a
`_Tally` costs some 500."""


@dataclass(slots=True)
class _Tally:
    """Who puts one prefix into one peer's table, and with which attributes, once two or
    more services do (a shared address, an aggregated prefix).

    Always holds: `communities` and `prefs` count, over `shares`, each community and
    each non-None local preference once per contributing service."""

    shares: dict[str, RouteAttrs] = field(default_factory=dict)  # service key -> attrs
    communities: Counter = field(default_factory=Counter)
    prefs: Counter = field(default_factory=Counter)

    def add(self, key: str, attrs: RouteAttrs) -> None:
        self.shares[key] = attrs
        self.communities.update(attrs.communities)
        if attrs.local_pref is not None:
            self.prefs[attrs.local_pref] += 1

    def remove(self, key: str) -> None:
        attrs = self.shares.pop(key)
        self.communities.subtract(attrs.communities)
        self.communities += Counter()  # drops what fell to zero
        if attrs.local_pref is not None:
            self.prefs[attrs.local_pref] -= 1
            if not self.prefs[attrs.local_pref]:
                del self.prefs[attrs.local_pref]

    def attrs(self) -> RouteAttrs:
        """What `plan` writes for this prefix: the contributors' attributes merged as
        `planner._merge` does (united communities, the highest local preference)."""
        return RouteAttrs(communities=tuple(sorted(self.communities)),
                          local_pref=max(self.prefs) if self.prefs else None)


Entry = Contributor | _Tally
"""A prefix's tally: its one contributor, or a `_Tally` of two or more."""


def _joined(entry: Entry | None, key: str, attrs: RouteAttrs) -> Entry:
    """The tally after service `key` (not in it) puts the prefix in with `attrs`."""
    if entry is None:
        return (key, attrs)
    if not isinstance(entry, _Tally):
        tally = _Tally()
        tally.add(*entry)
        entry = tally
    entry.add(key, attrs)
    return entry


def _left(entry: Entry, key: str) -> Entry | None:
    """The tally after service `key` (in it) no longer puts the prefix in; None: nobody
    does any more."""
    if not isinstance(entry, _Tally):
        return None
    entry.remove(key)
    if len(entry.shares) == 1:
        return next(iter(entry.shares.items()))
    return entry


def _attrs(entry: Entry) -> RouteAttrs:
    """The prefix's attributes in the plan: a lone contributor's own (the very object
    its share holds, so the tables share it too), else the merged ones."""
    return entry.attrs() if isinstance(entry, _Tally) else entry[1]


@dataclass(frozen=True, slots=True)
class _Share:
    """One service's part of the plan (only services that announce something have one).
    Slotted, and its pairs a tuple (not a frozenset): one of these per announced service."""

    routes: tuple[tuple[str, str, RouteAttrs], ...]  # (peer, prefix, attrs)
    announced: tuple[tuple[str, str], ...]  # (service key, ip)


@dataclass(frozen=True)
class PlanDelta:
    """How one incremental step changed the plan: applied to the plan before it
    (`apply_delta`), it gives the plan after. Peers and issues never change in a step
    (a config or node change is a full plan)."""

    routes: dict[str, dict[str, RouteAttrs | None]]  # peer -> prefix -> attrs now, None: gone
    added: frozenset[tuple[str, str]]  # (service key, ip) announced now, not before
    removed: frozenset[tuple[str, str]]  # announced before, not now


def apply_delta(before: Plan, delta: PlanDelta) -> Plan:
    """The plan after `delta` (a copy: what consumers that keep their own state do in
    place, at the cost of the change only)."""
    routes = {addr: dict(table) for addr, table in before.routes.items()}
    for addr, changes in delta.routes.items():
        table = routes.setdefault(addr, {})
        for prefix, attrs in changes.items():
            if attrs is None:
                table.pop(prefix, None)
            else:
                table[prefix] = attrs
    return Plan(peers=before.peers, routes=routes,
                announced=(before.announced - delta.removed) | delta.added,
                issues=before.issues)


class IncrementalPlanner:
    """The current plan, and each service's share of it, for one node.

    Always holds: `current` equals `plan(config, node, services, slices, lb_class)` for
    the services and slices last passed in (`full` takes them all, `step` and `changed`
    the ones that changed since); `_tallies` hold exactly the routes of `_shares`, and
    `_routes` their attributes; `_slices` holds every slice seen, grouped by the service
    it names. `step` costs what changed: it returns a `PlanDelta` and builds no
    snapshot; `current` (and `changed`) copy the tables into one, only when asked.

    Memory (issue 18: one of each per announced service, 100,000 of them): once indexed,
    the full plan's own tables and pairs are let go (`base` keeps its peers and issues),
    so the routes are held once here, not twice; a prefix with one contributor is a
    pair, not a `_Tally`; a service's slices are a tuple, filed under its key; the
    announced pairs are only in the shares (`current` gathers them).

    Threads: not thread-safe; one thread (the speaker's sync thread) calls every method.
    Pure: no I/O, no clock; `changed` reads objects through the lookups it is given.
    """

    def __init__(self, lb_class: str | None = None):
        self.lb_class = lb_class
        self.config: Config | None = None
        self.node: NodeInfo | None = None
        self._base: Plan | None = None  # the last full plan: its peers and issues hold
        self._snapshot: Plan | None = None  # `current`, once built since the last step
        # per peer, the prefixes the last `changed` recomputed (the only ones whose routes
        # may differ from the plan before); None after a full plan
        self.touched: dict[str, set[str]] | None = None
        self._shares: dict[str, _Share] = {}
        self._tallies: dict[str, dict[str, Entry]] = {}  # peer -> prefix -> tally
        self._routes: RouteTables = {}
        # (slice key, slice) of each slice that names the service
        self._slices: dict[EndpointOwner, tuple[tuple[str, Mapping[str, Any]], ...]] = {}
        self._slice_owners: dict[str, EndpointOwner] = {}
        # what the last full plan was made of, until `index` splits it into shares
        self._unindexed: tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]] | None = None

    @property
    def current(self) -> Plan | None:
        """The whole plan now (None before the first full plan); after a step, a copy
        of the tables (O(all routes)), made once per step and only when asked."""
        if self._snapshot is None and self._base is not None:
            self._snapshot = Plan(peers=self._base.peers,
                                  routes={addr: dict(t) for addr, t in self._routes.items()},
                                  announced=frozenset(pair for share in self._shares.values()
                                                      for pair in share.announced),
                                  issues=self._base.issues)
        return self._snapshot

    @property
    def base(self) -> Plan | None:
        """The last full plan: its peers and issues are the current ones (once
        indexed, its routes and pairs are left out: `current` has them)."""
        return self._base

    def share(self, key: str) -> Plan | None:
        """One service's own part of the plan (None: it announces nothing), with the
        current peers: what the speaker reports per service without a whole snapshot."""
        found = self._shares.get(key)
        if found is None or self._base is None:
            return None
        routes: dict[str, dict[str, RouteAttrs]] = {}
        for addr, prefix, attrs in found.routes:
            routes.setdefault(addr, {})[prefix] = attrs
        return Plan(peers=self._base.peers, routes=routes,
                    announced=frozenset(found.announced))

    def forget(self) -> None:
        """Drop the plan (a sync failed half-way, or there was nothing to plan with):
        the next one is full."""
        self._base = self._snapshot = None
        self._unindexed = None

    def needs_full(self, config: Config, node: NodeInfo) -> bool:
        """A config, node (labels, annotations: peers, exclusion) or first plan changes
        every share: only a full plan answers that."""
        return self._base is None or config != self.config or node != self.node

    def full(
        self,
        config: Config,
        node: NodeInfo,
        services: Iterable[Mapping[str, Any]],
        endpoint_slices: Iterable[Mapping[str, Any]],
        ahead: Callable[[RouteTables], None] | None = None,
        ahead_every: int = 1000,
    ) -> Plan:
        """The whole plan (`planner.plan`, `ahead` as there). The shares are split off
        later (`index`), so a cold start's routes do not wait for them."""
        services, endpoint_slices = list(services), list(endpoint_slices)
        result = plan(config, node, services, endpoint_slices, lb_class=self.lb_class,
                      ahead=ahead, ahead_every=ahead_every)
        self.config, self.node, self._base, self._snapshot = config, node, result, result
        self._unindexed = (services, endpoint_slices)
        self.touched = None
        return result

    def index(self, stopping: Callable[[], bool] = lambda: False) -> bool:
        """Split the last full plan into shares and tallies (about twice a full plan's
        time), unless done already: the caller runs it once the full plan is sent, and
        `changed` runs it if the caller did not. `stopping` is asked every 1,024
        services (at 100k the split takes seconds, and a stopping speaker will not use
        it): when it says so, the split is left as not done (the next `index` or `step`
        starts it again) and this returns False."""
        if self._unindexed is None or self._base is None:
            return True
        if stopping():
            return False
        services, endpoint_slices = self._unindexed
        self._unindexed = None
        peers = self._base.peers
        self._slices, self._slice_owners = {}, {}
        for endpoint_slice in endpoint_slices:
            self._note_slice(object_key(endpoint_slice, DEFAULT_NAMESPACE), endpoint_slice)
        self._shares = {}
        self._tallies = {addr: {} for addr in peers}
        self._routes = {addr: {} for addr in peers}
        for count, service in enumerate(services, 1):
            if not count % 1024 and stopping():
                self._unindexed = (services, endpoint_slices)
                return False
            self._set_share(object_key(service, DEFAULT_NAMESPACE), service)
        # Equal to the tables just built: the full plan's copies need not stay.
        self._base = Plan(peers=peers, routes={}, announced=frozenset(),
                          issues=self._base.issues)
        self._snapshot = None
        return True

    def changed(self, service_keys: Iterable[str], services: Lookup,
                slice_keys: Iterable[str] = (), slices: Lookup = lambda _key: None) -> Plan:
        """`step`, then the whole plan after it (a copy of every table: for tests and
        callers that want a snapshot; the speaker uses the delta)."""
        self.step(service_keys, services, slice_keys, slices)
        assert self.current is not None
        return self.current

    def step(self, service_keys: Iterable[str], services: Lookup,
             slice_keys: Iterable[str] = (), slices: Lookup = lambda _key: None) -> PlanDelta:
        """Bring the plan up to date after these services and slices changed (each
        looked up as it is now; None = deleted): only their services are planned again.
        Returns what changed; its cost follows the change, not the plan."""
        if self._base is None:
            raise RuntimeError("step() before full(): there is no plan to update")
        dirty = set(service_keys)
        slice_keys = list(slice_keys)
        self.index()
        self.touched = {addr: set() for addr in self._routes}
        if not dirty and not slice_keys:
            return PlanDelta({}, frozenset(), frozenset())
        for key in slice_keys:
            dirty.update(self._note_slice(key, slices(key)))
        added: set[tuple[str, str]] = set()
        removed: set[tuple[str, str]] = set()
        for key in dirty:
            before, after = self._set_share(key, services(key))
            added |= after - before
            removed |= before - after
        self._snapshot = None
        routes = {addr: {prefix: self._routes[addr].get(prefix) for prefix in prefixes}
                  for addr, prefixes in self.touched.items() if prefixes}
        return PlanDelta(routes, frozenset(added), frozenset(removed))

    def _note_slice(self, key: str, endpoint_slice: Mapping[str, Any] | None) -> set[EndpointOwner]:
        """Record a slice (None = deleted); the services whose endpoints that changes."""
        touched = set()
        old = self._slice_owners.pop(key, None)
        if old is not None:
            touched.add(old)
            group = tuple(entry for entry in self._slices[old] if entry[0] != key)
            if group:
                self._slices[old] = group
            else:
                del self._slices[old]
        owner = None if endpoint_slice is None else slice_owner(endpoint_slice)
        if owner is not None and endpoint_slice is not None:
            touched.add(owner)
            self._slice_owners[key] = owner
            self._slices[owner] = (*self._slices.get(owner, ()), (key, endpoint_slice))
        return touched

    def _set_share(self, key: str, service: Mapping[str, Any] | None
                   ) -> tuple[frozenset[tuple[str, str]], frozenset[tuple[str, str]]]:
        """Replace a service's share (None = deleted) and recompute the prefixes it
        left or joined; (its announced pairs before, after)."""
        assert self.config is not None and self.node is not None
        old = self._shares.pop(key, None)
        new: tuple[tuple[str, str], ...] = ()
        touched: set[tuple[str, str]] = set()
        if old is not None:
            for addr, prefix, _ in old.routes:
                tallies = self._tallies[addr]
                left = _left(tallies[prefix], key)
                if left is None:
                    del tallies[prefix]
                else:
                    tallies[prefix] = left
                touched.add((addr, prefix))
        if service is not None:
            slices = [s for _, s in self._slices.get(service_owner(service), ())]
            own = plan(self.config, self.node, [service], slices, lb_class=self.lb_class)
            routes = tuple((addr, prefix, attrs) for addr, table in own.routes.items()
                           for prefix, attrs in table.items())
            if routes or own.announced:
                new = tuple(own.announced)
                self._shares[key] = _Share(routes, new)
                for addr, prefix, attrs in routes:
                    tallies = self._tallies[addr]
                    tallies[prefix] = _joined(tallies.get(prefix), key, attrs)
                    touched.add((addr, prefix))
        for addr, prefix in touched:
            if self.touched is not None:
                self.touched[addr].add(prefix)
            entry = self._tallies[addr].get(prefix)
            if entry is not None:
                self._routes[addr][prefix] = _attrs(entry)
            else:
                del self._routes[addr][prefix]
        return frozenset(old.announced if old is not None else ()), frozenset(new)


class ChangedKeys:
    """Keys of the services and EndpointSlices changed since the last `take`.

    Threads: informer threads call `service` / `slice` (never blocking: a set insert
    under the lock); the sync thread calls `take`. The lock guards both sets."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._services: set[str] = set()
        self._slices: set[str] = set()

    def service(self, key: str) -> None:
        with self._lock:
            self._services.add(key)

    def slice(self, key: str) -> None:
        with self._lock:
            self._slices.add(key)

    def take(self) -> tuple[set[str], set[str]]:
        """(service keys, slice keys) changed since the last call; both start empty."""
        with self._lock:
            taken = self._services, self._slices
            self._services, self._slices = set(), set()
        return taken
