"""The emulator's state behind one lock: `Store` composes versioned storage
(storage.py), admission (admission.py) and watch history and fan-out (watch.py), and
adds the resource types and the verbs (create, update, patch, apply, delete) with their
cascades (a namespace's contents, a CRD's objects).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterator
from typing import Any

from lab.apiserver import errors, managed_fields
from lab.apiserver.admission import CRD_KEY, Admission, manager_scope, now_rfc3339
from lab.apiserver.patch import (
    PatchError,
    json_merge_patch,
    json_patch,
    strategic_merge_patch,
)
from lab.apiserver.resources import BUILTIN, ResourceType, resource_types_from_crd
from lab.apiserver.selection import FieldSelector, LabelSelector
from lab.apiserver.storage import Ident, Obj, VersionedStorage, to_storage, to_view
from lab.apiserver.watch import StoredEvent, Watcher, WatchHub
from metallb.logs import log_event

log = logging.getLogger("lab.apiserver")

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

__all__ = ["INITIAL_NAMESPACES", "Store", "Watcher", "now_rfc3339", "to_storage", "to_view"]


class Store:
    """All cluster state; every public method takes `lock` (re-entrant: verbs call verbs).

    Parts: `storage` (objects and the resourceVersion), `admission` (what a write must
    pass before it is stored), `watches` (history and open watches). A write runs
    admission, then `_commit`, which stores it under the next resourceVersion and
    publishes the event, all under the lock: so resourceVersions, the history and every
    watcher's queue share one order, and a refused write changes nothing.

    Threads: any request thread may call any public method. The lock is held for the
    whole verb, never while waiting on a client (watch streams read their queues without
    it). Nothing calls back into user code.
    """

    def __init__(self, history_limit: int = 5000, seed: int | None = None):
        self.lock = threading.RLock()
        self.storage = VersionedStorage()
        self.admission = Admission(self.storage, seed)
        self.watches = WatchHub(history_limit)
        self._builtin = {(rt.group, rt.version, rt.plural): rt for rt in BUILTIN}
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._refresh_types()
        ns_type = self._builtin[("", "v1", "namespaces")]
        for name in INITIAL_NAMESPACES:
            self.create(ns_type, "", {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": name}}, manager="emulator")

    @property
    def rv(self) -> int:
        """The resourceVersion of the last write."""
        return self.storage.rv

    @property
    def compacted_rv(self) -> int:
        """Watches from this resourceVersion or older get 410 Gone."""
        return self.watches.compacted_rv

    # ------------------------------------------------------------------ resource types

    def _refresh_types(self) -> None:
        types = dict(self._builtin)
        for crd in self.storage.values(CRD_KEY):
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
            obj = self.storage.get(rt.storage, (namespace, name))
            if obj is None:
                raise errors.not_found(rt.plural, name, rt.group)
            return obj

    def list(self, rt: ResourceType, namespace: str | None, labels: LabelSelector,
             fields: FieldSelector, limit: int = 0, continue_token: str = "",
             ) -> tuple[list[Obj], str, str]:
        """Matching objects sorted by (namespace, name), the list resourceVersion and a
        continue token when `limit` cut the list short."""
        with self.lock:
            return self.storage.select(rt.storage, namespace, labels, fields, limit,
                                       continue_token)

    def all_objects(self, group: str, plural: str) -> list[Obj]:
        with self.lock:
            return self.storage.values((group, plural))

    # ----------------------------------------------------------------------- writing

    def _commit(self, rt: ResourceType, event_type: str, obj: Obj, old: Obj | None) -> Obj:
        """Store `obj` under the next resourceVersion (or drop it for DELETED) and publish
        the event; then the consequences (types after a CRD write, cascades)."""
        deleted = event_type == "DELETED"
        rv = self.storage.write(rt.storage, obj, deleted)
        ident = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        log_event(log, "debug", "write", type=event_type, resource=rt.group_resource,
                  namespace=ident[0] or "-", name=ident[1], resourceVersion=rv)
        self.watches.publish(StoredEvent(rv, event_type, rt.storage, ident[0], obj, old))
        if rt.storage == CRD_KEY:
            self._refresh_types()
        if deleted:
            self.admission.deleted(rt, obj)
            namespace = obj["metadata"].get("namespace")
            if rt.namespaced and namespace:
                self._finish_namespace(namespace)
        return obj

    def create(self, rt: ResourceType, namespace: str, body: Any, manager: str,
               dry_run: bool = False, applied: bool = False) -> Obj:
        with self.lock:
            obj = self.admission.admit_create(rt, namespace, body, manager, applied)
            if dry_run:
                self.admission.release(rt, obj, None)
                obj["metadata"]["resourceVersion"] = ""
                return obj
            return self._commit(rt, "ADDED", obj, None)

    def update(self, rt: ResourceType, namespace: str, name: str, body: Any, manager: str,
               subresource: str = "", dry_run: bool = False) -> Obj:
        """PUT: replace the object (or only its status, for the status subresource)."""
        with self.lock:
            body = self.admission.check_body(rt, namespace, body)
            body_name = (body.get("metadata") or {}).get("name")
            if body_name != name:
                raise errors.bad_request(
                    f"the name of the object ({body_name}) does not match the name on the URL "
                    f"({name})")
            old = self.get(rt, namespace if rt.namespaced else "", name)
            return self._write(rt, old, copy.deepcopy(body), manager, subresource, dry_run)

    def _write(self, rt: ResourceType, old: Obj, new: Obj, manager: str | None,
               subresource: str, dry_run: bool) -> Obj:
        """The common end of PUT and every patch: optimistic concurrency, admission, then
        the commit (DELETED when the last finalizer of a terminating object went)."""
        wanted_rv = (new.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, old["metadata"]["name"], rt.group)
        admitted = self.admission.admit_update(rt, old, new, manager, subresource)
        if admitted is None:
            return old  # a no-op write: no new resourceVersion, no watch event
        if dry_run:
            self.admission.release(rt, admitted, old)
            return admitted
        self.admission.replaced(rt, old, admitted)
        meta = admitted["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._commit(rt, "DELETED", admitted, old)
        return self._commit(rt, "MODIFIED", admitted, old)

    def patch(self, rt: ResourceType, namespace: str, name: str, patch_type: str, patch: Any,
              manager: str, subresource: str = "", dry_run: bool = False) -> Obj:
        """patch_type: "json", "merge" or "strategic" (server-side apply: `apply`)."""
        ns = namespace if rt.namespaced else ""
        with self.lock:
            current = self.get(rt, ns, name)
            new = _patched(rt, to_view(rt, current), patch_type, patch)
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
            current = self.storage.get(rt.storage, (ns, name))
            obj = self._apply(rt, ns, name, current, body, manager, subresource, force, dry_run)
            return obj, current is None

    def _apply(self, rt: ResourceType, ns: str, name: str, current: Obj | None, body: Any,
               manager: str, subresource: str, force: bool, dry_run: bool) -> Obj:
        if not manager:
            raise errors.bad_request(
                "PATCH requests with apply content type require fieldManager")
        body = self.admission.check_body(rt, ns, body)
        if not body.get("apiVersion") or not body.get("kind"):
            raise errors.bad_request("apply configuration must set apiVersion and kind")
        body_name = (body.get("metadata") or {}).get("name")
        if body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL "
                f"({name})")
        try:
            merged = managed_fields.apply(rt.kind, rt.api_version,
                                          to_view(rt, current) if current else None, body,
                                          manager, force, now_rfc3339(),
                                          manager_scope(rt, subresource), subresource)
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

    # ----------------------------------------------------------------------- deleting

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
                return self._commit(rt, "MODIFIED", _terminating(old), old)
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
            marked = _terminating(old)
            marked.setdefault("status", {})["phase"] = "Terminating"
            marked = self._commit(rt, "MODIFIED", marked, old)
        for child_rt, ident in self._namespace_children(name):
            child = self.storage.get((child_rt.group, child_rt.plural), ident)
            if child is not None and not child["metadata"].get("deletionTimestamp"):
                self.delete(child_rt, ident[0], ident[1])
        return self._finish_namespace(name) or marked

    def _namespace_children(self, namespace: str) -> list[tuple[ResourceType, Ident]]:
        seen = {rt.storage: rt for rt in self._types.values() if rt.namespaced}
        return [(rt, ident) for key, rt in seen.items()
                for ident in self.storage.idents(key) if ident[0] == namespace]

    def _finish_namespace(self, namespace: str) -> Obj | None:
        """Remove a terminating namespace once nothing is left in it."""
        ns_rt = self._builtin[("", "v1", "namespaces")]
        ns = self.storage.get(("", "namespaces"), ("", namespace))
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return None
        if self._namespace_children(namespace):
            return None
        return self._commit(ns_rt, "DELETED", copy.deepcopy(ns), ns)

    def _delete_custom_objects(self, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        key = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        rts = resource_types_from_crd(crd)
        if not rts:
            return
        for obj in self.storage.values(key):
            self._commit(rts[0], "DELETED", copy.deepcopy(obj), obj)

    # ------------------------------------------------------------------------- watch

    def watch(self, rt: ResourceType, namespace: str | None, labels: LabelSelector,
              fields: FieldSelector, resource_version: str | None) -> Watcher:
        """Open a watch. Unset or "0" resourceVersion: ADDED for every matching object
        first; otherwise every event after exactly that version, or an ERROR 410 when
        the history no longer reaches back that far."""
        watcher = Watcher(rt.storage, namespace, labels, fields)
        with self.lock:
            return self.watches.open(watcher, resource_version,
                                     self._current(rt, namespace))

    def _current(self, rt: ResourceType, namespace: str | None) -> Iterator[StoredEvent]:
        for (ns, _name), obj in self.storage.sorted_items(rt.storage):
            if not namespace or ns == namespace:
                yield StoredEvent(self.rv, "ADDED", rt.storage, ns, obj, None)

    def bookmark(self, watcher: Watcher) -> None:
        """Queue a BOOKMARK at the current version, ordered after every queued event."""
        with self.lock:
            watcher.queue.put(("bookmark", self.rv))

    def stop_watch(self, watcher: Watcher) -> None:
        with self.lock:
            self.watches.stop(watcher)

    def cut_watches(self) -> int:
        """Close every open watch stream now (clients must re-watch)."""
        with self.lock:
            return self.watches.cut_all()

    def expire_history(self) -> None:
        """Forget the watch history: a watch from any older version now gets 410."""
        with self.lock:
            self.watches.expire(self.rv)

    def open_watch_count(self) -> int:
        with self.lock:
            return len(self.watches.watchers)


def _terminating(obj: Obj) -> Obj:
    """A copy of `obj` marked for deletion (finalizers still to run)."""
    marked = copy.deepcopy(obj)
    marked["metadata"]["deletionTimestamp"] = now_rfc3339()
    marked["metadata"]["deletionGracePeriodSeconds"] = 0
    return marked


def _patched(rt: ResourceType, current: Obj, patch_type: str, patch: Any) -> Obj:
    """`current` (as served) with the patch applied; 415/400/422 as the real server."""
    try:
        if patch_type == "json":
            new = json_patch(current, patch)
        elif patch_type == "merge":
            if not isinstance(patch, dict):
                raise PatchError("a merge patch must be a JSON object")
            new = json_merge_patch(current, patch)
        elif patch_type == "strategic":
            if rt.custom:
                raise errors.unsupported_media_type("application/strategic-merge-patch+json")
            new = strategic_merge_patch(rt.kind, current, patch)
        else:
            raise errors.bad_request(f"unknown patch type {patch_type!r}")
    except PatchError as exc:
        raise errors.ApiError(422, "Invalid", f"the server rejected our request due "
                              f"to an error in our request: {exc}") from exc
    if not isinstance(new, dict):
        raise errors.bad_request("the patch did not produce an object")
    return new
