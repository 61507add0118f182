"""A minimal OpenAPI v3 index, only so kubectl can tell that the server validates fields
itself (`fieldValidation` on PATCH) and skips downloading a full schema for client-side
validation. Schemas are empty: kubectl then computes apply patches from its compiled-in
types (built-in kinds) or as JSON merge patches (custom kinds), as it does for any
server without schemas."""

from __future__ import annotations

from typing import Any

from lab.apiserver.resources import ResourceType


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def root(types: list[ResourceType]) -> dict[str, Any]:
    paths = {}
    for group, version in sorted({(rt.group, rt.version) for rt in types}):
        path = _gv_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash=0"}
    return {"paths": paths}


def group_version(types: list[ResourceType], group: str, version: str) -> dict[str, Any] | None:
    served = [rt for rt in types if rt.group == group and rt.version == version]
    if not served:
        return None
    paths = {}
    for rt in served:
        prefix = "/" + _gv_path(group, version)
        ns = "/namespaces/{namespace}" if rt.namespaced else ""
        paths[f"{prefix}{ns}/{rt.plural}/{{name}}"] = {"patch": {
            "operationId": f"patch{rt.kind}",
            "x-kubernetes-group-version-kind": {"group": group, "version": version,
                                                "kind": rt.kind},
            "x-kubernetes-action": "patch",
            "parameters": [{"name": "fieldValidation", "in": "query",
                            "schema": {"type": "string", "uniqueItems": True}}],
            "responses": {"200": {"description": "OK"}},
        }}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": {}}}
