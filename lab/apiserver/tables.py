"""Server-side printing (`meta.k8s.io/v1` Table), which `kubectl get` asks for: the
columns kubectl users expect for the kinds we care about, Name + Age for the rest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lab.apiserver.resources import ResourceType

Obj = dict[str, Any]


def _age(obj: Obj) -> str:
    stamp = (obj.get("metadata") or {}).get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    created = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - created).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _service_cells(obj: Obj) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress)
    if not external:
        external = "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
    ports = ",".join(
        f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/"
        f"{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    return [spec.get("type", ""), spec.get("clusterIP", "<none>"), external, ports]


def _node_cells(obj: Obj) -> list[Any]:
    conditions = (obj.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    state = "Ready" if ready and ready.get("status") == "True" else "NotReady"
    labels = (obj.get("metadata") or {}).get("labels") or {}
    roles = ",".join(sorted(k.split("/", 1)[1] for k in labels
                            if k.startswith("node-role.kubernetes.io/"))) or "<none>"
    version = ((obj.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
    return [state, roles, version]


_COLUMNS: dict[str, tuple[list[str], Any]] = {
    "Service": (["Type", "Cluster-IP", "External-IP", "Port(s)"], _service_cells),
    "ConfigMap": (["Data"], lambda o: [len(o.get("data") or {}) + len(o.get("binaryData")
                                                                        or {})]),
    "Secret": (["Type", "Data"], lambda o: [o.get("type", ""), len(o.get("data") or {})]),
    "Namespace": (["Status"], lambda o: [(o.get("status") or {}).get("phase", "")]),
    "Node": (["Status", "Roles", "Version"], _node_cells),
}


def table_for(rt: ResourceType, items: list[Obj], list_meta: dict[str, Any]) -> dict[str, Any]:
    extra, cells = _COLUMNS.get(rt.kind, ([], lambda _o: []))
    if rt.group:
        extra, cells = [], (lambda _o: [])
    columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name",
                "priority": 0}]
    columns += [{"name": c, "type": "string", "format": "", "description": c, "priority": 0}
                for c in extra]
    columns.append({"name": "Age", "type": "string", "format": "", "description": "Age",
                    "priority": 0})
    rows = [{"cells": [o["metadata"]["name"], *cells(o), _age(o)],
             "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": o["metadata"]}} for o in items]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": columns, "rows": rows}
