"""Field ownership for server-side apply, stored in `metadata.managedFields` (FieldsV1).

A field path is a tuple of FieldsV1 segments: `f:name` for a map key, `k:{json}` for an
element of a list merged by key, `v:json` for a member of a set-like list, and `.` for the
element itself. Apply takes ownership of what it sends, gives up what it no longer sends
(those fields are removed unless someone else owns them), and conflicts with other
managers that own a field it would change (409 unless force). Updates (PUT / patch) move
ownership of the fields they change to their manager, as the real server does.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from lab.apiserver.patch import list_strategy

Path = tuple[str, ...]

_METADATA_TRACKED = ("labels", "annotations", "finalizers", "ownerReferences")


def flatten(kind: str, obj: dict[str, Any], scope: str) -> dict[Path, Any]:
    """Leaf path -> value for the fields apply/update can own.

    scope "main" leaves out status (when the kind has a status subresource, the caller
    passes "main"), "status" keeps only status, "all" keeps everything but identity.
    """
    out: dict[Path, Any] = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "status" and scope == "main":
            continue
        if key != "status" and scope == "status" and key != "metadata":
            continue
        if key == "metadata":
            if scope == "status":
                continue
            for mkey in _METADATA_TRACKED:
                if mkey in (value or {}):
                    _walk(kind, ("metadata", mkey), ("f:metadata", f"f:{mkey}"), value[mkey], out)
            continue
        _walk(kind, (key,), (f"f:{key}",), value, out)
    return out


def _walk(kind: str, names: tuple[str, ...], path: Path, value: Any, out: dict[Path, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _walk(kind, (*names, k), (*path, f"f:{k}"), v, out)
        return
    if isinstance(value, list) and value:
        strategy, key = list_strategy(kind, names)
        if strategy == "merge" and key and all(isinstance(v, dict) and key in v for v in value):
            for item in value:
                seg = "k:" + json.dumps({key: item[key]}, separators=(",", ":"))
                out[(*path, seg, ".")] = None
                for k, v in item.items():
                    _walk(kind, (*names, k), (*path, seg, f"f:{k}"), v, out)
            return
        if strategy == "union":
            for item in value:
                out[(*path, "v:" + json.dumps(item, separators=(",", ":")))] = item
            return
    out[path] = value


def to_fields_v1(paths: set[Path] | dict[Path, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for seg in path:
            node = node.setdefault(seg, {})
    return tree


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    for seg, sub in (tree or {}).items():
        path = (*prefix, seg)
        if sub:
            paths |= from_fields_v1(sub, path)
        else:
            paths.add(path)
    return paths


def remove_path(obj: dict[str, Any], path: Path) -> None:
    """Delete the field (or list element, for paths ending in '.') at `path`, if present."""
    parent: Any = obj
    for i, seg in enumerate(path):
        last = i == len(path) - 1
        if seg == ".":
            return  # handled by the caller one level up
        if seg.startswith("f:"):
            if not isinstance(parent, dict) or seg[2:] not in parent:
                return
            if last:
                del parent[seg[2:]]
                return
            parent = parent[seg[2:]]
        elif seg.startswith(("k:", "v:")):
            if not isinstance(parent, list):
                return
            wanted = json.loads(seg[2:])
            if seg.startswith("k:"):
                idx = next((j for j, v in enumerate(parent) if isinstance(v, dict)
                            and all(v.get(k) == w for k, w in wanted.items())), None)
            else:
                idx = next((j for j, v in enumerate(parent) if v == wanted), None)
            if idx is None:
                return
            if last or path[i + 1] == ".":
                del parent[idx]
                return
            parent = parent[idx]


def prune_empty(obj: Any) -> Any:
    """Drop maps that became empty after fields were given up (keeps top-level keys)."""
    if isinstance(obj, dict):
        for k in list(obj):
            if isinstance(obj[k], dict):
                prune_empty(obj[k])
                if not obj[k]:
                    del obj[k]
    return obj


def structured_merge(kind: str, names: tuple[str, ...], current: Any, applied: Any) -> Any:
    """Merge an applied configuration into the live object (maps deep, keyed lists by key)."""
    if isinstance(current, dict) and isinstance(applied, dict):
        result = dict(current)
        for k, v in applied.items():
            result[k] = structured_merge(kind, (*names, k), current.get(k), v)
        return result
    if isinstance(current, list) and isinstance(applied, list):
        strategy, key = list_strategy(kind, names)
        if strategy == "union":
            return current + [v for v in applied if v not in current]
        if strategy == "merge" and key:
            result = [copy.deepcopy(v) for v in current]
            for item in applied:
                idx = next((i for i, v in enumerate(result)
                            if isinstance(v, dict) and v.get(key) == item.get(key)), None)
                if idx is None:
                    result.append(copy.deepcopy(item))
                else:
                    result[idx] = structured_merge(kind, names, result[idx], item)
            return result
    return copy.deepcopy(applied)


class ApplyConflict(Exception):
    def __init__(self, conflicts: list[tuple[str, Path]], api_version: str):
        self.conflicts = conflicts
        lines = [f'conflict with "{m}" using {api_version}: {render_path(p)}'
                 for m, p in conflicts]
        n = len(conflicts)
        head = f"Apply failed with {n} conflict{'s' if n != 1 else ''}: "
        super().__init__(head + "\n".join(lines) if n > 1 else head + lines[0])


def render_path(path: Path) -> str:
    return "".join(
        "." + seg[2:] if seg.startswith("f:") else f"[{seg[2:]}]" for seg in path if seg != "."
    )


def _entries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return list((obj.get("metadata") or {}).get("managedFields") or [])


def _owned(entry: dict[str, Any]) -> set[Path]:
    return from_fields_v1(entry.get("fieldsV1") or {})


def _entry(manager: str, operation: str, api_version: str, paths: set[Path], now: str,
           subresource: str) -> dict[str, Any]:
    entry = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(paths),
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def apply(kind: str, api_version: str, live: dict[str, Any] | None, applied: dict[str, Any],
          manager: str, force: bool, now: str, scope: str, subresource: str = "") -> dict:
    """Server-side apply of `applied` by `manager`; returns the new object (no metadata
    bookkeeping besides managedFields). Raises ApplyConflict."""
    applied_leaves = flatten(kind, applied, scope)
    applied_paths = set(applied_leaves)
    entries = _entries(live) if live else []
    live_leaves = flatten(kind, live, scope) if live else {}
    conflicts: list[tuple[str, Path]] = []
    others: list[tuple[dict[str, Any], set[Path]]] = []
    previously: set[Path] = set()
    for entry in entries:
        owned = _owned(entry)
        same = (entry.get("manager") == manager and entry.get("operation") == "Apply"
                and entry.get("subresource", "") == subresource)
        if same:
            previously = owned
            continue
        clash = {p for p in owned & applied_paths
                 if p in live_leaves and live_leaves[p] != applied_leaves[p]}
        conflicts.extend((entry.get("manager", ""), p) for p in sorted(clash))
        others.append((entry, owned - clash if force else owned))
    if conflicts and not force:
        raise ApplyConflict(conflicts, api_version)
    result = copy.deepcopy(live) if live else {}
    owned_by_others = set().union(*(o for _e, o in others)) if others else set()
    for path in sorted(previously - applied_paths - owned_by_others, key=len, reverse=True):
        remove_path(result, path)
    body = {k: v for k, v in applied.items() if k != "metadata"}
    result = structured_merge(kind, (), result, body)
    meta = result.setdefault("metadata", {})
    for mkey in _METADATA_TRACKED:
        if mkey in (applied.get("metadata") or {}):
            meta[mkey] = structured_merge(kind, ("metadata", mkey), meta.get(mkey),
                                          applied["metadata"][mkey])
    new_entries = [dict(e, fieldsV1=to_fields_v1(o)) for e, o in others if o]
    new_entries.append(_entry(manager, "Apply", api_version, applied_paths, now, subresource))
    meta["managedFields"] = new_entries
    return prune_empty_keep_top(result)


def prune_empty_keep_top(obj: dict[str, Any]) -> dict[str, Any]:
    for key, value in obj.items():
        if isinstance(value, dict) and key not in ("metadata",):
            prune_empty(value)
    return obj


def record_update(kind: str, api_version: str, old: dict[str, Any] | None, new: dict[str, Any],
                  manager: str, now: str, scope: str, subresource: str = "") -> None:
    """Give `manager` the fields this update set or changed; others lose them (in place)."""
    old_leaves = flatten(kind, old, scope) if old else {}
    new_leaves = flatten(kind, new, scope)
    changed = {p for p, v in new_leaves.items() if p not in old_leaves or old_leaves[p] != v}
    gone = set(old_leaves) - set(new_leaves)
    entries = _entries(old) if old else []
    out = []
    mine: set[Path] = set()
    for entry in entries:
        owned = _owned(entry)
        if (entry.get("manager") == manager and entry.get("operation") == "Update"
                and entry.get("subresource", "") == subresource):
            mine = owned - gone
            continue
        owned = owned - changed - gone
        if owned:
            out.append(dict(entry, fieldsV1=to_fields_v1(owned)))
    mine |= changed
    if mine:
        out.append(_entry(manager, "Update", api_version, mine, now, subresource))
    new.setdefault("metadata", {})["managedFields"] = out
