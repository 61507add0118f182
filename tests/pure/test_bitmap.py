"""The allocator's used-index bitmap, checked against a plain set."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from metallb.allocator.bitmap import IndexBitmap
from tests.support.set_model import check_like_a_set, first_absent


def test_full_words_are_skipped_and_found_again():
    s = IndexBitmap()
    for v in range(64 * 3 + 5):
        assert s.add(v)
    assert s.first_absent_from(0) == 64 * 3 + 5
    assert s.first_absent_from(64 * 3 + 5) == 64 * 3 + 5
    assert s.remove(64 + 7)  # the middle word is no longer full
    assert s.first_absent_from(0) == 64 + 7
    assert s.first_absent_from(64 + 8) == 64 * 3 + 5
    assert not s.remove(64 + 7)
    assert len(s) == 64 * 3 + 4


def test_values_beyond_64_bits():
    s = IndexBitmap(1 << 128)
    big = (1 << 100) + 63
    assert s.add(big)
    assert big in s and big - 1 not in s
    assert s.first_absent_from(big) == big + 1
    assert s.first_absent_from(0) == 0
    assert s.remove(big) and len(s) == 0


def test_stays_a_set_under_random_adds_and_removes():
    """Thousands of random adds and removes over a few hundred words, with the lowest-first
    allocation the allocator does in between; every answer matches a plain set."""
    rng = random.Random(13)
    model: set[int] = set()
    s = IndexBitmap()
    for step in range(40_000):
        value = rng.randrange(6_000)
        choice = rng.random()
        if choice < 0.3:
            value = s.first_absent_from(0)
            assert value == first_absent(model, 0)
        if choice < 0.7:
            assert s.add(value) == (value not in model)
            model.add(value)
        else:
            assert s.remove(value) == (value in model)
            model.discard(value)
        if step % 5_000 == 0:
            for probe in range(0, 6_100, 7):
                assert s.first_absent_from(probe) == first_absent(model, probe)
                assert (probe in s) == (probe in model)
    assert len(s) == len(model)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 200)), max_size=300),
       st.integers(0, 210))
def test_behaves_like_a_set(ops, probe):
    check_like_a_set(IndexBitmap(), ops, probe, range(-1, 211))
