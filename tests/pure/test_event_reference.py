"""A queued Event keeps only what the Event says of its object, not the object."""

from __future__ import annotations

from metallb.kube.events import BackgroundEventRecorder, involved_reference
from metallb.wait import poll_until

SERVICE = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "7",
                 "managedFields": [{"manager": "x", "fieldsV1": {"f:spec": {}}}],
                 "annotations": {"a": "b" * 1000}},
    "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
    "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
}


class _Capture:
    def __init__(self) -> None:
        self.got: list[tuple] = []

    def record(self, obj, type_, reason, message) -> None:
        self.got.append((obj, type_, reason, message))


def test_the_reference_holds_what_the_event_reads_and_no_more():
    assert involved_reference(SERVICE) == {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1",
                     "resourceVersion": "7"}}
    # a missing field stays missing (the recorder's defaults apply), nothing is invented
    assert involved_reference({"metadata": {"name": "n"}}) == {"metadata": {"name": "n"}}


def test_the_background_recorder_queues_the_reference_not_the_object():
    capture = _Capture()
    background = BackgroundEventRecorder(capture)  # type: ignore[arg-type]
    try:
        background.record(SERVICE, "Normal", "IPAllocated", "Assigned IP")
        poll_until(lambda: capture.got, timeout=10, what="the event recorded")
    finally:
        background.stop()
    obj, *rest = capture.got[0]
    assert obj == involved_reference(SERVICE) and rest == ["Normal", "IPAllocated",
                                                           "Assigned IP"]
    assert "spec" not in obj and "managedFields" not in obj["metadata"]
