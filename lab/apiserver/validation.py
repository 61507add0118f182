"""Checks and defaults the real server applies to every object or to one kind, beyond
names (store.py) and Services (service_defaults.py). Pure: returns causes
(field, reason type, message) in the real server's words."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

Cause = tuple[str, str, str]

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VALUE_RULE = ("a valid label must be an empty string or consist of alphanumeric characters, "
               "'-', '_' or '.', and must start and end with an alphanumeric character")
_NAME_RULE = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must "
              "start and end with an alphanumeric character")


def _key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _PREFIX.match(prefix)):
        return "prefix part a lowercase RFC 1123 subdomain must consist of lower case " \
               "alphanumeric characters, '-' or '.'"
    if not name or len(name) > 63 or not _NAME_PART.match(name):
        return _NAME_RULE
    return None


def check_metadata(meta: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is None:
            continue
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            causes.append((f"metadata.{field}", "FieldValueInvalid",
                           "Invalid value: must be a map of string keys to string values"))
            continue
        for key, val in value.items():
            problem = _key_problem(key)
            if problem:
                causes.append((f"metadata.{field}", "FieldValueInvalid",
                               f'Invalid value: "{key}": {problem}'))
            if field == "labels" and (len(val) > 63 or not _LABEL_VALUE.match(val)):
                causes.append(("metadata.labels", "FieldValueInvalid",
                               f'Invalid value: "{val}": {_VALUE_RULE}'))
    finalizers = meta.get("finalizers")
    if finalizers is not None and not (isinstance(finalizers, list)
                                       and all(isinstance(f, str) for f in finalizers)):
        causes.append(("metadata.finalizers", "FieldValueInvalid",
                       "Invalid value: must be a list of strings"))
    return causes


def check_kind(kind: str, group: str, obj: dict[str, Any]) -> list[Cause]:
    """Kind-specific rules for the main resource."""
    causes: list[Cause] = []
    if group == "" and kind in ("ConfigMap", "Secret"):
        for field in ("data", "binaryData", "stringData"):
            value = obj.get(field)
            if value is not None and not (isinstance(value, dict) and all(
                    isinstance(v, str) for v in value.values())):
                causes.append((field, "FieldValueInvalid",
                               "Invalid value: must be a map of string keys to string values"))
    if group == "discovery.k8s.io" and kind == "EndpointSlice":
        address_type = obj.get("addressType")
        if not address_type:
            causes.append(("addressType", "FieldValueRequired", "Required value"))
        elif address_type not in ("IPv4", "IPv6", "FQDN"):
            causes.append(("addressType", "FieldValueNotSupported",
                           f'Unsupported value: "{address_type}": supported values: '
                           '"FQDN", "IPv4", "IPv6"'))
        for i, endpoint in enumerate(obj.get("endpoints") or []):
            if not (endpoint or {}).get("addresses"):
                causes.append((f"endpoints[{i}].addresses", "FieldValueRequired",
                               "Required value"))
    return causes


def prepare_service_status(status: dict[str, Any] | None) -> list[Cause]:
    """Validate load balancer ingress and default ipMode to VIP (Kubernetes >= 1.30)."""
    causes: list[Cause] = []
    ingress = ((status or {}).get("loadBalancer") or {}).get("ingress") or []
    for i, entry in enumerate(ingress):
        field = f"status.loadBalancer.ingress[{i}]"
        ip = (entry or {}).get("ip")
        if ip:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                causes.append((f"{field}.ip", "FieldValueInvalid",
                               f'Invalid value: "{ip}": must be a valid IP address'))
                continue
            entry.setdefault("ipMode", "VIP")
            if entry["ipMode"] not in ("VIP", "Proxy"):
                causes.append((f"{field}.ipMode", "FieldValueNotSupported",
                               f'Unsupported value: "{entry["ipMode"]}": supported values: '
                               '"Proxy", "VIP"'))
        elif entry and entry.get("ipMode"):
            causes.append((f"{field}.ipMode", "FieldValueForbidden",
                           "Forbidden: may not be specified when `ip` is not"))
    return causes
