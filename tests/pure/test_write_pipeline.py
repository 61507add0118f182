"""The controller's WritePipeline: writes of different Services overlap, those of one
Service never do and keep their order; a write that frees an address runs on the worker."""

from __future__ import annotations

import threading

import pytest

from controller.write_pipeline import WritePipeline

DEADLINE = 10.0  # seconds a test waits for a thread before it fails


def _blocked(log: list[str], name: str, gate: threading.Event,
             started: threading.Event | None = None):
    def job() -> None:
        if started is not None:
            started.set()
        assert gate.wait(DEADLINE)
        log.append(name)
    return job


@pytest.fixture
def pipeline():
    made: list[WritePipeline] = []

    def make(**kwargs) -> WritePipeline:
        made.append(WritePipeline(**kwargs))
        return made[-1]

    yield make
    for p in made:
        p.stop(DEADLINE)


def test_jobs_of_different_keys_overlap(pipeline):
    p = pipeline(threads=2)
    a_started, b_started, gate = threading.Event(), threading.Event(), threading.Event()
    log: list[str] = []
    p.submit("a", _blocked(log, "a", gate, a_started))
    p.submit("b", _blocked(log, "b", gate, b_started))
    assert a_started.wait(DEADLINE) and b_started.wait(DEADLINE)  # both running at once
    gate.set()
    p.drain()
    assert sorted(log) == ["a", "b"]


# A second job of the same key waits for the first (order kept); with no room below
# max_pending, any second job waits.
@pytest.mark.parametrize(("threads", "max_pending", "second_key"),
                         [(4, 256, "a"), (1, 1, "b")], ids=["same key", "no room"])
def test_a_submit_is_held_back_until_the_running_job_ends(pipeline, threads, max_pending,
                                                          second_key):
    p = pipeline(threads=threads, max_pending=max_pending)
    gate, started = threading.Event(), threading.Event()
    log: list[str] = []
    p.submit("a", _blocked(log, "first", gate, started))
    assert started.wait(DEADLINE)
    second = threading.Thread(target=p.submit,
                              args=(second_key, lambda: log.append("second")))
    second.start()
    second.join(0.2)
    assert second.is_alive() and log == []  # held back while the first one runs
    gate.set()
    second.join(DEADLINE)
    p.drain()
    assert log == ["first", "second"]


def test_run_now_runs_on_the_caller_after_the_keys_running_job(pipeline):
    p = pipeline(threads=2)
    gate, started = threading.Event(), threading.Event()
    log: list[str] = []
    p.submit("a", _blocked(log, "pipelined", gate, started))
    assert started.wait(DEADLINE)
    threading.Timer(0.1, gate.set).start()
    p.run_now("a", lambda: log.append(threading.current_thread().name))
    assert log == ["pipelined", threading.current_thread().name]


def test_without_threads_every_job_runs_at_once_on_the_caller(pipeline):
    p = pipeline(threads=0)
    seen: list[str] = []
    p.submit("a", lambda: seen.append(threading.current_thread().name))
    assert seen == [threading.current_thread().name]
    p.drain()


def test_stop_lets_the_handed_over_jobs_end_then_the_threads(pipeline):
    p = WritePipeline(threads=2)
    log: list[str] = []
    for key in "abc":
        p.submit(key, lambda key=key: log.append(key))
    p.stop(DEADLINE)
    assert sorted(log) == ["a", "b", "c"]
    p.submit("d", lambda: log.append("d"))  # stopped: runs on the caller
    assert log[-1] == "d"


def test_settings_are_checked():
    with pytest.raises(ValueError, match="threads"):
        WritePipeline(threads=-1)
    with pytest.raises(ValueError, match="max_pending"):
        WritePipeline(threads=1, max_pending=0)


def test_busy_while_a_job_waits_or_runs(pipeline):
    p = pipeline(threads=1)
    assert not p.busy()
    started, gate, log = threading.Event(), threading.Event(), []
    p.submit("a", _blocked(log, "a", gate, started))
    p.submit("b", _blocked(log, "b", gate))
    assert started.wait(DEADLINE)
    assert p.busy()
    gate.set()
    p.drain()
    assert log == ["a", "b"] and not p.busy()
