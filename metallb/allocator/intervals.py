"""Address arithmetic on integers, so a /8 or an IPv6 /64 pool costs what a /24 costs.

Two ideas keep every operation O(log n) and independent of the pool size:

* `UsableSpace` maps the usable addresses of one pool entry onto dense indexes
  0..count-1 by arithmetic. With `avoid-buggy-ips` the IPv4 addresses ending in .0 and
  .255 simply have no index, so "the next usable address" never has to scan.
* `IntervalSet` keeps the used indexes as sorted, disjoint, merged intervals. Allocating
  lowest-first keeps them in one interval, and "first free index at or after i" is a
  single bisect: if i falls in an interval, the answer is that interval's end + 1
  (intervals are merged, so end + 1 is never used). Releases in random order fragment the
  set into many intervals; they are kept in blocks of at most `_MAX_BLOCK` (a blocked
  sorted list, as in `sortedcontainers`), so inserting or deleting an interval moves at
  most one block's entries, never the whole list. Each block is an `array('Q')` (machine integers
  side by side, not pointers to int objects scattered over the heap), so a random
  release at 100k services touches a few cache lines, not dozens; a set whose values may
  exceed 64 bits (an IPv6 entry larger than a /64) keeps plain lists.

Nothing here does I/O or knows about Services; the allocator builds on it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from typing import TypeAlias

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


Block: TypeAlias = "array[int] | list[int]"


def _array_block(values: list[int]) -> array[int]:
    return array("Q", values)


_MAX_BLOCK = 512  # intervals per block; a full block splits into two halves


class IntervalSet:
    """A set of non-negative integers stored as sorted, disjoint, merged intervals.

    The intervals, in order, are cut into blocks: block b holds `_starts[b][k]..
    _ends[b][k]` (inclusive) for k in order. What always holds:

    * no block is empty, none has more than `_MAX_BLOCK` intervals;
    * `_firsts[b] == _starts[b][0]`, so one bisect over `_firsts` finds the block;
    * across blocks too, an interval ends at least 2 below the next one's start (merged),
      which is what makes `first_absent_from` O(log n).

    Not thread-safe: its owner (the allocator) is used from one thread.
    """

    __slots__ = ("_ends", "_firsts", "_len", "_new_block", "_starts")

    def __init__(self, bound: int = 1 << 64) -> None:
        """`bound`: every value will be below it (array blocks up to 2**64)."""
        self._new_block = _array_block if bound <= 1 << 64 else list
        self._starts: list[Block] = []
        self._ends: list[Block] = []
        self._firsts: Block = self._new_block([])
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def __contains__(self, value: int) -> bool:
        found = self._at_or_before(value)
        return found is not None and value <= self._ends[found[0]][found[1]]

    def intervals(self) -> list[tuple[int, int]]:
        return [pair for starts, ends in zip(self._starts, self._ends, strict=True)
                for pair in zip(starts, ends, strict=True)]

    def _at_or_before(self, value: int) -> tuple[int, int] | None:
        """(block, position) of the last interval starting at or before value."""
        b = bisect_right(self._firsts, value) - 1
        if b < 0:
            return None
        return b, bisect_right(self._starts[b], value) - 1

    def _after(self, at: tuple[int, int] | None) -> tuple[int, int] | None:
        """(block, position) of the interval after `at` (after none: the first one)."""
        if at is None:
            return (0, 0) if self._starts else None
        b, k = at
        if k + 1 < len(self._starts[b]):
            return b, k + 1
        return (b + 1, 0) if b + 1 < len(self._starts) else None

    def _insert(self, at: tuple[int, int] | None, start: int, end: int) -> None:
        """Insert [start, end] right after the interval `at` (None: before all)."""
        if not self._starts:
            self._starts.append(self._new_block([start]))
            self._ends.append(self._new_block([end]))
            self._firsts.append(start)
            return
        b, k = (0, 0) if at is None else (at[0], at[1] + 1)
        starts, ends = self._starts[b], self._ends[b]
        starts.insert(k, start)
        ends.insert(k, end)
        if k == 0:
            self._firsts[b] = start
        if len(starts) > _MAX_BLOCK:
            half = len(starts) // 2
            self._starts.insert(b + 1, starts[half:])
            self._ends.insert(b + 1, ends[half:])
            self._firsts.insert(b + 1, starts[half])
            del starts[half:]
            del ends[half:]

    def _delete(self, at: tuple[int, int]) -> None:
        b, k = at
        starts, ends = self._starts[b], self._ends[b]
        del starts[k]
        del ends[k]
        if not starts:
            del self._starts[b]
            del self._ends[b]
            del self._firsts[b]
        elif k == 0:
            self._firsts[b] = starts[0]

    def _set_start(self, at: tuple[int, int], start: int) -> None:
        b, k = at
        self._starts[b][k] = start
        if k == 0:
            self._firsts[b] = start

    def add(self, value: int) -> bool:
        """Add one value; False when it was already present."""
        left = self._at_or_before(value)
        if left is not None and value <= self._ends[left[0]][left[1]]:
            return False
        right = self._after(left)
        joins_left = left is not None and self._ends[left[0]][left[1]] == value - 1
        joins_right = right is not None and self._starts[right[0]][right[1]] == value + 1
        if joins_left and joins_right:
            assert left is not None and right is not None
            self._ends[left[0]][left[1]] = self._ends[right[0]][right[1]]
            self._delete(right)
        elif joins_left:
            assert left is not None
            self._ends[left[0]][left[1]] = value
        elif joins_right:
            assert right is not None
            self._set_start(right, value)
        else:
            self._insert(left, value, value)
        self._len += 1
        return True

    def remove(self, value: int) -> bool:
        """Remove one value; False when it was absent."""
        at = self._at_or_before(value)
        if at is None or value > self._ends[at[0]][at[1]]:
            return False
        b, k = at
        start, end = self._starts[b][k], self._ends[b][k]
        if start == end:
            self._delete(at)
        elif value == start:
            self._set_start(at, value + 1)
        elif value == end:
            self._ends[b][k] = value - 1
        else:
            self._ends[b][k] = value - 1
            self._insert(at, value + 1, end)
        self._len -= 1
        return True

    def first_absent_from(self, value: int) -> int:
        """The smallest integer >= value that is not in the set."""
        at = self._at_or_before(value)
        if at is not None and value <= self._ends[at[0]][at[1]]:
            return self._ends[at[0]][at[1]] + 1
        return value
