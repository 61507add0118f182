"""The object store: every object, the global resourceVersion, the watch history and the
open watches, behind one lock.

Stored objects are never mutated after a write (each write stores a fresh dict), so the
HTTP layer can serialize them without copying. Writes fan out to watchers inside the lock,
which is what keeps each watcher's events in resourceVersion order.
"""

from __future__ import annotations

import base64
import collections
import copy
import json
import logging
import queue
import random
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lab.apiserver import (
    crd_schema,
    errors,
    event_conversion,
    managed_fields,
    validation,
)
from lab.apiserver.patch import (
    PatchError,
    json_merge_patch,
    json_patch,
    strategic_merge_patch,
)
from lab.apiserver.resources import BUILTIN, ResourceType, resource_types_from_crd
from lab.apiserver.selection import FieldSelector, LabelSelector
from lab.apiserver.service_defaults import (
    RangeFull,
    ServiceAllocations,
    prepare_service,
)

log = logging.getLogger("lab.apiserver")

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SERVER_OWNED_META = ("uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation")

Key = tuple[str, str]  # (group, plural)
Obj = dict[str, Any]


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StoredEvent:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    key: Key
    namespace: str
    obj: Obj
    old: Obj | None


class Watcher:
    """One open watch. Items on `queue`: ("event", type, obj), ("bookmark", rv),
    ("error", status dict) and ("close",)."""

    def __init__(self, key: Key, namespace: str | None, labels: LabelSelector,
                 fields: FieldSelector):
        self.key = key
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.queue: queue.Queue = queue.Queue()

    def _matches(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        if self.namespace and meta.get("namespace") != self.namespace:
            return False
        return self.labels.matches(meta.get("labels")) and self.fields.matches(obj)

    def offer(self, event: StoredEvent) -> None:
        """Queue the event as this watcher sees it through its selectors: an object that
        starts matching is ADDED, one that stops matching is DELETED."""
        now = self._matches(event.obj)
        before = self._matches(event.old) if event.type == "MODIFIED" else now
        if event.type == "MODIFIED":
            if now and not before:
                self.queue.put(("event", "ADDED", event.obj))
            elif before and not now:
                self.queue.put(("event", "DELETED", event.obj))
            elif now:
                self.queue.put(("event", "MODIFIED", event.obj))
        elif now:
            self.queue.put(("event", event.type, event.obj))


class Store:
    """All cluster state. Every public method takes the lock."""

    def __init__(self, history_limit: int = 5000, seed: int | None = None):
        self.lock = threading.RLock()
        self.rv = 1
        self.history: collections.deque[StoredEvent] = collections.deque()
        self.history_limit = history_limit
        self.compacted_rv = 0  # events with rv <= this are no longer in history
        self.objects: dict[Key, dict[tuple[str, str], Obj]] = collections.defaultdict(dict)
        self.watchers: set[Watcher] = set()
        self.allocations = ServiceAllocations()
        self._random = random.Random(seed)
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._builtin = {(rt.group, rt.version, rt.plural): rt for rt in BUILTIN}
        self._refresh_types()
        for name in INITIAL_NAMESPACES:
            ns_type = self._builtin[("", "v1", "namespaces")]
            self.create(ns_type, "", {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": name}}, manager="emulator")

    # ------------------------------------------------------------------ resource types

    def _refresh_types(self) -> None:
        types = dict(self._builtin)
        for crd in self.objects[("apiextensions.k8s.io", "customresourcedefinitions")].values():
            for rt in resource_types_from_crd(crd):
                types[(rt.group, rt.version, rt.plural)] = rt
        self._types = types

    def types(self) -> list[ResourceType]:
        with self.lock:
            return list(self._types.values())

    def resource_type(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self.lock:
            return self._types.get((group, version, plural))

    # ------------------------------------------------------------------------ reading

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        with self.lock:
            obj = self.objects[rt.storage].get((namespace, name))
            if obj is None:
                raise errors.not_found(rt.plural, name, rt.group)
            return obj

    def list(self, rt: ResourceType, namespace: str | None, labels: LabelSelector,
             fields: FieldSelector, limit: int = 0, continue_token: str = "",
             ) -> tuple[list[Obj], str, str]:
        """Matching objects sorted by (namespace, name), the list resourceVersion and a
        continue token when `limit` cut the list short."""
        with self.lock:
            start = _decode_continue(continue_token) if continue_token else None
            items = []
            for (ns, name), obj in sorted(self.objects[rt.storage].items()):
                if namespace and ns != namespace:
                    continue
                if start is not None and (ns, name) <= start:
                    continue
                meta = obj["metadata"]
                if labels.matches(meta.get("labels")) and fields.matches(obj):
                    items.append(obj)
                    if limit and len(items) > limit:
                        break
            token = ""
            if limit and len(items) > limit:
                items = items[:limit]
                last = items[-1]["metadata"]
                token = _encode_continue(last.get("namespace", ""), last["name"])
            return items, str(self.rv), token

    def all_objects(self, group: str, plural: str) -> list[Obj]:
        with self.lock:
            return list(self.objects[(group, plural)].values())

    # ----------------------------------------------------------------------- writing

    def _commit(self, rt: ResourceType, event_type: str, obj: Obj, old: Obj | None) -> Obj:
        """Give `obj` the next resourceVersion, store it (or drop it for DELETED), record
        the event and hand it to every watcher of this resource."""
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        key = rt.storage
        ident = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if event_type == "DELETED":
            self.objects[key].pop(ident, None)
        else:
            self.objects[key][ident] = obj
        event = StoredEvent(self.rv, event_type, key, ident[0], obj, old)
        log.debug("event=write type=%s resource=%s namespace=%s name=%s resourceVersion=%d",
                  event_type, rt.group_resource, ident[0] or "-", ident[1], self.rv)
        self.history.append(event)
        while len(self.history) > self.history_limit:
            self.compacted_rv = self.history.popleft().rv
        for watcher in self.watchers:
            if watcher.key == key:
                watcher.offer(event)
        if key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._refresh_types()
        if event_type == "DELETED":
            self._after_delete(rt, obj)
        return obj

    def _check_namespace(self, rt: ResourceType, namespace: str) -> None:
        if not rt.namespaced:
            return
        ns = self.objects[("", "namespaces")].get(("", namespace))
        if ns is None:
            raise errors.not_found("namespaces", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                f"unable to create new content in namespace {namespace} because it is "
                "being terminated", rt.plural, "", rt.group)

    def _check_body(self, rt: ResourceType, namespace: str, body: Any) -> Obj:
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

    def create(self, rt: ResourceType, namespace: str, body: Any, manager: str,
               dry_run: bool = False, applied: bool = False) -> Obj:
        with self.lock:
            obj = to_storage(rt, copy.deepcopy(self._check_body(rt, namespace, body)))
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
            if (namespace if rt.namespaced else "", name) in self.objects[rt.storage]:
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
            if dry_run:
                self._release_new(rt, obj, None)
                meta["resourceVersion"] = ""
                return obj
            return self._commit(rt, "ADDED", obj, None)

    def _generate_name(self, rt: ResourceType, namespace: str, prefix: str) -> str:
        existing = self.objects[rt.storage]
        for _ in range(100):
            suffix = "".join(self._random.choice(_GENERATE_ALPHABET) for _ in range(5))
            name = prefix[:58] + suffix
            if (namespace if rt.namespaced else "", name) not in existing:
                return name
        raise errors.already_exists(rt.plural, prefix, rt.group)

    def _prepare(self, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        """Kind-specific defaults and checks (may allocate; released again on failure)."""
        causes = validation.check_metadata(obj["metadata"]) + validation.check_kind(
            rt.kind, rt.group, obj)
        if causes:
            raise errors.invalid(rt.kind, obj["metadata"]["name"], causes, rt.group)
        if rt.kind == "Service" and rt.group == "":
            spec = obj.setdefault("spec", {})
            try:
                causes = prepare_service(spec, old, self.allocations)
            except RangeFull as exc:
                self._release_new(rt, obj, old)
                raise errors.internal(str(exc)) from None
            if causes:
                self._release_new(rt, obj, old)
                raise errors.invalid("Service", obj["metadata"]["name"], causes)
            obj.setdefault("status", (old or {}).get("status") or {"loadBalancer": {}})
        elif rt.kind == "Namespace" and rt.group == "":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj.setdefault("status", {}).setdefault("phase", "Active")
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = (
                obj["metadata"]["name"])
        elif rt.kind == "CustomResourceDefinition":
            self._prepare_crd(obj)
        elif rt.custom:
            self._check_custom(rt, obj)

    def _check_custom(self, rt: ResourceType, obj: Obj) -> None:
        crd = self.objects[("apiextensions.k8s.io", "customresourcedefinitions")].get(
            ("", f"{rt.plural}.{rt.group}"))
        schema = crd_schema.version_schema(crd or {}, rt.version)
        if schema is None:
            return
        crd_schema.prune(obj, schema, root=True)
        causes = crd_schema.validate(obj, schema)
        if causes:
            raise errors.invalid(rt.kind, obj["metadata"]["name"], causes, rt.group)

    def _release_new(self, rt: ResourceType, obj: Obj, old: Obj | None) -> None:
        if rt.kind == "Service" and rt.group == "":
            self.allocations.release_not_in(obj.get("spec"), (old or {}).get("spec"))

    def _prepare_crd(self, obj: Obj) -> None:
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
            raise errors.invalid("CustomResourceDefinition", name, causes,
                                 "apiextensions.k8s.io")
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

    def update(self, rt: ResourceType, namespace: str, name: str, body: Any, manager: str,
               subresource: str = "", dry_run: bool = False) -> Obj:
        """PUT: replace the object (or only its status, for the status subresource)."""
        with self.lock:
            body = self._check_body(rt, namespace, body)
            body_name = (body.get("metadata") or {}).get("name")
            if body_name != name:
                raise errors.bad_request(
                    f"the name of the object ({body_name}) does not match the name on the URL "
                    f"({name})")
            old = self.get(rt, namespace if rt.namespaced else "", name)
            return self._write(rt, old, copy.deepcopy(body), manager, subresource, dry_run)

    def _write(self, rt: ResourceType, old: Obj, new: Obj, manager: str | None,
               subresource: str, dry_run: bool) -> Obj:
        """The common end of PUT and every patch: optimistic concurrency, status
        isolation, server-owned metadata, defaults, generation, finalizers, no-op skip."""
        name = old["metadata"]["name"]
        wanted_rv = (new.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, name, rt.group)
        new = to_storage(rt, new)
        if subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            if rt.custom:
                self._check_custom(rt, new)
            elif rt.kind == "Service" and rt.group == "":
                causes = validation.prepare_service_status(new.get("status"))
                if causes:
                    raise errors.invalid(rt.kind, name, causes)
        else:
            meta = new.setdefault("metadata", {})
            for field in _SERVER_OWNED_META:
                if field in old["metadata"]:
                    meta[field] = old["metadata"][field]
                else:
                    meta.pop(field, None)
            meta["name"] = name
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
                        f"deleted, found new finalizers {sorted(added)!r}", rt.plural, name,
                        rt.group)
            self._prepare(rt, new, old)
        if rt.has_generation and _spec_part(new) != _spec_part(old):
            new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if manager is not None:
            new["metadata"]["managedFields"] = copy.deepcopy(
                old["metadata"].get("managedFields") or [])
        if _without_managed_times(new) == _without_managed_times(old):
            return old  # a no-op write: no new resourceVersion, no watch event
        if manager is not None:
            scope = "status" if subresource == "status" else (
                "main" if rt.status_subresource else "all")
            managed_fields.record_update(rt.kind, rt.api_version, old, new, manager,
                                         now_rfc3339(), scope, subresource)
        if dry_run:
            self._release_new(rt, new, old)
            return new
        if rt.kind == "Service" and rt.group == "":
            self.allocations.release_not_in(old.get("spec"), new.get("spec"))
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            return self._commit(rt, "DELETED", new, old)
        return self._commit(rt, "MODIFIED", new, old)

    def patch(self, rt: ResourceType, namespace: str, name: str, patch_type: str, patch: Any,
              manager: str, subresource: str = "", dry_run: bool = False) -> Obj:
        """patch_type: "json", "merge" or "strategic" (server-side apply: `apply`)."""
        ns = namespace if rt.namespaced else ""
        with self.lock:
            current = self.objects[rt.storage].get((ns, name))
            if current is None:
                raise errors.not_found(rt.plural, name, rt.group)
            current_view = to_view(rt, current)
            try:
                if patch_type == "json":
                    new = json_patch(current_view, patch)
                elif patch_type == "merge":
                    if not isinstance(patch, dict):
                        raise PatchError("a merge patch must be a JSON object")
                    new = json_merge_patch(current_view, patch)
                elif patch_type == "strategic":
                    if rt.custom:
                        raise errors.unsupported_media_type(
                            "application/strategic-merge-patch+json")
                    new = strategic_merge_patch(rt.kind, current_view, patch)
                else:
                    raise errors.bad_request(f"unknown patch type {patch_type!r}")
            except PatchError as exc:
                raise errors.ApiError(422, "Invalid", f"the server rejected our request due "
                                      f"to an error in our request: {exc}") from exc
            if not isinstance(new, dict):
                raise errors.bad_request("the patch did not produce an object")
            new_meta = new.get("metadata") or {}
            if new_meta.get("name") != name or (rt.namespaced and new_meta.get("namespace")
                                                != ns):
                raise errors.bad_request("a patch may not change metadata.name or namespace")
            if new.get("apiVersion") != rt.api_version or new.get("kind") != rt.kind:
                raise errors.bad_request("a patch may not change apiVersion or kind")
            return self._write(rt, current, new, manager, subresource, dry_run)

    def apply(self, rt: ResourceType, namespace: str, name: str, body: Any, manager: str,
              subresource: str = "", force: bool = False, dry_run: bool = False,
              ) -> tuple[Obj, bool]:
        """Server-side apply; returns the object and whether it was created."""
        ns = namespace if rt.namespaced else ""
        with self.lock:
            current = self.objects[rt.storage].get((ns, name))
            obj = self._apply(rt, ns, name, current, body, manager, subresource, force, dry_run)
            return obj, current is None

    def _apply(self, rt: ResourceType, ns: str, name: str, current: Obj | None, body: Any,
               manager: str, subresource: str, force: bool, dry_run: bool) -> Obj:
        if not manager:
            raise errors.bad_request(
                "PATCH requests with apply content type require fieldManager")
        body = self._check_body(rt, ns, body)
        if not body.get("apiVersion") or not body.get("kind"):
            raise errors.bad_request("apply configuration must set apiVersion and kind")
        body_name = (body.get("metadata") or {}).get("name")
        if body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL "
                f"({name})")
        scope = "status" if subresource == "status" else (
            "main" if rt.status_subresource else "all")
        now = now_rfc3339()
        try:
            merged = managed_fields.apply(rt.kind, rt.api_version,
                                          to_view(rt, current) if current else None, body,
                                          manager,
                                          force, now, scope, subresource)
        except managed_fields.ApplyConflict as exc:
            raise errors.ApiError(409, "Conflict", str(exc), {
                "causes": [{"reason": "FieldManagerConflict",
                            "message": f'conflict with "{m}"',
                            "field": managed_fields.render_path(p)}
                           for m, p in exc.conflicts]}) from exc
        if current is None:
            if subresource:
                raise errors.not_found(rt.plural, name, rt.group)
            merged.setdefault("metadata", {})["name"] = name
            return self.create(rt, ns, merged, manager, dry_run, applied=True)
        merged = to_storage(rt, merged)
        merged["metadata"]["resourceVersion"] = (body.get("metadata") or {}).get(
            "resourceVersion") or current["metadata"]["resourceVersion"]
        return self._write(rt, current, merged, None, subresource, dry_run)

    def delete(self, rt: ResourceType, namespace: str, name: str,
               preconditions: dict[str, Any] | None = None, dry_run: bool = False) -> Obj:
        """Remove the object, or mark it (deletionTimestamp) while finalizers remain."""
        ns = namespace if rt.namespaced else ""
        with self.lock:
            old = self.get(rt, ns, name)
            pre = preconditions or {}
            if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
                raise errors.conflict(rt.plural, name, rt.group,
                                      f"Precondition failed: UID in precondition: {pre['uid']}, "
                                      f"UID in object meta: {old['metadata']['uid']}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"][
                    "resourceVersion"]:
                raise errors.conflict(rt.plural, name, rt.group)
            if dry_run:
                return old
            if rt.kind == "Namespace" and rt.group == "":
                return self._delete_namespace(rt, old)
            if rt.kind == "CustomResourceDefinition":
                self._delete_custom_objects(old)
            if old["metadata"].get("finalizers"):
                if old["metadata"].get("deletionTimestamp"):
                    return old
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                return self._commit(rt, "MODIFIED", new, old)
            return self._commit(rt, "DELETED", copy.deepcopy(old), old)

    def delete_collection(self, rt: ResourceType, namespace: str | None,
                          labels: LabelSelector, fields: FieldSelector) -> list[Obj]:
        with self.lock:
            items, _rv, _token = self.list(rt, namespace, labels, fields)
            return [self.delete(rt, o["metadata"].get("namespace", ""), o["metadata"]["name"])
                    for o in items]

    def _delete_namespace(self, rt: ResourceType, old: Obj) -> Obj:
        name = old["metadata"]["name"]
        marked = old
        if not old["metadata"].get("deletionTimestamp"):
            marked = copy.deepcopy(old)
            marked["metadata"]["deletionTimestamp"] = now_rfc3339()
            marked["metadata"]["deletionGracePeriodSeconds"] = 0
            marked.setdefault("status", {})["phase"] = "Terminating"
            marked = self._commit(rt, "MODIFIED", marked, old)
        for child_rt, ident in self._namespace_children(name):
            child = self.objects[(child_rt.group, child_rt.plural)].get(ident)
            if child is not None and not child["metadata"].get("deletionTimestamp"):
                self.delete(child_rt, ident[0], ident[1])
        return self._finish_namespace(name) or marked

    def _namespace_children(self, namespace: str) -> list[tuple[ResourceType, tuple[str, str]]]:
        seen = {}
        for rt in self._types.values():
            if rt.namespaced:
                seen[rt.storage] = rt
        return [(rt, ident) for key, rt in seen.items()
                for ident in list(self.objects[key]) if ident[0] == namespace]

    def _finish_namespace(self, namespace: str) -> Obj | None:
        """Remove a terminating namespace once nothing is left in it."""
        ns_rt = self._builtin[("", "v1", "namespaces")]
        ns = self.objects[("", "namespaces")].get(("", namespace))
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return None
        if self._namespace_children(namespace):
            return None
        return self._commit(ns_rt, "DELETED", copy.deepcopy(ns), ns)

    def _after_delete(self, rt: ResourceType, obj: Obj) -> None:
        if rt.kind == "Service" and rt.group == "":
            self.allocations.release_not_in(obj.get("spec"), None)
        namespace = obj["metadata"].get("namespace")
        if rt.namespaced and namespace:
            self._finish_namespace(namespace)

    def _delete_custom_objects(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        key = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        rts = resource_types_from_crd(crd)
        if not rts:
            return
        for obj in list(self.objects[key].values()):
            self._commit(rts[0], "DELETED", copy.deepcopy(obj), obj)

    # ------------------------------------------------------------------------- watch

    def watch(self, rt: ResourceType, namespace: str | None, labels: LabelSelector,
              fields: FieldSelector, resource_version: str | None) -> Watcher:
        """Open a watch. Unset or "0" resourceVersion: ADDED for every matching object
        first; otherwise every event after exactly that version, or an ERROR 410 when
        the history no longer reaches back that far."""
        key = rt.storage
        watcher = Watcher(key, namespace, labels, fields)
        with self.lock:
            if resource_version in (None, "", "0"):
                for (ns, _name), obj in sorted(self.objects[key].items()):
                    if not namespace or ns == namespace:
                        watcher.offer(StoredEvent(self.rv, "ADDED", key, ns, obj, None))
            else:
                try:
                    since = int(resource_version)
                except ValueError:
                    raise errors.bad_request(
                        f"invalid resource version: {resource_version!r}") from None
                if since < self.compacted_rv:
                    watcher.queue.put(("error", errors.gone(
                        f"too old resource version: {since} ({self.compacted_rv + 1})"
                    ).status()))
                    watcher.queue.put(("close",))
                    return watcher
                for event in self.history:
                    if event.rv > since and event.key == key:
                        watcher.offer(event)
            self.watchers.add(watcher)
            return watcher

    def bookmark(self, watcher: Watcher) -> None:
        """Queue a BOOKMARK at the current version, ordered after every queued event."""
        with self.lock:
            watcher.queue.put(("bookmark", self.rv))

    def stop_watch(self, watcher: Watcher) -> None:
        with self.lock:
            self.watchers.discard(watcher)

    def cut_watches(self) -> int:
        """Close every open watch stream now (clients must re-watch)."""
        with self.lock:
            for watcher in self.watchers:
                watcher.queue.put(("close",))
            count = len(self.watchers)
            self.watchers.clear()
            return count

    def expire_history(self) -> None:
        """Forget the watch history: a watch from any older version now gets 410."""
        with self.lock:
            self.history.clear()
            self.compacted_rv = self.rv

    def open_watch_count(self) -> int:
        with self.lock:
            return len(self.watchers)


def to_storage(rt: ResourceType, obj: Obj) -> Obj:
    """The stored form of an object written through `rt` (see event_conversion)."""
    if rt.storage_identity != (rt.api_version, rt.kind):
        obj = event_conversion.to_core(obj)
    obj["apiVersion"], obj["kind"] = rt.storage_identity
    return obj


def to_view(rt: ResourceType, obj: Obj) -> Obj:
    """A stored object as `rt` serves it (custom kinds: the requested version)."""
    if rt.storage_identity != (rt.api_version, rt.kind):
        return event_conversion.to_events_v1(obj)
    if obj.get("apiVersion") != rt.api_version:
        return dict(obj, apiVersion=rt.api_version)
    return obj


def _spec_part(obj: Obj) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _without_managed_times(obj: Obj) -> Obj:
    """The object as a no-op check compares it: field ownership counts, timestamps not."""
    meta = dict(obj.get("metadata") or {})
    meta["managedFields"] = [{k: v for k, v in e.items() if k != "time"}
                             for e in meta.get("managedFields") or []]
    meta.pop("resourceVersion", None)
    return dict(obj, metadata=meta)


def _encode_continue(namespace: str, name: str) -> str:
    raw = json.dumps({"ns": namespace, "name": name}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return data["ns"], data["name"]
    except (ValueError, KeyError, TypeError):
        raise errors.bad_request(f"invalid continue token {token!r}") from None
