"""Which Service holds which addresses, and where the next one comes from.

The allocator is pure bookkeeping: no I/O, no clock, no randomness, so the controller and
`metallb plan` make the same choices. Choices are deterministic (MetalLB picks pools at
random; we do not): requested addresses first, then the annotated pool, then the
auto-assign pools in config order (for metallb.io objects the config puts the pools with
a serviceAllocation first, by priority, those without a priority after, ties by name:
upstream's order); inside a pool, entries in config order and the lowest usable address
first; a service with a sharing key first tries the lowest compatible address already
shared under that key.

A pool with a serviceAllocation serves only the Services it selects (`refusal`): never
picked automatically for another, and refused with the reason when another asks for it
by annotation, by requested address, or holds one of its addresses already (that
assignment is then invalid: the Service's status is cleared, as upstream does).
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise

from metallb.allocator import reasons
from metallb.allocator.index_map import IndexMap
from metallb.allocator.intervals import UsableSpace
from metallb.allocator.service import POLICY_LOCAL, IPAddress, ServiceIntent
from metallb.config.counting import usable_address_count
from metallb.config.model import AddressRange, Config, Pool


class AllocationError(Exception):
    """Why a service cannot get (or keep) addresses; the text goes into its event, the
    `reason` (metallb.allocator.reasons) into its AddressAssigned condition."""

    def __init__(self, message: str, reason: str = reasons.ALLOCATION_FAILED):
        super().__init__(message)
        self.reason = reason


Address = tuple[int, int]  # (IP version, the address as an integer)


@dataclass(frozen=True, slots=True)
class Assignment:
    """Addresses held by one service (IPv4 first), from one pool: a snapshot the
    allocator builds when asked (it stores no such object per service, see Allocator).

    The addresses are (version, integer) pairs; `ips` builds the ipaddress objects.
    """

    key: str
    pool: str
    addresses: tuple[Address, ...]
    intent: ServiceIntent

    @property
    def ips(self) -> tuple[IPAddress, ...]:
        return tuple(_ip(version, value) for version, value in self.addresses)

    @property
    def ip_strings(self) -> tuple[str, ...]:
        return tuple(str(ip) for ip in self.ips)


@dataclass(frozen=True)
class PoolStats:
    addresses_total: int  # usable addresses (a /24 is 256, 254 with avoid-buggy-ips)
    addresses_in_use: int  # distinct addresses held; a shared address counts once


@dataclass(frozen=True)
class BlockedAssignment:
    """A service that a new config would take an address away from."""

    key: str
    ips: tuple[str, ...]
    reason: str


def refusal(pool: Pool, intent: ServiceIntent) -> str | None:
    """Why `pool` may not serve the service (its serviceAllocation), or None."""
    if pool.allocation is None:
        return None
    return pool.refusal(intent.namespace, dict(intent.namespace_labels), dict(intent.labels))


def sharing_conflict(a: ServiceIntent, b: ServiceIntent) -> str | None:
    """Why services a and b may not hold the same address; None when they may."""
    if not a.sharing_key or not b.sharing_key:
        lacking = a.key if not a.sharing_key else b.key
        return f"{lacking} has no allow-shared-ip annotation"
    if a.sharing_key != b.sharing_key:
        return f"sharing keys differ ({a.sharing_key!r} vs {b.sharing_key!r})"
    overlap = sorted(set(a.ports) & set(b.ports))
    if overlap:
        used = ", ".join(f"{proto}/{port}" for proto, port in overlap)
        return f"both use port {used}"
    if a.traffic_policy != b.traffic_policy:
        return (
            f"externalTrafficPolicy differs ({a.traffic_policy} vs {b.traffic_policy})"
        )
    if a.traffic_policy == POLICY_LOCAL and a.selector != b.selector:
        return "externalTrafficPolicy Local needs the same pod selector"
    return None


class _Entry:
    """One address entry of a pool: its usable space and who holds which index of it."""

    __slots__ = ("family", "first_key", "holders", "last_key", "pool", "space")

    def __init__(self, entry: AddressRange, pool: Pool):
        self.family = entry.family
        self.pool = pool.name
        self.space = UsableSpace.of(entry, pool.avoid_buggy_ips)
        self.holders: IndexMap[Holders] = IndexMap(self.space.count)
        self.first_key = _key(entry.family, entry.first)
        self.last_key = _key(entry.family, entry.last)


class _PoolState:
    __slots__ = ("entries", "pool")

    def __init__(self, pool: Pool):
        self.pool = pool
        self.entries = [_Entry(entry, pool) for entry in pool.ranges]


def _ip(version: int, value: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


_V6 = 1 << 128  # tags IPv6 keys, so ::c000:201 and 192.0.2.1 differ


def _key(version: int, value: int) -> int:
    """One integer per address of either family (an untracked dict key)."""
    return value if version == 4 else value | _V6


def _serves(state: _PoolState, intent: ServiceIntent) -> bool:
    """The pool has addresses of every IP family the service needs (free or not)."""
    return all(any(e.family == family for e in state.entries) for family in intent.families)
def _unkey(hkey: int) -> Address:
    return (6, hkey ^ _V6) if hkey >= _V6 else (4, hkey)


def _families_text(families: Iterable[int]) -> str:
    return ", ".join(f"IPv{f}" for f in families)


Held = int | tuple[int, ...]
"""What one service holds: the key (`_key`) of its address, a tuple of keys (IPv4
first) when it holds two."""


def _held_keys(held: Held) -> tuple[int, ...]:
    return (held,) if isinstance(held, int) else held


Holders = ServiceIntent | tuple[ServiceIntent, ...]
"""Who holds one address: the holder's intent, or the intents sorted by key when it is
shared. (The intents live here, not in a dict of their own: one dict less to touch.)"""


def _holder_tuple(holders: Holders | None) -> tuple[ServiceIntent, ...]:
    if holders is None:
        return ()
    return holders if isinstance(holders, tuple) else (holders,)


def _by_key(intent: ServiceIntent) -> str:
    return intent.key


class _EntryIndex:
    """Finds the address entry (of any pool) that contains an address key in
    O(log entries). Pools of a valid config never overlap; should a hand-built config
    overlap anyway, the first entry in config order wins, as a plain scan would say."""

    __slots__ = ("_entries", "_firsts", "_overlap")

    def __init__(self, pools: Iterable[_PoolState]):
        in_order = [entry for state in pools for entry in state.entries]
        self._entries = sorted(in_order, key=lambda e: e.first_key)
        self._firsts = [e.first_key for e in self._entries]
        self._overlap = in_order if any(
            a.last_key >= b.first_key for a, b in pairwise(self._entries)) else None

    def find(self, hkey: int) -> _Entry | None:
        if self._overlap is not None:
            return next((e for e in self._overlap if e.first_key <= hkey <= e.last_key),
                        None)
        i = bisect_right(self._firsts, hkey) - 1
        if i >= 0 and hkey <= self._entries[i].last_key:
            return self._entries[i]
        return None


class Allocator:
    """Assignments (service key -> addresses) and the sharing bookkeeping.

    What always holds: every address key a service holds in `_held` has the service's
    intent among the holders its entry keeps for that address (`_Entry.holders`), and
    no address has any other holder.

    Why flat: with the garbage collector on (as the controller runs), every object that
    lives as long as an assignment makes each collection longer, and 100k of them made
    allocation 1.3-1.6x dearer per operation than with 1k. So per service it stores only
    integers, strings and tuples of them (which the collector stops tracking) in `_held`,
    plus a reference to the caller's own intent in a page of its entry's holders;
    `Assignment` objects are built when asked. A release in random order touches one
    big dict (`_held`) and one page of holders (all pages of 100k holders: ~0.9 MB,
    against ~8 MB for a dict of every address), nothing else that grows with the number
    of services.

    Not thread-safe: one thread (the controller's worker, or `metallb plan`) uses it.
    """

    def __init__(self, config: Config):
        self._config = config
        self._pools = {pool.name: _PoolState(pool) for pool in config.pools}
        self._entries = _EntryIndex(self._pools.values())
        self._held: dict[str, Held] = {}
        # (pool, sharing key, family) -> sorted ints of addresses held under that key
        self._shared: dict[tuple[str, str, int], list[int]] = {}
        # Bumped whenever an address becomes free, so callers can tell that retrying
        # pending services may now succeed.
        self.releases = 0

    @property
    def config(self) -> Config:
        return self._config

    def assignment(self, key: str) -> Assignment | None:
        held = self._held.get(key)
        return None if held is None else self._snapshot(self._intent(key, held), held)

    def assignments(self) -> list[Assignment]:
        return [self._snapshot(self._intent(key, held), held)
                for key, held in self._held.items()]

    def holders(self, ip: IPAddress) -> frozenset[str]:
        return frozenset(h.key for h in _holder_tuple(self._holders_of(_key(ip.version,
                                                                             int(ip)))))

    # -- queries -----------------------------------------------------------------------

    def stats(self) -> dict[str, PoolStats]:
        """Per pool, in config order: usable and in-use address counts."""
        return {
            name: PoolStats(
                addresses_total=usable_address_count(state.pool),
                addresses_in_use=sum(len(e.holders) for e in state.entries),
            )
            for name, state in self._pools.items()
        }

    def family_stats(self) -> dict[str, dict[int, PoolStats]]:
        """Per pool, in config order, per IP family (4 and 6): usable and in-use counts
        (IPAddressPool.status). O(entries): cheap enough after every change."""
        return {
            name: {
                family: PoolStats(
                    addresses_total=sum(e.space.count for e in state.entries
                                        if e.family == family),
                    addresses_in_use=sum(len(e.holders) for e in state.entries
                                         if e.family == family))
                for family in (4, 6)
            }
            for name, state in self._pools.items()
        }

    def validate(self, intent: ServiceIntent, ips: tuple[IPAddress, ...]) -> str:
        """The pool that `ips` would come from for `intent`, or AllocationError saying why
        the service may not hold them. Ignores what the service itself holds now."""
        families = sorted(ip.version for ip in ips)
        if families != list(intent.families):
            shown = ", ".join(str(ip) for ip in ips)
            raise AllocationError(
                f"addresses {shown} do not match the service's IP families "
                f"({_families_text(intent.families)})", reasons.INVALID_REQUEST
            )
        if intent.requested_ips and set(ips) != set(intent.requested_ips):
            raise AllocationError("addresses differ from the requested ones",
                                  reasons.INVALID_REQUEST)
        pool_name: str | None = None
        for ip in ips:
            hkey = _key(ip.version, int(ip))
            entry = self._entries.find(hkey)
            if entry is None:
                raise AllocationError(f'"{ip}" is not allowed in config (in no pool)',
                                      reasons.REQUESTED_ADDRESS_UNAVAILABLE)
            if pool_name is not None and pool_name != entry.pool:
                raise AllocationError(
                    f"addresses come from different pools ({pool_name!r}, {entry.pool!r})",
                    reasons.INVALID_REQUEST)
            pool_name = entry.pool
            if intent.pool and intent.pool != pool_name:
                raise AllocationError(
                    f'"{ip}" is in pool "{pool_name}", not in the annotated pool '
                    f'"{intent.pool}"', reasons.INVALID_REQUEST
                )
            refused = refusal(self._pools[pool_name].pool, intent)
            if refused:
                raise AllocationError(refused, reasons.REQUESTED_ADDRESS_UNAVAILABLE)
            index = entry.space.index_of(int(ip))
            if index is None:
                raise AllocationError(
                    f'"{ip}" is not usable: pool "{pool_name}" has avoid-buggy-ips '
                    "(no addresses ending in .0 or .255)", reasons.REQUESTED_ADDRESS_UNAVAILABLE
                )
            for other in _holder_tuple(entry.holders.get(index)):
                if other.key == intent.key:
                    continue
                conflict = sharing_conflict(intent, other)
                if conflict:
                    raise AllocationError(
                        f'"{ip}" is already in use by {other.key}: {conflict}',
                        reasons.SHARING_CONFLICT if intent.sharing_key
                        else reasons.REQUESTED_ADDRESS_UNAVAILABLE)
        assert pool_name is not None  # families match, so ips is not empty
        return pool_name

    # -- changes -----------------------------------------------------------------------

    def assign(self, intent: ServiceIntent, ips: Iterable[IPAddress]) -> Assignment:
        """Give `ips` (requested, or read back from status) to the service, replacing what
        it held; AllocationError (and no change) when it may not hold them."""
        ordered = tuple(sorted(ips, key=lambda ip: (ip.version, int(ip))))
        pool_name = self.validate(intent, ordered)
        _, freed = self._drop(intent.key)
        held = self._record(intent, pool_name, tuple((ip.version, int(ip)) for ip in ordered))
        # a service re-assigned its own addresses frees nothing
        if any(self._holders_of(hkey) is None for hkey in freed):
            self.releases += 1
        return held

    def allocate(self, intent: ServiceIntent) -> Assignment:
        """Find addresses for the service by the rules (see module doc). Keeps what it
        holds when that is still valid. On AllocationError it holds nothing."""
        current = self._held.get(intent.key)
        if current is not None:
            try:
                return self.assign(intent, self._ips(current))
            except AllocationError:
                pass
        self.release(intent.key)  # what it held is no longer valid for it
        if intent.requested_ips:
            return self.assign(intent, intent.requested_ips)
        if intent.pool:
            state = self._pools.get(intent.pool)
            if state is None:
                raise AllocationError(f'unknown pool "{intent.pool}"', reasons.NO_MATCHING_POOL)
            refused = refusal(state.pool, intent)
            if refused:
                raise AllocationError(refused, reasons.NO_MATCHING_POOL)
            addresses = self._pick(state, intent)
            if addresses is None:
                raise AllocationError(f'no available IPs in pool "{intent.pool}"',
                                      reasons.POOL_EXHAUSTED if _serves(state, intent)
                                      else reasons.NO_MATCHING_POOL)
            return self._record(intent, intent.pool, addresses)
        tried = []
        for state in self._pools.values():
            if not state.pool.auto_assign or refusal(state.pool, intent):
                continue
            addresses = self._pick(state, intent)
            if addresses is not None:
                return self._record(intent, state.pool.name, addresses)
            tried.append(state)
        # exhausted when a pool that has the service's families is full; else none fits
        raise AllocationError("no available IPs", reasons.POOL_EXHAUSTED
                              if any(_serves(state, intent) for state in tried)
                              else reasons.NO_MATCHING_POOL)

    def release(self, key: str) -> Assignment | None:
        """Free what the service holds (a shared address stays with its other holders)."""
        held, freed = self._drop(key)
        if freed:
            self.releases += 1
        return held

    def set_config(self, config: Config) -> list[BlockedAssignment]:
        """Switch to `config` unless it would take an address from a service.

        Returns the services that block it (the config is then NOT applied), or [] once
        applied. Every assignment is replayed against the new pools, so the same rules
        decide as for a fresh assignment."""
        fresh = Allocator(config)
        blocked = []
        for key, held in self._held.items():
            ips = self._ips(held)
            try:
                fresh.assign(self._intent(key, held), ips)
            except AllocationError as exc:
                blocked.append(BlockedAssignment(key, tuple(str(ip) for ip in ips), str(exc)))
        if blocked:
            return blocked
        self._config = config
        self._pools, self._entries = fresh._pools, fresh._entries
        self._held, self._shared = fresh._held, fresh._shared
        return []

    # -- internals ---------------------------------------------------------------------

    @staticmethod
    def _ips(held: Held) -> tuple[IPAddress, ...]:
        return tuple(_ip(*_unkey(hkey)) for hkey in _held_keys(held))

    def _intent(self, key: str, held: Held) -> ServiceIntent:
        """The intent of a service that holds `held`."""
        return next(h for h in _holder_tuple(self._holders_of(_held_keys(held)[0]))
                    if h.key == key)

    def _holders_of(self, hkey: int) -> Holders | None:
        """Who holds the address with key `hkey` (None: nobody, or in no pool)."""
        entry = self._entries.find(hkey)
        if entry is None:
            return None
        index = entry.space.index_of(_unkey(hkey)[1])
        return None if index is None else entry.holders.get(index)

    def _snapshot(self, intent: ServiceIntent, held: Held) -> Assignment:
        keys = _held_keys(held)
        entry = self._entries.find(keys[0])
        assert entry is not None
        return Assignment(intent.key, entry.pool, tuple(_unkey(k) for k in keys), intent)

    def _drop(self, key: str) -> tuple[Assignment | None, list[int]]:
        """Forget the service's assignment, updating holders and the used intervals;
        returns what it held and the keys of the addresses nobody holds any more."""
        held = self._held.pop(key, None)
        if held is None:
            return None, []
        intent = pool = None
        addresses = []
        freed = []
        for hkey in _held_keys(held):
            entry = self._entries.find(hkey)
            assert entry is not None
            pool = entry.pool
            version, value = address = _unkey(hkey)
            addresses.append(address)
            index = entry.space.index_of(value)
            assert index is not None
            holders = entry.holders.pop(index)
            if isinstance(holders, tuple):  # shared: the others keep it
                intent = next(h for h in holders if h.key == key)
                rest = tuple(h for h in holders if h.key != key)
                entry.holders.put(index, rest[0] if len(rest) == 1 else rest)
                continue
            intent = holders
            freed.append(hkey)
            if self._shared and intent.sharing_key:  # most clusters share nothing
                shared = self._shared[(pool, intent.sharing_key, version)]
                del shared[bisect_left(shared, value)]
        assert intent is not None and pool is not None
        return Assignment(key, pool, tuple(addresses), intent), freed

    def _pick(self, state: _PoolState, intent: ServiceIntent) -> tuple[Address, ...] | None:
        """One address per family of the service from this pool, or None."""
        picked = []
        for family in intent.families:
            value = self._pick_shared(state, intent, family)
            if value is None:
                value = self._pick_free(state, family)
            if value is None:
                return None
            picked.append((family, value))
        return tuple(picked)

    def _pick_shared(self, state: _PoolState, intent: ServiceIntent, family: int) -> int | None:
        if not intent.sharing_key:
            return None
        for value in self._shared.get((state.pool.name, intent.sharing_key, family), ()):
            if all(
                sharing_conflict(intent, other) is None
                for other in _holder_tuple(self._holders_of(_key(family, value)))
            ):
                return value
        return None

    @staticmethod
    def _pick_free(state: _PoolState, family: int) -> int | None:
        for entry in state.entries:
            if entry.family != family:
                continue
            index = entry.holders.first_absent_from(0)
            if index < entry.space.count:
                return entry.space.address_at(index)
        return None

    def _record(
        self, intent: ServiceIntent, pool_name: str, addresses: tuple[Address, ...]
    ) -> Assignment:
        key = intent.key
        hkeys = []
        for version, value in addresses:
            hkey = _key(version, value)
            hkeys.append(hkey)
            entry = self._entries.find(hkey)
            assert entry is not None
            index = entry.space.index_of(value)
            assert index is not None
            holders = entry.holders.get(index)
            if holders is None:
                if intent.sharing_key:
                    insort(self._shared.setdefault(
                        (pool_name, intent.sharing_key, version), []), value)
                entry.holders.put(index, intent)
            else:
                others = (h for h in _holder_tuple(holders) if h.key != key)
                entry.holders.put(index, tuple(sorted((*others, intent), key=_by_key)))
        self._held[key] = hkeys[0] if len(hkeys) == 1 else tuple(hkeys)
        return Assignment(key, pool_name, addresses, intent)
