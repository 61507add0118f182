"""The event rate limiter: a burst goes out at once, then `rate` per second of clock."""

import pytest

from metallb.kube.clock import ManualClock
from metallb.kube.ratelimit import TokenBucket


def test_a_full_bucket_lets_a_burst_through_then_spaces_by_the_rate():
    clock = ManualClock()
    bucket = TokenBucket(rate=10.0, burst=3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)  # reservations queue up


def test_tokens_refill_with_clock_time_up_to_the_burst():
    clock = ManualClock()
    bucket = TokenBucket(rate=2.0, burst=2, clock=clock)
    bucket.reserve(), bucket.reserve()
    clock.advance(0.5)
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.5)
    clock.advance(100)
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve() > 0  # never more than the burst


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_impossible_settings_are_refused(rate, burst):
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)
