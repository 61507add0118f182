"""Sorting a list of Kubernetes objects into the metallb.io kinds we read, once, at the
edge: each becomes a frozen `Resource` (kind, name, labels, spec) or an issue.

Issue paths name the object and then the field, as `kubectl` users read them:
`BGPPeer/peer1: spec.holdTime`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metallb.config.issues import Issues, type_name

GROUP = "metallb.io"
# kind -> API versions served (MetalLB 0.14-0.15: BGPPeer v1beta2 stored, v1beta1 served).
CONFIG_KINDS: dict[str, tuple[str, ...]] = {
    "IPAddressPool": ("v1beta1",),
    "BGPPeer": ("v1beta1", "v1beta2"),
    "BGPAdvertisement": ("v1beta1",),
    "Community": ("v1beta1",),
    "BFDProfile": ("v1beta1",),
    "L2Advertisement": ("v1beta1",),
}
# Core kinds the config reads: basic-auth Secrets for BGPPeer.spec.passwordSecret;
# Namespaces are accepted (their labels feed namespaceSelectors at allocation time).
CORE_KINDS = ("Secret", "Namespace")
LIST_KINDS = ("List",)
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


@dataclass(frozen=True)
class Resource:
    kind: str
    api_version: str
    name: str
    namespace: str | None
    labels: tuple[tuple[str, str], ...]
    body: Mapping[str, Any] = field(repr=False)  # the whole object, as read

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    def path(self, field_path: str) -> str:
        return f"{self.ref}: {field_path}" if field_path else self.ref

    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)


def is_config_object(document: object) -> bool:
    """A metallb.io object, or a List holding one: what tells a CRD file from a legacy
    config."""
    if not isinstance(document, Mapping):
        return False
    if document.get("kind") in LIST_KINDS and isinstance(document.get("items"), list):
        return any(is_config_object(item) for item in document["items"])
    version = document.get("apiVersion")
    return isinstance(version, str) and version.startswith(GROUP + "/")


def flatten(documents: list[object], source: str = "") -> list[tuple[str, object]]:
    """(where, object) for every object, `kind: List` items unpacked; `where` names the
    document (and the file, when `source` is given) for objects that have no name."""
    out: list[tuple[str, object]] = []
    prefix = f"{source}: " if source else ""
    for number, document in enumerate(documents, start=1):
        if document is None:
            continue
        if isinstance(document, Mapping) and document.get("kind") in LIST_KINDS:
            items = document.get("items")
            for index, item in enumerate(items if isinstance(items, list) else []):
                out.append((f"{prefix}document {number}, items[{index}]", item))
        else:
            out.append((f"{prefix}document {number}", document))
    return out


def read_resources(
    objects: list[tuple[str, object]], namespace: str | None, issues: Issues
) -> list[Resource]:
    """Every object as a Resource; unknown kinds, wrong API versions, missing names and
    objects outside `namespace` (when given) are issues. Duplicates of kind and name
    are issues too: one cluster cannot hold both."""
    resources: list[Resource] = []
    seen: dict[tuple[str, str], str] = {}
    for where, obj in objects:
        resource = _read_resource(where, obj, namespace, issues)
        if resource is None:
            continue
        key = (resource.kind, resource.name)
        if key in seen:
            issues.add(resource.ref, f"is defined twice ({seen[key]} and {where})")
            continue
        seen[key] = where
        resources.append(resource)
    return resources


def _read_resource(
    where: str, obj: object, namespace: str | None, issues: Issues
) -> Resource | None:
    if not isinstance(obj, Mapping):
        issues.add(where, f"must be a Kubernetes object (a mapping), not {type_name(obj)}")
        return None
    kind, version = obj.get("kind"), obj.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(version, str):
        issues.add(where, "needs a string `kind` and `apiVersion`")
        return None
    group, _, short = version.rpartition("/")
    if kind in CONFIG_KINDS:
        if group != GROUP or short not in CONFIG_KINDS[kind]:
            allowed = ", ".join(f"{GROUP}/{v}" for v in CONFIG_KINDS[kind])
            issues.add(f"{where} ({kind})", f"apiVersion must be {allowed}", version)
            return None
    elif kind in CORE_KINDS:
        if version != "v1":
            issues.add(f"{where} ({kind})", "apiVersion must be v1", version)
            return None
    elif group == GROUP:
        known = ", ".join(CONFIG_KINDS)
        issues.add(where, f"unknown metallb.io kind for a config; known: {known}", kind)
        return None
    elif kind == "ConfigMap" and isinstance(obj.get("data"), Mapping) and "config" in obj["data"]:
        issues.add(where, "a legacy MetalLB ConfigMap among metallb.io objects: give one "
                   "format (`metallb config convert` turns the ConfigMap into objects)")
        return None
    else:  # e.g. the demo Deployment in a manifest: not ours to judge
        issues.warn(where, f"{kind} is no MetalLB config object; skipped", kind)
        return None
    meta = issues.mapping(obj.get("metadata"), f"{where} ({kind}): metadata")
    if meta is None:
        return None
    name = meta.get("name")
    if not isinstance(name, str) or not _DNS_SUBDOMAIN.fullmatch(name):
        issues.add(
            f"{where} ({kind}): metadata.name",
            "must be a DNS subdomain (lower-case letters, digits, '-', '.')",
            name if isinstance(name, str) else None,
        )
        return None
    ns = meta.get("namespace")
    if ns is not None and not isinstance(ns, str):
        issues.add(f"{kind}/{name}: metadata.namespace", "must be a string", None)
        return None
    if namespace is not None and ns not in (None, namespace) and kind != "Namespace":
        issues.add(
            f"{kind}/{name}: metadata.namespace",
            f"must be {namespace}, the MetalLB namespace (as upstream's webhook requires)",
            ns,
        )
        return None
    labels = meta.get("labels") or {}
    if not isinstance(labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        issues.add(f"{kind}/{name}: metadata.labels", "must map strings to strings")
        return None
    return Resource(kind, version, name, ns, tuple(sorted(labels.items())), obj)


def spec_of(resource: Resource, issues: Issues, allowed: tuple[str, ...],
            unsupported: Mapping[str, str] | None = None) -> Mapping[str, Any] | None:
    """The object's spec with nulls dropped (Go's omitempty), unknown keys reported."""
    raw = resource.body.get("spec")
    spec = issues.struct(raw, resource.path("spec"))
    if spec is None:
        return None
    issues.unknown_keys(spec, allowed, resource.path("spec"), unsupported)
    return spec
