"""Watch history and fan-out: the recent write events, and every open watch with the
queue its request thread streams from."""

from __future__ import annotations

import collections
import queue
from collections.abc import Iterable
from dataclasses import dataclass

from lab.apiserver import errors
from lab.apiserver.selection import FieldSelector, LabelSelector
from lab.apiserver.storage import Key, Obj


@dataclass(frozen=True)
class StoredEvent:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    key: Key
    namespace: str
    obj: Obj
    old: Obj | None


Encodings = dict[tuple[str, str], bytes]
"""An event's object serialized per served (apiVersion, kind): filled by the first watch
stream that sends it, reused by the others (see `WatchHub.publish`)."""


class Watcher:
    """One open watch. Items on `queue`: ("event", type, obj, encodings), ("bookmark",
    rv), ("error", status dict) and ("close",).

    `offer` runs under the store's lock (so items arrive in resourceVersion order); the
    watch's request thread reads `queue` without it (queue.Queue is thread-safe).
    """

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

    def offer(self, event: StoredEvent, encodings: Encodings | None = None) -> None:
        """Queue the event as this watcher sees it through its selectors: an object that
        starts matching is ADDED, one that stops matching is DELETED."""
        now = self._matches(event.obj)
        before = self._matches(event.old) if event.type == "MODIFIED" else now
        if not (now or before):
            return
        kind = event.type
        if kind == "MODIFIED" and now != before:
            kind = "ADDED" if now else "DELETED"
        self.queue.put(("event", kind, event.obj, {} if encodings is None else encodings))


class WatchHub:
    """The last `history_limit` write events and the open watches.

    Invariants: `history` is in resourceVersion order and holds every event with a
    version above `compacted_rv`; an open watcher has been offered every event of its
    resource since the version it started from, each exactly once, in order.

    Threads: no lock of its own. `Store` calls every method under its lock, which is
    what keeps each watcher's events in resourceVersion order: a write publishes before
    the next write can start. Offering only queues: nothing here blocks on a client.
    """

    def __init__(self, history_limit: int):
        self.history: collections.deque[StoredEvent] = collections.deque()
        self.history_limit = history_limit
        self.compacted_rv = 0  # events with rv <= this are no longer in history
        self.watchers: set[Watcher] = set()

    def publish(self, event: StoredEvent) -> None:
        """Remember the event (dropping the oldest beyond the limit) and offer it to every
        watch of its resource.

        The watches share one `Encodings` per event, so the object is serialized once
        however many watch it (kube-apiserver's watch cache does the same); it lives
        as long as a queue holds the event, not in the history."""
        self.history.append(event)
        while len(self.history) > self.history_limit:
            self.compacted_rv = self.history.popleft().rv
        encodings: Encodings = {}
        for watcher in self.watchers:
            if watcher.key == event.key:
                watcher.offer(event, encodings)

    def open(self, watcher: Watcher, resource_version: str | None,
             current: Iterable[StoredEvent]) -> Watcher:
        """Start `watcher`. Unset or "0" resourceVersion: `current` (an ADDED event per
        stored object) first; otherwise every event after exactly that version, or an
        ERROR 410 (and close) when the history no longer reaches back that far."""
        if resource_version in (None, "", "0"):
            for event in current:
                watcher.offer(event)
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
                if event.rv > since and event.key == watcher.key:
                    watcher.offer(event)
        self.watchers.add(watcher)
        return watcher

    def stop(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)

    def cut_all(self) -> int:
        """Close every open watch stream now (clients must re-watch)."""
        for watcher in self.watchers:
            watcher.queue.put(("close",))
        count = len(self.watchers)
        self.watchers.clear()
        return count

    def expire(self, rv: int) -> None:
        """Forget the history up to `rv`: a watch from any older version now gets 410."""
        self.history.clear()
        self.compacted_rv = rv
