"""Interval sets and usable-address arithmetic, checked against brute-force models."""

from __future__ import annotations

import ipaddress
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metallb.allocator.intervals import IntervalSet, UsableSpace, is_buggy_ipv4
from metallb.config.model import AddressRange
from tests.support.pools import address_range
from tests.support.set_model import check_like_a_set


def v4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


# -- IntervalSet ---------------------------------------------------------------------------


def test_add_merges_neighbours_into_one_interval():
    s = IntervalSet()
    for v in (5, 7, 6, 4, 8):
        assert s.add(v)
    assert s.intervals() == [(4, 8)]
    assert len(s) == 5
    assert not s.add(6)
    assert len(s) == 5


def test_remove_splits_and_shrinks():
    s = IntervalSet()
    for v in range(10):
        s.add(v)
    assert s.remove(5)
    assert s.intervals() == [(0, 4), (6, 9)]
    assert s.remove(0) and s.remove(9)
    assert s.intervals() == [(1, 4), (6, 8)]
    assert not s.remove(5)
    assert not s.remove(100)
    assert len(s) == 7


@pytest.mark.parametrize(
    ("members", "start", "expected"),
    [
        ((), 0, 0),
        ((0, 1, 2), 0, 3),
        ((0, 1, 2), 1, 3),
        ((1, 2), 0, 0),
        ((0, 1, 3, 4), 0, 2),
        ((0, 1, 3, 4), 3, 5),
        ((0, 1, 3, 4), 7, 7),
    ],
)
def test_first_absent_from(members, start, expected):
    s = IntervalSet()
    for v in members:
        s.add(v)
    assert s.first_absent_from(start) == expected


def test_interval_set_stays_a_set_across_many_blocks():
    """Random adds and removes over thousands of values fragment the set into more
    intervals than one block holds: blocks split and empty, and every answer still
    matches a plain set."""
    rng = random.Random(13)
    model: set[int] = set()
    s = IntervalSet()
    for step in range(40_000):
        value = rng.randrange(6_000)
        if rng.random() < 0.6:
            assert s.add(value) == (value not in model)
            model.add(value)
        else:
            assert s.remove(value) == (value in model)
            model.discard(value)
        if step % 5_000 == 0 or step == 39_999:
            pairs = s.intervals()
            assert sorted(v for a, b in pairs for v in range(a, b + 1)) == sorted(model)
            assert all(b + 1 < c for (_, b), (c, _) in itertools.pairwise(pairs))
            for probe in range(0, 6_001, 7):
                expected = probe
                while expected in model:
                    expected += 1
                assert s.first_absent_from(probe) == expected
    assert len(s) == len(model)
    assert len(s.intervals()) > 2 * 512  # spread over several blocks


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=120), st.integers(0, 45))
def test_interval_set_behaves_like_a_set(ops, probe):
    s = IntervalSet()
    check_like_a_set(s, ops, probe, range(-1, 46))
    # Stored intervals are disjoint, merged (a gap between neighbours) and sorted.
    intervals = s.intervals()
    assert all(a <= b for a, b in intervals)
    assert all(b1 + 1 < a2 for (_, b1), (a2, _) in itertools.pairwise(intervals))


# -- UsableSpace ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "avoid", "count"),
    [
        ("198.51.100.0/24", False, 256),
        ("198.51.100.0/24", True, 254),
        ("198.51.100.20/32", False, 1),
        ("198.51.100.0/32", True, 0),
        ("198.51.100.255/32", True, 0),
        ("198.51.100.0/31", True, 1),
        ("203.0.113.16/29", True, 8),
        ("10.0.0.0/8", False, 2**24),
        ("10.0.0.0/8", True, 2**16 * 254),
        ("2001:db8::/64", False, 2**64),
        ("2001:db8::/64", True, 2**64),  # avoid-buggy-ips only concerns IPv4
        ("198.51.100.250-198.51.101.5", True, 10),
    ],
)
def test_usable_count(entry, avoid, count):
    assert UsableSpace.of(address_range(entry), avoid).count == count


def test_index_skips_buggy_addresses_arithmetically():
    space = UsableSpace.of(address_range("198.51.100.0/23"), True)
    assert space.index_of(v4("198.51.100.0")) is None
    assert space.index_of(v4("198.51.100.1")) == 0
    assert space.index_of(v4("198.51.100.254")) == 253
    assert space.index_of(v4("198.51.100.255")) is None
    assert space.index_of(v4("198.51.101.1")) == 254
    assert space.address_at(254) == v4("198.51.101.1")
    assert space.index_of(v4("198.51.102.1")) is None  # outside
    with pytest.raises(IndexError):
        space.address_at(space.count)


def test_index_is_cheap_on_a_slash_eight():
    space = UsableSpace.of(address_range("10.0.0.0/8"), True)
    last = space.address_at(space.count - 1)
    assert last == v4("10.255.255.254")
    assert space.index_of(last) == space.count - 1


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**32 - 1 - 1200),
    st.integers(0, 1100),
    st.booleans(),
)
def test_index_and_address_are_inverse_and_match_enumeration(first, span, avoid):
    space = UsableSpace.of(AddressRange(first, first + span, 4, "test"), avoid)
    usable = [a for a in range(first, first + span + 1) if not (avoid and is_buggy_ipv4(a))]
    assert space.count == len(usable)
    for index, address in enumerate(usable):
        assert space.address_at(index) == address
        assert space.index_of(address) == index
    if avoid:
        assert all(
            space.index_of(a) is None
            for a in range(first, first + span + 1)
            if is_buggy_ipv4(a)
        )
