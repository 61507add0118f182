"""Admission: the one step every write passes before it is stored, as kube-apiserver's
registry strategies and admission chain do it. Body and name checks, generateName, the
namespace's existence, server-owned metadata, kind defaults and validation (Service
allocations, Namespace, CRD, custom-resource schemas), status isolation, finalizer
rules, generation and managed fields.
"""

from __future__ import annotations

import copy
import random
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from lab.apiserver import crd_schema, defaults, errors, managed_fields, validation
from lab.apiserver.resources import ResourceType
from lab.apiserver.service_defaults import RangeFull, ServiceAllocations, prepare_service
from lab.apiserver.storage import Obj, VersionedStorage, to_storage

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SERVER_OWNED_META = ("uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation")
CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_service(rt: ResourceType) -> bool:
    return rt.kind == "Service" and rt.group == ""


def manager_scope(rt: ResourceType, subresource: str) -> str:
    """Which part of the object a manager's write owns (see managed_fields)."""
    if subresource == "status":
        return "status"
    return "main" if rt.status_subresource else "all"


class Admission:
    """Turns a request body into the object to store, or refuses it with the API error a
    real server gives. Nothing is stored here: the caller commits what comes back.

    Invariants: a refused write leaves nothing behind (a Service's cluster IPs and node
    ports allocated for it are released before the error propagates); an admitted
    object's server-owned metadata (uid, creationTimestamp, deletion fields, generation)
    comes from the server, never from the body.

    Threads: no lock of its own. `Store` calls it under its lock (it reads the stored
    namespaces and CRDs and owns the Service allocations); nothing here blocks.
    """

    def __init__(self, storage: VersionedStorage, seed: int | None = None):
        self.storage = storage
        self.allocations = ServiceAllocations()
        self._random = random.Random(seed)

    # ------------------------------------------------------------------ the body

    def check_body(self, rt: ResourceType, namespace: str, body: Any) -> Obj:
        """The body is an object of `rt`'s kind for this namespace (400 otherwise)."""
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({rt.api_version})")
        if kind and kind != rt.kind:
            raise errors.bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind}): "
                f"kind {kind!r} in the body")
        meta = body.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if rt.namespaced and (meta or {}).get("namespace") not in (None, "", namespace):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request")
        return body

    def _validate_name(self, rt: ResourceType, name: str) -> None:
        if not name:
            raise errors.invalid(rt.kind, "", [("metadata.name", "FieldValueRequired",
                                 "Required value: name or generateName is required")], rt.group)
        if rt.group == "rbac.authorization.k8s.io":
            ok = "/" not in name and "%" not in name and name not in (".", "..")
            rule = "may not contain '/' or '%'"
        elif rt.kind == "Service":
            ok, rule = bool(_DNS1035_LABEL.match(name)) and len(name) <= 63, (
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                "start with an alphabetic character, and end with an alphanumeric character")
        elif rt.kind == "Namespace":
            ok, rule = bool(_DNS1123_LABEL.match(name)) and len(name) <= 63, (
                "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-', and must start and end with an alphanumeric character")
        else:
            ok, rule = bool(_DNS1123_SUBDOMAIN.match(name)) and len(name) <= 253, (
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character")
        if not ok:
            raise errors.invalid(rt.kind, name, [("metadata.name", "FieldValueInvalid",
                                 f'Invalid value: "{name}": {rule}')], rt.group)

    def _check_namespace(self, rt: ResourceType, namespace: str) -> None:
        if not rt.namespaced:
            return
        ns = self.storage.get(("", "namespaces"), ("", namespace))
        if ns is None:
            raise errors.not_found("namespaces", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                f"unable to create new content in namespace {namespace} because it is "
                "being terminated", rt.plural, "", rt.group)

    def _generate_name(self, rt: ResourceType, namespace: str, prefix: str) -> str:
        for _ in range(100):
            suffix = "".join(self._random.choice(_GENERATE_ALPHABET) for _ in range(5))
            name = prefix[:58] + suffix
            if self.storage.get(rt.storage, (namespace if rt.namespaced else "", name)) is None:
                return name
        raise errors.already_exists(rt.plural, prefix, rt.group)

    # ------------------------------------------------------------------- writes

    def admit_create(self, rt: ResourceType, namespace: str, body: Any, manager: str,
                     applied: bool = False) -> Obj:
        """The object a create stores: named, in its namespace, with fresh server-owned
        metadata, defaulted and validated. `applied`: server-side apply already recorded
        the managed fields."""
        obj = to_storage(rt, copy.deepcopy(self.check_body(rt, namespace, body)))
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = self._generate_name(rt, namespace, meta["generateName"])
        self._validate_name(rt, meta.get("name", ""))
        self._check_namespace(rt, namespace)
        if rt.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        name = meta["name"]
        if self.storage.get(rt.storage, (namespace if rt.namespaced else "", name)) is not None:
            raise errors.already_exists(rt.plural, name, rt.group)
        for field in (*_SERVER_OWNED_META, "resourceVersion", "selfLink"):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if rt.has_generation:
            meta["generation"] = 1
        if rt.status_subresource and rt.kind not in ("Node", "Namespace"):
            obj.pop("status", None)
        self._prepare(rt, obj, None)
        if not applied:
            managed_fields.record_update(rt.kind, rt.api_version, None, obj, manager,
                                         meta["creationTimestamp"], "all")
        return obj

    def admit_update(self, rt: ResourceType, old: Obj, new: Obj, manager: str | None,
                     subresource: str) -> Obj | None:
        """The object an update (PUT, patch, apply) stores in place of `old`, or None when
        it would change nothing (no new resourceVersion, no watch event). Status
        isolation, server-owned metadata, defaults, finalizer rules, generation and
        managed fields (`manager` None: apply recorded them already)."""
        new = to_storage(rt, new)
        if subresource == "status":
            new = self._status_only(rt, old, new)
        else:
            self._keep_server_owned(rt, old, new)
            self._prepare(rt, new, old)
        if rt.has_generation and _spec_part(new) != _spec_part(old):
            new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if manager is not None:
            new["metadata"]["managedFields"] = copy.deepcopy(
                old["metadata"].get("managedFields") or [])
        if _without_managed_times(new) == _without_managed_times(old):
            return None
        if manager is not None:
            managed_fields.record_update(rt.kind, rt.api_version, old, new, manager,
                                         now_rfc3339(), manager_scope(rt, subresource),
                                         subresource)
        return new

    def _status_only(self, rt: ResourceType, old: Obj, written: Obj) -> Obj:
        """A status write: `old` with only its status replaced (and validated). A
        Service's keeps the metadata the write carries as well (labels, annotations):
        kube-apiserver's Service status strategy resets only the spec, and upstream
        MetalLB's one UpdateStatus writes its pool annotation that way."""
        status = written.get("status")
        new = copy.deepcopy(old)
        if _is_service(rt):
            new["metadata"] = copy.deepcopy(written.get("metadata") or {})
            self._keep_server_owned(rt, old, new)
        if status is None:
            new.pop("status", None)
        else:
            new["status"] = status
        if rt.custom:
            self._check_custom(rt, new)
        elif _is_service(rt):
            causes = validation.prepare_service_status(new.get("status"))
            if causes:
                raise errors.invalid(rt.kind, old["metadata"]["name"], causes)
        return new

    def _keep_server_owned(self, rt: ResourceType, old: Obj, new: Obj) -> None:
        """A main-resource write keeps identity, server-owned metadata and (with a
        status subresource) the status; a terminating object takes no new finalizer."""
        meta = new.setdefault("metadata", {})
        for field in _SERVER_OWNED_META:
            if field in old["metadata"]:
                meta[field] = old["metadata"][field]
            else:
                meta.pop(field, None)
        meta["name"] = old["metadata"]["name"]
        if rt.namespaced:
            meta["namespace"] = old["metadata"]["namespace"]
        if rt.status_subresource:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        if meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old["metadata"].get(
                "finalizers") or [])
            if added:
                raise errors.forbidden(
                    f"Forbidden: no new finalizers can be added if the object is being "
                    f"deleted, found new finalizers {sorted(added)!r}", rt.plural,
                    meta["name"], rt.group)

    # ------------------------------------------------------ allocations of Services

    def release(self, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        """Give back what admitting `obj` allocated beyond `old` (a dry run, a refusal)."""
        if _is_service(rt):
            self.allocations.release_not_in(obj.get("spec"), (old or {}).get("spec"))

    def replaced(self, rt: ResourceType, old: Obj, new: Obj) -> None:
        """`new` is stored in place of `old`: free what only `old` held."""
        if _is_service(rt):
            self.allocations.release_not_in(old.get("spec"), new.get("spec"))

    def deleted(self, rt: ResourceType, obj: Obj) -> None:
        """`obj` is gone: free everything it held."""
        if _is_service(rt):
            self.allocations.release_not_in(obj.get("spec"), None)

    # ----------------------------------------------------- kind defaults and checks

    def _prepare(self, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        """Kind-specific defaults and checks (may allocate; released again on failure)."""
        defaults.apply(rt.group, rt.kind, obj)  # defaults.py: Secret, Pod, workload defaults
        causes = validation.check_metadata(obj["metadata"]) + validation.check_kind(
            rt.kind, rt.group, obj)
        if causes:
            raise errors.invalid(rt.kind, obj["metadata"]["name"], causes, rt.group)
        if _is_service(rt):
            spec = obj.setdefault("spec", {})
            try:
                causes = prepare_service(spec, old, self.allocations)
            except RangeFull as exc:
                self.release(rt, obj, old)
                raise errors.internal(str(exc)) from None
            if causes:
                self.release(rt, obj, old)
                raise errors.invalid("Service", obj["metadata"]["name"], causes)
            obj.setdefault("status", (old or {}).get("status") or {"loadBalancer": {}})
        elif rt.kind == "Namespace" and rt.group == "":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj.setdefault("status", {}).setdefault("phase", "Active")
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = (
                obj["metadata"]["name"])
        elif rt.kind == "CustomResourceDefinition":
            _prepare_crd(obj, old)
        elif rt.custom:
            self._check_custom(rt, obj)

    def _check_custom(self, rt: ResourceType, obj: Obj) -> None:
        crd = self.storage.get(CRD_KEY, ("", f"{rt.plural}.{rt.group}"))
        schema = crd_schema.version_schema(crd or {}, rt.version)
        if schema is None:
            return
        crd_schema.prune(obj, schema, root=True)
        causes = crd_schema.validate(obj, schema)
        if causes:
            raise errors.invalid(rt.kind, obj["metadata"]["name"], causes, rt.group)


def _prepare_crd(obj: Obj, old: Obj | None) -> None:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    name = obj["metadata"]["name"]
    causes = []
    for field in ("group", "scope"):
        if not spec.get(field):
            causes.append((f"spec.{field}", "FieldValueRequired", "Required value"))
    for field in ("plural", "kind"):
        if not names.get(field):
            causes.append((f"spec.names.{field}", "FieldValueRequired", "Required value"))
    if not spec.get("versions"):
        causes.append(("spec.versions", "FieldValueRequired", "Required value"))
    if not causes and name != f"{names['plural']}.{spec['group']}":
        causes.append(("metadata.name", "FieldValueInvalid",
                       f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    if causes:
        raise errors.invalid("CustomResourceDefinition", name, causes, "apiextensions.k8s.io")
    accepted = dict(names)
    accepted.setdefault("singular", names["kind"].lower())
    accepted.setdefault("listKind", names["kind"] + "List")
    obj["status"] = {
        "acceptedNames": accepted,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now_rfc3339()},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted",
             "lastTransitionTime": now_rfc3339()},
        ],
        "storedVersions": [v["name"] for v in spec["versions"] if v.get("storage")],
    }
    # A condition that did not change keeps its lastTransitionTime, as the real server's
    # controllers do: re-applying the same CRD is then a no-op (no new resourceVersion).
    before = {c.get("type"): c for c in ((old or {}).get("status") or {}).get("conditions", [])}
    for condition in obj["status"]["conditions"]:
        previous = before.get(condition["type"])
        if previous is not None and previous.get("status") == condition["status"]:
            condition["lastTransitionTime"] = previous.get("lastTransitionTime",
                                                           condition["lastTransitionTime"])


def _spec_part(obj: Obj) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _without_managed_times(obj: Obj) -> Obj:
    """The object as a no-op check compares it: field ownership counts, timestamps not."""
    meta = dict(obj.get("metadata") or {})
    meta["managedFields"] = [{k: v for k, v in e.items() if k != "time"}
                             for e in meta.get("managedFields") or []]
    meta.pop("resourceVersion", None)
    return dict(obj, metadata=meta)
