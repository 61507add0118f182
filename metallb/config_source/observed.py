"""What a daemon sees of its configuration, and which source that makes the config; pure.

Two sources can hold the config: the legacy ConfigMap and the metallb.io objects in the
MetalLB namespace. `--config-source auto` (the default) takes the objects as soon as
one exists and ignores the ConfigMap from then on; so a user migrates by applying the
converted objects and then deleting the ConfigMap, and the config never changes in
between (the objects say what the ConfigMap said).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metallb.config.crds.objects import GROUP
from metallb.config.errors import ConfigIssue

AUTO, CRDS, CONFIGMAP = "auto", "crds", "configmap"
CONFIG_SOURCES = (AUTO, CRDS, CONFIGMAP)


@dataclass(frozen=True)
class Observed:
    """One snapshot of the config inputs: the ConfigMap (None: absent or not watched),
    the metallb.io objects and the basic-auth Secrets of the namespace (each with its
    `kind` and `apiVersion` set, as the parser needs them)."""

    configmap: Mapping[str, Any] | None = None
    objects: tuple[Mapping[str, Any], ...] = ()
    secrets: tuple[Mapping[str, Any], ...] = ()

    def version(self) -> tuple[str, ...]:
        """The resourceVersions of every input, in a fixed order: equal versions mean
        the same inputs (a speaker re-parses only when this changes)."""
        return tuple(
            f"{obj.get('kind')}/{meta.get('name')}@{meta.get('resourceVersion')}"
            for obj in (self.configmap or {}, *self.objects, *self.secrets)
            for meta in (obj.get("metadata") or {},))


def chosen_source(mode: str, observed: Observed) -> str:
    """CRDS or CONFIGMAP: `mode` unless AUTO, which picks CRDS once any metallb.io object
    exists (the ConfigMap is then ignored), else CONFIGMAP."""
    if mode not in CONFIG_SOURCES:
        raise ValueError(f"config source must be one of {', '.join(CONFIG_SOURCES)}, "
                         f"got {mode!r}")
    if mode != AUTO:
        return mode
    return CRDS if observed.objects else CONFIGMAP


def is_metallb_object(obj: Mapping[str, Any]) -> bool:
    version = obj.get("apiVersion")
    return isinstance(version, str) and version.startswith(GROUP + "/")


def issues_by_object(issues: list[ConfigIssue], objects: tuple[Mapping[str, Any], ...]
                     ) -> list[tuple[Mapping[str, Any], list[ConfigIssue]]]:
    """Each object some issue names first (`BGPPeer/peer1: spec.holdTime`), with those
    issues, in the objects' order: what a Warning Event on each object says."""
    by_ref = {f"{o.get('kind')}/{(o.get('metadata') or {}).get('name')}": o for o in objects}
    found: dict[str, list[ConfigIssue]] = {}
    for issue in issues:
        ref = issue.path.split(":", 1)[0].strip()
        if ref in by_ref:
            found.setdefault(ref, []).append(issue)
    return [(obj, found[ref]) for ref, obj in by_ref.items() if ref in found]
