"""The allocator's per-entry holder pages, checked against a plain dict (and, for which
indexes are held, against the same set model as the interval set)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metallb.allocator.index_map import IndexMap
from tests.support.set_model import check_like_a_set, first_absent


class _AsSet:
    """An IndexMap seen as the set of its indexes (each index holds its own number)."""

    def __init__(self) -> None:
        self.map: IndexMap[int] = IndexMap()

    def add(self, value: int) -> bool:
        if value in self.map:
            return False
        self.map.put(value, value)
        return True

    def remove(self, value: int) -> bool:
        return self.map.pop(value) is not None

    def first_absent_from(self, start: int) -> int:
        return self.map.first_absent_from(start)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and value in self.map

    def __len__(self) -> int:
        return len(self.map)


def test_full_pages_are_skipped_and_found_again():
    m: IndexMap[str] = IndexMap()
    for i in range(64 * 3 + 5):
        m.put(i, f"v{i}")
    assert m.first_absent_from(0) == 64 * 3 + 5
    assert m.first_absent_from(64 * 3 + 5) == 64 * 3 + 5
    assert m.pop(64 + 7) == "v71"  # the middle page is no longer full
    assert m.first_absent_from(0) == 64 + 7
    assert m.first_absent_from(64 + 8) == 64 * 3 + 5
    assert m.pop(64 + 7) is None
    assert len(m) == 64 * 3 + 4


def test_replacing_a_value_keeps_the_index_held_once():
    m: IndexMap[str] = IndexMap()
    m.put(70, "a")
    m.put(70, "b")
    assert m.get(70) == "b" and len(m) == 1
    assert m.first_absent_from(70) == 71
    assert m.pop(70) == "b" and len(m) == 0 and 70 not in m


def test_indexes_beyond_64_bits():
    m: IndexMap[str] = IndexMap(1 << 128)
    big = (1 << 100) + 63
    m.put(big, "far")
    assert big in m and big - 1 not in m and m.get(big) == "far"
    assert m.first_absent_from(big) == big + 1
    assert m.first_absent_from(0) == 0
    assert m.pop(big) == "far" and len(m) == 0


def test_a_negative_index_is_refused():
    with pytest.raises(ValueError, match="-1"):
        IndexMap().put(-1, "x")


def test_stays_a_dict_under_random_puts_and_pops():
    """Thousands of random puts and pops over a few hundred pages, with the lowest-first
    allocation the allocator does in between; every answer matches a plain dict."""
    rng = random.Random(13)
    model: dict[int, int] = {}
    m: IndexMap[int] = IndexMap()
    for step in range(40_000):
        index = rng.randrange(6_000)
        choice = rng.random()
        if choice < 0.3:
            index = m.first_absent_from(0)
            assert index == first_absent(set(model), 0)
        if choice < 0.7:
            m.put(index, step)
            model[index] = step
        else:
            assert m.pop(index) == model.pop(index, None)
        if step % 5_000 == 0:
            for probe in range(0, 6_100, 7):
                assert m.first_absent_from(probe) == first_absent(set(model), probe)
                assert m.get(probe) == model.get(probe)
    assert len(m) == len(model)
    assert all(m.get(i) == v for i, v in model.items())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 200)), max_size=300),
       st.integers(0, 210))
def test_its_indexes_behave_like_a_set(ops, probe):
    check_like_a_set(_AsSet(), ops, probe, range(-1, 211))
