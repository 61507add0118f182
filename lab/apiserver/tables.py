"""Server-side printing (`meta.k8s.io/v1` Table), which `kubectl get` asks for.

The columns and cell formats are those of kube-apiserver's printers
(pkg/printers/internalversion/printers.go): the server always sends every column, and
kubectl shows those of priority 1 only with `-o wide`. Custom resources get their CRD
version's `additionalPrinterColumns` (default: Age), as the apiextensions server prints
them. Kinds without a printer get Name + Age.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lab.apiserver.resources import PrinterColumn, ResourceType

Obj = dict[str, Any]
Column = tuple[str, str, int]  # name, type, priority


# ------------------------------------------------------------------ cell formats

def human_duration(seconds: int) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration, which Age columns use."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 120:
        return f"{max(seconds, 0)}s"
    minutes, hours = seconds // 60, seconds // 3600
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{days // 365}y"


def since(stamp: Any) -> str:
    """translateTimestampSince: the age of an RFC 3339 time, `<unknown>` when unset."""
    if not isinstance(stamp, str) or not stamp:
        return "<unknown>"
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    return human_duration(int((datetime.now(UTC) - then).total_seconds()))


def labels_text(labels: dict[str, str] | None) -> str:
    """labels.FormatLabels: sorted k=v pairs, `<none>` when empty."""
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "<none>"


def selector_text(selector: dict[str, Any]) -> str:
    """A metav1.LabelSelector as a selector string (`` for everything)."""
    terms = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = ",".join(sorted(expr.get("values") or []))
        terms.append((key, {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                            "Exists": key, "DoesNotExist": f"!{key}"}.get(op, key)))
    return ",".join(text for _key, text in sorted(terms))


def _list_with_more(items: list[str], empty: str, limit: int = 3) -> str:
    """listWithMoreString: the first three, then `+ N more...`."""
    text = ",".join(items[:limit]) or empty
    return f"{text} + {len(items) - limit} more..." if len(items) > limit else text


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


# ---------------------------------------------------------------------- printers

def _service(o: Obj) -> list[Any]:
    spec = o.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    externals = list(spec.get("externalIPs") or [])
    if kind == "LoadBalancer":
        ingress = _get(o, "status", "loadBalancer", "ingress") or []
        names = [i.get("ip") or i.get("hostname", "") for i in ingress] + externals
        external = ",".join(names) or "<pending>"
    elif kind == "ExternalName":
        external = spec.get("externalName", "")
    else:
        external = ",".join(externals) or "<none>"
    ports = ",".join(
        f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/"
        f"{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    return [kind, spec.get("clusterIP") or "<none>", external, ports, since(
        _get(o, "metadata", "creationTimestamp")), labels_text(spec.get("selector"))]


def _node(o: Obj) -> list[Any]:
    status = o.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = "Unknown" if ready is None else ("Ready" if ready.get("status") == "True"
                                             else "NotReady")
    if _get(o, "spec", "unschedulable"):
        state += ",SchedulingDisabled"
    labels = _get(o, "metadata", "labels") or {}
    roles = {k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")}
    roles |= {labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set()
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        return next((a.get("address", "") for a in status.get("addresses") or []
                     if a.get("type") == kind), "<none>")

    return [state, ",".join(sorted(r for r in roles if r)) or "<none>",
            since(_get(o, "metadata", "creationTimestamp")), info.get("kubeletVersion", ""),
            address("InternalIP"), address("ExternalIP"), info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def _event(o: Obj) -> list[Any]:
    """Core v1 and events.k8s.io/v1 Events (the same storage, two field spellings)."""
    new = "regarding" in o or "note" in o
    first = o.get("deprecatedFirstTimestamp" if new else "firstTimestamp")
    last = o.get("deprecatedLastTimestamp" if new else "lastTimestamp")
    first_seen = since(first) if first else since(o.get("eventTime"))
    last_seen = since(last) if last else first_seen
    count = o.get("deprecatedCount" if new else "count") or 1
    series = o.get("series")
    if series:
        last_seen = since(series.get("lastObservedTime"))
        count = series.get("count", count)
    involved = o.get("regarding" if new else "involvedObject") or {}
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = o.get("deprecatedSource" if new else "source") or {}
    component = source.get("component") or o.get("reportingController") or o.get(
        "reportingComponent", "")
    host = source.get("host") or o.get("reportingInstance", "")
    return [last_seen, o.get("type", ""), o.get("reason", ""), target,
            involved.get("fieldPath", ""), f"{component}, {host}" if host else component,
            str(o.get("note" if new else "message", "")).strip(), first_seen, count,
            _get(o, "metadata", "name")]


def _endpoint_slice(o: Obj) -> list[Any]:
    ports = [str(p["port"]) if p.get("port") is not None else p.get("name") or "*"
             for p in o.get("ports") or []]
    addresses = [a for e in o.get("endpoints") or [] for a in e.get("addresses") or []]
    return [o.get("addressType", ""), _list_with_more(ports, "<unset>"),
            _list_with_more(addresses, "<unset>")]


def _endpoints(o: Obj) -> list[Any]:
    pairs = [f"{a.get('ip', '')}:{p.get('port')}" if s.get("ports") else a.get("ip", "")
             for s in o.get("subsets") or [] for a in s.get("addresses") or []
             for p in (s.get("ports") or [{}])]
    return [_list_with_more(pairs, "<none>")]


def _pod_template(o: Obj) -> list[str]:
    containers = _get(o, "spec", "template", "spec", "containers") or []
    return [",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers),
            selector_text(_get(o, "spec", "selector") or {}) or "<none>"]


def _deployment(o: Obj) -> list[Any]:
    spec, status = o.get("spec") or {}, o.get("status") or {}
    return [f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0),
            since(_get(o, "metadata", "creationTimestamp")), *_pod_template(o)]


def _daemon_set(o: Obj) -> list[Any]:
    status = o.get("status") or {}
    return [*(status.get(k, 0) for k in ("desiredNumberScheduled", "currentNumberScheduled",
                                         "numberReady", "updatedNumberScheduled",
                                         "numberAvailable")),
            labels_text(_get(o, "spec", "template", "spec", "nodeSelector")),
            since(_get(o, "metadata", "creationTimestamp")), *_pod_template(o)]


def _role_binding(o: Obj) -> list[Any]:
    ref = o.get("roleRef") or {}
    subjects = o.get("subjects") or []

    def names(kind: str) -> str:
        return ",".join(f"{s.get('namespace', '')}/{s.get('name', '')}" if kind ==
                        "ServiceAccount" else s.get("name", "") for s in subjects
                        if s.get("kind") == kind)

    return [f"{ref.get('kind', '')}/{ref.get('name', '')}",
            since(_get(o, "metadata", "creationTimestamp")), names("User"), names("Group"),
            names("ServiceAccount")]


def _pod(o: Obj) -> list[Any]:
    """printPod, without the restart-time suffix and init-container detail."""
    spec, status = o.get("spec") or {}, o.get("status") or {}
    statuses = status.get("containerStatuses") or []
    reason = status.get("reason") or status.get("phase") or ""
    for container in statuses:
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting") or {}, state.get("terminated") or {}
        reason = waiting.get("reason") or terminated.get("reason") or reason
    if _get(o, "metadata", "deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    gates = spec.get("readinessGates") or []
    true = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    return [f"{sum(1 for c in statuses if c.get('ready'))}/{len(spec.get('containers') or [])}",
            reason, sum(int(c.get("restartCount") or 0) for c in statuses),
            since(_get(o, "metadata", "creationTimestamp")), status.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
            f"{sum(1 for g in gates if g.get('conditionType') in true)}/{len(gates)}"
            if gates else "<none>"]


_AGE: Column = ("Age", "string", 0)
_CREATED_AT: Column = ("Created At", "date", 0)
_WIDE_POD_TEMPLATE: list[Column] = [("Containers", "string", 1), ("Images", "string", 1),
                                    ("Selector", "string", 1)]
# kind -> (columns after Name, cells after Name); "Age" is added last unless listed
_PRINTERS: dict[str, tuple[list[Column], Callable[[Obj], list[Any]]]] = {
    "Service": ([("Type", "string", 0), ("Cluster-IP", "string", 0),
                 ("External-IP", "string", 0), ("Port(s)", "string", 0), _AGE,
                 ("Selector", "string", 1)], _service),
    "Node": ([("Status", "string", 0), ("Roles", "string", 0), _AGE, ("Version", "string", 0),
              ("Internal-IP", "string", 1), ("External-IP", "string", 1),
              ("OS-Image", "string", 1), ("Kernel-Version", "string", 1),
              ("Container-Runtime", "string", 1)], _node),
    "Pod": ([("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "integer", 0),
             _AGE, ("IP", "string", 1), ("Node", "string", 1), ("Nominated Node", "string", 1),
             ("Readiness Gates", "string", 1)], _pod),
    "ConfigMap": ([("Data", "integer", 0)],
                  lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {})]),
    "Secret": ([("Type", "string", 0), ("Data", "integer", 0)],
               lambda o: [o.get("type", ""), len(o.get("data") or {})]),
    "Namespace": ([("Status", "string", 0)], lambda o: [_get(o, "status", "phase") or ""]),
    "EndpointSlice": ([("AddressType", "string", 0), ("Ports", "string", 0),
                       ("Endpoints", "string", 0)], _endpoint_slice),
    "Endpoints": ([("Endpoints", "string", 0)], _endpoints),
    "Lease": ([("Holder", "string", 0)], lambda o: [_get(o, "spec", "holderIdentity") or ""]),
    "Deployment": ([("Ready", "string", 0), ("Up-to-date", "integer", 0),
                    ("Available", "integer", 0), _AGE, *_WIDE_POD_TEMPLATE], _deployment),
    "DaemonSet": ([("Desired", "integer", 0), ("Current", "integer", 0),
                   ("Ready", "integer", 0), ("Up-to-date", "integer", 0),
                   ("Available", "integer", 0), ("Node Selector", "string", 0), _AGE,
                   *_WIDE_POD_TEMPLATE], _daemon_set),
    "Role": ([_CREATED_AT], lambda o: [_get(o, "metadata", "creationTimestamp")]),
    "ClusterRole": ([_CREATED_AT], lambda o: [_get(o, "metadata", "creationTimestamp")]),
    "RoleBinding": ([("Role", "string", 0), _AGE, ("Users", "string", 1),
                     ("Groups", "string", 1), ("ServiceAccounts", "string", 1)],
                    _role_binding),
    "ClusterRoleBinding": ([("Role", "string", 0), _AGE, ("Users", "string", 1),
                            ("Groups", "string", 1), ("ServiceAccounts", "string", 1)],
                           _role_binding),
    "CustomResourceDefinition": ([_CREATED_AT],
                                 lambda o: [_get(o, "metadata", "creationTimestamp")]),
}
_EVENT_COLUMNS: list[Column] = [
    ("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0),
    ("Object", "string", 0), ("Subobject", "string", 1), ("Source", "string", 1),
    ("Message", "string", 0), ("First Seen", "string", 1), ("Count", "string", 1),
    ("Name", "string", 1)]


# ------------------------------------------------------------- custom resources

def json_path(obj: Any, path: str) -> Any:
    """The value at a printer column's JSONPath: `.a.b`, `[0]`, `[?(@.k=="v")]`."""
    value = obj
    for token in _path_tokens(path):
        if isinstance(token, int):
            value = value[token] if isinstance(value, list) and -len(value) <= token < len(
                value) else None
        elif isinstance(token, tuple):
            key, wanted = token
            value = next((i for i in value or [] if isinstance(i, dict)
                          and str(i.get(key)) == wanted), None) if isinstance(value,
                                                                              list) else None
        else:
            value = value.get(token) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


def _path_tokens(path: str) -> list[str | int | tuple[str, str]]:
    tokens: list[str | int | tuple[str, str]] = []
    text = path.strip().strip("{}").lstrip("$")
    while text:
        if text.startswith("."):
            text = text[1:]
            end = min((i for i in (text.find("."), text.find("[")) if i >= 0),
                      default=len(text))
            if text[:end]:
                tokens.append(text[:end])
            text = text[end:]
        elif text.startswith("["):
            end = text.index("]")
            inner, text = text[1:end], text[end + 1:]
            if inner.startswith("?(@."):
                key, _op, wanted = inner[4:-1].partition("==")
                tokens.append((key.strip(), wanted.strip().strip("'\"")))
            elif inner.lstrip("-").isdigit():
                tokens.append(int(inner))
            else:
                tokens.append(inner.strip("'\""))
        else:
            raise ValueError(f"unsupported JSONPath {path!r}")
    return tokens


def _custom_cell(column: PrinterColumn, obj: Obj) -> Any:
    try:
        value = json_path(obj, column.json_path)
    except (ValueError, TypeError):
        return None
    if value is None:
        return None
    if column.type == "date":
        return since(value)
    if isinstance(value, (dict, list)):
        return str(value)
    return value


# ------------------------------------------------------------------------ tables

def _definition(name: str, kind: str, priority: int, fmt: str = "",
                description: str = "") -> dict[str, Any]:
    return {"name": name, "type": kind, "format": fmt, "description": description or name,
            "priority": priority}


def table_for(rt: ResourceType, items: list[Obj], list_meta: dict[str, Any]) -> dict[str, Any]:
    """A Table of `items` (served views of one kind), as the real server builds it."""
    name = _definition("Name", "string", 0, "name",
                       "Name must be unique within a namespace.")
    cells: Callable[[Obj], list[Any]]
    if rt.kind == "Event" and rt.group in ("", "events.k8s.io"):
        columns = [_definition(n, t, p, "name" if n == "Name" else "")
                   for n, t, p in _EVENT_COLUMNS]
        cells = _event
    elif rt.custom:
        custom = rt.printer_columns or (PrinterColumn("Age", "date", ".metadata."
                                                      "creationTimestamp"),)
        columns = [name] + [_definition(c.name, c.type, c.priority, c.format, c.description)
                            for c in custom]

        def cells(o: Obj) -> list[Any]:
            return [o["metadata"]["name"], *(_custom_cell(c, o) for c in custom)]
    else:
        extra, printer = _PRINTERS.get(rt.kind, ([], lambda _o: []))
        with_age = extra if any(c is _AGE for c in extra) or _CREATED_AT in extra else [
            *extra, _AGE]
        columns = [name] + [_definition(n, t, p) for n, t, p in with_age]
        age_last = with_age is not extra

        def cells(o: Obj) -> list[Any]:
            row = [o["metadata"]["name"], *printer(o)]
            return [*row, since(_get(o, "metadata", "creationTimestamp"))] if age_last else row
    rows = [{"cells": cells(o),
             "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": o["metadata"]}} for o in items]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": columns, "rows": rows}


class WatchTables:
    """Watch event objects as Tables when kubectl asked for them (Accept: ...;as=Table):
    column definitions only in the first, as kube-apiserver sends them (kubectl reuses
    the last ones it saw). One per watch stream, used by that stream's thread only."""

    def __init__(self, rt: ResourceType, accept: str):
        self.rt = rt
        self.enabled = "as=Table" in accept
        self.first = True

    def __call__(self, obj: Obj) -> Obj:
        if not self.enabled:
            return obj
        table = table_for(self.rt, [obj], {"resourceVersion": obj["metadata"].get(
            "resourceVersion", "")})
        if not self.first:
            del table["columnDefinitions"]
        self.first = False
        return table
