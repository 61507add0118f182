"""Versioned storage: every stored object by resource and (namespace, name), and the one
cluster-wide resourceVersion counter. The forms objects are stored and served in.
"""

from __future__ import annotations

import base64
import bisect
import collections
import itertools
import json
import time
from dataclasses import dataclass
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
        self._snapshots = _Snapshots()

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
        continue token when `limit` cut the list short. Every page of a paged list is
        served from the first page's snapshot, with its resourceVersion (as etcd serves
        a real API server); an expired snapshot is a 410 Gone, as a compacted one is."""
        if continue_token:
            snap_id, start = _decode_continue(continue_token)
            snapshot = self._snapshots.get(snap_id)
            if snapshot is None:
                raise errors.gone(CONTINUE_EXPIRED)
            first = bisect.bisect_right(snapshot.idents, start)
        else:
            objects = self._objects[key]
            snapshot = _Snapshot(self.rv, sorted(objects), [])
            snapshot.objs.extend(objects[i] for i in snapshot.idents)
            snap_id, first = None, 0
        items: list[Obj] = []
        for at in range(first, len(snapshot.idents)):
            ident, obj = snapshot.idents[at], snapshot.objs[at]
            if namespace and ident[0] != namespace:
                continue
            if labels.matches(obj["metadata"].get("labels")) and fields.matches(obj):
                if limit and len(items) == limit:
                    break
                items.append(obj)
        else:  # the end reached: no more pages
            if snap_id is not None:
                self._snapshots.drop(snap_id)
            return items, str(snapshot.rv), ""
        if snap_id is None:
            snap_id = self._snapshots.add(snapshot)
        meta = items[-1]["metadata"]
        return items, str(snapshot.rv), _encode_continue(
            snap_id, (meta.get("namespace", ""), meta["name"]))


CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You "
    "can start a new list without the continue parameter.")


@dataclass
class _Snapshot:
    """A list as it was at `rv`: idents sorted, objs beside them (stored dicts are never
    mutated, so holding them is holding that version)."""

    rv: int
    idents: list[Ident]
    objs: list[Obj]


class _Snapshots:
    """The snapshots paged lists are being read from. A snapshot goes when its last page
    is served, after EXPIRE_S (etcd's default compaction interval: a later page is a
    410 Gone), or when more than LIMIT are open (the oldest first)."""

    EXPIRE_S = 300.0
    LIMIT = 512

    def __init__(self) -> None:
        self._open: collections.OrderedDict[int, tuple[float, _Snapshot]] = (
            collections.OrderedDict())
        self._ids = itertools.count(1)

    def add(self, snapshot: _Snapshot) -> int:
        self._expire()
        snap_id = next(self._ids)
        self._open[snap_id] = (time.monotonic(), snapshot)
        while len(self._open) > self.LIMIT:
            self._open.popitem(last=False)
        return snap_id

    def get(self, snap_id: int) -> _Snapshot | None:
        self._expire()
        entry = self._open.get(snap_id)
        return entry[1] if entry is not None else None

    def drop(self, snap_id: int) -> None:
        self._open.pop(snap_id, None)

    def _expire(self) -> None:
        deadline = time.monotonic() - self.EXPIRE_S
        while self._open:
            snap_id, (created, _) = next(iter(self._open.items()))
            if created >= deadline:
                return
            del self._open[snap_id]


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


def _encode_continue(snap_id: int, last: Ident) -> str:
    raw = json.dumps({"snapshot": snap_id, "ns": last[0], "name": last[1]}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[int, Ident]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return int(data["snapshot"]), (data["ns"], data["name"])
    except (ValueError, KeyError, TypeError):
        raise errors.bad_request(f"invalid continue token {token!r}") from None
