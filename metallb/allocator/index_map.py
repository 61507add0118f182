"""Who holds each used index of one address entry, in pages of 64: small and local, so
a release in random order at 100k services misses the caches less than with a dict.

Why pages and not a dict of every held address: a release in random order has to find
and clear one holder, and at 100k services a dict of 100k addresses (its table and
entries: ~5 MB) no longer stays in the caches, so each release paid two cache misses
there. Here index i lives in slot i % 64 of page i // 64; allocating lowest-first fills
pages in order, so 100k holders take 1,563 pages (~0.9 MB), which the caches keep far
better (bench/allocator.py on one machine, GC on: 2.91-3.06 µs per random release at
100k against 3.08-3.37 with the dict; README). An isolated index, e.g. one requested
address in a /64, costs a whole page: ~0.6 KB instead of ~0.1 KB in a dict.

A page also keeps a 64-bit word of which slots are held, so "the lowest free index at
or after i" stays O(log n) without scanning slots: the numbers of the full pages are
kept in an `IntervalSet`, and allocating lowest-first fills pages in order, so that set
is a handful of intervals. A page that is not full has a free slot, so the answer is in
the first page that is not full at or after i's page, or in the one after it.

Nothing here does I/O or knows about addresses; the allocator keeps one per entry.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from metallb.allocator.intervals import IntervalSet

_SLOTS = 64
_SHIFT = 6  # index >> _SHIFT is its page, index & _LOW its slot in that page
_LOW = _SLOTS - 1
_FULL = (1 << _SLOTS) - 1

V = TypeVar("V")


def _lowest_bit(bits: int) -> int:
    """Position of the lowest set bit of a positive integer."""
    return (bits & -bits).bit_length() - 1


def _new_page() -> list:
    """[bits, slot 0, ..., slot 63]: one list, so a lookup touches one object."""
    return [0, *([None] * _SLOTS)]


class IndexMap(Generic[V]):
    """A map from non-negative integers below `bound` to values (never None), in pages.

    What always holds:

    * `_pages[p]` is `[bits, v0, ..., v63]`: vk is the value of index p*64+k, or None
      when that index is absent, and bit k of `bits` is set exactly when vk is not None;
    * no page is empty (a page with no value has no entry, so the dict grows with the
      values held, not with `bound`);
    * `_full` holds exactly the p whose bits are all set (what `first_absent_from` relies
      on to skip full pages without reading them);
    * `_len` is the number of values.

    Not thread-safe: its owner (the allocator) is used from one thread.
    """

    __slots__ = ("_full", "_len", "_pages")

    def __init__(self, bound: int = 1 << 64) -> None:
        """`bound`: every index will be below it (sizes the full-page set's blocks)."""
        self._pages: dict[int, list] = {}
        self._full = IntervalSet((bound >> _SHIFT) + 1)
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def __contains__(self, index: int) -> bool:
        return self.get(index) is not None

    def get(self, index: int) -> V | None:
        page = self._pages.get(index >> _SHIFT)
        return None if page is None else page[(index & _LOW) + 1]

    def put(self, index: int, value: V) -> None:
        """Set the value of `index` (added when absent, replaced when present)."""
        if index < 0:
            raise ValueError(f"index {index} is negative")
        p = index >> _SHIFT
        page = self._pages.get(p)
        if page is None:
            page = self._pages[p] = _new_page()
        slot = (index & _LOW) + 1
        if page[slot] is None:
            bits = page[0] | 1 << (index & _LOW)
            page[0] = bits
            if bits == _FULL:
                self._full.add(p)
            self._len += 1
        page[slot] = value

    def pop(self, index: int) -> V | None:
        """Remove `index`; its value, or None when it was absent."""
        p = index >> _SHIFT
        page = self._pages.get(p)
        if page is None:
            return None
        slot = (index & _LOW) + 1
        value = page[slot]
        if value is None:
            return None
        bits = page[0]
        if bits == _FULL:
            self._full.remove(p)
        bits ^= 1 << (index & _LOW)
        if bits:
            page[0] = bits
            page[slot] = None
        else:
            del self._pages[p]
        self._len -= 1
        return value

    def first_absent_from(self, index: int) -> int:
        """The smallest integer >= index that is absent."""
        p = self._full.first_absent_from(index >> _SHIFT)
        if p != index >> _SHIFT:  # index's page is full: start at the next one that is not
            index = p << _SHIFT
        page = self._pages.get(p)
        free = (~(page[0] if page else 0) & _FULL) >> (index & _LOW)
        if free:  # the common case, inlined: allocation calls this once per address
            return index + (free & -free).bit_length() - 1
        # Page p is full from index's slot on; the next page that is not full has room.
        p = self._full.first_absent_from(p + 1)
        page = self._pages.get(p)
        return (p << _SHIFT) + _lowest_bit(~(page[0] if page else 0) & _FULL)
