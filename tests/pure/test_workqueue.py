import threading

import pytest

from metallb.kube.clock import ManualClock
from metallb.kube.workqueue import ShutDown, WorkQueue


def test_a_key_is_queued_once_however_often_added():
    q = WorkQueue()
    for _ in range(3):
        q.add("a")
    q.add("b")
    assert [q.get(0), q.get(0), q.get(0)] == ["a", "b", None]


def test_key_added_while_processing_comes_back_after_done():
    q = WorkQueue()
    q.add("a")
    assert q.get(0) == "a"
    q.add("a")
    assert q.get(0) is None  # not handed to a second worker while in progress
    q.done("a")
    assert q.get(0) == "a"
    q.done("a")
    assert q.idle()


def test_a_retried_key_waits_out_its_backoff_on_the_clock():
    clock = ManualClock()
    q = WorkQueue(initial_backoff=0.05, max_backoff=1.0, clock=clock)
    q.add("a")
    assert q.get(0) == "a"
    q.done("a")
    first = q.retry("a")
    clock.advance(first * 0.99)
    assert q.get(0) is None
    clock.advance(first * 0.02)
    assert q.get(0) == "a"
    q.done("a")


def test_retry_backs_off_and_forget_resets():
    clock = ManualClock()
    q = WorkQueue(initial_backoff=0.05, max_backoff=1.0, clock=clock)
    first = q.retry("a")
    second = q.retry("a")
    assert second > first
    delays = [q.retry("a") for _ in range(10)]
    assert max(delays) <= 1.0 * 1.2  # capped (plus jitter)
    q.forget("a")
    assert q.retry("a") <= first * 1.5


def test_a_key_delayed_while_processing_comes_back_after_done():
    clock = ManualClock()
    q = WorkQueue(clock=clock)
    q.add("a")
    assert q.get(0) == "a"
    q.add_after("a", 1.0)
    clock.advance(1.0)
    assert q.get(0) is None
    q.done("a")
    assert q.get(0) == "a"


@pytest.mark.parametrize(("initial", "maximum"), [(0, 1.0), (-1, 1.0), (2.0, 1.0)])
def test_impossible_backoff_settings_are_refused(initial, maximum):
    with pytest.raises(ValueError, match="backoff"):
        WorkQueue(initial_backoff=initial, max_backoff=maximum)


def test_keys_of_distinct_types_never_collide():
    q = WorkQueue()
    q.add(("config",))
    q.add("config")
    assert {q.get(0), q.get(0)} == {("config",), "config"}


def test_shutdown_wakes_a_blocked_worker():
    q = WorkQueue()
    raised = threading.Event()

    def worker():
        try:
            q.get()
        except ShutDown:
            raised.set()

    t = threading.Thread(target=worker)
    t.start()
    q.shut_down()
    t.join(timeout=5)
    assert raised.is_set()
    with pytest.raises(ShutDown):
        q.get(0)


def test_add_first_puts_keys_ahead_in_their_order_and_moves_queued_ones_up():
    q = WorkQueue()
    for key in ("x", "waiting-too", "y"):
        q.add(key)
    q.add("busy")
    assert q.get(0) == "x"  # "x" is being processed
    q.add_first(["waiting", "waiting-too", "x"])
    got = [q.get(0) for _ in range(5)]
    assert got == ["waiting", "waiting-too", "y", "busy", None]
    q.done("x")  # "x" was processing: dirty, it comes back after its processing
    assert q.get(0) == "x"


def test_busy_counts_ready_and_running_keys_not_delayed_retries():
    clock = ManualClock()
    q = WorkQueue(initial_backoff=0.05, max_backoff=1.0, clock=clock)
    assert not q.busy()
    q.add("a")
    assert q.busy()
    assert q.get(0) == "a"
    assert q.busy()  # running
    q.done("a")
    q.retry("a")  # a Service waiting for an address: it does not keep the queue busy
    assert not q.busy() and not q.idle()
    clock.advance(1.0)
    assert q.get(0) == "a" and q.busy()
    q.done("a")
    assert not q.busy()
