"""The speaker's announced-services bookkeeping: a change of pairs (an incremental
plan's delta) gives the same services started and stopped as comparing whole sets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from speaker.announced import AnnouncedServices

PAIRS = [(f"default/s{i % 3}", f"198.51.100.{i}") for i in range(6)]


def test_a_service_starts_with_its_first_address_and_stops_with_its_last():
    book = AnnouncedServices()
    first = book.change(added=[("default/a", "198.51.100.1")], removed=[])
    assert (first.started, first.stopped) == (["default/a"], [])
    second = book.change(added=[("default/a", "198.51.100.2")], removed=[])
    assert (second.started, second.stopped) == ([], [])
    third = book.change(added=[], removed=[("default/a", "198.51.100.1")])
    assert (third.started, third.stopped) == ([], [])
    last = book.change(added=[], removed=[("default/a", "198.51.100.2")])
    assert (last.started, last.stopped) == ([], ["default/a"])
    assert len(book) == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sets(st.sampled_from(PAIRS)), min_size=1, max_size=8))
def test_changes_follow_whole_sets_as_replacing_them_does(sets):
    by_change, by_replace = AnnouncedServices(), AnnouncedServices()
    before: set = set()
    for after in sets:
        want = by_replace.replace(after)
        got = by_change.change(added=after - before, removed=before - after)
        assert got == want
        assert want.added == after - before and want.removed == before - after
        assert want.started == sorted({k for k, _ in after} - {k for k, _ in before})
        assert want.stopped == sorted({k for k, _ in before} - {k for k, _ in after})
        before = set(after)
