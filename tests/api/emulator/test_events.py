"""core/v1 and events.k8s.io/v1 Events are one object seen through two APIs."""

from __future__ import annotations

from kubernetes import client, watch


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
