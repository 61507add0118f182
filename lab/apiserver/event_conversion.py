"""core/v1 Event and events.k8s.io/v1 Event are one stored object seen through two
APIs, as on a real cluster: the emulator stores the core form and converts the
events.k8s.io view on the way in and out (same field mapping as Kubernetes'
pkg/apis/events/v1 conversion)."""

from __future__ import annotations

from typing import Any

# events.k8s.io/v1 name -> core/v1 name (fields with the same name are not listed)
_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_BACK = {v: k for k, v in _RENAMES.items()}


def to_core(obj: dict[str, Any]) -> dict[str, Any]:
    out = {_RENAMES.get(k, k): v for k, v in obj.items()}
    out["apiVersion"], out["kind"] = "v1", "Event"
    return out


def to_events_v1(obj: dict[str, Any]) -> dict[str, Any]:
    out = {_BACK.get(k, k): v for k, v in obj.items()}
    out["apiVersion"], out["kind"] = "events.k8s.io/v1", "Event"
    return out


def core_field(path: str) -> str:
    """An events.k8s.io field selector path in core terms (regarding.name -> ...)."""
    head, dot, rest = path.partition(".")
    return _RENAMES.get(head, head) + dot + rest
