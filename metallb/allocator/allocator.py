"""Which Service holds which addresses, and where the next one comes from.

The allocator is pure bookkeeping: no I/O, no clock, no randomness, so the controller and
`metallb plan` make the same choices. Choices are deterministic (MetalLB picks pools at
random; we do not): requested addresses first, then the annotated pool, then the
auto-assign pools in config order; inside a pool, entries in config order and the lowest
usable address first; a service with a sharing key first tries the lowest compatible
address already shared under that key.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_left, insort
from collections.abc import Iterable
from dataclasses import dataclass

from metallb.allocator import reasons
from metallb.allocator.intervals import IntervalSet, UsableSpace
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
    """Addresses held by one service (IPv4 first), from one pool.

    The addresses are kept as (version, integer) pairs, not ipaddress objects: Python's
    garbage collector stops tracking a tuple of integers, so each assignment adds one
    tracked object (itself) instead of three, and with 100k services every collection
    stays short. `ips` builds the ipaddress objects when asked.
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
    """One address entry of a pool: its usable space and which indexes are held."""

    __slots__ = ("family", "position", "space", "used")

    def __init__(self, entry: AddressRange, avoid_buggy_ips: bool, position: int):
        self.family = entry.family
        self.position = position  # config order inside the pool
        self.space = UsableSpace.of(entry, avoid_buggy_ips)
        self.used = IntervalSet()

    def covers(self, version: int, value: int) -> bool:
        return version == self.family and self.space.first <= value <= self.space.last


class _PoolState:
    __slots__ = ("entries", "pool")

    def __init__(self, pool: Pool):
        self.pool = pool
        self.entries = [
            _Entry(entry, pool.avoid_buggy_ips, i) for i, entry in enumerate(pool.ranges)
        ]

    def entry_for(self, version: int, value: int) -> _Entry | None:
        for entry in self.entries:
            if entry.covers(version, value):
                return entry
        return None


def _ip(version: int, value: int) -> IPAddress:
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


_V6 = 1 << 128  # tags IPv6 keys, so ::c000:201 and 192.0.2.1 differ


def _key(version: int, value: int) -> int:
    """One integer per address of either family (an untracked dict key)."""
    return value if version == 4 else value | _V6


def _serves(state: _PoolState, intent: ServiceIntent) -> bool:
    """The pool has addresses of every IP family the service needs (free or not)."""
    return all(any(e.family == family for e in state.entries) for family in intent.families)


def _families_text(families: Iterable[int]) -> str:
    return ", ".join(f"IPv{f}" for f in families)


class Allocator:
    """Assignments (service key -> addresses, pool) and the sharing bookkeeping."""

    def __init__(self, config: Config):
        self._config = config
        self._pools = {pool.name: _PoolState(pool) for pool in config.pools}
        self._assignments: dict[str, Assignment] = {}
        # _key(address) -> the services holding it, sorted. Integers and tuples of
        # strings, not ipaddress objects and sets: the garbage collector stops tracking
        # them, so 100k assignments do not make every collection longer.
        self._holders: dict[int, tuple[str, ...]] = {}
        # (pool, sharing key, family) -> sorted ints of addresses held under that key
        self._shared: dict[tuple[str, str, int], list[int]] = {}
        # Bumped whenever an address becomes free, so callers can tell that retrying
        # pending services may now succeed.
        self.releases = 0

    @property
    def config(self) -> Config:
        return self._config

    def assignment(self, key: str) -> Assignment | None:
        return self._assignments.get(key)

    def assignments(self) -> list[Assignment]:
        return list(self._assignments.values())

    def holders(self, ip: IPAddress) -> frozenset[str]:
        return frozenset(self._holders.get(_key(ip.version, int(ip)), ()))

    # -- queries -----------------------------------------------------------------------

    def stats(self) -> dict[str, PoolStats]:
        """Per pool, in config order: usable and in-use address counts."""
        return {
            name: PoolStats(
                addresses_total=usable_address_count(state.pool),
                addresses_in_use=sum(len(e.used) for e in state.entries),
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
                    addresses_in_use=sum(len(e.used) for e in state.entries
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
            state, entry = self._locate(ip)
            if state is None or entry is None:
                raise AllocationError(f'"{ip}" is not allowed in config (in no pool)',
                                      reasons.REQUESTED_ADDRESS_UNAVAILABLE)
            if pool_name is not None and pool_name != state.pool.name:
                raise AllocationError(
                    f"addresses come from different pools ({pool_name!r}, {state.pool.name!r})",
                    reasons.INVALID_REQUEST)
            pool_name = state.pool.name
            if intent.pool and intent.pool != pool_name:
                raise AllocationError(
                    f'"{ip}" is in pool "{pool_name}", not in the annotated pool '
                    f'"{intent.pool}"', reasons.INVALID_REQUEST
                )
            if entry.space.index_of(int(ip)) is None:
                raise AllocationError(
                    f'"{ip}" is not usable: pool "{pool_name}" has avoid-buggy-ips '
                    "(no addresses ending in .0 or .255)", reasons.REQUESTED_ADDRESS_UNAVAILABLE
                )
            for other in self._holders.get(_key(ip.version, int(ip)), ()):
                if other == intent.key:
                    continue
                conflict = sharing_conflict(intent, self._assignments[other].intent)
                if conflict:
                    raise AllocationError(
                        f'"{ip}" is already in use by {other}: {conflict}',
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
        old = self._drop(intent.key)
        held = self._record(intent, pool_name, ordered)
        self._count_freed(old)
        return held

    def allocate(self, intent: ServiceIntent) -> Assignment:
        """Find addresses for the service by the rules (see module doc). Keeps what it
        holds when that is still valid. On AllocationError it holds nothing."""
        current = self._assignments.get(intent.key)
        if current is not None:
            try:
                return self.assign(intent, current.ips)
            except AllocationError:
                pass
        self.release(intent.key)  # what it held is no longer valid for it
        if intent.requested_ips:
            return self.assign(intent, intent.requested_ips)
        if intent.pool:
            state = self._pools.get(intent.pool)
            if state is None:
                raise AllocationError(f'unknown pool "{intent.pool}"', reasons.NO_MATCHING_POOL)
            ips = self._pick(state, intent)
            if ips is None:
                raise AllocationError(f'no available IPs in pool "{intent.pool}"',
                                      reasons.POOL_EXHAUSTED if _serves(state, intent)
                                      else reasons.NO_MATCHING_POOL)
            return self._record(intent, intent.pool, ips)
        candidates = 0
        for state in self._pools.values():
            if not state.pool.auto_assign:
                continue
            candidates += _serves(state, intent)
            ips = self._pick(state, intent)
            if ips is not None:
                return self._record(intent, state.pool.name, ips)
        raise AllocationError("no available IPs", reasons.POOL_EXHAUSTED if candidates
                              else reasons.NO_MATCHING_POOL)

    def release(self, key: str) -> Assignment | None:
        """Free what the service holds (a shared address stays with its other holders)."""
        held = self._drop(key)
        self._count_freed(held)
        return held

    def set_config(self, config: Config) -> list[BlockedAssignment]:
        """Switch to `config` unless it would take an address from a service.

        Returns the services that block it (the config is then NOT applied), or [] once
        applied. Every assignment is replayed against the new pools, so the same rules
        decide as for a fresh assignment."""
        fresh = Allocator(config)
        blocked = []
        for held in self._assignments.values():
            try:
                fresh.assign(held.intent, held.ips)
            except AllocationError as exc:
                blocked.append(BlockedAssignment(held.key, held.ip_strings, str(exc)))
        if blocked:
            return blocked
        self._config = config
        self._pools = fresh._pools
        self._assignments = fresh._assignments
        self._holders = fresh._holders
        self._shared = fresh._shared
        return []

    # -- internals ---------------------------------------------------------------------

    def _drop(self, key: str) -> Assignment | None:
        """Forget the service's assignment, updating holders and the used intervals."""
        held = self._assignments.pop(key, None)
        if held is None:
            return None
        state = self._pools[held.pool]
        for version, value in held.addresses:
            hkey = _key(version, value)
            holders = self._holders[hkey]
            if holders != (key,):  # shared: the others keep it
                self._holders[hkey] = tuple(k for k in holders if k != key)
                continue
            del self._holders[hkey]
            entry = state.entry_for(version, value)
            assert entry is not None
            index = entry.space.index_of(value)
            assert index is not None
            entry.used.remove(index)
            if held.intent.sharing_key:
                shared = self._shared[(held.pool, held.intent.sharing_key, version)]
                del shared[bisect_left(shared, value)]
        return held

    def _count_freed(self, old: Assignment | None) -> None:
        """Bump `releases` when one of `old`'s addresses is now held by nobody; a service
        re-assigned its own addresses frees nothing."""
        if old is not None and any(_key(version, value) not in self._holders
                                   for version, value in old.addresses):
            self.releases += 1

    def _locate(self, ip: IPAddress) -> tuple[_PoolState | None, _Entry | None]:
        for state in self._pools.values():
            entry = state.entry_for(ip.version, int(ip))
            if entry is not None:
                return state, entry
        return None, None

    def _pick(self, state: _PoolState, intent: ServiceIntent) -> tuple[IPAddress, ...] | None:
        """One address per family of the service from this pool, or None."""
        picked = []
        for family in intent.families:
            ip = self._pick_shared(state, intent, family) or self._pick_free(state, family)
            if ip is None:
                return None
            picked.append(ip)
        return tuple(picked)

    def _pick_shared(
        self, state: _PoolState, intent: ServiceIntent, family: int
    ) -> IPAddress | None:
        if not intent.sharing_key:
            return None
        for value in self._shared.get((state.pool.name, intent.sharing_key, family), ()):
            ip = _ip(family, value)
            if all(
                sharing_conflict(intent, self._assignments[other].intent) is None
                for other in self._holders[_key(family, value)]
            ):
                return ip
        return None

    @staticmethod
    def _pick_free(state: _PoolState, family: int) -> IPAddress | None:
        for entry in state.entries:
            if entry.family != family:
                continue
            index = entry.used.first_absent_from(0)
            if index < entry.space.count:
                return _ip(family, entry.space.address_at(index))
        return None

    def _record(
        self, intent: ServiceIntent, pool_name: str, ips: tuple[IPAddress, ...]
    ) -> Assignment:
        state = self._pools[pool_name]
        addresses = tuple((ip.version, int(ip)) for ip in ips)
        for version, value in addresses:
            hkey = _key(version, value)
            holders = self._holders.get(hkey, ())
            if not holders:
                entry = state.entry_for(version, value)
                assert entry is not None
                index = entry.space.index_of(value)
                assert index is not None
                entry.used.add(index)
                if intent.sharing_key:
                    insort(self._shared.setdefault(
                        (pool_name, intent.sharing_key, version), []), value)
            if not holders:
                self._holders[hkey] = (intent.key,)
            elif intent.key not in holders:
                self._holders[hkey] = tuple(sorted((*holders, intent.key)))
        held = Assignment(intent.key, pool_name, addresses, intent)
        self._assignments[intent.key] = held
        return held
