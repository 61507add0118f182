"""What the real API server fills in and checks for a Service: cluster IPs from the
service range, node ports, and the defaults clients read back (type, protocol,
ipFamilies, externalTrafficPolicy ...).

The service range here is only data: nothing routes to these addresses.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

SERVICE_CIDR_V4 = ipaddress.ip_network("10.96.0.0/12")
SERVICE_CIDR_V6 = ipaddress.ip_network("fd00:10:96::/108")  # the widest kube-apiserver takes
NODE_PORT_RANGE = range(30000, 32768)
TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
FAMILY_POLICIES = ("SingleStack", "PreferDualStack", "RequireDualStack")

Cause = tuple[str, str, str]  # (field, reason type, message)


class RangeFull(RuntimeError):
    """No free cluster IP or node port left (the real server answers 500 too)."""


@dataclass
class ServiceAllocations:
    """Cluster IPs and node ports in use, so two services never share one."""

    cluster_ips: set[str] = field(default_factory=lambda: {"10.96.0.1"})
    node_ports: set[int] = field(default_factory=set)
    _next_v4: int = int(SERVICE_CIDR_V4.network_address) + 10
    _next_v6: int = int(SERVICE_CIDR_V6.network_address) + 10
    _next_port: int = NODE_PORT_RANGE.start

    def allocate_ip(self, family: str) -> str:
        net = SERVICE_CIDR_V4 if family == "IPv4" else SERVICE_CIDR_V6
        attr = "_next_v4" if family == "IPv4" else "_next_v6"
        start = getattr(self, attr)
        last = int(net.broadcast_address) - 1
        candidate = start
        for _ in range(net.num_addresses):
            if candidate > last:
                candidate = int(net.network_address) + 2
            text = str(ipaddress.ip_address(candidate))
            candidate += 1
            if text not in self.cluster_ips:
                self.cluster_ips.add(text)
                setattr(self, attr, candidate)
                return text
        raise RangeFull(f"failed to allocate a serviceIP: range {net} is full")

    def allocate_port(self) -> int:
        for _ in range(len(NODE_PORT_RANGE)):
            port = self._next_port
            self._next_port = port + 1 if port + 1 < NODE_PORT_RANGE.stop else NODE_PORT_RANGE.start
            if port not in self.node_ports:
                self.node_ports.add(port)
                return port
        raise RangeFull("failed to allocate a nodePort: range is full")

    def release_not_in(self, spec: dict[str, Any] | None, keep: dict[str, Any] | None) -> None:
        """Free what `spec` holds and `keep` does not (keep=None frees everything)."""
        spec, keep = spec or {}, keep or {}
        keep_ips = set(keep.get("clusterIPs") or [])
        keep_ports = {p.get("nodePort") for p in keep.get("ports") or []}
        for ip in spec.get("clusterIPs") or []:
            if ip not in keep_ips and ip != "None":
                self.cluster_ips.discard(ip)
        for port in spec.get("ports") or []:
            if port.get("nodePort") and port["nodePort"] not in keep_ports:
                self.node_ports.discard(port["nodePort"])


def _family(ip: str) -> str | None:
    try:
        return "IPv4" if ipaddress.ip_address(ip).version == 4 else "IPv6"
    except ValueError:
        return None


def prepare_service(spec: dict[str, Any], old: dict[str, Any] | None,
                    alloc: ServiceAllocations) -> list[Cause]:
    """Validate and default `spec` in place (old = the stored spec on update).

    Returns validation causes; allocations happen only when there are none. On update the
    cluster IPs and node ports of the old spec are kept when the new one leaves them out.
    """
    causes: list[Cause] = []
    svc_type = spec.setdefault("type", "ClusterIP")
    if svc_type not in TYPES:
        causes.append(("spec.type", "FieldValueNotSupported",
                       f'Unsupported value: "{svc_type}": supported values: '
                       + ", ".join(f'"{t}"' for t in TYPES)))
        return causes
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if not ports and svc_type != "ExternalName" and not headless:
        causes.append(("spec.ports", "FieldValueRequired", "Required value"))
    for i, port in enumerate(ports):
        number = port.get("port")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            causes.append((f"spec.ports[{i}].port", "FieldValueInvalid",
                           f"Invalid value: {number!r}: must be between 1 and 65535, inclusive"))
        if len(ports) > 1 and not port.get("name"):
            causes.append((f"spec.ports[{i}].name", "FieldValueRequired", "Required value"))
        port.setdefault("protocol", "TCP")
        if port["protocol"] not in ("TCP", "UDP", "SCTP"):
            causes.append((f"spec.ports[{i}].protocol", "FieldValueNotSupported",
                           f'Unsupported value: "{port["protocol"]}": supported values: '
                           '"SCTP", "TCP", "UDP"'))
        port.setdefault("targetPort", number)
    if headless and svc_type in ("NodePort", "LoadBalancer"):  # as the API server says
        causes.append(("spec.clusterIPs[0]", "FieldValueInvalid",
                       f'Invalid value: "None": may not be set to \'None\' for {svc_type} '
                       "services"))
        return causes
    if svc_type == "ExternalName":
        if not spec.get("externalName"):
            causes.append(("spec.externalName", "FieldValueRequired", "Required value"))
        return causes
    old_spec = (old or {}).get("spec") or {}
    causes += _cluster_ips(spec, old_spec, alloc)
    if causes:
        return causes
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if svc_type in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
        if svc_type == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
        causes += _node_ports(spec, old_spec, alloc)
    else:
        spec.pop("externalTrafficPolicy", None)
        for port in ports:
            port.pop("nodePort", None)
    return causes


def _cluster_ips(spec: dict[str, Any], old_spec: dict[str, Any],
                 alloc: ServiceAllocations) -> list[Cause]:
    if not spec.get("clusterIP") and not spec.get("clusterIPs") and old_spec.get("clusterIPs"):
        spec["clusterIP"] = old_spec["clusterIP"]
        spec["clusterIPs"] = list(old_spec["clusterIPs"])
    if old_spec.get("clusterIP") and spec.get("clusterIP") != old_spec["clusterIP"]:
        return [("spec.clusterIPs[0]", "FieldValueInvalid",
                 f'Invalid value: []string{{"{spec.get("clusterIP")}"}}: '
                 "may not change once set")]
    if spec.get("clusterIP") == "None":
        spec["clusterIPs"] = ["None"]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        return []
    policy = spec.setdefault("ipFamilyPolicy", "SingleStack")
    if policy not in FAMILY_POLICIES:
        return [("spec.ipFamilyPolicy", "FieldValueNotSupported", f'Unsupported value: "{policy}"')]
    requested = list(spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP")
                                                else []))
    families = list(spec.get("ipFamilies") or [])
    for ip in requested:
        fam = _family(ip)
        if fam is None:
            return [("spec.clusterIPs", "FieldValueInvalid",
                     f'Invalid value: "{ip}": must be a valid IP address')]
        if len(families) < len(requested):
            families.append(fam)
    if not families:
        families = ["IPv4"]
    if policy != "SingleStack" and len(families) == 1:
        families.append("IPv6" if families[0] == "IPv4" else "IPv4")
    if policy == "SingleStack" and len(families) > 1:
        return [("spec.ipFamilies", "FieldValueInvalid",
                 "Invalid value: two families require ipFamilyPolicy PreferDualStack "
                 "or RequireDualStack")]
    spec["ipFamilies"] = families
    if old_spec.get("clusterIPs") and requested == old_spec["clusterIPs"][: len(requested)]:
        ips = list(old_spec["clusterIPs"])
    else:
        ips = []
        for ip in requested:
            net = SERVICE_CIDR_V4 if _family(ip) == "IPv4" else SERVICE_CIDR_V6
            if ipaddress.ip_address(ip) not in net:
                return [("spec.clusterIPs", "FieldValueInvalid",
                         f'Invalid value: []string{{"{ip}"}}: failed to allocate IP {ip}: '
                         f"the provided IP ({ip}) is not in the valid range. "
                         f"The range of valid IPs is {net}")]
            if ip in alloc.cluster_ips:
                return [("spec.clusterIPs", "FieldValueInvalid",
                         f'Invalid value: []string{{"{ip}"}}: failed to allocate IP {ip}: '
                         "provided IP is already allocated")]
        for ip in requested:
            alloc.cluster_ips.add(ip)
            ips.append(ip)
    for fam in families[len(ips):]:
        ips.append(alloc.allocate_ip(fam))
    spec["clusterIPs"] = ips
    spec["clusterIP"] = ips[0]
    return []


def _node_ports(spec: dict[str, Any], old_spec: dict[str, Any],
                alloc: ServiceAllocations) -> list[Cause]:
    if spec["type"] == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is False:
        return []
    old_by_port = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                   for p in old_spec.get("ports") or [] if p.get("nodePort")}
    causes: list[Cause] = []
    for i, port in enumerate(spec.get("ports") or []):
        wanted = port.get("nodePort")
        kept = old_by_port.get((port.get("port"), port.get("protocol")))
        if wanted and wanted in old_by_port.values():
            continue  # this service holds it already (maybe under another port)
        if not wanted and kept:
            port["nodePort"] = kept
            continue
        if wanted:
            if wanted not in NODE_PORT_RANGE:
                causes.append((f"spec.ports[{i}].nodePort", "FieldValueInvalid",
                               f"Invalid value: {wanted}: provided port is not in the valid "
                               "range. The range of valid ports is 30000-32767"))
            elif wanted in alloc.node_ports:
                causes.append((f"spec.ports[{i}].nodePort", "FieldValueInvalid",
                               f"Invalid value: {wanted}: provided port is already allocated"))
            else:
                alloc.node_ports.add(wanted)
        else:
            port["nodePort"] = alloc.allocate_port()
    return causes
