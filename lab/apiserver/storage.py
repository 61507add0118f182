"""Versioned storage: every stored object by resource and (namespace, name), and the one
cluster-wide resourceVersion counter. The forms objects are stored and served in.
"""

from __future__ import annotations

import base64
import collections
import json
from typing import Any

from lab.apiserver import errors, event_conversion
from lab.apiserver.resources import ResourceType
from lab.apiserver.selection import FieldSelector, LabelSelector

Key = tuple[str, str]  # (group, plural): where a resource's objects live
Ident = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
Obj = dict[str, Any]


class VersionedStorage:
    """Objects by `Key` and `Ident`, and `rv`, the resourceVersion of the last write.

    Invariants: `rv` only grows, by one per write; a stored object's
    metadata.resourceVersion is the `rv` of the write that stored it. A stored dict is
    never mutated after `write` (every write stores a fresh dict), so readers may
    serialize it without copying.

    Threads: no lock of its own. `Store` calls every method under its lock; nothing here
    blocks or calls back.
    """

    def __init__(self) -> None:
        self.rv = 1
        self._objects: dict[Key, dict[Ident, Obj]] = collections.defaultdict(dict)

    def get(self, key: Key, ident: Ident) -> Obj | None:
        return self._objects[key].get(ident)

    def values(self, key: Key) -> list[Obj]:
        return list(self._objects[key].values())

    def idents(self, key: Key) -> list[Ident]:
        return list(self._objects[key])

    def sorted_items(self, key: Key) -> list[tuple[Ident, Obj]]:
        """(ident, object) pairs in (namespace, name) order: list and watch order."""
        return sorted(self._objects[key].items())

    def write(self, key: Key, obj: Obj, deleted: bool = False) -> int:
        """Store `obj` (or drop it, `deleted`) under the next resourceVersion, which it is
        given and which is returned."""
        self.rv += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self.rv)
        ident = (meta.get("namespace", ""), meta["name"])
        if deleted:
            self._objects[key].pop(ident, None)
        else:
            self._objects[key][ident] = obj
        return self.rv

    def select(self, key: Key, namespace: str | None, labels: LabelSelector,
               fields: FieldSelector, limit: int = 0, continue_token: str = "",
               ) -> tuple[list[Obj], str, str]:
        """Matching objects sorted by (namespace, name), the list resourceVersion and a
        continue token when `limit` cut the list short."""
        start = _decode_continue(continue_token) if continue_token else None
        items = []
        for ident, obj in self.sorted_items(key):
            if namespace and ident[0] != namespace:
                continue
            if start is not None and ident <= start:
                continue
            if labels.matches(obj["metadata"].get("labels")) and fields.matches(obj):
                items.append(obj)
                if limit and len(items) > limit:
                    break
        token = ""
        if limit and len(items) > limit:
            items = items[:limit]
            last = items[-1]["metadata"]
            token = _encode_continue(last.get("namespace", ""), last["name"])
        return items, str(self.rv), token


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


def _encode_continue(namespace: str, name: str) -> str:
    raw = json.dumps({"ns": namespace, "name": name}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> Ident:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return data["ns"], data["name"]
    except (ValueError, KeyError, TypeError):
        raise errors.bad_request(f"invalid continue token {token!r}") from None
