"""List+watch cache of one resource, as plain dicts (the JSON the API server sent).

The informer lists, then watches from the list's resourceVersion; a cut stream resumes
from the last version seen (bookmarks included); a 410 Gone (history expired) relists and
turns the difference into ADDED / MODIFIED / DELETED, so handlers never miss a change and
never see one twice out of order. API errors are retried with backoff, never raised.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from metallb.kube.backoff import Backoff
from metallb.kube.client import object_key

log = logging.getLogger("metallb.kube.informer")

# Deletions remembered (only the race of an in-flight write with a delete needs them).
_TOMBSTONES = 10000

Handler = Callable[[str, dict[str, Any]], None]  # (event type, object)


class Informer:
    def __init__(
        self,
        name: str,
        list_func: Callable[..., Any],
        handler: Handler,
        *,
        watch_timeout: int = 300,
        backoff: Backoff | None = None,
        **list_kwargs: Any,
    ):
        self.name = name
        self._list = list_func
        self._kwargs = list_kwargs
        self._handler = handler
        self._watch_timeout = watch_timeout
        self._backoff = backoff or Backoff()
        self._lock = threading.Lock()
        self._store: dict[str, dict[str, Any]] = {}
        # key -> resourceVersion of its deletion, until the next list (see update_local)
        self._deleted: dict[str, int] = {}
        self._rv: str | None = None
        self._response: Any = None  # the open watch response, closed by stop()
        self._stop = threading.Event()
        self.synced = threading.Event()
        self.relists = 0
        self._thread: threading.Thread | None = None

    # -- read side ---------------------------------------------------------------
    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            return self._store.get(key)

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._store.values())

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._store)

    def update_local(self, obj: dict[str, Any]) -> None:
        """Record an object we just wrote, so a reconcile before its watch event sees it."""
        key = object_key(obj)
        with self._lock:
            old = self._store.get(key)
            if old is None:
                # A write that raced with the object's deletion must not bring it back.
                if _rv(obj) <= self._deleted.get(key, -1):
                    return
                self._store[key] = obj
            elif _rv(obj) >= _rv(old):
                self._store[key] = obj

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> Informer:
        self._thread = threading.Thread(target=self._run, name=f"informer-{self.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        _shut_down(self._response)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        need_list = True
        while not self._stop.is_set():
            try:
                if need_list:
                    self._relist()
                    need_list = False
                self._watch_once()
                self._backoff.reset()
            except ApiException as err:
                if self._stop.is_set():
                    return
                if err.status == 410:
                    log.info("event=watch_expired informer=%s rv=%s action=relist",
                             self.name, self._rv)
                    need_list = True
                    continue
                self._pause(f"status={err.status} reason={_one_line(err.reason)}")
            except Exception as err:  # connection reset, timeouts, bad JSON ...
                if self._stop.is_set():
                    return  # stop() cut the stream: not an error
                self._pause(f"error={_one_line(err)}")

    def _pause(self, why: str) -> None:
        delay = self._backoff.next()
        log.warning("event=api_error informer=%s %s retry_in=%.2fs", self.name, why, delay)
        self._stop.wait(delay)

    def _relist(self) -> None:
        resp = self._list(_preload_content=False, **self._kwargs)
        body = json.loads(resp.data)
        fresh = {object_key(o): o for o in body.get("items") or []}
        with self._lock:
            old = self._store
            self._store = dict(fresh)
            self._deleted.clear()  # a list is the whole truth
            self._rv = (body.get("metadata") or {}).get("resourceVersion")
        self.relists += 1
        for key, obj in old.items():
            if key not in fresh:
                self._emit("DELETED", obj)
        for key, obj in fresh.items():
            prev = old.get(key)
            if prev is None:
                self._emit("ADDED", obj)
            elif _rv(prev) != _rv(obj):
                self._emit("MODIFIED", obj)
        self.synced.set()
        log.debug("event=listed informer=%s count=%d rv=%s", self.name, len(fresh), self._rv)

    def _watch_once(self) -> None:
        """One watch request from the last version seen, until the server ends it.

        The stream is read line by line here rather than through `kubernetes.watch.Watch`:
        with raw dicts (deserialize=False) that helper fails on an ERROR event (it looks
        for a `raw_object` key it never set), so a 410 would never lead to a relist."""
        resp = self._list(
            _preload_content=False,
            watch=True,
            resource_version=self._rv,
            timeout_seconds=self._watch_timeout,
            allow_watch_bookmarks=True,
            # A silent connection must not hang the informer forever.
            _request_timeout=(10, self._watch_timeout + 30),
            **self._kwargs,
        )
        self._response = resp
        try:
            if self._stop.is_set():
                return
            for line in iter_resp_lines(resp):
                if self._stop.is_set():
                    return
                if line.strip():
                    self._apply(json.loads(line))
        finally:
            self._response = None
            resp.release_conn()

    def _apply(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object")
        if not isinstance(obj, dict):
            return
        if kind == "ERROR":
            raise ApiException(status=int(obj.get("code") or 500),
                               reason=f"{obj.get('reason')}: {obj.get('message')}")
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if kind == "BOOKMARK":
            self._rv = rv or self._rv
            return
        key = object_key(obj)
        with self._lock:
            if kind == "DELETED":
                self._store.pop(key, None)
                self._deleted[key] = _rv(obj)
                if len(self._deleted) > _TOMBSTONES:
                    del self._deleted[next(iter(self._deleted))]
            else:
                self._deleted.pop(key, None)
                old = self._store.get(key)
                # update_local() may already hold a newer version we wrote ourselves.
                if old is not None and _rv(old) > _rv(obj):
                    self._rv = rv or self._rv
                    return
                self._store[key] = obj
            self._rv = rv or self._rv
        self._emit(kind, obj)

    def _emit(self, kind: str, obj: dict[str, Any]) -> None:
        try:
            self._handler(kind, obj)
        except Exception:
            log.exception("event=handler_failed informer=%s key=%s", self.name, object_key(obj))


def _rv(obj: dict[str, Any]) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


def _one_line(value: object) -> str:
    return " ".join(str(value).split())[:300]


def _shut_down(resp: Any) -> None:
    """Unblock a thread reading a watch stream by shutting its socket down."""
    if resp is None:
        return
    try:
        sock = resp.connection.sock if resp.connection is not None else None
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except (AttributeError, OSError):
        pass
