"""core/v1 and events.k8s.io/v1 Events are one object seen through two APIs."""

from __future__ import annotations

import json
import threading

from kubernetes import client, watch

from metallb.wait import poll_until


def test_core_event_is_visible_through_events_api(kube_client):
    core = client.CoreV1Api(kube_client)
    events = client.EventsV1Api(kube_client)
    core.create_namespaced_event("default", {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.1"},
        "involvedObject": {"kind": "Service", "name": "web", "namespace": "default"},
        "reason": "IPAllocated", "message": "Assigned IP 192.0.2.1", "type": "Normal",
        "count": 1, "source": {"component": "metallb-controller"},
        "reportingComponent": "metallb-controller",
        # events.k8s.io/v1 requires eventTime: the official client's model refuses the
        # null a real server would return for an old-style event without it
        "eventTime": "2026-01-01T00:00:00.000000Z"})
    seen = events.read_namespaced_event("web.1", "default")
    assert seen.regarding.name == "web" and seen.note == "Assigned IP 192.0.2.1"
    assert seen.deprecated_count == 1 and seen.reporting_controller == "metallb-controller"
    listed = events.list_namespaced_event("default", field_selector="regarding.name=web")
    assert [e.metadata.name for e in listed.items] == ["web.1"]


def test_events_api_write_is_visible_through_core(kube_client):
    core = client.CoreV1Api(kube_client)
    events = client.EventsV1Api(kube_client)
    rv = core.list_namespaced_event("default").metadata.resource_version
    events.create_namespaced_event("default", {
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "n.1"},
        "regarding": {"kind": "Node", "name": "n"}, "reason": "nodeAssigned",
        "note": "announcing", "type": "Normal", "action": "Announce",
        "reportingController": "metallb-speaker", "reportingInstance": "speaker-n",
        "eventTime": "2026-01-01T00:00:00.000000Z"})
    events.patch_namespaced_event("n.1", "default", {"note": "still announcing"})
    seen = core.read_namespaced_event("n.1", "default")
    assert seen.involved_object.name == "n" and seen.message == "still announcing"
    assert [e.metadata.name for e in core.list_namespaced_event(
        "default", field_selector="involvedObject.kind=Node").items] == ["n.1"]
    got = []
    w = watch.Watch()
    for event in w.stream(core.list_namespaced_event, "default", resource_version=rv,
                          timeout_seconds=5):
        got.append((event["type"], event["raw_object"]["message"]))
        if len(got) == 2:
            w.stop()
    assert got == [("ADDED", "announcing"), ("MODIFIED", "still announcing")]


def _raw_watch(apiserver, call, count: int) -> tuple[threading.Thread, list[bytes]]:
    """A watch stream read line by line in a thread, opened before this returns."""
    lines: list[bytes] = []

    def run() -> None:
        response = call(watch=True, timeout_seconds=5, _preload_content=False)
        buffered = b""
        for chunk in response.stream(1024):
            buffered += chunk
            *done, buffered = buffered.split(b"\n")
            lines.extend(done)
            if len(lines) >= count:
                break
        response.release_conn()

    before = apiserver.store.open_watch_count()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    poll_until(lambda: apiserver.store.open_watch_count() > before, what="watch open")
    return thread, lines


def test_watches_of_one_event_get_each_its_own_api_view(apiserver, kube_client):
    """The emulator serializes an event once per served version for all its watches:
    two core/v1 watches get the same line, an events.k8s.io/v1 watch its own view."""
    core = client.CoreV1Api(kube_client)
    events = client.EventsV1Api(kube_client)
    streams = [_raw_watch(apiserver, lambda **kw: core.list_namespaced_event(
        "default", **kw), 2) for _ in range(2)]
    streams.append(_raw_watch(apiserver, lambda **kw: events.list_namespaced_event(
        "default", **kw), 2))
    core.create_namespaced_event("default", {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "web.2"},
        "involvedObject": {"kind": "Service", "name": "web", "namespace": "default"},
        "reason": "IPAllocated", "message": "Assigned IP 192.0.2.2", "type": "Normal",
        "eventTime": "2026-01-01T00:00:00.000000Z"})
    core.patch_namespaced_event("web.2", "default", {"message": "Assigned IP 192.0.2.3"})
    for thread, _lines in streams:
        thread.join(10)
        assert not thread.is_alive(), "watch did not finish"
    (_, first), (_, second), (_, other) = streams
    assert first == second
    core_events = [json.loads(line) for line in first]
    assert [(e["type"], e["object"]["apiVersion"], e["object"]["message"])
            for e in core_events] == [
        ("ADDED", "v1", "Assigned IP 192.0.2.2"), ("MODIFIED", "v1", "Assigned IP 192.0.2.3")]
    api_events = [json.loads(line) for line in other]
    assert [(e["type"], e["object"]["apiVersion"], e["object"]["note"])
            for e in api_events] == [
        ("ADDED", "events.k8s.io/v1", "Assigned IP 192.0.2.2"),
        ("MODIFIED", "events.k8s.io/v1", "Assigned IP 192.0.2.3")]
