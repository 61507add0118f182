"""Kubernetes conditions (metav1.Condition: type, status, reason, message,
lastTransitionTime) and the Service's `metallb.io/AddressAssigned` one.

A condition list may hold other writers' conditions: they are kept as they are, in
their place. `lastTransitionTime` changes only when the status (True/False) does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from metallb.allocator.decision import Decision

ADDRESS_ASSIGNED = "metallb.io/AddressAssigned"
TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"
MAX_MESSAGE = 32768  # metav1.Condition's message limit


@dataclass(frozen=True)
class Condition:
    """One condition without its transition time (which `merge` keeps or sets)."""

    type: str
    status: str
    reason: str
    message: str

    def as_dict(self, transition_time: str) -> dict[str, str]:
        return {"type": self.type, "status": self.status, "reason": self.reason,
                "message": self.message[:MAX_MESSAGE], "lastTransitionTime": transition_time}


def address_condition(decision: Decision) -> Condition | None:
    """The AddressAssigned condition the Service should carry after `decision`; None
    when it should carry none of ours (not a LoadBalancer Service)."""
    if not decision.ours and not decision.foreign:
        return None
    status = TRUE if decision.ours and decision.ips else FALSE
    return Condition(ADDRESS_ASSIGNED, status, decision.reason, decision.message)


def find(conditions: Any, type_: str) -> dict | None:
    """The condition of that type in a list read from the API (any shape), or None."""
    if not isinstance(conditions, list):
        return None
    for item in conditions:
        if isinstance(item, dict) and item.get("type") == type_:
            return item
    return None


def matches(conditions: Any, wanted: Condition | None, type_: str) -> bool:
    """The list already says `wanted` (None: holds no condition of `type_`)."""
    current = find(conditions, type_)
    if wanted is None:
        return current is None
    return current is not None and all(
        current.get(k) == v for k, v in (("status", wanted.status),
                                         ("reason", wanted.reason),
                                         ("message", wanted.message[:MAX_MESSAGE])))


def merge(conditions: Any, wanted: Condition | None, now: str,
          type_: str = ADDRESS_ASSIGNED) -> list[dict]:
    """`conditions` with the one of `type_` replaced by `wanted` (removed for None),
    every other condition kept as it was and where it was."""
    items: Sequence[Any] = conditions if isinstance(conditions, list) else []
    current = find(items, type_)
    kept_time = (current.get("lastTransitionTime") if current is not None and wanted
                 is not None and current.get("status") == wanted.status else None)
    result: list[dict] = []
    placed = False
    for item in items:
        if isinstance(item, dict) and item.get("type") == type_:
            if wanted is not None and not placed:
                result.append(wanted.as_dict(kept_time or now))
                placed = True
            continue
        result.append(item)
    if wanted is not None and not placed:
        result.append(wanted.as_dict(now))
    return result


def merge_patch_list(conditions: list[dict], type_: str = ADDRESS_ASSIGNED) -> list[dict]:
    """`conditions` (a whole list, as `merge` gives it) for a strategic merge patch: the
    API merges `status.conditions` by type, so a list without `type_` would leave the
    old one in place; a `$patch: delete` item removes it."""
    if any(isinstance(c, dict) and c.get("type") == type_ for c in conditions):
        return conditions
    return [*conditions, {"type": type_, "$patch": "delete"}]


def timestamp(when) -> str:
    """RFC 3339 UTC seconds, as the API writes times."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
