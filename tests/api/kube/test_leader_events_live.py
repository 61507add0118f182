"""LeaderElector and EventRecorder against the emulator over HTTP."""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes import client

from metallb.kube.events import BackgroundEventRecorder, EventRecorder
from metallb.kube.leader import LeaderElector
from metallb.wait import poll_until
from tests.support.apiserver import apiserver, kube_client  # noqa: F401

NS = "kube-test"


@pytest.fixture
def ns(kube_client):  # noqa: F811
    client.CoreV1Api(kube_client).create_namespace({"metadata": {"name": NS}})
    return NS


@pytest.fixture
def electors(kube_client, ns):  # noqa: F811
    made: list[LeaderElector] = []
    log: list[tuple[str, str]] = []

    def make(identity: str, lease_duration: float) -> LeaderElector:
        elector = LeaderElector(
            kube_client, ns, "lease", identity, lease_duration=lease_duration,
            renew_deadline=lease_duration * 2 / 3, retry_period=0.2,
            on_started_leading=lambda: log.append(("start", identity)),
            on_stopped_leading=lambda: log.append(("stop", identity)),
        )
        made.append(elector)
        return elector

    make.log = log
    try:
        yield make
    finally:
        for elector in made:
            elector.stop(release=False)


def _holder(kube_client):  # noqa: F811
    lease = client.CoordinationV1Api(kube_client).read_namespaced_lease("lease", NS)
    return lease.spec.holder_identity


def test_one_leader_and_release_hands_over_at_once(kube_client, electors):  # noqa: F811
    a = electors("a", lease_duration=30).start()
    poll_until(lambda: a.is_leader, what="a leads")
    b = electors("b", lease_duration=30).start()
    poll_until(lambda: _holder(kube_client) == "a" and b._thread.is_alive(),
               what="b running")
    assert not b.is_leader
    a.stop(release=True)
    # The lease is 30 s long: b only gets it this quickly because a released it.
    poll_until(lambda: b.is_leader, timeout=5, what="b leads after a released")
    assert _holder(kube_client) == "b"
    assert electors.log[:2] == [("start", "a"), ("stop", "a")]
    assert ("start", "b") in electors.log


def test_dead_leader_is_replaced_after_expiry(kube_client, electors):  # noqa: F811
    a = electors("a", lease_duration=1.5).start()
    poll_until(lambda: a.is_leader, what="a leads")
    b = electors("b", lease_duration=1.5).start()
    a.stop(release=False)  # like kill -9: the lease just stops being renewed
    poll_until(lambda: b.is_leader, timeout=1.5 + 3, what="b leads after the lease expired")
    lease = client.CoordinationV1Api(kube_client).read_namespaced_lease("lease", NS)
    assert lease.spec.holder_identity == "b" and lease.spec.lease_transitions == 1


def test_events_are_aggregated(kube_client, ns, apiserver):  # noqa: F811
    core = client.CoreV1Api(kube_client)
    svc = core.create_namespaced_service(ns, {
        "metadata": {"name": "web"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    obj = kube_client.sanitize_for_serialization(svc)
    recorder = EventRecorder(kube_client, "metallb-controller", "replica-1")
    recorder.record(obj, "Warning", "AllocationFailed", "no available IPs")
    recorder.record(obj, "Warning", "AllocationFailed", "no available IPs")
    recorder.record(obj, "Normal", "IPAllocated", "Assigned IP 192.0.2.1")
    events = {e.reason: e for e in core.list_namespaced_event(ns).items}
    assert set(events) == {"AllocationFailed", "IPAllocated"}
    failed = events["AllocationFailed"]
    assert failed.count == 2 and failed.type == "Warning"
    assert failed.involved_object.name == "web" and failed.involved_object.uid == svc.metadata.uid
    assert failed.source.component == "metallb-controller"
    assert failed.reporting_instance == "replica-1"

    # A failing API is logged, never raised into the caller.
    apiserver.faults.fail_share(1.0, code=500, resources={"events"})
    recorder.record(obj, "Normal", "IPAllocated", "Assigned IP 192.0.2.2")


def test_background_recorder_records_off_thread_flushes_on_stop_and_drops_when_full(
        kube_client, ns, apiserver):  # noqa: F811
    core = client.CoreV1Api(kube_client)
    svc = core.create_namespaced_service(ns, {
        "metadata": {"name": "bulk"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    obj = kube_client.sanitize_for_serialization(svc)
    background = BackgroundEventRecorder(EventRecorder(kube_client, "metallb-speaker", "n1"))
    for i in range(20):
        background.record(obj, "Normal", "nodeAssigned", f"announcing {i}")
    background.stop()
    assert len(core.list_namespaced_event(ns).items) == 20
    assert background.dropped == 0

    apiserver.faults.add_latency(0.2, resources={"events"})
    slow = BackgroundEventRecorder(EventRecorder(kube_client, "metallb-speaker", "n1"),
                                   max_pending=2)
    for i in range(10):
        slow.record(obj, "Normal", "nodeAssigned", f"burst {i}")
    assert slow.dropped >= 7  # one in flight at most, two queued, the rest dropped
    slow.stop(timeout=10)

    # Shutting down: what is not recorded by the deadline is dropped (and counted), the
    # thread ends, nothing is written afterwards.
    stopping = BackgroundEventRecorder(EventRecorder(kube_client, "metallb-speaker", "n1"))
    for i in range(30):
        stopping.record(obj, "Normal", "nodeAssigned", f"late {i}")
    stopping.stop(timeout=0.5)
    assert not stopping._thread.is_alive()
    written = len([e for e in core.list_namespaced_event(ns).items
                   if e.message.startswith("late")])
    assert written + stopping.dropped == 30
    assert stopping.dropped >= 20


def test_background_recorder_is_rate_limited(kube_client, ns):  # noqa: F811
    core = client.CoreV1Api(kube_client)
    svc = core.create_namespaced_service(ns, {
        "metadata": {"name": "limited"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    obj = kube_client.sanitize_for_serialization(svc)
    start = time.monotonic()  # before the limiter exists: its bucket fills from then on
    limited = BackgroundEventRecorder(EventRecorder(kube_client, "metallb-speaker", "n1"),
                                      rate=20.0, burst=10)
    for i in range(200):
        limited.record(obj, "Normal", "nodeAssigned", f"limited {i}")
    poll_until(lambda: len(core.list_namespaced_event(ns).items) >= 15, 10,
               what="the burst and some refill written")
    written = len(core.list_namespaced_event(ns).items)
    elapsed = time.monotonic() - start
    # Never faster than burst + rate x time. No wall-clock bound: `elapsed` runs from before
    # the limiter was made until after `written` was read, so a slow machine only widens it.
    assert written <= 10 + 20 * elapsed + 1
    limited.stop(timeout=0.2)
    assert len(core.list_namespaced_event(ns).items) + limited.dropped == 200


def test_background_recorder_yields_to_the_daemons_work(kube_client, ns):  # noqa: F811
    """Events wait while `yield_to` says the daemon is busy (the speaker: routes not yet
    acknowledged by ExaBGP), and go out once it is not, or after `max_yield`."""
    core = client.CoreV1Api(kube_client)
    svc = core.create_namespaced_service(ns, {
        "metadata": {"name": "held"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    obj = kube_client.sanitize_for_serialization(svc)
    busy = threading.Event()
    busy.set()
    held = BackgroundEventRecorder(EventRecorder(kube_client, "metallb-speaker", "n1"),
                                   yield_to=busy.is_set, max_yield=60)
    for i in range(3):
        held.record(obj, "Normal", "nodeAssigned", f"held {i}")
    poll_until(lambda: held.yields == 1, 10, what="the recorder waiting for the work")
    assert core.list_namespaced_event(ns).items == []
    busy.clear()
    poll_until(lambda: len(core.list_namespaced_event(ns).items) == 3, 10,
               what="the held events written once the work is done")
    held.stop()

    stuck = BackgroundEventRecorder(EventRecorder(kube_client, "metallb-speaker", "n1"),
                                    yield_to=lambda: True, max_yield=0.2)
    stuck.record(obj, "Normal", "nodeAssigned", "after max_yield")
    poll_until(lambda: any(e.message == "after max_yield"
                           for e in core.list_namespaced_event(ns).items), 10,
               what="an event written although the work never ends")
    stuck.stop()
