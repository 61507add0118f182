"""The one model the allocator's index sets are checked against: a plain Python set."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class IndexSet(Protocol):
    def add(self, value: int) -> bool: ...
    def remove(self, value: int) -> bool: ...
    def first_absent_from(self, start: int) -> int: ...
    def __contains__(self, value: object) -> bool: ...
    def __len__(self) -> int: ...


def first_absent(model: set[int], start: int) -> int:
    while start in model:
        start += 1
    return start


def check_like_a_set(s: IndexSet, ops: Iterable[tuple[bool, int]], probe: int,
                     values: range) -> set[int]:
    """Apply (add?, value) ops to `s` and to a set; every answer, the size, membership over
    `values` and the first absent index from `probe` must agree. Returns the model."""
    model: set[int] = set()
    for is_add, value in ops:
        if is_add:
            assert s.add(value) == (value not in model)
            model.add(value)
        else:
            assert s.remove(value) == (value in model)
            model.discard(value)
    assert len(s) == len(model)
    assert all((v in s) == (v in model) for v in values)
    assert s.first_absent_from(probe) == first_absent(model, probe)
    return model
