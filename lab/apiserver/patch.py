"""JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

Pure functions over plain JSON values. Strategic merge needs to know, per list field,
whether lists are merged by a key, unioned, or replaced: `list_strategy` holds that table
for the built-in kinds we serve (taken from the `patchMergeKey`/`patchStrategy` tags of the
Kubernetes API types). Custom resources do not support strategic merge (415, as upstream).
"""

from __future__ import annotations

import copy
from typing import Any

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder/"
DELETE_FROM_PRIMITIVE = "$deleteFromPrimitiveList/"


class PatchError(ValueError):
    """A patch that cannot be applied; answered as 422 (or 400 for malformed ones)."""


# ---------------------------------------------------------------------------- merge patch


def json_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


# ----------------------------------------------------------------------------- JSON patch


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}: must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    for part in parts:
        if isinstance(doc, dict):
            if part not in doc:
                raise PatchError(f"path {path!r} does not exist (missing {part!r})")
            doc = doc[part]
        elif isinstance(doc, list):
            doc = doc[_index(doc, part, path, allow_end=False)]
        else:
            raise PatchError(f"path {path!r} goes through a scalar")
    return doc


def _index(lst: list, part: str, path: str, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return len(lst)
    if not part.isdigit():
        raise PatchError(f"path {path!r}: {part!r} is not a list index")
    idx = int(part)
    if idx > len(lst) or (idx == len(lst) and not allow_end):
        raise PatchError(f"path {path!r}: index {idx} out of range")
    return idx


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, allow_end=True), value)
    else:
        raise PatchError(f"path {path!r}: parent is not a container")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path {path!r} does not exist")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, path, allow_end=False))
    raise PatchError(f"path {path!r}: parent is not a container")


def json_patch(target: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for i, op in enumerate(operations):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"operation {i}: needs 'op' and 'path'")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            _walk(doc, _pointer(path), path)  # must exist
            doc, _ = _remove(doc, path) if _pointer(path) else (doc, None)
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "move":
            doc, value = _remove(doc, op["from"])
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_walk(doc, _pointer(op["from"]), op["from"])))
        elif kind == "test":
            if _walk(doc, _pointer(path), path) != op.get("value"):
                raise PatchError(f"operation {i}: test failed at {path!r}")
        else:
            raise PatchError(f"operation {i}: unknown op {kind!r}")
    return doc


# --------------------------------------------------------------------- strategic merge


_KEYED_BY_SUFFIX: dict[tuple[str, ...], str] = {
    ("containers",): "name",
    ("initContainers",): "name",
    ("ephemeralContainers",): "name",
    ("containers", "ports"): "containerPort",
    ("initContainers", "ports"): "containerPort",
    ("env",): "name",
    ("volumes",): "name",
    ("volumeMounts",): "mountPath",
    ("volumeDevices",): "devicePath",
    ("conditions",): "type",
    ("imagePullSecrets",): "name",
    ("hostAliases",): "ip",
    ("topologySpreadConstraints",): "topologyKey",
    ("metadata", "ownerReferences"): "uid",
}
_KEYED_BY_KIND_PATH: dict[tuple[str, tuple[str, ...]], str] = {
    ("Service", ("spec", "ports")): "port",
    ("Node", ("status", "addresses")): "type",
}
_UNION_PRIMITIVE_SUFFIX = {("metadata", "finalizers")}


def list_strategy(kind: str, path: tuple[str, ...]) -> tuple[str, str | None]:
    """("merge", key), ("union", None) or ("replace", None) for the list at `path`."""
    if (kind, path) in _KEYED_BY_KIND_PATH:
        return "merge", _KEYED_BY_KIND_PATH[(kind, path)]
    for suffix in (path[-2:], path[-1:]):
        if suffix in _KEYED_BY_SUFFIX:
            return "merge", _KEYED_BY_SUFFIX[suffix]
    if path[-2:] in _UNION_PRIMITIVE_SUFFIX:
        return "union", None
    return "replace", None


def strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: strip_directives(v)
            for k, v in value.items()
            if k not in (DIRECTIVE, RETAIN_KEYS)
            and not k.startswith((SET_ORDER, DELETE_FROM_PRIMITIVE))
        }
    if isinstance(value, list):
        return [strip_directives(v) for v in value]
    return value


def strategic_merge_patch(kind: str, target: Any, patch: Any) -> Any:
    return _smp_map(kind, (), copy.deepcopy(target) if isinstance(target, dict) else {}, patch)


def _smp_map(kind: str, path: tuple[str, ...], original: dict, patch: Any) -> Any:
    if not isinstance(patch, dict):
        raise PatchError(f"strategic merge patch at {'.'.join(path) or '<root>'}: not an object")
    directive = patch.get(DIRECTIVE)
    if directive == "replace":
        return strip_directives(patch)
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise PatchError(f"unknown patch directive {directive!r}")
    result = original
    orders: dict[str, list] = {}
    for key, value in patch.items():
        if key in (DIRECTIVE, RETAIN_KEYS):
            continue
        if key.startswith(SET_ORDER):
            orders[key[len(SET_ORDER):]] = value
            continue
        if key.startswith(DELETE_FROM_PRIMITIVE):
            field = key[len(DELETE_FROM_PRIMITIVE):]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in value]
            continue
        sub = (*path, key)
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            merged = _smp_map(kind, sub, result[key], value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, dict):
            merged = _smp_map(kind, sub, {}, value)
            if merged is not None:
                result[key] = merged
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _smp_list(kind, sub, result[key], value)
        else:
            result[key] = strip_directives(value)
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _apply_order(kind, (*path, field), result[field], order)
    if RETAIN_KEYS in patch:
        keep = set(patch[RETAIN_KEYS] or [])
        result = {k: v for k, v in result.items() if k in keep}
    return result


def _smp_list(kind: str, path: tuple[str, ...], original: list, patch: list) -> list:
    strategy, key = list_strategy(kind, path)
    if any(isinstance(p, dict) and p.get(DIRECTIVE) == "replace" for p in patch):
        return [strip_directives(p) for p in patch
                if not (isinstance(p, dict) and p.get(DIRECTIVE) == "replace")]
    if strategy == "union":
        out = list(original)
        out.extend(v for v in patch if v not in out)
        return out
    if strategy == "replace" or key is None:
        return strip_directives(patch)
    result = [copy.deepcopy(v) for v in original]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"{'.'.join(path)}: list element lacks merge key {key!r}")
        index = next((i for i, v in enumerate(result)
                      if isinstance(v, dict) and v.get(key) == item[key]), None)
        if item.get(DIRECTIVE) == "delete":
            result = [v for v in result if not (isinstance(v, dict) and v.get(key) == item[key])]
        elif index is None:
            result.append(strip_directives(item))
        else:
            merged = _smp_map(kind, path, result[index], item)
            if merged is None:
                del result[index]
            else:
                result[index] = merged
    return result


def _apply_order(kind: str, path: tuple[str, ...], items: list, order: list) -> list:
    """Honour `$setElementOrder`: listed elements first, in that order, then the rest."""
    _strategy, key = list_strategy(kind, path)

    def ident(v: Any) -> Any:
        return v.get(key) if key and isinstance(v, dict) else v

    wanted = [ident(o) for o in order]
    ranked = sorted(
        range(len(items)),
        key=lambda i: (wanted.index(ident(items[i])) if ident(items[i]) in wanted
                       else len(wanted) + i),
    )
    return [items[i] for i in ranked]
