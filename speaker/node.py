"""This node as the planner and peer autodiscovery see it: `NodeInfo`, read once from
the Node object (its own module so both can use it without importing each other)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from speaker.objects import mapping, str_map


@dataclass(frozen=True)
class NodeInfo:
    """The Node fields announcements depend on: its labels (peer selectors, the
    exclude label), annotations (autodiscovered peers) and the NetworkUnavailable
    condition."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    network_unavailable: bool = False

    @classmethod
    def from_object(cls, node: Mapping[str, Any]) -> NodeInfo:
        meta = mapping(node.get("metadata"))
        conditions = mapping(node.get("status")).get("conditions")
        unavailable = any(
            mapping(c).get("type") == "NetworkUnavailable"
            and mapping(c).get("status") == "True"
            for c in (conditions if isinstance(conditions, list) else [])
        )
        return cls(
            name=str(meta.get("name", "")),
            labels=str_map(meta.get("labels")),
            annotations=str_map(meta.get("annotations")),
            network_unavailable=unavailable,
        )
