"""Address arithmetic on integers, so a /8 or an IPv6 /64 pool costs what a /24 costs.

Two ideas keep every operation O(log n) and independent of the pool size:

* `UsableSpace` maps the usable addresses of one pool entry onto dense indexes
  0..count-1 by arithmetic. With `avoid-buggy-ips` the IPv4 addresses ending in .0 and
  .255 simply have no index, so "the next usable address" never has to scan.
* `IntervalSet` keeps the used indexes as sorted, disjoint, merged intervals. Allocating
  lowest-first keeps them in one interval, and "first free index at or after i" is a
  single bisect: if i falls in an interval, the answer is that interval's end + 1
  (intervals are merged, so end + 1 is never used).

Nothing here does I/O or knows about Services; the allocator builds on it.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property

from metallb.config.counting import usable_range_count
from metallb.config.model import AddressRange

_BLOCK = 256  # an IPv4 /24: addresses ending in .0 and .255 are the "buggy" ones
_USABLE_PER_BLOCK = _BLOCK - 2


def _usable_upto(address: int) -> int:
    """How many non-buggy IPv4 addresses lie in [0, address] (0 for a negative bound)."""
    if address < 0:
        return 0
    zeros = address // _BLOCK + 1  # x.x.x.0 in [0, address]
    broadcasts = (address + 1) // _BLOCK  # x.x.x.255 in [0, address]
    return address + 1 - zeros - broadcasts


def is_buggy_ipv4(address: int) -> bool:
    """True for IPv4 addresses ending in .0 or .255 (some old clients drop them)."""
    return address % _BLOCK in (0, _BLOCK - 1)


@dataclass(frozen=True)
class UsableSpace:
    """The usable addresses of one address entry, numbered densely from 0.

    `skip_buggy` is only ever true for IPv4 entries of pools with avoid-buggy-ips.
    """

    entry: AddressRange
    skip_buggy: bool = False

    @classmethod
    def of(cls, entry: AddressRange, avoid_buggy_ips: bool) -> UsableSpace:
        return cls(entry, avoid_buggy_ips and entry.family == 4)

    @property
    def first(self) -> int:
        return self.entry.first

    @property
    def last(self) -> int:
        return self.entry.last

    @cached_property
    def count(self) -> int:
        """Number of usable addresses (the same count as the pool metric)."""
        return usable_range_count(self.entry, self.skip_buggy)

    def index_of(self, address: int) -> int | None:
        """Dense index of `address`, or None when it is outside or not usable."""
        if not self.first <= address <= self.last:
            return None
        if not self.skip_buggy:
            return address - self.first
        if is_buggy_ipv4(address):
            return None
        return _usable_upto(address) - _usable_upto(self.first - 1) - 1

    def address_at(self, index: int) -> int:
        """Inverse of `index_of`: the index-th usable address (0-based)."""
        if not 0 <= index < self.count:
            raise IndexError(f"index {index} outside 0..{self.count - 1}")
        if not self.skip_buggy:
            return self.first + index
        # Global rank among all non-buggy addresses, then back to an address: each /24
        # holds 254 of them, at offsets 1..254.
        rank = _usable_upto(self.first - 1) + index
        block, offset = divmod(rank, _USABLE_PER_BLOCK)
        return block * _BLOCK + 1 + offset


class IntervalSet:
    """A set of non-negative integers stored as sorted, disjoint, merged intervals.

    `_starts[k]..._ends[k]` (inclusive) is the k-th interval; `_ends[k] + 1 <
    _starts[k + 1]` always holds, which is what makes `first_absent_from` O(log n).
    """

    __slots__ = ("_ends", "_len", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def __contains__(self, value: int) -> bool:
        k = bisect_right(self._starts, value) - 1
        return k >= 0 and value <= self._ends[k]

    def intervals(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=True))

    def add(self, value: int) -> bool:
        """Add one value; False when it was already present."""
        starts, ends = self._starts, self._ends
        k = bisect_right(starts, value) - 1  # interval starting at or before value
        if k >= 0 and value <= ends[k]:
            return False
        joins_left = k >= 0 and ends[k] == value - 1
        joins_right = k + 1 < len(starts) and starts[k + 1] == value + 1
        if joins_left and joins_right:
            ends[k] = ends[k + 1]
            del starts[k + 1]
            del ends[k + 1]
        elif joins_left:
            ends[k] = value
        elif joins_right:
            starts[k + 1] = value
        else:
            starts.insert(k + 1, value)
            ends.insert(k + 1, value)
        self._len += 1
        return True

    def remove(self, value: int) -> bool:
        """Remove one value; False when it was absent."""
        starts, ends = self._starts, self._ends
        k = bisect_right(starts, value) - 1
        if k < 0 or value > ends[k]:
            return False
        start, end = starts[k], ends[k]
        if start == end:
            del starts[k]
            del ends[k]
        elif value == start:
            starts[k] = value + 1
        elif value == end:
            ends[k] = value - 1
        else:
            ends[k] = value - 1
            starts.insert(k + 1, value + 1)
            ends.insert(k + 1, end)
        self._len -= 1
        return True

    def first_absent_from(self, value: int) -> int:
        """The smallest integer >= value that is not in the set."""
        k = bisect_right(self._starts, value) - 1
        if k >= 0 and value <= self._ends[k]:
            return self._ends[k] + 1
        return value
