"""The `scale` subresource (autoscaling/v1 Scale) of Deployments, which `kubectl scale`
reads and patches: a view of spec.replicas, status.replicas and the label selector, and
writes that change only spec.replicas of the parent object."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab.apiserver import errors
from lab.apiserver.patch import PatchError, json_merge_patch, json_patch, strategic_merge_patch
from lab.apiserver.store import to_view
from lab.apiserver.tables import selector_text

if TYPE_CHECKING:
    from lab.apiserver.resources import ResourceType
    from lab.apiserver.store import Store

Obj = dict[str, Any]


def view(rt: ResourceType, obj: Obj) -> Obj:
    """The Scale the real API server returns for `obj`."""
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    status = obj.get("status") or {}
    scale_meta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                       "creationTimestamp") if k in meta}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_meta,
            "spec": {"replicas": spec.get("replicas", 1)},
            "status": {"replicas": status.get("replicas", 0),
                       "selector": selector_text(spec.get("selector") or {})}}


def serve(store: Store, rt: ResourceType, verb: str, namespace: str, name: str, body: Any,
          patch_type: str | None, manager: str, dry_run: bool) -> tuple[int, Obj]:
    """get / update / patch of .../NAME/scale: (HTTP code, Scale)."""
    current = view(rt, to_view(rt, store.get(rt, namespace, name)))
    if verb == "get":
        return 200, current
    if verb == "update":
        desired = body
    elif verb == "patch":
        try:
            if patch_type == "json":
                desired = json_patch(current, body)
            elif patch_type == "merge":
                desired = json_merge_patch(current, body)
            elif patch_type == "strategic":
                desired = strategic_merge_patch("Scale", current, body)
            else:
                raise errors.unsupported_media_type(str(patch_type))
        except PatchError as exc:
            raise errors.ApiError(422, "Invalid", f"the server rejected our request due to "
                                  f"an error in our request: {exc}") from exc
    else:
        raise errors.method_not_allowed()
    replicas = ((desired or {}).get("spec") or {}).get("replicas") if isinstance(
        desired, dict) else None
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.ApiError(422, "Invalid", f'Scale.autoscaling "{name}" is invalid: '
                              f"spec.replicas: Invalid value: {replicas!r}: must be greater "
                              "than or equal to 0")
    obj = store.patch(rt, namespace, name, "merge", {"spec": {"replicas": replicas}}, manager,
                      "", dry_run)
    return 200, view(rt, to_view(rt, obj))
