import threading
import time

import pytest

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


def test_retry_backs_off_and_forget_resets():
    q = WorkQueue(initial_backoff=0.05, max_backoff=1.0)
    q.add("a")
    assert q.get(0) == "a"
    q.done("a")
    first = q.retry("a")
    start = time.monotonic()
    assert q.get(timeout=5) == "a"
    assert time.monotonic() - start >= first * 0.9
    q.done("a")
    second = q.retry("a")
    assert second > first
    assert q.get(timeout=5) == "a"
    q.done("a")
    q.forget("a")
    assert q.retry("a") <= first * 1.5


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
