"""Settings -> the list of Kubernetes objects of the component, and their YAML stream.

Pure and deterministic: the same settings always give byte-identical YAML, which lets a
test keep deploy/metallb.yaml equal to the rendering of deploy/default.lokocfg.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from metallb.component.hcl import load_component
from metallb.component.labels import CONFIGMAP_KEY, CONFIGMAP_NAME, NAMESPACE, metadata
from metallb.component.monitoring import monitoring_objects
from metallb.component.rbac import rbac_objects
from metallb.component.settings import (
    ComponentSettings,
    legacy_config_document,
    settings_from_block,
)
from metallb.component.workloads import controller_deployment, speaker_daemonset

COMPONENT_NAME = "metallb"


def load_settings(config_path: str | Path, vars_path: str | Path | None = None
                  ) -> ComponentSettings:
    """Read and check the `component "metallb"` block (raises ConfigError)."""
    block = load_component(config_path, COMPONENT_NAME, vars_path)
    return settings_from_block(block.body, source=block.source)


def namespace_object() -> dict[str, Any]:
    meta = metadata(NAMESPACE, "namespace", namespaced=False, extra_labels={
        # The speaker uses hostNetwork, which the baseline Pod Security level forbids.
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/audit": "privileged",
        "pod-security.kubernetes.io/warn": "privileged",
    })
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def config_map(settings: ComponentSettings) -> dict[str, Any]:
    document = legacy_config_document(settings)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(CONFIGMAP_NAME, "config"),
        "data": {CONFIGMAP_KEY: yaml.safe_dump(document, sort_keys=False)},
    }


def render_objects(settings: ComponentSettings) -> list[dict[str, Any]]:
    """Every object in apply order (namespace first, workloads after what they use)."""
    objects = [namespace_object(), *rbac_objects(), config_map(settings),
               controller_deployment(settings), speaker_daemonset(settings)]
    if settings.service_monitor:
        objects.extend(monitoring_objects())
    return objects


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings, so the embedded config and dashboard stay
    readable in the manifests."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def to_yaml_stream(objects: list[dict[str, Any]]) -> str:
    return "".join(
        "---\n" + yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
        for obj in objects
    )


def render_yaml(settings: ComponentSettings) -> str:
    return to_yaml_stream(render_objects(settings))
