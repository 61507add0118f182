"""ConfigurationState (metallb.io/v1beta1), as upstream: one object per daemon,
`controller` and `speaker-<node>`, labelled `metallb.io/component-type` (and
`metallb.io/node-name` for a speaker); status.result Valid|Invalid|Unknown,
errorSummary, and the `configReconcilerValid` condition (reason `Reconciled` or
`ConfigurationError`), whichever config source (ConfigMap or metallb.io objects) the
daemon reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metallb.status.conditions import FALSE, TRUE, UNKNOWN, Condition

KIND = "ConfigurationState"
PLURAL = "configurationstates"
COMPONENT_LABEL = "metallb.io/component-type"
NODE_LABEL = "metallb.io/node-name"
CONDITION = "configReconcilerValid"  # upstream's ConditionTypeConfigReconcilerValid
VALID, INVALID, RESULT_UNKNOWN = "Valid", "Invalid", "Unknown"
RECONCILED, CONFIGURATION_ERROR, NOT_LOADED = "Reconciled", "ConfigurationError", "NotLoaded"


@dataclass(frozen=True)
class ConfigState:
    """What a daemon's config source says now: `problem` is why the last config seen
    was not applied (None when it was); `loaded` whether any config runs."""

    loaded: bool
    problem: str | None

    @classmethod
    def of(cls, source: Any) -> ConfigState:
        """From a daemon's ConfigSource (its `current` config and `problem`)."""
        return cls(loaded=source.current is not None, problem=source.problem)


def object_name(component: str, node: str | None = None) -> str:
    return f"speaker-{node}" if component == "speaker" else component


def labels(component: str, node: str | None = None) -> dict[str, str]:
    return {COMPONENT_LABEL: component, **({NODE_LABEL: node} if node else {})}


def result_of(state: ConfigState) -> tuple[str, str, Condition]:
    """(result, errorSummary, condition) for the object's status."""
    if state.problem:
        return INVALID, state.problem, Condition(CONDITION, FALSE, CONFIGURATION_ERROR,
                                                 state.problem)
    if not state.loaded:
        return RESULT_UNKNOWN, "", Condition(CONDITION, UNKNOWN, NOT_LOADED,
                                             "no configuration loaded yet")
    return VALID, "", Condition(CONDITION, TRUE, RECONCILED, "")
