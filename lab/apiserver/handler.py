"""HTTP: URL routing, discovery documents, request decoding, watch streaming.

One `RequestHandler` per connection thread (ThreadingHTTPServer). Everything about state
is in `Store`; this module only translates between HTTP and store calls, the way
kube-apiserver's REST layer does (paths, verbs, content types, query parameters).
"""

from __future__ import annotations

import json
import logging
import queue
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import yaml

from lab.apiserver import (
    errors,
    event_conversion,
    openapi,
    openapi_protobuf,
    protobuf,
    rbac,
    scale,
)
from lab.apiserver.context import ServerContext
from lab.apiserver.resources import PREFERRED_GROUP_ORDER, ResourceType
from lab.apiserver.selection import (
    FieldSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from lab.apiserver.storage import to_view
from lab.apiserver.tables import WatchTables, table_for
from lab.apiserver.verbs import verb_for
from lab.apiserver.watch import Encodings
from metallb.logs import format_event, log_event

log = logging.getLogger("lab.apiserver")

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+json": "apply",
}
CONTROL_PREFIX = "/_emulator/"
KUBE_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-metallb-emulator",
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.23", "compiler": "gc", "platform": "linux/amd64"}


@dataclass(frozen=True)
class Target:
    """A parsed resource URL."""

    rt: ResourceType
    namespace: str | None  # None: cluster-wide list/watch of a namespaced kind
    name: str
    subresource: str


@dataclass(frozen=True)
class Call:
    """One resource request, decoded: what the verb's method needs."""

    target: Target
    query: dict[str, str]
    body: Any
    manager: str  # fieldManager, or the client's name from its User-Agent
    dry_run: bool
    forced_gone: bool  # a watch the faults answer with 410

    @property
    def namespace(self) -> str:
        return self.target.namespace or ""


OPERATIONS = {  # verb -> the RequestHandler method that serves it
    "get": "_get", "list": "_list", "watch": "_watch_call",
    "deletecollection": "_delete_collection", "create": "_create", "update": "_update",
    "patch": "_patch", "delete": "_delete",
}


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server_version = "metallb-lab-apiserver"
    api: ServerContext  # set on the subclass the server builds
    _counted: tuple[str, str, str] | None = None  # the resource request being answered

    # ----------------------------------------------------------------- plumbing

    def log_message(self, format: str, *args: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):  # once per request: format only when wanted
            log_event(log, "debug", "http", message=format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _send_json(self, code: int, body: Any) -> None:
        self._send_raw(code, "application/json", json.dumps(body, separators=(",", ":")
                                                            ).encode())

    def _send_raw(self, code: int, content_type: str, data: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if self._counted is not None:
            self.api.counters.sent(self._counted, len(data))

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(length) if length else b""

    def _decode(self, raw: bytes, content_type: str) -> Any:
        if not raw:
            return None
        if "protobuf" in content_type:
            return protobuf.request_body(raw)
        if "cbor" in content_type:
            raise errors.unsupported_media_type(content_type)  # clients then retry in JSON
        try:
            if "yaml" in content_type:
                return yaml.safe_load(raw.decode())
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"the request body is not valid "
                                     f"{'YAML' if 'yaml' in content_type else 'JSON'}: {exc}"
                                     ) from None

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, method: str) -> None:
        started = time.monotonic()
        self._counted = None  # a keep-alive connection serves many requests
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query,
                                                            keep_blank_values=True).items()}
        path = url.path.rstrip("/") or "/"
        code = 200
        try:
            raw = self._read_body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
            identity = self._authenticate()
            if path.startswith(CONTROL_PREFIX):
                if not identity.is_admin:
                    raise errors.forbidden("the emulator control endpoint needs the admin token")
                code, body = self._control(method, path, raw)
            elif path.startswith(("/api/", "/apis/")) and self._resource_path(path):
                code = self._resource(method, path, query, raw, identity)
                body = None
            else:
                code, body = self._non_resource(method, path)
            if body is not None:
                self._send_json(code, body)
        except errors.ApiError as exc:
            code = exc.code
            self._send_json(exc.code, exc.status())
        except (BrokenPipeError, ConnectionResetError):
            code = 499
        except Exception as exc:  # a bug in the emulator must not kill the connection thread
            log.error("%s", format_event("internal_error", {"method": method, "path": path}),
                      exc_info=True)
            code = 500
            self._send_json(500, errors.internal(repr(exc)).status())
        log_event(log, "debug", "request", method=method, path=path, code=code,
                  ms=(time.monotonic() - started) * 1000)

    def _authenticate(self) -> rbac.Identity:
        header = self.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if token:
            identity = self.api.identity_for_token(token)
            if identity is None:
                raise errors.unauthorized()
        elif self.api.token:
            raise errors.unauthorized()
        else:
            identity = rbac.ADMIN
        user = self.headers.get("Impersonate-User")
        if user:
            if not identity.is_admin:
                raise errors.forbidden(f'users "{user}" is forbidden: User "{identity.user}" '
                                       'cannot impersonate resource "users" in API group ""')
            identity = rbac.Identity.named(user, tuple(self.headers.get_all(
                "Impersonate-Group") or ()))
        return identity

    # ----------------------------------------------------------------- discovery

    def _non_resource(self, method: str, path: str) -> tuple[int, Any]:
        if method != "GET":
            raise errors.method_not_allowed()
        if path in ("/healthz", "/readyz", "/livez"):
            data = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return 200, None
        if path == "/version":
            return 200, KUBE_VERSION
        if path.startswith("/openapi/"):  # openapi.py: v2, v3 index, v3 per group/version
            doc = openapi.serve(path, self.headers.get("Accept", ""), self.api.store.types(),
                                self.api.store.all_objects("apiextensions.k8s.io",
                                                           "customresourcedefinitions"))
            if isinstance(doc, bytes):  # the v2 document as gnostic protobuf
                self._send_raw(200, openapi_protobuf.MEDIA_TYPE, doc)
                return 200, None
            if doc is not None:
                return 200, doc
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [
                             {"clientCIDR": "0.0.0.0/0", "serverAddress": self.api.address}]}
        if path == "/apis":
            return 200, {"kind": "APIGroupList", "apiVersion": "v1",
                         "groups": [self._group_doc(g) for g in self._groups()]}
        parts = path.strip("/").split("/")
        if path == "/api/v1":
            return 200, self._resource_list("", "v1")
        if parts[0] == "apis" and len(parts) == 2 and parts[1] in self._groups():
            return 200, self._group_doc(parts[1])
        if parts[0] == "apis" and len(parts) == 3 and (parts[1], parts[2]) in {
                (rt.group, rt.version) for rt in self.api.store.types()}:
            return 200, self._resource_list(parts[1], parts[2])
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")

    def _groups(self) -> list[str]:
        groups = {rt.group for rt in self.api.store.types() if rt.group}
        known = [g for g in PREFERRED_GROUP_ORDER if g in groups]
        return known + sorted(groups - set(known))

    def _group_doc(self, group: str) -> dict[str, Any]:
        versions = sorted({rt.version for rt in self.api.store.types() if rt.group == group})
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": entries,
                "preferredVersion": entries[0]}

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        resources = []
        for rt in sorted(self.api.store.types(), key=lambda r: r.plural):
            if rt.group == group and rt.version == version:
                resources += rt.discovery_entries()
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": resources}

    # ----------------------------------------------------------------- resources

    def _resource_path(self, path: str) -> Target | None:
        """Parse /api/v1/... or /apis/G/V/...; None for discovery paths."""
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3 and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return None
        store = self.api.store
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            candidate = store.resource_type(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]
        rt = store.resource_type(group, version, rest[0])
        if rt is None or len(rest) > 3:
            raise errors.ApiError(404, "NotFound",
                                  "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if sub and not (sub == "status" and rt.status_subresource) and not (
                sub == "scale" and rt.scale_subresource):
            raise errors.ApiError(404, "NotFound",
                                  "the server could not find the requested resource")
        return Target(rt, namespace, name, sub)

    def _resource(self, method: str, path: str, query: dict[str, str], raw: bytes,
                  identity: rbac.Identity) -> int:
        target = self._resource_path(path)
        assert target is not None
        rt, ns, name, sub = target.rt, target.namespace, target.name, target.subresource
        if rt.namespaced and name and ns is None:
            raise errors.ApiError(404, "NotFound",
                                  "the server could not find the requested resource")
        verb = verb_for(method, name, query)
        resource = f"{rt.plural}/{sub}" if sub else rt.plural
        self._counted = (identity.user, verb, resource)
        self.api.counters.request(self._counted)
        request = rbac.Request(verb, rt.group, rt.plural, sub, ns or "", name)
        everyone = rt.kind == "SelfSubjectAccessReview"  # system:basic-user grants it
        if (self.api.enforce_rbac and not everyone
                and not rbac.allowed(identity, request, self._rbac_objects)):
            message = self.api.denial_log.record(identity, request)
            raise errors.forbidden(message, rt.plural, name, rt.group)
        if rt.review:
            return self._review(rt, verb, raw, identity)
        decision = self.api.faults.decide(verb, resource)
        if decision.latency:
            time.sleep(decision.latency)  # injected latency, not a wait for a condition
        if decision.code is not None and not (verb == "watch" and decision.code == 410):
            raise self._fault_error(decision.code, rt, name)
        body = self._decode(raw, self.headers.get("Content-Type", "application/json"))
        call = Call(target, query, body, query.get("fieldManager") or self._default_manager(),
                    query.get("dryRun") == "All", forced_gone=decision.code == 410)
        if target.subresource == "scale":
            return self._scale(verb, call)
        return getattr(self, OPERATIONS[verb])(call)

    def _scale(self, verb: str, call: Call) -> int:
        """kubectl scale: the Scale view of spec.replicas (scale.py)."""
        patch_type = PATCH_TYPES.get(self.headers.get("Content-Type", "").split(";")[0].strip())
        code, scaled = scale.serve(self.api.store, call.target.rt, verb, call.namespace,
                                   call.target.name, call.body, patch_type, call.manager,
                                   call.dry_run)
        self._send_json(code, scaled)
        return code

    # One method per verb, each: a store call and its reply.

    def _get(self, call: Call) -> int:
        rt = call.target.rt
        return self._reply(200, rt, self.api.store.get(rt, call.namespace, call.target.name))

    def _list(self, call: Call) -> int:
        rt = call.target.rt
        labels, fields = self._selectors(rt, call.query)
        items, rv, token = self.api.store.list(rt, call.target.namespace, labels, fields,
                                               _number(call.query, "limit", int),
                                               call.query.get("continue", ""))
        return self._reply_list(rt, items, rv, token)

    def _watch_call(self, call: Call) -> int:
        labels, fields = self._selectors(call.target.rt, call.query)
        self._watch(call.target.rt, call.target.namespace, labels, fields, call.query,
                    forced_gone=call.forced_gone)
        return 200

    def _delete_collection(self, call: Call) -> int:
        rt, store = call.target.rt, self.api.store
        labels, fields = self._selectors(rt, call.query)
        items = store.delete_collection(rt, call.target.namespace, labels, fields)
        return self._reply_list(rt, items, str(store.rv), "")

    def _create(self, call: Call) -> int:
        rt = call.target.rt
        obj = self.api.store.create(rt, call.namespace, call.body, call.manager, call.dry_run)
        return self._reply(201, rt, obj)

    def _update(self, call: Call) -> int:
        rt, target = call.target.rt, call.target
        obj = self.api.store.update(rt, call.namespace, target.name, call.body, call.manager,
                                    target.subresource, call.dry_run)
        return self._reply(200, rt, obj)

    def _patch(self, call: Call) -> int:
        rt, target, store = call.target.rt, call.target, self.api.store
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
        patch_type = PATCH_TYPES.get(content_type)
        if patch_type is None:
            raise errors.unsupported_media_type(content_type)
        if patch_type == "apply":
            # apply, unlike other writes, has no default manager
            obj, created = store.apply(rt, call.namespace, target.name, call.body,
                                       call.query.get("fieldManager", ""), target.subresource,
                                       call.query.get("force") == "true", call.dry_run)
            return self._reply(201 if created else 200, rt, obj)
        obj = store.patch(rt, call.namespace, target.name, patch_type, call.body, call.manager,
                          target.subresource, call.dry_run)
        return self._reply(200, rt, obj)

    def _delete(self, call: Call) -> int:
        rt = call.target.rt
        options = call.body if isinstance(call.body, dict) else {}
        obj = self.api.store.delete(rt, call.namespace, call.target.name,
                                    options.get("preconditions"), call.dry_run)
        return self._reply(200, rt, obj)

    def _review(self, rt: ResourceType, verb: str, raw: bytes,
                identity: rbac.Identity) -> int:
        """(Self)SubjectAccessReview: answered on create, never stored."""
        if verb != "create":
            raise errors.method_not_allowed()
        body = self._decode(raw, self.headers.get("Content-Type", "application/json"))
        if not isinstance(body, dict) or body.get("kind") != rt.kind:
            raise errors.bad_request(f"the body must be a {rt.kind}")
        self._send_json(201, rbac.review(body, identity, self._rbac_objects))
        return 201

    def _rbac_objects(self, plural: str) -> list[dict[str, Any]]:
        return self.api.store.all_objects(rbac.RBAC_GROUP, plural)

    def _default_manager(self) -> str:
        agent = self.headers.get("User-Agent", "")
        return agent.split("/", 1)[0] or "unknown"

    def _fault_error(self, code: int, rt: ResourceType, name: str) -> errors.ApiError:
        if code == 409:
            return errors.conflict(rt.plural, name or rt.plural, rt.group)
        if code == 410:
            return errors.gone("injected fault: the requested resource version is too old")
        if code == 429:
            return errors.ApiError(429, "TooManyRequests", "injected fault: too many requests")
        return errors.ApiError(code, "InternalError",
                               f"Internal error occurred: injected fault ({code})")

    def _selectors(self, rt: ResourceType, query: dict[str, str]) -> tuple[Any, Any]:
        try:
            labels = parse_label_selector(query.get("labelSelector"))
            fields = parse_field_selector(query.get("fieldSelector"))
        except SelectorError as exc:
            raise errors.bad_request(str(exc)) from None
        allowed = ("metadata.name", "metadata.namespace", *rt.field_labels)
        for field in fields.fields:
            if field not in allowed:
                raise errors.bad_request(
                    f'"{field}" is not a known field selector: only '
                    + ", ".join(f'"{a}"' for a in allowed))
        if rt.storage_identity != (rt.api_version, rt.kind):
            fields = FieldSelector(tuple((event_conversion.core_field(path), equal, value)
                                         for path, equal, value in fields.terms))
        return labels, fields

    def _served(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        return to_view(rt, obj)

    def _reply(self, code: int, rt: ResourceType, obj: dict[str, Any]) -> int:
        if "as=Table" in self.headers.get("Accept", ""):
            self._send_json(code, table_for(rt, [self._served(rt, obj)], {
                "resourceVersion": obj["metadata"].get("resourceVersion", "")}))
            return code
        self._send_json(code, self._served(rt, obj))
        return code

    def _reply_list(self, rt: ResourceType, items: list[dict[str, Any]], rv: str,
                    token: str) -> int:
        meta: dict[str, Any] = {"resourceVersion": rv}
        if token:
            meta["continue"] = token
        accept = self.headers.get("Accept", "")
        if "as=Table" in accept:
            self._send_json(200, table_for(rt, [self._served(rt, o) for o in items], meta))
            return 200
        self._send_json(200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                              "metadata": meta,
                              "items": [self._served(rt, o) for o in items]})
        return 200

    # --------------------------------------------------------------------- watch

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()
        if self._counted is not None:
            self.api.counters.sent(self._counted, len(data))

    def _watch(self, rt: ResourceType, ns: str | None, labels: Any, fields: Any,
               query: dict[str, str], forced_gone: bool) -> None:
        store = self.api.store
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        timeout = _number(query, "timeoutSeconds", float) or self.api.watch_timeout
        watcher = store.watch(rt, ns, labels, fields, query.get("resourceVersion"))
        as_table = WatchTables(rt, self.headers.get("Accept", ""))  # kubectl get -w
        if forced_gone:
            store.stop_watch(watcher)
            watcher.queue = queue.Queue()
            watcher.queue.put(("error", errors.gone(
                "too old resource version: injected fault").status()))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        counted = self._counted
        if counted is not None:
            self.api.counters.watching(counted, 1)
        deadline = time.monotonic() + timeout
        interval = self.api.bookmark_interval
        next_bookmark = time.monotonic() + interval
        final_requested = False
        try:
            while True:
                now = time.monotonic()
                if not final_requested:
                    if now >= deadline:
                        if not bookmarks:
                            break
                        store.bookmark(watcher)
                        final_requested = True
                    elif bookmarks and now >= next_bookmark:
                        store.bookmark(watcher)
                        next_bookmark = now + interval
                wake = deadline if not bookmarks else min(deadline, next_bookmark)
                wait = 1.0 if final_requested else wake - now
                try:
                    # at most 1 s, so a stopping server is noticed
                    item = watcher.queue.get(timeout=max(0.001, min(wait, 1.0)))
                except queue.Empty:
                    if self.api.stopping.is_set():
                        break
                    continue
                if item[0] == "close":
                    break
                if item[0] == "event" and not as_table.enabled:
                    self._write_chunk(_event_line(rt, *item[1:]))
                    continue
                if item[0] == "event":
                    line = {"type": item[1], "object": as_table(self._served(rt, item[2]))}
                elif item[0] == "bookmark":
                    if not bookmarks:
                        continue
                    line = {"type": "BOOKMARK", "object": {
                        "kind": rt.kind, "apiVersion": rt.api_version,
                        "metadata": {"resourceVersion": str(item[1])}}}
                else:
                    line = {"type": "ERROR", "object": item[1]}
                self._write_chunk(json.dumps(line, separators=(",", ":")).encode() + b"\n")
                if item[0] == "error" or (item[0] == "bookmark" and final_requested):
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            store.stop_watch(watcher)
            if counted is not None:
                self.api.counters.watching(counted, -1)

    # ------------------------------------------------------------------- control

    def _control(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        what = path[len(CONTROL_PREFIX):]
        faults = self.api.faults
        if what == "faults" and method == "GET":
            return 200, faults.to_dict()
        if what == "faults" and method == "POST":
            request = self._decode(raw, "application/json") or {}
            try:
                return 200, faults.configure(request)
            except ValueError as exc:
                raise errors.bad_request(str(exc)) from None
        if what == "faults" and method == "DELETE":
            faults.clear()
            return 200, faults.to_dict()
        if what == "tokens" and method == "POST":
            request = self._decode(raw, "application/json") or {}
            namespace, name = request.get("namespace"), request.get("name")
            if not isinstance(namespace, str) or not isinstance(name, str) or not (
                    namespace and name):
                raise errors.bad_request('POST /_emulator/tokens needs {"namespace": ..., '
                                         '"name": ...} of a ServiceAccount')
            token = request.get("token")
            if token:
                self.api.add_token(str(token), rbac.Identity.service_account(namespace, name))
            else:
                token = self.api.service_account_token(namespace, name)
            return 200, {"token": token,
                         "user": rbac.Identity.service_account(namespace, name).user}
        if what == "denials" and method == "GET":
            return 200, {"denials": [d.to_dict() for d in self.api.denial_log.all()]}
        if what == "denials" and method == "DELETE":
            self.api.denial_log.clear()
            return 200, {"denials": []}
        if what == "requests" and method == "GET":
            return 200, {"requests": self.api.counters.snapshot(),
                         "openWatches": self.api.store.open_watch_count()}
        if what == "state" and method == "GET":
            store = self.api.store
            return 200, {"resourceVersion": str(store.rv), "openWatches":
                         store.open_watch_count(), "compactedResourceVersion":
                         str(store.compacted_rv)}
        raise errors.ApiError(404, "NotFound", f"no emulator control endpoint {path!r}: use "
                              "GET/POST/DELETE /_emulator/faults, POST /_emulator/tokens, "
                              "GET/DELETE /_emulator/denials, GET /_emulator/requests "
                              "or GET /_emulator/state")


def _event_line(rt: ResourceType, kind: str, obj: dict[str, Any],
                encodings: Encodings) -> bytes:
    """One JSON watch event line, the object serialized once per event for every watch
    of the same served version (`WatchHub.publish`)."""
    view = (rt.api_version, rt.kind)
    encoded = encodings.get(view)
    if encoded is None:  # two streams racing here both encode: the same bytes
        encoded = encodings[view] = json.dumps(to_view(rt, obj),
                                               separators=(",", ":")).encode()
    return b'{"type":"' + kind.encode() + b'","object":' + encoded + b"}\n"


def _number(query: dict[str, str], name: str, kind: type) -> Any:
    """A numeric query parameter (0 when absent); 400 when it is not a number."""
    text = query.get(name) or "0"
    try:
        value = kind(text)
    except ValueError:
        raise errors.bad_request(f"invalid {name} {text!r}: must be a number") from None
    if value < 0:
        raise errors.bad_request(f"invalid {name} {text!r}: must not be negative")
    return value
