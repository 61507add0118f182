"""The status write queue: the last desired state per object wins, unchanged states are
not written again, a burst is a handful of writes, the caller never waits for the API,
failures are retried and then dropped, and the queue is bounded."""

from __future__ import annotations

import threading

import pytest

from metallb.kube.clock import ManualClock
from metallb.kube.status_queue import StatusQueue
from metallb.wait import poll_until


class Recorder:
    """A writer that records (key, desired) and can be held or made to fail."""

    def __init__(self, fail: int = 0):
        self.writes: list[tuple] = []
        self.fail = fail
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, key, desired) -> None:
        self.entered.set()
        self.gate.wait(10)
        if self.fail:
            self.fail -= 1
            raise RuntimeError("API says no")
        self.writes.append((key, desired))


@pytest.fixture
def stopping():
    queues: list[StatusQueue] = []
    yield queues.append
    for queue in queues:
        queue.stop(timeout=1)


def _queue(stopping, writer, **kwargs) -> StatusQueue:
    queue = StatusQueue(writer, **{"min_interval": 0.0, "rate": 1000.0, "burst": 1000,
                                   **kwargs})
    stopping(queue)
    return queue


def _held(stopping, key, desired, fail: int = 0, **kwargs) -> tuple[Recorder, StatusQueue]:
    """A queue whose writer is held inside its first write, of (key, desired)."""
    writer = Recorder(fail)
    writer.gate.clear()
    queue = _queue(stopping, writer, **kwargs)
    queue.put(key, desired)
    poll_until(writer.entered.is_set, timeout=5, what="the first write starts")
    return writer, queue


def test_the_last_desired_state_of_an_object_wins(stopping):
    writer, queue = _held(stopping, "pool-a", 0)
    for count in range(1, 10001):  # the writer is held: these coalesce
        queue.put("pool-a", count)
    writer.gate.set()
    poll_until(queue.idle, timeout=5, what="the queue drains")
    assert writer.writes == [("pool-a", 0), ("pool-a", 10000)]


def test_a_state_equal_to_the_last_written_is_not_written_again(stopping):
    writer = Recorder()
    queue = _queue(stopping, writer)
    queue.put("a", {"x": 1})
    poll_until(queue.idle, timeout=5, what="the queue drains")
    queue.put("a", {"x": 1})
    queue.put("b", {"x": 1})
    poll_until(queue.idle, timeout=5, what="the queue drains")
    assert writer.writes == [("a", {"x": 1}), ("b", {"x": 1})]


def test_a_state_put_while_its_key_is_written_is_written_after_it(stopping):
    writer = Recorder()
    queue = _queue(stopping, writer)
    queue.put("a", 1)
    poll_until(queue.idle, timeout=5, what="the queue drains")
    writer.gate.clear()
    writer.entered.clear()
    queue.put("a", 2)
    poll_until(writer.entered.is_set, timeout=5, what="the write of 2 starts")
    queue.put("a", 1)  # equal to what was written before the write in flight
    writer.gate.set()
    poll_until(queue.idle, timeout=5, what="the queue drains")
    assert writer.writes == [("a", 1), ("a", 2), ("a", 1)]


def test_put_never_waits_for_a_hung_writer(stopping):
    writer, queue = _held(stopping, "a", 1)
    done = threading.Event()

    def caller():
        for i in range(1000):
            queue.put(f"k{i}", i)
        done.set()

    threading.Thread(target=caller, daemon=True).start()
    assert done.wait(5), "put() blocked behind the writer"
    writer.gate.set()


def test_a_key_is_written_at_most_once_per_min_interval(stopping):
    clock = ManualClock()
    writer = Recorder()
    queue = _queue(stopping, writer, min_interval=5.0, clock=clock)
    queue.put("pool", 1)
    poll_until(lambda: len(writer.writes) == 1, timeout=5, what="the first write")
    queue.put("pool", 2)
    queue.put("pool", 3)
    assert not queue.idle()
    clock.advance(5.0)
    poll_until(queue.idle, timeout=5, what="the second write once due")
    assert writer.writes == [("pool", 1), ("pool", 3)]


def test_a_failed_write_is_retried_then_succeeds(stopping):
    writer = Recorder(fail=2)
    queue = _queue(stopping, writer)
    queue.put("a", 1)
    poll_until(queue.idle, timeout=10, what="the retries")
    assert writer.writes == [("a", 1)]
    assert (queue.failures, queue.writes, queue.dropped) == (2, 1, 0)


def test_a_write_that_keeps_failing_is_dropped_after_max_attempts(stopping):
    writer = Recorder(fail=100)
    queue = _queue(stopping, writer, max_attempts=2)
    queue.put("a", 1)
    poll_until(queue.idle, timeout=10, what="the attempts")
    assert (writer.writes, queue.failures, queue.dropped) == ([], 2, 1)


def test_settled_drops_the_queued_state_and_a_failing_write_in_flight(stopping):
    writer, queue = _held(stopping, "svc", "pending", fail=1)
    queue.settled("svc", "assigned")  # the controller's own status write carried it
    writer.gate.set()
    poll_until(queue.idle, timeout=5, what="the queue drains")
    assert writer.writes == []
    assert queue.last_written("svc") == "assigned"
    queue.put("svc", "assigned")
    assert queue.idle()


def test_new_keys_past_max_pending_are_dropped_and_counted(stopping):
    writer, queue = _held(stopping, "first", 0, max_pending=3)
    for i in range(5):
        queue.put(f"k{i}", i)
    queue.put("k0", 10)  # a pending key is always replaced
    assert queue.dropped == 2
    writer.gate.set()
    poll_until(queue.idle, timeout=5, what="the queue drains")
    assert sorted(writer.writes) == [("first", 0), ("k0", 10), ("k1", 1), ("k2", 2)]


def test_states_dropped_as_the_queue_was_full_are_asked_for_again(stopping):
    wanted = {f"k{i}": i for i in range(6)}
    writer = Recorder()
    writer.gate.clear()
    queue = _queue(stopping, writer, max_pending=3, refill=lambda: list(wanted.items()))
    queue.put("first", 0)
    poll_until(writer.entered.is_set, timeout=5, what="the first write starts")
    for key, value in wanted.items():
        queue.put(key, value)
    assert queue.dropped == 3  # k3, k4, k5
    writer.gate.set()
    poll_until(queue.idle, timeout=5, what="the queue drains")
    assert sorted(writer.writes) == [("first", 0), *sorted(wanted.items())]  # each once
    assert queue.refills >= 1  # a refill that overflows again asks once more
    queue.put("k0", 0)  # equal to what was written: no write, no refill
    assert queue.idle() and len(writer.writes) == 7


def test_stop_writes_what_is_queued_even_if_not_yet_due():
    writer = Recorder()
    queue = StatusQueue(writer, min_interval=3600.0)
    queue.put("a", 1)
    poll_until(lambda: writer.writes, timeout=5, what="the first write")
    queue.put("a", 2)  # due in an hour
    queue.stop(timeout=5)
    assert writer.writes == [("a", 1), ("a", 2)]


def test_the_rate_limit_spaces_writes_of_many_objects():
    clock = ManualClock()
    writer = Recorder()
    queue = StatusQueue(writer, rate=0.001, burst=2, min_interval=0.0, clock=clock)
    try:
        for i in range(4):
            queue.put(f"k{i}", i)
        poll_until(lambda: len(writer.writes) == 2, timeout=5, what="the burst")
        assert not queue.idle()
    finally:
        queue.stop(timeout=5)  # drains without the limit
    assert len(writer.writes) == 4


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        StatusQueue(Recorder(), max_pending=0)
