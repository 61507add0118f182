"""LeaderElector and EventRecorder against the emulator over HTTP."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from kubernetes import client

from metallb.kube.clock import ManualClock
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


def test_dead_leader_is_replaced_after_expiry(kube_client, ns):  # noqa: F811
    clock = ManualClock()
    a, b = _stepped(kube_client, "a", clock), _stepped(kube_client, "b", clock)
    assert a.tick() and not b.tick()
    # a dies (like kill -9): the lease just stops being renewed.
    clock.advance(14.9)
    assert not b.tick()
    clock.advance(0.1)
    assert b.tick()
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


def test_background_recorder_waits_for_the_rate_limit(kube_client, ns):  # noqa: F811
    """Past the burst, the recorder waits for a token (the bucket's own arithmetic is
    tested with a stepped clock in tests/pure/test_token_bucket.py); stop() cuts the
    wait short and counts what was never written."""
    core = client.CoreV1Api(kube_client)
    svc = core.create_namespaced_service(ns, {
        "metadata": {"name": "limited"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    obj = kube_client.sanitize_for_serialization(svc)
    limited = BackgroundEventRecorder(EventRecorder(kube_client, "metallb-speaker", "n1"),
                                      rate=0.001, burst=3)
    for i in range(5):
        limited.record(obj, "Normal", "nodeAssigned", f"limited {i}")
    poll_until(lambda: limited.throttled == 1, 10, what="the recorder waiting for a token")
    assert len(core.list_namespaced_event(ns).items) == 3  # the burst, no more
    limited.stop(timeout=0.2)
    assert len(core.list_namespaced_event(ns).items) + limited.dropped == 5


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


# -- expiry is judged on this replica's monotonic clock, never by the holder's renewTime


def _plant_lease(kube_client, holder: str, renew: datetime, duration: int = 15):  # noqa: F811
    stamp = renew.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    client.CoordinationV1Api(kube_client).create_namespaced_lease(NS, {
        "metadata": {"name": "lease"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration,
                 "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0}})


def _stepped(kube_client, identity: str, clock: ManualClock) -> LeaderElector:  # noqa: F811
    return LeaderElector(kube_client, NS, "lease", identity, lease_duration=15,
                         renew_deadline=10, retry_period=2, clock=clock)


@pytest.mark.parametrize("renew_year", [2000, 2100])
def test_a_standby_waits_a_full_lease_from_when_it_saw_the_record_whatever_renewtime_says(
        kube_client, ns, renew_year):  # noqa: F811
    """A holder whose renewTime is far in the past (its clock is behind) keeps the lease
    for a whole duration; one whose renewTime is far ahead loses it after one."""
    _plant_lease(kube_client, "holder", datetime(renew_year, 1, 1, tzinfo=UTC))
    clock = ManualClock()
    standby = _stepped(kube_client, "standby", clock)
    assert not standby.tick()  # first sight of the record: the countdown starts now
    clock.advance(14)
    assert not standby.tick()
    clock.advance(1)
    assert standby.tick()
    assert _holder(kube_client) == "standby"


def test_a_holder_that_keeps_renewing_keeps_the_lease_though_its_clock_is_behind(
        kube_client, ns):  # noqa: F811
    holder_clock = ManualClock(wall=datetime(2001, 1, 1, tzinfo=UTC))
    holder = _stepped(kube_client, "holder", holder_clock)
    clock = ManualClock()
    standby = _stepped(kube_client, "standby", clock)
    assert holder.tick()
    for _ in range(20):  # 40 s of standby time, the holder renewing every 2 s
        clock.advance(2)
        holder_clock.advance(2)
        assert holder.tick()
        assert not standby.tick()
    assert _holder(kube_client) == "holder"


def test_a_leader_that_cannot_renew_gives_up_after_the_renew_deadline(
        kube_client, ns, apiserver):  # noqa: F811
    clock = ManualClock()
    leader = _stepped(kube_client, "leader", clock)
    assert leader.tick()
    apiserver.faults.fail_share(1.0, code=500, resources={"leases"})
    clock.advance(10)
    assert leader.tick()  # exactly at the deadline: still leading
    clock.advance(0.5)
    assert not leader.tick()


@pytest.mark.parametrize(("duration", "deadline", "retry", "fragment"), [
    (10, 10, 2, "lease_duration"),
    (5, 10, 2, "lease_duration"),
    (15, 2, 2, "renew_deadline"),
    (15, 10, 0, "retry_period"),
])
def test_impossible_election_timings_are_refused(duration, deadline, retry, fragment):
    with pytest.raises(ValueError, match=fragment):
        LeaderElector(client.ApiClient(), NS, "lease", "me", lease_duration=duration,
                      renew_deadline=deadline, retry_period=retry)
