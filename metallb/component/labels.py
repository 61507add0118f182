"""Names and labels shared by every rendered object.

apply and delete find the component's objects by these labels alone (no local state), so
every object carries them and nothing else in a cluster may.
"""

from __future__ import annotations

NAMESPACE = "metallb-system"
CONFIGMAP_NAME = "metallb"
CONFIGMAP_KEY = "config"
CONTROLLER = "controller"
SPEAKER = "speaker"
METRICS_PORT = 7472
METRICS_PORT_NAME = "monitoring"
FIELD_MANAGER = "metallb-component"

NAME_LABEL = "app.kubernetes.io/name"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
COMPONENT_LABEL = "app.kubernetes.io/component"

COMMON_LABELS = {NAME_LABEL: "metallb", MANAGED_BY_LABEL: FIELD_MANAGER}
# A label selector string that matches every object of this component.
COMPONENT_SELECTOR = ",".join(f"{k}={v}" for k, v in COMMON_LABELS.items())


def labels(component: str) -> dict[str, str]:
    """Labels of one object: the component's common labels plus its part."""
    return {**COMMON_LABELS, COMPONENT_LABEL: component}


def pod_selector(component: str) -> dict[str, str]:
    """Labels that select the pods of controller or speaker (immutable once deployed)."""
    return {NAME_LABEL: "metallb", COMPONENT_LABEL: component}


def metadata(name: str, component: str, namespaced: bool = True,
             extra_labels: dict[str, str] | None = None) -> dict:
    meta: dict = {"name": name}
    if namespaced:
        meta["namespace"] = NAMESPACE
    meta["labels"] = {**labels(component), **(extra_labels or {})}
    return meta
