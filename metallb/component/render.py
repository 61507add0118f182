"""Settings -> the list of Kubernetes objects of the component, and their YAML stream.

Pure and deterministic: the same settings always give byte-identical YAML, which lets a
test keep deploy/metallb.yaml equal to the rendering of deploy/default.lokocfg.
"""

from __future__ import annotations

from functools import cache
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
from metallb.config.crds.convert import convert_config
from metallb.config.parse import parse_config

COMPONENT_NAME = "metallb"
CRDS_FILE = Path(__file__).parent / "data" / "crds.yaml"  # see scripts/crds_from_upstream.py
OWN_CRDS_FILE = Path(__file__).parent / "data" / "own_crds.yaml"  # BGPSessionState


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


@cache
def _upstream_crds() -> tuple[dict[str, Any], ...]:
    return tuple(d for path in (CRDS_FILE, OWN_CRDS_FILE)
                 for d in yaml.safe_load_all(path.read_text()) if d)


# Beyond upstream's columns: `kubectl get ipaddresspools` shows the pool's usage, from the
# status the controller writes (metallb.status).
POOL_USAGE_COLUMNS = tuple(
    {"jsonPath": f".status.{field}", "name": name, "type": "integer"}
    for field, name in (("assignedIPv4", "Assigned IPv4"), ("availableIPv4", "Available IPv4"),
                        ("assignedIPv6", "Assigned IPv6"), ("availableIPv6", "Available IPv6")))


def crd_objects() -> list[dict[str, Any]]:
    """The metallb.io CustomResourceDefinitions (upstream's schemas, defaults, enums and
    printer columns; IPAddressPool also shows its usage), rendered whatever the config
    format: the daemons watch these kinds, and switching format with `apply` needs them
    in place."""
    return [{**_with_usage_columns(crd),
             "metadata": metadata(crd["metadata"]["name"], "crds", namespaced=False)}
            for crd in _upstream_crds()]


def _with_usage_columns(crd: dict[str, Any]) -> dict[str, Any]:
    if crd["spec"]["names"]["kind"] != "IPAddressPool":
        return crd
    versions = [{**v, "additionalPrinterColumns": [
        *v.get("additionalPrinterColumns", ()), *POOL_USAGE_COLUMNS]}
        for v in crd["spec"]["versions"]]
    return {**crd, "spec": {**crd["spec"], "versions": versions}}


def config_resources(settings: ComponentSettings) -> list[dict[str, Any]]:
    """The config as metallb.io objects (settings already refused what cannot convert)."""
    conversion = convert_config(parse_config(legacy_config_document(settings)), NAMESPACE)
    return [{**obj, "metadata": metadata(obj["metadata"]["name"], "config")}
            for obj in conversion.objects]


def config_objects(settings: ComponentSettings) -> list[dict[str, Any]]:
    if settings.config_format == "configmap":
        return [config_map(settings)]
    return config_resources(settings)


def render_objects(settings: ComponentSettings) -> list[dict[str, Any]]:
    """Every object in apply order (namespace and CRDs first, workloads after what they
    use)."""
    objects = [namespace_object(), *crd_objects(), *rbac_objects(), *config_objects(settings),
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
