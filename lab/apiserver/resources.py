"""The kinds the emulator serves: what discovery lists and what the store keys on.

Built-in kinds are fixed; custom kinds appear when a CustomResourceDefinition is stored
and disappear when it is deleted, as on a real cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class PrinterColumn:
    """One `additionalPrinterColumns` entry of a CRD version."""

    name: str
    type: str
    json_path: str
    priority: int = 0
    format: str = ""
    description: str = ""


@dataclass(frozen=True)
class ResourceType:
    """One served resource (a group/version/plural), as discovery describes it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    status_subresource: bool = False
    has_generation: bool = True
    custom: bool = False
    # a review kind: answered on create, never stored (SubjectAccessReview ...)
    review: bool = False
    # field selectors the real server accepts beyond metadata.name/metadata.namespace
    field_labels: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    singular: str = field(default="")
    printer_columns: tuple[PrinterColumn, ...] = ()  # custom kinds: their table columns
    scale_subresource: bool = False  # autoscaling/v1 Scale at .../NAME/scale (scale.py)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage(self) -> tuple[str, str]:
        """Where objects live: events.k8s.io Events share core Events' storage."""
        if self.group == "events.k8s.io" and self.plural == "events":
            return ("", "events")
        return (self.group, self.plural)

    @property
    def storage_identity(self) -> tuple[str, str]:
        """(apiVersion, kind) of the stored form."""
        return ("v1", "Event") if self.storage == ("", "events") else (self.api_version,
                                                                        self.kind)

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_resource(self) -> str:
        """`services` or `leases.coordination.k8s.io`, as errors name resources."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery_entries(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": ["create"] if self.review else list(ALL_VERBS),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entries = [entry]
        if self.status_subresource:
            entries.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        if self.scale_subresource:
            entries.append({"name": f"{self.plural}/scale", "singularName": "",
                            "namespaced": self.namespaced, "group": "autoscaling",
                            "version": "v1", "kind": "Scale",
                            "verbs": ["get", "patch", "update"]})
        return entries


_INVOLVED = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
_EVENT_FIELDS = (
    *(f"involvedObject.{f}" for f in _INVOLVED),
    "reason",
    "reportingComponent",
    "source",
    "type",
)

BUILTIN: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", False, ("ns",), True, False,
                 field_labels=("status.phase",)),
    ResourceType("", "v1", "Service", "services", True, ("svc",), True, False,
                 field_labels=("spec.clusterIP", "spec.type"), categories=("all",)),
    ResourceType("", "v1", "Node", "nodes", False, ("no",), True, False,
                 field_labels=("spec.unschedulable",)),
    ResourceType("", "v1", "Pod", "pods", True, ("po",), True, False,
                 field_labels=("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                               "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                               "status.podIP", "status.podIPs", "status.nominatedNodeName"),
                 categories=("all",)),
    ResourceType("", "v1", "ConfigMap", "configmaps", True, ("cm",), False, False),
    ResourceType("", "v1", "Secret", "secrets", True, (), False, False, field_labels=("type",)),
    ResourceType("", "v1", "Event", "events", True, ("ev",), False, False,
                 field_labels=_EVENT_FIELDS),
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",), False, False),
    ResourceType("", "v1", "Endpoints", "endpoints", True, ("ep",), False, False,
                 singular="endpoints"),
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True, (), False,
                 False, field_labels=("addressType",)),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", True, (), False, False),
    ResourceType("events.k8s.io", "v1", "Event", "events", True, ("ev",), False, False,
                 field_labels=("reason", "type", "reportingController", "regarding.kind",
                               "regarding.namespace", "regarding.name", "regarding.uid")),
    ResourceType("apps", "v1", "Deployment", "deployments", True, ("deploy",), True,
                 scale_subresource=True, categories=("all",)),
    ResourceType("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), True,
                 categories=("all",)),
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles", True, (), False, False),
    ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, (),
                 False, False),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, (),
                 False, False),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
                 False, (), False, False),
    ResourceType("authorization.k8s.io", "v1", "SelfSubjectAccessReview",
                 "selfsubjectaccessreviews", False, (), False, False, review=True),
    ResourceType("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews",
                 False, (), False, False, review=True),
    ResourceType("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
                 "customresourcedefinitions", False, ("crd", "crds"), True),
)

# The order /apis lists groups in (kubectl resolves short names in this order).
PREFERRED_GROUP_ORDER = (
    "apps", "events.k8s.io", "rbac.authorization.k8s.io", "apiextensions.k8s.io",
    "coordination.k8s.io", "discovery.k8s.io", "authorization.k8s.io",
)


def resource_types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    """Every served version of a CRD as a ResourceType (one per version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or spec.get("subresources") or {}
        out.append(
            ResourceType(
                group=spec.get("group", ""),
                version=version.get("name", ""),
                kind=names.get("kind", ""),
                plural=names.get("plural", ""),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                status_subresource="status" in subresources,
                has_generation=True,
                custom=True,
                categories=tuple(names.get("categories") or ()),
                singular=names.get("singular") or names.get("kind", "").lower(),
                printer_columns=tuple(
                    PrinterColumn(str(c.get("name", "")), str(c.get("type", "string")),
                                  str(c.get("jsonPath", "")), int(c.get("priority") or 0),
                                  str(c.get("format", "")), str(c.get("description", "")))
                    for c in version.get("additionalPrinterColumns") or []
                    if isinstance(c, dict)),
            )
        )
    return out
