"""OpenAPI documents: v3 (/openapi/v3 and one per group/version) and v2 (/openapi/v2).

What kubectl uses them for: `kubectl explain` (v3: finds the schema whose
`x-kubernetes-group-version-kind` names the kind), strategic-merge patch metadata for
client-side apply (`x-kubernetes-patch-merge-key`), and the `fieldValidation` query
parameter on PATCH, which tells kubectl the server validates fields itself.

Built-in kinds' schemas come from the Kubernetes OpenAPI definitions the
`kubernetes-validate` package installs (JSON-schema flavoured: `type: [T, "null"]`,
`$defs`), rewritten into OpenAPI form; without that package, built-in kinds have empty
schemas and `kubectl explain` fails for them. Custom kinds get their CRD version's
`openAPIV3Schema`, with apiVersion, kind and metadata added as the real server does.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from lab.apiserver import openapi_protobuf
from lab.apiserver.resources import ResourceType

Schemas = dict[str, Any]
_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
# the JSON-schema spellings of types whose OpenAPI form is a plain string
_STRING_TYPES = ("io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                 "io.k8s.apimachinery.pkg.api.resource.Quantity")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


@functools.cache
def builtin_definitions(minor: str = "1.32") -> Schemas:
    """name -> JSON schema of every built-in definition ({} without kubernetes-validate)."""
    try:
        from kubernetes_validate.utils import all_versions, schema_contents
    except ImportError:
        return {}
    versions = [v for v in all_versions() if v.rsplit(".", 1)[0] <= minor] or all_versions()
    chosen = max(versions, key=lambda v: tuple(int(p) for p in v.split(".")))
    data = schema_contents(f"kubernetes-json-schema/v{chosen}-local/_definitions.json",
                           chosen)
    return data.get("$defs") or {}


def _openapi(node: Any, ref_prefix: str, v3: bool) -> Any:
    """A JSON-schema node in OpenAPI form: single types, `ref_prefix` refs (in v3 a ref
    with siblings is wrapped in allOf, as kube-apiserver writes it)."""
    if isinstance(node, list):
        return [_openapi(n, ref_prefix, v3) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi(v, ref_prefix, v3) for k, v in node.items()}
    kind = out.get("type")
    if isinstance(kind, list):
        single = [t for t in kind if t != "null"]
        if single:
            out["type"] = single[0]
        else:
            out.pop("type")
    ref = out.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        out["$ref"] = ref_prefix + name
        if v3 and len(out) > 1:
            out["allOf"] = [{"$ref": out.pop("$ref")}]
    return out


def _closure(roots: list[str], definitions: Schemas) -> list[str]:
    """The definitions `roots` reach through $ref."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in definitions:
            continue
        seen.add(name)
        text = json.dumps(definitions[name])
        todo += [part.split('"', 1)[0] for part in text.split('#/$defs/')[1:]]
    return sorted(seen)


def _builtin_name(rt: ResourceType, definitions: Schemas) -> str | None:
    for name, schema in definitions.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            if (gvk.get("group"), gvk.get("version"), gvk.get("kind")) == (
                    rt.group, rt.version, rt.kind):
                return name
    return None


def _custom_schema(rt: ResourceType, crd_schema: Any, ref_prefix: str,
                   v3: bool) -> dict[str, Any]:
    schema = dict(crd_schema) if isinstance(crd_schema, dict) else {"type": "object"}
    properties = dict(schema.get("properties") or {})
    properties.setdefault("apiVersion", {"type": "string", "description": "APIVersion "
                          "defines the versioned schema of this representation of an object."})
    properties.setdefault("kind", {"type": "string", "description": "Kind is a string value "
                          "representing the REST resource this object represents."})
    metadata = {"$ref": f"{ref_prefix}{_META}.ObjectMeta"}
    properties["metadata"] = {"allOf": [metadata]} if v3 else metadata
    schema["properties"] = properties
    schema["x-kubernetes-group-version-kind"] = [{"group": rt.group, "version": rt.version,
                                                  "kind": rt.kind}]
    return schema


def _custom_name(rt: ResourceType) -> str:
    return ".".join([*reversed(rt.group.split(".")), rt.version, rt.kind])


def schemas(types: list[ResourceType], crd_schemas: dict[tuple[str, str, str], Any],
            ref_prefix: str, v3: bool) -> Schemas:
    """The schemas of `types` and all they reference, in OpenAPI form.

    crd_schemas: (group, version, kind) -> that CRD version's openAPIV3Schema."""
    definitions = builtin_definitions()
    roots = [_builtin_name(rt, definitions) for rt in types if not rt.custom]
    if any(rt.custom for rt in types):
        roots.append(f"{_META}.ObjectMeta")
    out: Schemas = {}
    for name in _closure([r for r in roots if r], definitions):
        out[name] = {"type": "string"} if name in _STRING_TYPES else _openapi(
            definitions[name], ref_prefix, v3)
    for rt in types:
        if rt.custom:
            out[_custom_name(rt)] = _custom_schema(
                rt, crd_schemas.get((rt.group, rt.version, rt.kind)), ref_prefix, v3)
    return out


def root(types: list[ResourceType], crds: list[dict[str, Any]]) -> dict[str, Any]:
    """The v3 index. Each URL carries a hash of its document, as kube-apiserver's do:
    kubectl caches documents by URL, so a changed CRD schema must change the URL."""
    schemas_of_crds = crd_schemas(crds)
    paths = {}
    for group, version in sorted({(rt.group, rt.version) for rt in types}):
        path = _gv_path(group, version)
        doc = group_version(types, group, version, schemas_of_crds)
        digest = hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest.upper()}"}
    return {"paths": paths}


def _patch_paths(served: list[ResourceType]) -> dict[str, Any]:
    """One PATCH operation per kind, carrying the fieldValidation parameter."""
    paths = {}
    for rt in served:
        prefix = "/" + _gv_path(rt.group, rt.version)
        ns = "/namespaces/{namespace}" if rt.namespaced else ""
        paths[f"{prefix}{ns}/{rt.plural}/{{name}}"] = {"patch": {
            "operationId": f"patch{rt.kind}",
            "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version,
                                                "kind": rt.kind},
            "x-kubernetes-action": "patch",
            "parameters": [{"name": "fieldValidation", "in": "query", "type": "string",
                            "schema": {"type": "string", "uniqueItems": True}}],
            "responses": {"200": {"description": "OK"}},
        }}
    return paths


def group_version(types: list[ResourceType], group: str, version: str,
                  crd_schemas: dict[tuple[str, str, str], Any] | None = None
                  ) -> dict[str, Any] | None:
    """The v3 document of one group/version (None when nothing is served there)."""
    served = tuple(rt for rt in types if rt.group == group and rt.version == version)
    if not served:
        return None
    custom = json.dumps(sorted(((k, v) for k, v in (crd_schemas or {}).items()
                                if k[:2] == (group, version)), key=lambda kv: kv[0]))
    return _group_version(served, custom)


@functools.lru_cache(maxsize=64)
def _group_version(served: tuple[ResourceType, ...], custom: str) -> dict[str, Any]:
    """Cached by what it depends on; callers must not change the result."""
    crd_schemas = {tuple(k): v for k, v in json.loads(custom)}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": _patch_paths(list(served)), "components": {"schemas": schemas(
                list(served), crd_schemas, "#/components/schemas/", v3=True)}}


def v2(types: list[ResourceType],
       crd_schemas: dict[tuple[str, str, str], Any] | None = None) -> dict[str, Any]:
    """The single v2 (swagger) document of everything served."""
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": _patch_paths(types),
            "definitions": schemas(types, crd_schemas or {}, "#/definitions/", v3=False)}


def crd_schemas(crds: list[dict[str, Any]]) -> dict[tuple[str, str, str], Any]:
    """(group, version, kind) -> openAPIV3Schema of every version of the stored CRDs."""
    out = {}
    for crd in crds:
        spec = crd.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind", "")
        for version in spec.get("versions") or []:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            out[(spec.get("group", ""), version.get("name", ""), kind)] = schema
    return out


def serve(path: str, accept: str, types: list[ResourceType],
          crds: list[dict[str, Any]]) -> dict[str, Any] | bytes | None:
    """The document at `path` (/openapi/v2, /openapi/v3[/api/v1|/apis/G/V]); None: 404.

    v2 comes as JSON, or as gnostic protobuf (bytes) when asked for: kubectl asks for
    that one only."""
    if path == "/openapi/v2":
        doc = v2(types, crd_schemas(crds))
        return openapi_protobuf.document(doc) if "protobuf" in accept else doc
    if path == "/openapi/v3":
        return root(types, crds)
    if not path.startswith("/openapi/v3/"):
        return None
    rest = path[len("/openapi/v3/"):].split("/")
    if rest[0] == "apis" and len(rest) == 3:
        group, version = rest[1], rest[2]
    elif rest[0] == "api" and len(rest) == 2:
        group, version = "", rest[1]
    else:
        return None
    return group_version(types, group, version, crd_schemas(crds))
