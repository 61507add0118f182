"""What the allocator needs to know about one Service, read from its JSON form.

`intent_from_service` never raises: the controller and `metallb plan` see Services written
by anybody, and a malformed field must become a `LoadBalancerFailed` event on that one
Service (the `error` of the intent), not a crash of the whole loop.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from metallb.keys import DEFAULT_NAMESPACE, object_key

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ANNOTATION_PREFIXES = ("metallb.universe.tf/", "metallb.io/")
POOL_REQUEST_ANNOTATION = "address-pool"  # under each of ANNOTATION_PREFIXES
IPS_ANNOTATION = "loadBalancerIPs"
SHARING_ANNOTATION = "allow-shared-ip"

LOAD_BALANCER = "LoadBalancer"
POLICY_CLUSTER = "Cluster"
POLICY_LOCAL = "Local"
_FAMILY_NAMES = {"IPv4": 4, "IPv6": 6}


@dataclass(frozen=True, slots=True)
class ServiceIntent:
    """The allocation-relevant part of a Service, normalised.

    `families` is sorted (4 before 6) because the status lists IPv4 first; `ports` is a
    sorted tuple of (protocol, port). `existing_ips` are the raw strings of
    `status.loadBalancer.ingress[].ip`, unparsed: a garbage status must be cleared, not
    rejected as user error. `labels` (the Service's) and `namespace_labels` (its
    Namespace's, which the Service object does not carry: the caller looks them up) are
    sorted pairs; a pool's serviceAllocation is matched against them.
    """

    key: str
    type: str = LOAD_BALANCER
    load_balancer_class: str | None = None
    requested_ips: tuple[IPAddress, ...] = ()
    pool: str | None = None
    sharing_key: str | None = None
    ports: tuple[tuple[str, int], ...] = ()
    traffic_policy: str = POLICY_CLUSTER
    selector: tuple[tuple[str, str], ...] = ()
    families: tuple[int, ...] = (4,)
    existing_ips: tuple[str, ...] = ()
    error: str | None = None  # set -> Warning LoadBalancerFailed, nothing assigned
    labels: tuple[tuple[str, str], ...] = ()
    namespace_labels: tuple[tuple[str, str], ...] = ()

    @property
    def namespace(self) -> str:
        return self.key.split("/", 1)[0]


SHARED_PARTS_LIMIT = 20000
"""Distinct tuples `_shared` remembers; beyond it new ones stay unshared (a cluster of
odd Services cannot grow the table without bound)."""
_shared_parts: dict[tuple, tuple] = {}


def _shared(part: tuple) -> tuple:
    """The one tuple kept for all equal ones: most Services have the same ports,
    families, selector shape and namespace labels, and at 100k Services one copy each
    is ~20 MiB (the controller keeps every intent in its allocator)."""
    found = _shared_parts.get(part)
    if found is None:
        if len(_shared_parts) >= SHARED_PARTS_LIMIT:
            return part
        found = _shared_parts.setdefault(part, part)
    return found


class _Invalid(ValueError):
    """A malformed field; its message ends up in the LoadBalancerFailed event."""


def service_namespace(obj: Any) -> str:
    """The namespace a Service object lives in (the default one when it names none)."""
    return object_key(obj, DEFAULT_NAMESPACE).split("/", 1)[0]


def intent_from_service(obj: Any,
                        namespace_labels: Mapping[str, str] | None = None) -> ServiceIntent:
    """Read a Service (a dict as returned by the API) into a ServiceIntent, with the
    labels of its Namespace (None: unknown, read as no labels); never raises."""
    key = object_key(obj, DEFAULT_NAMESPACE)
    ns_labels = _shared(tuple(sorted((namespace_labels or {}).items())))
    if not isinstance(obj, Mapping):
        return ServiceIntent(key=key, error="service is not an object")
    spec = obj.get("spec") if obj.get("spec") is not None else {}
    status = obj.get("status") if obj.get("status") is not None else {}
    meta = obj.get("metadata") if obj.get("metadata") is not None else {}
    existing: tuple[str, ...] = ()
    try:
        existing = _existing_ips(status)
        if not isinstance(spec, Mapping):
            raise _Invalid(f"spec must be an object, got {spec!r}")
        if not isinstance(meta, Mapping):
            raise _Invalid(f"metadata must be an object, got {meta!r}")
        annotations = _string_map(meta.get("annotations"), "metadata.annotations")
        return ServiceIntent(
            key=key,
            type=_optional_str(spec.get("type"), "spec.type") or "ClusterIP",
            load_balancer_class=_optional_str(
                spec.get("loadBalancerClass"), "spec.loadBalancerClass"
            ),
            requested_ips=_requested_ips(spec, annotations),
            pool=_annotation(annotations, POOL_REQUEST_ANNOTATION),
            sharing_key=_annotation(annotations, SHARING_ANNOTATION),
            ports=_shared(_ports(spec.get("ports"))),
            traffic_policy=_traffic_policy(spec.get("externalTrafficPolicy")),
            selector=_shared(tuple(sorted(
                _string_map(spec.get("selector"), "spec.selector").items()))),
            families=_shared(_families(spec)),
            existing_ips=existing,
            labels=_shared(tuple(sorted(
                _string_map(meta.get("labels"), "metadata.labels").items()))),
            namespace_labels=ns_labels,
        )
    except _Invalid as exc:
        lb_type = spec.get("type") if isinstance(spec, Mapping) else None
        lb_class = spec.get("loadBalancerClass") if isinstance(spec, Mapping) else None
        return ServiceIntent(
            key=key,
            type=lb_type if isinstance(lb_type, str) else LOAD_BALANCER,
            load_balancer_class=lb_class if isinstance(lb_class, str) else None,
            existing_ips=existing,
            error=str(exc),
            namespace_labels=ns_labels,
        )


def _optional_str(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{where} must be a string, got {value!r}")
    return value


def _string_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _Invalid(f"{where} must map strings to strings, got {value!r}")
    return dict(value)


def _annotation(annotations: Mapping[str, str], name: str) -> str | None:
    """The value under either annotation prefix; both set and different is an error."""
    values = {annotations[p + name] for p in ANNOTATION_PREFIXES if p + name in annotations}
    values = {v.strip() for v in values}
    if len(values) > 1:
        both = " and ".join(p + name for p in ANNOTATION_PREFIXES)
        raise _Invalid(f"{both} disagree ({', '.join(sorted(values))}); set only one")
    value = values.pop() if values else ""
    return value or None


def _parse_ip(text: str, where: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise _Invalid(f"{where}: {text.strip()!r} is not an IP address") from None


def _requested_ips(spec: Mapping[str, Any], annotations: Mapping[str, str]) -> tuple:
    from_spec = _optional_str(spec.get("loadBalancerIP"), "spec.loadBalancerIP")
    from_annotation = _annotation(annotations, IPS_ANNOTATION)
    if from_spec and from_annotation:
        raise _Invalid(
            f"spec.loadBalancerIP and the {IPS_ANNOTATION} annotation are both set; "
            "use only the annotation"
        )
    if from_spec:
        return (_parse_ip(from_spec, "spec.loadBalancerIP"),)
    if not from_annotation:
        return ()
    where = f"annotation {IPS_ANNOTATION}"
    ips = [_parse_ip(part, where) for part in from_annotation.split(",") if part.strip()]
    families = [ip.version for ip in ips]
    if len(set(families)) != len(families):
        raise _Invalid(f"{where}: at most one address per family, got {from_annotation!r}")
    return tuple(sorted(ips, key=lambda ip: ip.version))


def _ports(value: Any) -> tuple[tuple[str, int], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Invalid(f"spec.ports must be a list, got {value!r}")
    ports = set()
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise _Invalid(f"spec.ports[{i}] must be an object, got {item!r}")
        protocol = item.get("protocol") or "TCP"
        port = item.get("port")
        if not isinstance(protocol, str):
            raise _Invalid(f"spec.ports[{i}].protocol must be a string, got {protocol!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise _Invalid(f"spec.ports[{i}].port must be 1..65535, got {port!r}")
        ports.add((protocol, port))
    return tuple(sorted(ports))


def _traffic_policy(value: Any) -> str:
    if value is None or value == "":
        return POLICY_CLUSTER
    if value not in (POLICY_CLUSTER, POLICY_LOCAL):
        raise _Invalid(f"spec.externalTrafficPolicy must be Cluster or Local, got {value!r}")
    return value


def _families(spec: Mapping[str, Any]) -> tuple[int, ...]:
    """spec.ipFamilies, else the families of spec.clusterIPs / clusterIP, else IPv4."""
    declared = spec.get("ipFamilies")
    if declared:
        if not isinstance(declared, list) or not all(
            isinstance(f, str) and f in _FAMILY_NAMES for f in declared
        ):
            raise _Invalid(f"spec.ipFamilies must list IPv4 and/or IPv6, got {declared!r}")
        return tuple(sorted({_FAMILY_NAMES[f] for f in declared}))
    cluster_ips = spec.get("clusterIPs")
    if not cluster_ips and spec.get("clusterIP"):
        cluster_ips = [spec.get("clusterIP")]
    if cluster_ips:
        if not isinstance(cluster_ips, list) or not all(isinstance(i, str) for i in cluster_ips):
            raise _Invalid(f"spec.clusterIPs must be a list of strings, got {cluster_ips!r}")
        found = {_parse_ip(ip, "spec.clusterIPs").version for ip in cluster_ips if ip != "None"}
        if found:
            return tuple(sorted(found))
    return (4,)


def _existing_ips(status: Any) -> tuple[str, ...]:
    """The ips of status.loadBalancer.ingress, as strings; anything odd is kept as text
    so the assignment is judged invalid and cleared."""
    if not isinstance(status, Mapping):
        return ()
    lb = status.get("loadBalancer")
    ingress = lb.get("ingress") if isinstance(lb, Mapping) else None
    if not isinstance(ingress, list):
        return ()
    ips = []
    for entry in ingress:
        ip = entry.get("ip") if isinstance(entry, Mapping) else entry
        if ip is None and isinstance(entry, Mapping) and entry.get("hostname"):
            continue  # hostnames are not ours to judge
        ips.append(str(ip))
    return tuple(ips)
