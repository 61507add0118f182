"""List+watch cache of one resource, as plain dicts (the JSON the API server sent).

The informer lists, then watches from the list's resourceVersion; a cut stream resumes
from the last version seen (bookmarks included); a 410 Gone (history expired) relists and
turns the difference into ADDED / MODIFIED / DELETED, so handlers never miss a change and
never see one twice out of order. API errors are retried with backoff, never raised.

Memory: the list is read in pages (`page_size` objects each, as client-go's reflector
does) and every object passes the informer's `transform` (metallb.kube.trim) as it
arrives, so the cache holds only what the daemons read and no whole list is ever held
as JSON or as parsed dicts.

resourceVersions are opaque (the API conventions): they are only ever compared for
equality, never ordered. What orders versions is the watch itself: it delivers every
version of an object in order.
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

from metallb.keys import object_key
from metallb.kube.backoff import Backoff
from metallb.kube.errors import is_forbidden, is_gone, is_not_found
from metallb.kube.trim import Transform
from metallb.logs import format_event, log_event

log = logging.getLogger("metallb.kube.informer")

PAGE_SIZE = 500
"""Objects per list request: client-go's reflector default."""

HISTORY = 4
"""Versions of each object the watch delivered that are remembered: a local write whose
version is among them is older than the cache and ignored (see update_local)."""

Handler = Callable[[str, dict[str, Any]], None]  # (event type, object)


class Informer:
    """A cache of one resource kept by list+watch, plus a handler told of every change.

    Always holds: the cache reflects the watch stream in order, except that a version
    written by this process (update_local) may be ahead of it until the watch delivers
    that same version; a deleted object never comes back through update_local. With
    `missing_retry`, a kind the server does not serve (or lets us read) is an empty,
    synced cache, listed again every `missing_retry` seconds, and `missing` is True.

    Threads: start() runs list+watch on a thread of its own, which also calls the
    handler (in stream order; the handler must not block: queue a key and return; an
    exception from it is logged). get / items / keys / update_local / stop are safe from
    any thread; the lock guards the cache, the delivered-version history, the pending
    local versions and the tombstones, and is never held during an API call or the
    handler. `transform` (what the cache keeps of each object, metallb.kube.trim) runs
    on the informer thread and on update_local's caller, outside the lock: it must be
    pure, and nobody may change a cached object (parts of it may be shared).
    """

    def __init__(
        self,
        name: str,
        list_func: Callable[..., Any],
        handler: Handler,
        *,
        watch_timeout: int = 300,
        backoff: Backoff | None = None,
        tombstones: int = 10000,
        missing_retry: float | None = None,
        transform: Transform | None = None,
        page_size: int = PAGE_SIZE,
        quiet_echo: bool = False,
        **list_kwargs: Any,
    ):
        if watch_timeout < 1:
            raise ValueError(f"watch_timeout must be at least 1 second, got {watch_timeout}")
        if tombstones < 0:
            raise ValueError(f"tombstones must be >= 0, got {tombstones}")
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self.name = name
        self._list = list_func
        self._kwargs = list_kwargs
        self._handler = handler
        # quiet_echo: the watch event of exactly the version this process recorded with
        # update_local (its own write) updates the cache but does not call the handler:
        # the writer decided on that object already
        self._quiet_echo = quiet_echo
        self.echoes = 0  # events not handed to the handler for that reason
        self.transform: Transform = transform or _unchanged
        self._page_size = page_size
        self._watch_timeout = watch_timeout
        self._backoff = backoff or Backoff()
        self._lock = threading.Lock()
        self._store: dict[str, dict[str, Any]] = {}
        # key -> the last HISTORY resourceVersions the watch (or list) delivered for it,
        # oldest first; a cached key without an entry has one delivered version, that of
        # the cached object (what a list leaves: no entry per object, see _delivered)
        self._history: dict[str, tuple[str, ...]] = {}
        # key -> [version written locally and not yet delivered, events seen since]
        self._pending: dict[str, list] = {}
        # keys deleted since the last list, oldest first (at most `tombstones` of them):
        # only the race of an in-flight write with a delete needs them
        self._deleted: dict[str, None] = {}
        self._tombstones = tombstones
        # None: a 404 on list is an API error like any other (retried with backoff, not
        # synced). A number: the kind may not be installed (a CustomResourceDefinition
        # not applied yet) or readable (RBAC from before the kind was used): a 404 or
        # 403 reads as an empty list (synced, logged), listed again after this many
        # seconds.
        self._missing_retry = missing_retry
        self.missing = False  # the last list found the kind not served
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
        """Record an object we just wrote (or read), so a reconcile before its watch
        event sees it. Callers pass the results of their own writes and reads in the
        order they got them; a version the watch already delivered is older than (or
        the same as) what the cache holds and is ignored, and so is an object deleted
        since (a write that raced with the deletion must not bring it back). The object
        is cached transformed, like everything the watch brings."""
        obj = self.transform(obj)
        key, rv = object_key(obj), _rv(obj)
        with self._lock:
            delivered = self._delivered(key)
            if key in self._deleted or rv in delivered:
                return
            self._history[key] = delivered  # the cached object is no longer delivered
            self._store[key] = obj
            self._pending[key] = [rv, 0]

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
                    if not self._relist():
                        self._stop.wait(self._missing_retry or 0)
                        continue
                    need_list = False
                self._watch_once()
                self._backoff.reset()
            except ApiException as err:
                if self._stop.is_set():
                    return
                if is_gone(err):
                    log_event(log, "info", "watch_expired", informer=self.name,
                              rv=self._rv, action="relist")
                    need_list = True
                    continue
                if self._missing_retry is not None and (is_not_found(err)
                                                        or is_forbidden(err)):
                    need_list = True  # the kind went away (its CRD deleted): list again
                    continue
                self._pause(status=err.status, reason=err.reason)
            except Exception as err:  # connection reset, timeouts, bad JSON ...
                if self._stop.is_set():
                    return  # stop() cut the stream: not an error
                self._pause(error=err)

    def _pause(self, **why: object) -> None:
        delay = self._backoff.next()
        log_event(log, "warn", "api_error", informer=self.name, **why,
                  retry_in=f"{delay:.2f}s")
        self._stop.wait(delay)

    def _relist(self) -> bool:
        """List into the cache; False when the kind is not served (only with
        `missing_retry`: the cache is then empty and synced)."""
        try:
            objs, rv = list_all(self._list, transform=self.transform,
                                page_size=self._page_size, **self._kwargs)
        except ApiException as err:
            if self._missing_retry is None or not (is_not_found(err) or is_forbidden(err)):
                raise
            if not self.missing:
                fix = ("; if it holds config, give this ServiceAccount list and watch on "
                       "it (RBAC)") if is_forbidden(err) else ""
                log_event(log, "warn" if is_forbidden(err) else "info", "kind_not_served",
                          informer=self.name, status=err.status,
                          action=f"treated as empty; listed again every "
                          f"{self._missing_retry:g}s{fix}")
            self.missing = True
            self._replace({}, None)
            return False
        if self.missing:
            log_event(log, "info", "kind_served", informer=self.name)
        self.missing = False
        fresh = {object_key(o): o for o in objs}
        del objs
        self._replace(fresh, rv)
        return True

    def _replace(self, fresh: dict[str, dict[str, Any]], rv: str | None) -> None:
        """The cache becomes `fresh` (a whole list); the difference goes to the handler."""
        with self._lock:
            old = self._store
            self._store = dict(fresh)
            self._history = {}  # each cached object is the one version delivered
            self._pending.clear()  # a list is the whole truth
            self._deleted.clear()
            self._rv = rv
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
        log_event(log, "debug", "listed", informer=self.name, count=len(fresh), rv=self._rv)

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
                    self.apply_event(json.loads(line))
        finally:
            self._response = None
            resp.release_conn()

    def apply_event(self, event: dict[str, Any]) -> None:
        """One watch event into the cache and the handler. Called by the watch thread
        (tests call it directly to play a stream); an ERROR event raises ApiException."""
        kind, obj = event.get("type"), event.get("object")
        if not isinstance(obj, dict):
            return
        if kind not in ("ERROR", "BOOKMARK"):
            obj = self._local_copy(kind, obj) or self.transform(obj)
        if kind == "ERROR":
            raise ApiException(status=int(obj.get("code") or 500),
                               reason=f"{obj.get('reason')}: {obj.get('message')}")
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if kind == "BOOKMARK":
            self._rv = rv or self._rv
            return
        key = object_key(obj)
        with self._lock:
            self._rv = rv or self._rv
            if kind == "DELETED":
                self._store.pop(key, None)
                self._history.pop(key, None)
                self._pending.pop(key, None)
                self._deleted[key] = None
                if len(self._deleted) > self._tombstones:
                    del self._deleted[next(iter(self._deleted))]
            else:
                self._deleted.pop(key, None)
                history = (*self._delivered(key)[-(HISTORY - 1):], _rv(obj))
                self._history[key] = history
                echo = self._is_echo(key, _rv(obj))
                if self._older_than_local(key, _rv(obj)):
                    return
                self._store[key] = obj
                if len(history) == 1:
                    del self._history[key]  # what _delivered tells without an entry
                if echo and self._quiet_echo:
                    self.echoes += 1
                    return
        self._emit(kind, obj)

    def _local_copy(self, kind: Any, obj: dict[str, Any]) -> dict[str, Any] | None:
        """With quiet_echo, the cached object when `obj` is the echo of the version
        update_local recorded (the same object, transformed already): not transforming
        it again spares the controller one trim per Service it writes."""
        if not self._quiet_echo or kind != "MODIFIED":
            return None
        key, rv = object_key(obj), _rv(obj)
        with self._lock:
            cached = self._store.get(key)
            if not self._is_echo(key, rv) or cached is None or _rv(cached) != rv:
                return None
            return cached

    def _is_echo(self, key: str, rv: str) -> bool:
        """`rv` is the version update_local recorded for `key` and the watch has not
        delivered yet (our own write coming back); the lock is held."""
        pending = self._pending.get(key)
        return pending is not None and pending[0] == rv

    def _delivered(self, key: str) -> tuple[str, ...]:
        """The versions of `key` the watch (or list) delivered, oldest first (at most
        HISTORY); the lock is held. Without an entry in `_history`, the cached object
        is the only one delivered."""
        history = self._history.get(key)
        if history is not None:
            return history
        cached = self._store.get(key)
        return () if cached is None else (_rv(cached),)

    def _older_than_local(self, key: str, rv: str) -> bool:
        """While a local version waits for its watch event, every other event for the
        key comes from before it (the watch is in order). After HISTORY such events the
        local version cannot have been a new one (it was older than the history kept):
        the watch wins again."""
        pending = self._pending.get(key)
        if pending is None:
            return False
        if pending[0] == rv:
            del self._pending[key]
            return False
        pending[1] += 1
        if pending[1] > HISTORY:
            del self._pending[key]
            return False
        return True

    def _emit(self, kind: str, obj: dict[str, Any]) -> None:
        try:
            self._handler(kind, obj)
        except Exception:
            log.error("%s", format_event("handler_failed", {
                "informer": self.name, "key": object_key(obj)}), exc_info=True)


def list_all(list_func: Callable[..., Any], *, transform: Transform | None = None,
             page_size: int = PAGE_SIZE, **kwargs: Any,
             ) -> tuple[list[dict[str, Any]], str | None]:
    """Every object `list_func` lists, read `page_size` at a time and transformed as
    each page arrives (so no whole list is held), and the resourceVersion of the first
    page: a real API server serves every page from that snapshot (an expired continue
    token is a 410 Gone, raised like any API error)."""
    transform = transform or _unchanged
    objs: list[dict[str, Any]] = []
    rv: str | None = None
    token: str | None = None
    while True:
        paging = {"_continue": token} if token else {}
        body = json.loads(list_func(_preload_content=False, limit=page_size, **paging,
                                    **kwargs).data)
        meta = body.get("metadata") or {}
        if rv is None:
            rv = meta.get("resourceVersion")
        objs.extend(transform(obj) for obj in body.get("items") or [])
        token = meta.get("continue")
        del body
        if not token:
            return objs, rv


def _unchanged(obj: dict[str, Any]) -> dict[str, Any]:
    return obj


def _rv(obj: dict[str, Any]) -> str:
    """The object's resourceVersion: opaque text, compared for equality only."""
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


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
